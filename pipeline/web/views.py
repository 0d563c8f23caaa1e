"""What a page shows: cases turned into plain values for the templates.

Contract: a redacted text becomes :func:`segments`, ``(text, placeholder kind or None)`` pairs the
template marks up (Jinja2 autoescapes every piece, so a ``<script>`` in a letter is text); the
actions a case offers come from the permission table and the life cycle (:func:`actions`), never
from a template's own judgement, and the service layer checks them again when one is posted. No
function here opens a vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline import store
from pipeline.cases.digest import NEXT_STEP, age
from pipeline.cases.lifecycle import ALLOWED, S
from pipeline.cases.permissions import Action, Actor
from pipeline.cases.reading import CaseDetail
from pipeline.patterns import PLACEHOLDER_RE


def segments(text: str) -> list[tuple[str, str | None]]:
    """Plain text and placeholders, in order; a placeholder's kind names its CSS class."""
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for match in PLACEHOLDER_RE.finditer(text):
        if match.start() > at:
            pieces.append((text[at : match.start()], None))
        kind = match.group("type") or ("title" if match.group("neutral") == "TITLE" else "pronoun")
        pieces.append((match.group(0), kind.lower()))
        at = match.end()
    if at < len(text):
        pieces.append((text[at:], None))
    return pieces


@dataclass(frozen=True, slots=True)
class Offer:
    """An action a page offers: the form posts to ``/cases/{ref}/{name}``."""

    name: str
    label: str


# name, label, what the actor must be allowed, the status it moves to (None: no move)
_OFFERS: list[tuple[str, str, Action, str | None]] = [
    ("approve", "Approve", Action.ASSESS, S.APPROVED),
    ("decline", "Decline", Action.ASSESS, S.DECLINED),
    ("request-employer", "Ask the employer", Action.ASSESS, S.EMPLOYER_CONTACTED),
    ("record-employer", "Record the employer's answer", Action.ASSESS, S.EMPLOYER_APPROVED),
    ("notify-client", "Tell the client", Action.ASSESS, S.CLIENT_NOTIFIED),
    ("close", "Close", Action.ASSESS, S.CLOSED),
    ("reprocess", "Re-run the quarantined message", Action.ROUTE, None),
    ("assign", "Assign to an account", Action.ROUTE, None),
    ("reveal", "Reveal the removed details", Action.REVEAL, None),
]


def actions(actor: Actor, case: store.Case) -> dict[str, Offer]:
    offers: dict[str, Offer] = {}
    for name, label, needs, target in _OFFERS:
        if not actor.may(needs, case):
            continue
        if target is not None and target not in ALLOWED.get(case.status, set()):
            continue
        if name == "reprocess" and case.status != S.QUARANTINED:
            continue
        if name == "assign" and case.status == S.CLOSED:
            continue
        offers[name] = Offer(name, label)
    return offers


def _signals(raw: dict[str, Any]) -> dict[str, str]:
    known = raw.get("known_therapist")
    return {
        "known therapist": "yes" if known else ("no" if known is not None else "unknown"),
        "SPF": str(raw.get("spf") or "none"),
        "DKIM": str(raw.get("dkim") or "none"),
        "DMARC": str(raw.get("dmarc") or "none"),
        "authenticated (aligned)": "yes" if raw.get("aligned") else "no",
    }


def row(case: store.Case, now: datetime) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "status": case.status,
        "account": case.account or "unassigned",
        "waited": age(case.status_since, now),
        "received": age(case.created_at, now),
        "sessions": case.sessions_requested,
        "sections": {key: bool(v.get("present")) for key, v in sorted(case.sections.items())},
        "reason": case.reason,
    }


_MESSAGE_TITLES: dict[str, str] = {
    store.LetterKind.LETTER: "Letter from the therapist",
    store.LetterKind.EMPLOYER: "Answer from the employer",
    store.LetterKind.CLIENT: "Reply from the client",
}


def case_page(detail: CaseDetail, actor: Actor, now: datetime) -> dict[str, Any]:
    case = detail.case
    quarantined = case.status == S.QUARANTINED
    return {
        **row(case, now),
        "next_step": NEXT_STEP.get(case.status, ""),
        "period": case.period,
        "client_reference": case.client_reference,
        "quarantined": quarantined,
        "reason_stage": case.reason_stage,
        "sections": [
            {
                "title": str(v.get("title") or key),
                "present": bool(v.get("present")),
                "evidence": segments(str(v.get("evidence") or "")) if not quarantined else [],
            }
            for key, v in sorted(case.sections.items())
        ],
        "signals": _signals(case.sender_signals),
        "messages": [
            {
                "kind": m.kind,
                "title": _MESSAGE_TITLES.get(m.kind, m.kind),
                "seq": m.seq,
                "received": store.aware(m.received_at).isoformat(timespec="minutes"),
                # redacted and verified with the text; a withheld one is only said to be withheld
                "subject": segments(m.subject_redacted or ""),
                "subject_withheld": m.subject_withheld,
                "text": segments(m.redacted_text),
            }
            for m in detail.messages
        ],
        # Each letter on its own when the case has them; else the case's combined letter.
        "letter": []
        if quarantined or any(m.kind == store.LetterKind.LETTER for m in detail.messages)
        else segments(case.letter_redacted),
        "employer_answers": sum(1 for m in detail.messages if m.kind == store.LetterKind.EMPLOYER),
        "events": [
            {
                "at": store.aware(e.at).isoformat(timespec="seconds"),
                "actor": e.actor,
                "kind": e.kind,
                "move": f"{e.from_status or ''} -> {e.to_status}" if e.to_status else "",
                "note": e.note,
            }
            for e in detail.events
        ],
        "mail": [
            {
                "kind": m.kind,
                "status": m.status,
                "queued": store.aware(m.created_at).isoformat(timespec="minutes"),
                "sent": store.aware(m.sent_at).isoformat(timespec="minutes") if m.sent_at else "",
            }
            for m in detail.mail
        ],
        "actions": actions(actor, case),
    }
