"""The CSM digest: one short email per CSM summarising what waits for them, with links to the console.

Contract: :func:`collect` groups open cases by the CSM of their account (the team lead gets the
``unassigned`` queue and the quarantined cases); per queue (a status) it gives the count, how long
the oldest has waited and the few oldest by reference, each with a link to the console
(``PLUMM_WEB_BASE_URL``), and the cases new or changed since the recipient's last digest. However
many cases wait, a digest stays a page long. :func:`send` renders ``rules/templates/digest.*.j2``
(text + HTML alternatives), queues one message per recipient with kind ``digest`` through
:func:`pipeline.outbound.delivery.enqueue` and stamps each counted case's ``last_digest_at`` in the
same transaction. ``employer_contacted`` cases stay in the digest with how long they have waited for
the employer. ``only_new`` sends a digest only to a recipient with a case changed (``updated_at``)
since it was last in a digest; ``since`` only when one changed since then.

A digest carries references, statuses, ages, session counts, section verdicts (present or missing)
and reason codes; never a letter, an evidence sentence or a vault value (those are in the console).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from pipeline import store
from pipeline.cases.routing import UNASSIGNED
from pipeline.models import CaseStatus
from pipeline.outbound import delivery
from pipeline.outbound.messages import compose, render

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger("plumm.digest")
S = CaseStatus

# In the order a CSM works through them.
WAITING: tuple[str, ...] = (
    S.READY_FOR_ASSESSMENT,
    S.EMPLOYER_APPROVED,
    S.EMPLOYER_DECLINED,
    S.APPROVED,
    S.EMPLOYER_CONTACTED,
    S.AWAITING_INFORMATION,
)
NEXT_STEP: dict[str, str] = {
    S.READY_FOR_ASSESSMENT: "assess: approve or decline",
    S.APPROVED: "ask the employer",
    S.EMPLOYER_CONTACTED: "waiting for the employer's answer (record it when HR replies)",
    S.EMPLOYER_APPROVED: "tell the client",
    S.EMPLOYER_DECLINED: "tell the client, or close",
    S.AWAITING_INFORMATION: "waiting for the therapist's reply; nothing to do unless it stalls",
    S.QUARANTINED: "look at it; re-run it after a fix, or close it",
}
LISTED_PER_QUEUE = 5  # the oldest of each queue, by reference
LISTED_CHANGED = 10  # new or changed since the last digest


class DigestError(Exception):
    """The digest cannot be built as asked (e.g. --to names no CSM); the message says why."""


@dataclass
class Digest:
    to: str
    queues: dict[tuple[str, str], list[store.Case]] = field(default_factory=lambda: defaultdict(list))
    changed: list[store.Case] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.case_ids


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def age(created: datetime, now: datetime) -> str:
    hours = int((now - _aware(created)).total_seconds() // 3600)
    if hours < 1:
        return "under 1 hour"
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"


def _changed(case: store.Case, *, since: datetime | None, only_new: bool) -> bool:
    updated = _aware(case.updated_at)
    if since is not None and updated < _aware(since):
        return False
    if only_new and case.last_digest_at is not None and updated <= _aware(case.last_digest_at):
        return False
    return True


def _order(status: str) -> int:
    return WAITING.index(status) if status in WAITING else len(WAITING)


def collect(
    rt: Runtime,
    db: Any,
    *,
    since: datetime | None = None,
    only_new: bool = False,
    to: str | None = None,
) -> list[Digest]:
    """Digests to send, one per recipient (empty ones, and with a filter unchanged ones, left out)."""
    directory = rt.accounts
    recipients = {a.csm for a in directory.accounts} | {directory.team_lead}
    if to is not None and to.strip().lower() not in recipients:
        raise DigestError(f"{to.strip()} is neither a CSM nor the team lead in accounts.yaml")
    digests: dict[str, Digest] = defaultdict(lambda: Digest(to=""))
    rows = db.execute(
        select(store.Case)
        .where(col(store.Case.status).in_([*WAITING, S.QUARANTINED]))
        .order_by(col(store.Case.status_since), col(store.Case.id))
    ).scalars()
    for case in rows:
        account = directory.get(case.account)
        if case.status == S.QUARANTINED:  # nothing from a quarantined message: the team lead looks at it
            address, scope = directory.team_lead, "quarantined"
        elif account is None:
            address, scope = directory.team_lead, UNASSIGNED
        else:
            address, scope = account.csm, "your accounts"
        digest = digests[address]
        digest.queues[(scope, case.status)].append(case)
        if _changed(case, since=since, only_new=only_new):
            digest.changed.append(case)
        assert case.id is not None
        digest.case_ids.append(case.id)
    filtered = since is not None or only_new
    result = []
    for address, digest in sorted(digests.items()):
        digest.to = address
        if (to is None or address == to.strip().lower()) and not (filtered and not digest.changed):
            result.append(digest)
    return [d for d in result if not d.empty]


def _ask(case: store.Case) -> str:
    """What the letter asks for, in the case's own fields: "6 sessions (fortnightly), CBT". The
    therapy is a display name from ``rules/sections.yaml``, never the letter's words."""
    count = f"{case.sessions_requested} sessions" if case.sessions_requested else ""
    if case.period:
        count = f"{count} ({case.period})".strip()
    return ", ".join(p for p in (count, case.therapy or "") if p)


def _line(rt: Runtime, case: store.Case, now: datetime) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "status": case.status,
        "waited": age(case.status_since, now),
        "received": age(case.created_at, now),
        "sessions_requested": case.sessions_requested,
        "ask": _ask(case),
        "verdicts": [v["reason"] for _k, v in sorted(case.sections.items()) if v.get("reason")],
        "sections": ", ".join(
            f"{key} {'present' if v.get('present') else 'MISSING'}" for key, v in sorted(case.sections.items())
        ),
        "reason": case.reason if case.status in (S.QUARANTINED, S.AWAITING_INFORMATION) else None,
        "link": f"{rt.settings.effective_web_base_url}/cases/{case.reference}",
    }


def context(rt: Runtime, digest: Digest, *, now: datetime) -> dict[str, Any]:
    """What the templates show: queues with counts, the oldest waiting, the changed ones, links."""
    base = rt.settings.effective_web_base_url
    scopes = ("your accounts", UNASSIGNED, "quarantined")
    queues = []
    for (scope, status), cases in sorted(
        digest.queues.items(), key=lambda kv: (scopes.index(kv[0][0]), _order(kv[0][1]))
    ):
        reasons: dict[str, int] = defaultdict(int)
        for case in cases:
            reasons[case.reason or "unknown"] += 1
        queues.append(
            {
                "scope": scope,
                "status": status,
                "count": len(cases),
                "oldest_waited": age(cases[0].status_since, now),
                "next_step": NEXT_STEP.get(status, ""),
                "reasons": dict(sorted(reasons.items())) if status == S.QUARANTINED else {},
                "oldest": [_line(rt, c, now) for c in cases[:LISTED_PER_QUEUE]],
                "more": max(0, len(cases) - LISTED_PER_QUEUE),
                "link": f"{base}/cases?status={status}" + (f"&account={UNASSIGNED}" if scope == UNASSIGNED else ""),
            }
        )
    changed = sorted(digest.changed, key=lambda c: _aware(c.updated_at), reverse=True)
    return {
        "date": now.strftime("%d %B %Y"),
        "console": f"{base}/cases",
        "total": len(digest.case_ids),
        "queues": queues,
        "changed": [_line(rt, c, now) for c in changed[:LISTED_CHANGED]],
        "changed_count": len(changed),
    }


def build_message(rt: Runtime, digest: Digest, *, now: datetime) -> EmailMessage:
    values = context(rt, digest, now=now)
    text, html = render("digest", rules_dir=rt.settings.rules_dir, **values)
    count = values["total"]
    subject = f"Plumm digest {now:%Y-%m-%d}: {count} case{'s' if count != 1 else ''} waiting" + (
        f", {values['changed_count']} new or changed" if values["changed_count"] else ""
    )
    # An automatic message: an out-of-office answering it must not answer back (RFC 3834).
    return compose(
        sender=rt.settings.sender_address,
        message_id_domain=rt.settings.effective_message_id_domain,
        to=digest.to,
        subject=subject,
        text=text,
        html=html,
        reply_to=rt.settings.sender_address,
        automatic="auto-generated",
    )


@dataclass(frozen=True)
class SendResult:
    emails: int
    cases: int
    recipients: tuple[str, ...]
    already_recorded: int = 0  # digests another run recorded for the same recipient and period


def _previous_digests(db: Any, rt: Runtime) -> dict[str, int]:
    """The id of each recipient's latest digest (by keyed hash): where the next digest's period starts."""
    Out = store.OutboundMessage
    rows = db.execute(
        select(col(Out.to_hash), func.max(col(Out.id))).where(col(Out.kind) == "digest").group_by(col(Out.to_hash))
    ).all()
    return {to_hash: int(last) for to_hash, last in rows}


def period_key(rt: Runtime, to: str, previous: dict[str, int]) -> str:
    """A digest covers its recipient's period since their previous digest; the key says which, so two
    runs deciding on the same state record one digest between them (the key is unique)."""
    to_hash = store.keyed_hash(rt.hash_key, to)
    return f"digest:{to_hash}:after:{previous.get(to_hash, 0)}"


def send(
    rt: Runtime,
    *,
    since: datetime | None = None,
    only_new: bool = False,
    to: str | None = None,
    now: datetime | None = None,
) -> SendResult:
    """Queue one digest per CSM and stamp its cases, one transaction per digest.

    Another ``plumm digest`` running at the same time (cron and a person, two hosts) decides on the
    same state and makes the same period keys: whichever commits second finds its digest already
    recorded, and neither queues nor stamps it again."""
    now = now or rt.clock()
    with store.session(rt.engine) as db:
        previous = _previous_digests(db, rt)  # before collecting: the state the digests are decided on
        digests = collect(rt, db, since=since, only_new=only_new, to=to)
    sent: list[Digest] = []
    for digest in digests:
        message = build_message(rt, digest, now=now)
        with store.session(rt.engine) as db:
            try:
                key = period_key(rt, digest.to, previous)
                delivery.enqueue(db, rt, message, kind="digest", case_id=None, to=digest.to, dedupe_key=key)
                db.flush()  # the key is checked here: another run recorded this digest first
                for start in range(0, len(digest.case_ids), 500):  # not updated_at: being counted is not a change
                    chunk = digest.case_ids[start : start + 500]
                    db.execute(update(store.Case).where(col(store.Case.id).in_(chunk)).values(last_digest_at=now))
                db.commit()
            except IntegrityError:
                db.rollback()
                continue
        sent.append(digest)
    listed = sum(len(d.case_ids) for d in sent)
    log.info(
        "digest: %d email(s) queued covering %d case(s); %d already recorded by another run",
        len(sent),
        listed,
        len(digests) - len(sent),
    )
    return SendResult(
        emails=len(sent),
        cases=listed,
        recipients=tuple(d.to for d in sent),
        already_recorded=len(digests) - len(sent),
    )
