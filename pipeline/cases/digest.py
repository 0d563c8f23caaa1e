"""The CSM digest: one email per CSM listing their cases that wait for assessment or action.

Contract: :func:`collect` groups open cases by the CSM of their account (the team lead gets
the ``unassigned`` queue and a list of quarantined cases by reference and reason code only);
:func:`send` renders ``rules/templates/digest.*.j2`` (text + HTML alternatives), queues one
message per CSM with kind ``digest`` through :func:`pipeline.outbound.delivery.queue` and stamps each
listed case's ``last_digest_at`` in the same transaction. ``only_new`` lists a case only if
it changed (``updated_at``) since it was last in a digest; ``since`` only if it changed since
then.

A digest carries what the CSM needs to assess: reference, age, status, section verdicts with
their redacted evidence, sessions requested, sender signals and the redacted letter. It never
carries a vault value: before a case's letter goes in, it is checked against that case's
vault and withheld (with a warning naming the reference and entity types) if anything shows.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from pipeline import store
from pipeline.cases.routing import UNASSIGNED
from pipeline.cases.vault import case_vault, leaked_types
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
    S.AWAITING_INFORMATION,
)
NEXT_STEP: dict[str, str] = {
    S.READY_FOR_ASSESSMENT: "assess: plumm cases approve {ref}  |  plumm cases decline {ref} --reason ...",
    S.APPROVED: "ask the employer: plumm cases request-employer {ref}",
    S.EMPLOYER_APPROVED: "tell the client: plumm cases notify-client {ref}",
    S.EMPLOYER_DECLINED: "tell the client: plumm cases notify-client {ref}  (or close {ref})",
    S.AWAITING_INFORMATION: "waiting for the therapist's reply; nothing to do unless it stalls",
}


class DigestError(Exception):
    """The digest cannot be built as asked (e.g. --to names no CSM); the message says why."""


@dataclass
class Digest:
    to: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.entries and not self.quarantined


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


def _signals(raw: dict[str, Any]) -> dict[str, str]:
    def word(value: Any) -> str:
        return str(value) if value else "none"

    known = raw.get("known_therapist")
    return {
        "known_therapist": "yes" if known else ("no" if known is not None else "unknown"),
        "spf": word(raw.get("spf")),
        "dkim": word(raw.get("dkim")),
        "dmarc": word(raw.get("dmarc")),
    }


def entry(rt: Runtime, case: store.Case, *, now: datetime, queue: str) -> dict[str, Any]:
    sections: list[dict[str, Any]] = [
        {
            "title": str(v.get("title") or key),
            "present": bool(v.get("present")),
            "evidence": str(v.get("evidence") or ""),
            "reason": str(v.get("reason") or ""),
        }
        for key, v in sorted(case.sections.items())
    ]
    letter = case.letter_redacted
    leaks = leaked_types(case_vault(rt.cipher, case), letter, *(str(s["evidence"]) for s in sections))
    if leaks:
        log.warning(
            "%s: letter withheld from digest, vaulted value(s) of type %s found", case.reference, ",".join(leaks)
        )
        letter = ""
        sections = [{**s, "evidence": ""} for s in sections]
    return {
        "reference": case.reference,
        "status": case.status,
        "age": age(case.created_at, now),
        "queue": queue,
        "sections": sections,
        "sessions_requested": case.sessions_requested,
        "period": case.period,
        "therapy": case.therapy,
        "signals": _signals(case.sender_signals),
        "letter": letter,
        "withheld": bool(leaks),
        "reason": case.reason,
        "next_step": NEXT_STEP.get(case.status, "").format(ref=case.reference),
    }


def collect(
    rt: Runtime,
    db: Any,
    *,
    since: datetime | None = None,
    only_new: bool = False,
    to: str | None = None,
    now: datetime | None = None,
) -> list[Digest]:
    """Digests to send, one per CSM address (empty ones left out), in address order."""
    now = now or store.utcnow()
    directory = rt.accounts
    recipients = {a.csm for a in directory.accounts} | {directory.team_lead}
    if to is not None and to.strip().lower() not in recipients:
        raise DigestError(f"{to.strip()} is neither a CSM nor the team lead in accounts.yaml")
    digests: dict[str, Digest] = defaultdict(lambda: Digest(to=""))

    rows = (
        db.execute(
            select(store.Case).where(col(store.Case.status).in_([*WAITING, S.QUARANTINED])).order_by(col(store.Case.id))
        )
        .scalars()
        .all()
    )
    for case in sorted(rows, key=lambda c: (WAITING.index(c.status) if c.status in WAITING else 99, c.id)):
        if not _changed(case, since=since, only_new=only_new):
            continue
        if case.status == S.QUARANTINED:
            # Nothing from a quarantined message reaches a digest: reference and reason code only.
            digest = digests[directory.team_lead]
            digest.quarantined.append(
                {
                    "reference": case.reference,
                    "age": age(case.created_at, now),
                    "reason": case.reason or "unknown",
                    "stage": case.reason_stage or "unknown",
                }
            )
        else:
            account = directory.get(case.account)
            address = account.csm if account is not None else directory.team_lead
            digest = digests[address]
            queue = "your accounts" if account else UNASSIGNED
            digest.entries.append(entry(rt, case, now=now, queue=queue))
        assert case.id is not None
        digest.case_ids.append(case.id)
    result = []
    for address, digest in sorted(digests.items()):
        digest.to = address
        if to is None or address == to.strip().lower():
            result.append(digest)
    return [d for d in result if not d.empty]


def build_message(rt: Runtime, digest: Digest, *, now: datetime) -> EmailMessage:
    context = {
        "date": now.strftime("%d %B %Y"),
        "entries": digest.entries,
        "quarantined": digest.quarantined,
        "waiting": {status: sum(1 for e in digest.entries if e["status"] == status) for status in WAITING},
    }
    text, html = render("digest", rules_dir=rt.settings.rules_dir, **context)
    count = len(digest.entries) + len(digest.quarantined)
    subject = f"Plumm digest {now:%Y-%m-%d}: {count} case{'s' if count != 1 else ''} for you"
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
        digests = collect(rt, db, since=since, only_new=only_new, to=to, now=now)
    sent: list[Digest] = []
    for digest in digests:
        message = build_message(rt, digest, now=now)
        with store.session(rt.engine) as db:
            try:
                key = period_key(rt, digest.to, previous)
                delivery.enqueue(db, rt, message, kind="digest", case_id=None, to=digest.to, dedupe_key=key)
                db.flush()  # the key is checked here: another run recorded this digest first
                for case_id in digest.case_ids:
                    case = db.get(store.Case, case_id)
                    assert case is not None
                    case.last_digest_at = now  # not updated_at: being listed is not a change
                    db.add(case)
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
