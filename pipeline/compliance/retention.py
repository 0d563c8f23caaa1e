"""Retention: forget what identifies a client once a case has been closed long enough.

For every case closed more than ``retention_days`` ago (the time of its last move to
``closed`` in the audit trail), delete the raw message bytes of its inbound messages, its vault
(placeholder -> original) and the payloads of its outbound mail already sent. The redacted case,
its redacted letters, entity counts and the whole audit trail stay; a ``retention-purged`` event
records what was deleted (counts only). Running it twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from pipeline import store
from pipeline.models import CaseStatus

log = logging.getLogger("plumm.retention")
ACTOR = "retention"


@dataclass(frozen=True, slots=True)
class RetentionReport:
    cutoff: datetime
    dry_run: bool
    cases: tuple[str, ...]  # references only
    messages: int
    vaults: int
    outbound: int


def _closed_before(engine: Engine, cutoff: datetime) -> list[tuple[int, str]]:
    closed_at = (
        select(col(store.CaseEvent.case_id), func.max(col(store.CaseEvent.at)).label("closed_at"))
        .where(col(store.CaseEvent.to_status) == CaseStatus.CLOSED)
        .group_by(col(store.CaseEvent.case_id))
        .subquery()
    )
    with store.session(engine) as db:
        rows = db.execute(
            select(col(store.Case.id), col(store.Case.reference))
            .join(closed_at, closed_at.c.case_id == col(store.Case.id))
            .where(col(store.Case.status) == CaseStatus.CLOSED, closed_at.c.closed_at < cutoff)
            .order_by(col(store.Case.id))
        ).all()
    closed: list[tuple[int, str]] = []
    for case_id, reference in rows:
        assert case_id is not None  # a primary key read back from the database
        closed.append((case_id, reference))
    return closed


def purge(engine: Engine, *, days: int, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """Delete raw bytes, vaults and sent payloads of cases closed more than ``days`` days ago."""
    M, Out = store.InboundMessage, store.OutboundMessage
    cutoff = (now or store.utcnow()) - timedelta(days=days)
    purged: list[str] = []
    totals = {"messages": 0, "vaults": 0, "outbound": 0}
    for case_id, reference in _closed_before(engine, cutoff):
        with store.session(engine) as db:
            case = db.get(store.Case, case_id)
            if case is None or case.status != CaseStatus.CLOSED:  # reopened meanwhile: not ours to purge
                continue
            messages = db.execute(
                select(func.count())
                .select_from(M)
                .where(col(M.case_id) == case_id, func.length(col(M.raw_encrypted)) > 0)
            ).scalar_one()
            outbound = db.execute(
                select(func.count())
                .select_from(Out)
                .where(
                    col(Out.case_id) == case_id, col(Out.status) == "sent", func.length(col(Out.payload_encrypted)) > 0
                )
            ).scalar_one()
            vault = 1 if case.vault_encrypted else 0
            if not (messages or outbound or vault):
                continue  # purged before
            purged.append(reference)
            totals["messages"] += messages
            totals["vaults"] += vault
            totals["outbound"] += outbound
            if dry_run:
                continue
            db.execute(update(M).where(col(M.case_id) == case_id).values(raw_encrypted=b""))
            db.execute(
                update(Out).where(col(Out.case_id) == case_id, col(Out.status) == "sent").values(payload_encrypted=b"")
            )
            case.vault_encrypted = None
            db.add(case)
            db.add(
                store.CaseEvent(
                    case_id=case_id,
                    actor=ACTOR,
                    kind="retention-purged",
                    note=f"raw messages {messages}, vault {vault}, sent mail {outbound}; closed more than {days} days",
                )
            )
            db.commit()
    if not dry_run:
        log.info("retention: %d case(s) purged (closed more than %d days)", len(purged), days)
    return RetentionReport(cutoff=cutoff, dry_run=dry_run, cases=tuple(purged), **totals)
