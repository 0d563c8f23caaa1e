"""One queue discipline for both directions: inbound messages to process, outbound mail to send.

The database, with a status column, is the queue (one table per queue), as in procrastinate and
Oban. Every sender of work uses these functions; nothing reads pending rows without claiming them.

    pending --claim--> leased --finish--> done
       ^                 |  \\--release (a retry; not_before = now + backoff)--> pending
       |                 \\----fail (attempts exhausted, or a permanent error)--> failed
       \\-------------------------- requeue (an operator) ---------------------------/

* :func:`claim` takes one row that is pending and due (``not_before`` passed), or leased with an
  expired lease (its worker died), and leases it to one worker (:func:`claim_many`: several rows in
  one round trip): ``SELECT ... FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, so concurrent claimants never wait on one another, then a compare-and-set
  ``UPDATE`` on the same condition on every database, so exactly one claimant wins where SKIP
  LOCKED does not exist (SQLite). Each claim counts an attempt.
* :func:`hold` is the first statement of the transaction that writes a row's outcome: an ``UPDATE``
  that matches only while we still hold the lease. It takes the row lock (PostgreSQL) or the write
  lock (SQLite) before anything else is written, so an outcome is written once, by the lease holder.
* :func:`renew` extends a lease still in use (a long letter's pieces), from the holder only.
* :func:`finish`, :func:`release` and :func:`fail` end a lease (done, retry later, final failure);
  :func:`requeue` puts failed rows back for an operator; :func:`rows` lists them.
* :func:`backoff` is exponential and capped: ``base * 2**(attempts-1)``, at most ``cap``.

Time is always passed in (``now``) from an injectable clock, so tests move it instead of waiting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from pipeline import store

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

Row = store.InboundMessage | store.OutboundMessage


@dataclass(frozen=True)
class Queue:
    """A table used as a queue and the names its statuses have there."""

    name: str
    model: type[store.InboundMessage] | type[store.OutboundMessage]
    pending: str
    leased: str
    done: str
    failed: str
    # Columns an operator's requeue clears besides the lease (the failing stage, the last error...).
    cleared_on_requeue: Mapping[str, Any] = field(default_factory=dict)


INBOUND = Queue(
    "inbound",
    store.InboundMessage,
    pending=store.MessageStatus.PENDING,
    leased=store.MessageStatus.PROCESSING,
    done=store.MessageStatus.DONE,
    failed=store.MessageStatus.QUARANTINED,
    cleared_on_requeue={"error_stage": None, "error_reason": None, "processed_at": None},
)
OUTBOUND = Queue(
    "outbound",
    store.OutboundMessage,
    pending=store.OutboundStatus.PENDING,
    leased=store.OutboundStatus.SENDING,
    done=store.OutboundStatus.SENT,
    failed=store.OutboundStatus.FAILED,
    cleared_on_requeue={"last_error": None},
)
QUEUES = {q.name: q for q in (INBOUND, OUTBOUND)}


def _columns(q: Queue) -> Any:
    return q.model


def _claimable(q: Queue, now: datetime) -> ColumnElement[bool]:
    M = _columns(q)
    return or_(
        and_(col(M.status) == q.pending, or_(col(M.not_before).is_(None), col(M.not_before) <= now)),
        and_(col(M.status) == q.leased, col(M.lease_until) < now),
    )


def _rowcount(result: Any) -> int:
    # An UPDATE's result is a CursorResult (it has rowcount); SQLModel types execute() as Result.
    return cast("CursorResult[Any]", result).rowcount


def claim(engine: Engine, q: Queue, *, worker_id: str, lease_seconds: float, now: datetime) -> int | None:
    """Lease one due row to ``worker_id``; its id, or None when nothing is due (or another won)."""
    ids = claim_many(engine, q, worker_id=worker_id, lease_seconds=lease_seconds, now=now, limit=1)
    return ids[0] if ids else None


def claim_many(
    engine: Engine, q: Queue, *, worker_id: str, lease_seconds: float, now: datetime, limit: int
) -> list[int]:
    """Lease up to ``limit`` due rows to ``worker_id`` in one transaction; their ids, oldest first
    (fewer, or none, when fewer are due or another claimant won some)."""
    M = _columns(q)
    claimable = _claimable(q, now)
    with store.session(engine) as db:
        query = select(col(M.id)).where(claimable).order_by(col(M.id)).limit(limit)
        if store.is_postgres(engine):
            query = query.with_for_update(skip_locked=True)
        candidates = [int(i) for i in db.execute(query).scalars()]
        if not candidates:
            return []
        # Compare-and-set: only one claimant can move a row into its lease.
        won = db.execute(
            update(M)
            .where(col(M.id).in_(candidates), claimable)
            .values(
                status=q.leased,
                lease_until=now + timedelta(seconds=lease_seconds),
                worker_id=worker_id,
                attempts=col(M.attempts) + 1,
            )
            .returning(col(M.id))
        )
        ids = sorted(int(i) for i in won.scalars())
        db.commit()
        return ids


def hold(db: Session, q: Queue, row_id: int, worker_id: str) -> Any:
    """In the caller's transaction: lock the row if ``worker_id`` still holds its lease, and return it
    (None when the lease was lost: another worker owns the row now, or it was finished)."""
    M = _columns(q)
    # One round trip: the guarded UPDATE hands the locked row back (RETURNING), loaded into the session.
    held = db.execute(
        update(M)
        .where(col(M.id) == row_id, col(M.status) == q.leased, col(M.worker_id) == worker_id)
        .values(worker_id=worker_id)
        .returning(M),
        execution_options={"synchronize_session": False, "populate_existing": True},
    )
    return held.scalars().one_or_none()


def renew(engine: Engine, q: Queue, row_id: int, worker_id: str, *, now: datetime, lease_seconds: float) -> bool:
    """Extend the lease ``worker_id`` holds on a row (a long letter still in work); False if lost."""
    M = _columns(q)
    with store.session(engine) as db:
        touched = _rowcount(
            db.execute(
                update(M)
                .where(col(M.id) == row_id, col(M.status) == q.leased, col(M.worker_id) == worker_id)
                .values(lease_until=now + timedelta(seconds=lease_seconds))
            )
        )
        db.commit()
        return touched == 1


def finish(db: Session, q: Queue, row: Row, *, status: str | None = None) -> None:
    """In the caller's transaction (after :func:`hold`): the row is done (or another final status)."""
    row.status = status or q.done
    row.lease_until = None
    db.add(row)


def release(
    engine: Engine, q: Queue, row_id: int, worker_id: str, *, now: datetime, delay: timedelta, error: str | None = None
) -> bool:
    """Give the lease back for a retry no sooner than ``now + delay``; False if the lease was lost."""
    with store.session(engine) as db:
        row = hold(db, q, row_id, worker_id)
        if row is None:
            db.rollback()
            return False
        row.status = q.pending
        row.lease_until = None
        row.worker_id = None
        row.not_before = now + delay
        if error is not None and isinstance(row, store.OutboundMessage):
            row.last_error = error
        db.add(row)
        db.commit()
        return True


def fail(engine: Engine, q: Queue, row_id: int, worker_id: str, *, error: str) -> bool:
    """The final failure of an outbound row (an operator lists and requeues it); False if the lease
    was lost. An inbound message's final failure is a quarantined case: see ``pipeline.cases.recording``."""
    with store.session(engine) as db:
        row = hold(db, q, row_id, worker_id)
        if row is None:
            db.rollback()
            return False
        if isinstance(row, store.OutboundMessage):
            row.last_error = error
        finish(db, q, row, status=q.failed)
        db.commit()
        return True


def requeue(db: Session, q: Queue, condition: ColumnElement[bool] | None = None) -> int:
    """In the caller's transaction: failed rows (matching ``condition``) become pending again, with
    their attempts reset; returns how many. An operator's command, never automatic."""
    M = _columns(q)
    where = col(M.status) == q.failed
    if condition is not None:
        where = and_(where, condition)
    values = {"status": q.pending, "attempts": 0, "not_before": None, "lease_until": None, "worker_id": None}
    return _rowcount(db.execute(update(M).where(where).values({**values, **q.cleared_on_requeue})))


def rows(
    engine: Engine, q: Queue, *, status: str | None = None, ids: Sequence[int] = (), limit: int = 500
) -> list[Any]:
    """Rows of a queue, oldest first, for an operator's listing."""
    M = _columns(q)
    query = select(M).order_by(col(M.id)).limit(limit)
    if status:
        query = query.where(col(M.status) == status)
    if ids:
        query = query.where(col(M.id).in_(list(ids)))
    with store.session(engine) as db:
        return list(db.execute(query).scalars().all())


def backoff(attempts: int, *, base: float, cap: float) -> timedelta:
    """The wait before retry number ``attempts``: ``base``, then doubling, never more than ``cap``."""
    exponent = min(max(attempts - 1, 0), 32)  # 2**32 * base is far past any cap
    return timedelta(seconds=min(cap, base * 2**exponent))
