"""Signs of life and counters shared across processes, for ``/healthz`` and ``/metrics``.

Contract: each listener, worker and console process counts in memory (:data:`TELEMETRY`: SMTP
refusals by reply code, stage latency as histogram buckets) and calls :meth:`Telemetry.flush`
now and then (at most every ``FLUSH_SECONDS``; a :class:`Beat` thread does it for the listener): it
writes the process's heartbeat row and adds the counts since the last flush to the shared
``metric_counter`` rows, in one transaction. A failed flush keeps the counts for the next one.
Counters carry names, reply codes and stage names only, never a value from a letter.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from pipeline import store

log = logging.getLogger("plumm.telemetry")

FLUSH_SECONDS = 5.0
# A process whose heartbeat is older than this is taken for dead (a few missed flushes).
STALE_SECONDS = 60.0
# Stage latency buckets, seconds (Prometheus histogram "le" bounds; +Inf is the count).
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

Labels = tuple[tuple[str, str], ...]


def process_id(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def labels_text(labels: Labels) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels))


def parse_labels(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


class Telemetry:
    """Counts of this process since its last flush (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: defaultdict[tuple[str, str], float] = defaultdict(float)
        # Per kind: a process running a listener and a worker beats for each (one must not starve the other).
        self._last_flush: dict[str, float] = {}

    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        with self._lock:
            self._counts[(name, labels_text(tuple(labels.items())))] += amount

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """One duration into a histogram: ``<name>_bucket`` per bound, ``_sum`` and ``_count``."""
        base = tuple(labels.items())
        with self._lock:
            for bound in LATENCY_BUCKETS:
                if seconds <= bound:
                    self._counts[(f"{name}_bucket", labels_text((*base, ("le", repr(bound)))))] += 1
            self._counts[(f"{name}_bucket", labels_text((*base, ("le", "+Inf"))))] += 1
            self._counts[(f"{name}_sum", labels_text(base))] += seconds
            self._counts[(f"{name}_count", labels_text(base))] += 1

    def due(self, kind: str, now: float | None = None) -> bool:
        return (now if now is not None else time.monotonic()) - self._last_flush.get(kind, 0.0) >= FLUSH_SECONDS

    def flush(self, engine: Engine, *, kind: str, process: str | None = None) -> bool:
        """Write this process's heartbeat and its counts since the last flush; False if the database
        could not be reached (the counts wait for the next flush)."""
        with self._lock:
            pending, self._counts = self._counts, defaultdict(float)
            self._last_flush[kind] = time.monotonic()
        try:
            with store.session(engine) as db:
                _beat(db, kind=kind, process=process or process_id(kind))
                _add(db, pending.items())
                db.commit()
            return True
        except SQLAlchemyError as error:
            log.warning("telemetry flush failed (%s); kept for the next one", type(error).__name__)
            with self._lock:
                for key, amount in pending.items():
                    self._counts[key] += amount
            return False

    def maybe_flush(self, engine: Engine, *, kind: str) -> None:
        if self.due(kind):
            self.flush(engine, kind=kind)


TELEMETRY = Telemetry()


def _beat(db: store.Session, *, kind: str, process: str) -> None:
    row = db.get(store.ProcessHeartbeat, process)
    if row is None:
        db.add(store.ProcessHeartbeat(process=process, kind=kind, at=store.utcnow()))
    else:
        row.at = store.utcnow()
        db.add(row)
    db.flush()


def _add(db: store.Session, counts: Iterable[tuple[tuple[str, str], float]]) -> None:
    """Add each count to its row, creating it if missing: one upsert for all the counts (a single
    batch, not a statement per counter), atomic on both databases, so counts of several processes
    flushing at once add up. Sorted, so two processes take the rows' locks in the same order."""
    rows = [{"name": name, "labels": labels, "value": amount} for (name, labels), amount in sorted(counts)]
    if not rows:
        return
    table = store.MetricCounter.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
    bind = db.get_bind()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.name, table.c.labels], set_={"value": table.c.value + statement.excluded.value}
    )
    db.execute(statement, rows)


class Beat(threading.Thread):
    """Flushes :data:`TELEMETRY` every ``FLUSH_SECONDS`` until stopped (for a process, such as the
    listener, with no loop of its own to do it)."""

    def __init__(self, engine: Engine, *, kind: str) -> None:
        super().__init__(name=f"telemetry-{kind}", daemon=True)
        self.engine, self.kind = engine, kind
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            TELEMETRY.flush(self.engine, kind=self.kind)
            self._halt.wait(FLUSH_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
        TELEMETRY.flush(self.engine, kind=self.kind)


# -- reading ------------------------------------------------------------------------------------
def heartbeats(engine: Engine) -> list[store.ProcessHeartbeat]:
    with store.session(engine) as db:
        return list(db.execute(select(store.ProcessHeartbeat).order_by(col(store.ProcessHeartbeat.process))).scalars())


def counters(engine: Engine) -> list[store.MetricCounter]:
    with store.session(engine) as db:
        return list(
            db.execute(
                select(store.MetricCounter).order_by(col(store.MetricCounter.name), col(store.MetricCounter.labels))
            ).scalars()
        )
