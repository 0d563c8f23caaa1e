"""The case life cycle: which status may follow which, and the append-only audit trail.

Contract: every status change goes through :func:`transition`, which refuses a move the life cycle
does not allow (:class:`TransitionRefused`, naming the case, both statuses and what is allowed) and
appends a ``CaseEvent`` (who, when, from, to, note). :func:`add_event` records anything else that
happens to a case; events are never changed or deleted.

``received -> (awaiting_information | ready_for_assessment | quarantined)``,
``ready_for_assessment -> approved | declined``,
``approved -> employer_contacted -> (employer_approved | employer_declined) -> client_notified -> closed``.
No status is a dead end: every one but ``closed`` has a way forward and a way to close (a request
withdrawn, an employer who never answers; the service asks for a reason when a case closes early).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from pipeline import store
from pipeline.models import CaseStatus

SYSTEM = "system"

S = CaseStatus
ALLOWED: dict[str, set[str]] = {
    S.RECEIVED: {S.AWAITING_INFORMATION, S.READY_FOR_ASSESSMENT, S.QUARANTINED, S.CLOSED},
    S.AWAITING_INFORMATION: {S.READY_FOR_ASSESSMENT, S.QUARANTINED, S.DECLINED, S.CLOSED},
    S.READY_FOR_ASSESSMENT: {S.APPROVED, S.DECLINED, S.AWAITING_INFORMATION, S.CLOSED},
    S.QUARANTINED: {S.AWAITING_INFORMATION, S.READY_FOR_ASSESSMENT, S.CLOSED},
    S.APPROVED: {S.EMPLOYER_CONTACTED, S.CLOSED},
    S.DECLINED: {S.CLOSED},
    S.EMPLOYER_CONTACTED: {S.EMPLOYER_APPROVED, S.EMPLOYER_DECLINED, S.CLOSED},
    S.EMPLOYER_APPROVED: {S.CLIENT_NOTIFIED, S.CLOSED},
    S.EMPLOYER_DECLINED: {S.CLIENT_NOTIFIED, S.CLOSED},
    S.CLIENT_NOTIFIED: {S.CLOSED},
    S.CLOSED: set(),
}
# Statuses in which a new letter from the therapist still changes the assessment.
OPEN_FOR_LETTERS = {S.RECEIVED, S.AWAITING_INFORMATION, S.READY_FOR_ASSESSMENT}


class TransitionRefused(Exception):
    """The life cycle does not allow this move; the message says which and what is allowed."""


def transition(db: Session, case: store.Case, to: str, *, actor: str, kind: str = "status", note: str = "") -> None:
    current = case.status
    if to not in ALLOWED.get(current, set()):
        allowed = ", ".join(sorted(ALLOWED.get(current, set()))) or "nothing (final)"
        raise TransitionRefused(f"{case.reference}: cannot go from {current} to {to}; allowed: {allowed}")
    case.status = to
    case.updated_at = case.status_since = store.utcnow()
    db.add(case)
    add_event(db, case, actor=actor, kind=kind, from_status=current, to_status=to, note=note)


def add_event(
    db: Session,
    case: store.Case,
    *,
    actor: str,
    kind: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str = "",
) -> None:
    assert case.id is not None
    db.add(
        store.CaseEvent(
            case_id=case.id, actor=actor, kind=kind, from_status=from_status, to_status=to_status, note=note
        )
    )


def by_reference(db: Session, reference: str) -> store.Case | None:
    return db.execute(select(store.Case).where(col(store.Case.reference) == reference)).scalar_one_or_none()
