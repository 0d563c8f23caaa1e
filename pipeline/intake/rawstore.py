"""The raw message store: the encrypted bytes of a message, committed before the SMTP edge says 250.

Contract: a stored message's id is known only once the transaction holding it has committed, so
a 250 always means the message is durable. The SMTP edge stores through :class:`GroupCommit`
(concurrent messages share one transaction); a replay and tests call :func:`database_persister`'s
function with the raw bytes. Both write :func:`message_row`: the bytes encrypted, the sender
address only as a keyed hash.
:func:`storage_failure_reason` names a failed persist from the exception's type and error code,
never from its text.
"""

from __future__ import annotations

import errno
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from pathlib import Path
from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine

from pipeline import store

Persist = Callable[[bytes, int, str, str], int]
Row = dict[str, Any]
# Writer threads on PostgreSQL: enough that a commit in flight never holds back the next batch,
# well within the engine's pool (5 + 5 overflow).
POSTGRES_WRITERS = 3
# SQLite: the listener's checkpointer copies the write-ahead log into the database once the writer
# has been idle this long (its fsync of the database slows a commit's fsync running beside it), or
# at once when the log has grown past CHECKPOINT_WAL_BYTES (a log that is never copied only grows).
CHECKPOINT_IDLE_SECONDS = 0.5
CHECKPOINT_WAL_BYTES = 64 * 1024 * 1024


def storage_failure_reason(exc: BaseException) -> str:
    """A reason code for a failed persist, from the exception's type and error code only.

    Never uses the exception's text, which may hold a path or a value."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = getattr(current, "sqlite_errorname", "") or ""
        if name:
            if name.startswith("SQLITE_FULL"):
                return f"storage-full ({name})"
            if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")):
                return f"storage-not-writable ({name})"
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                return f"database-busy ({name})"
            if name.startswith("SQLITE_IOERR"):
                return f"storage-io-error ({name})"
            return f"database-error ({name})"
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate:
            if sqlstate.startswith("53"):
                return f"storage-full (SQLSTATE {sqlstate})"
            if sqlstate in ("25006", "42501"):
                return f"storage-not-writable (SQLSTATE {sqlstate})"
            if sqlstate.startswith("08") or sqlstate.startswith("57P"):
                return f"database-unavailable (SQLSTATE {sqlstate})"
            return f"database-error (SQLSTATE {sqlstate})"
        if isinstance(current, OSError) and current.errno is not None:
            code = errno.errorcode.get(current.errno, str(current.errno))
            if current.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                return f"storage-full ({code})"
            if current.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return f"storage-not-writable ({code})"
            return f"storage-io-error ({code})"
        current = current.__cause__ or current.__context__
    if type(exc).__module__.startswith("psycopg") or "OperationalError" in type(exc).__name__:
        return f"database-unavailable ({type(exc).__name__})"
    return f"unexpected ({type(exc).__name__})"


def message_row(cipher: MultiFernet, hash_key: bytes, raw: bytes, rcpt_count: int, peer: str, mail_from: str) -> Row:
    """The ``inbound_message`` row of one message: its encrypted bytes and envelope facts, pending.
    The sender address is kept only as a keyed hash."""
    return {
        "received_at": store.utcnow(),
        "raw_encrypted": cipher.encrypt(raw),
        "size": len(raw),
        "rcpt_count": rcpt_count,
        "peer": peer,
        "status": store.MessageStatus.PENDING,
        "attempts": 0,
        "sender_hash": store.keyed_hash(hash_key, mail_from) if mail_from else None,
    }


def insert_rows(connection: Connection, rows: list[Row]) -> list[int]:
    """Insert ``rows`` in one transaction on ``connection`` (one commit, so one fsync for all); their
    ids, in order, once committed. A lean Core insert: no ORM unit of work for rows nobody reads here."""
    table = store.InboundMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    with connection.begin():
        ids = [int(i) for i in connection.execute(statement, rows).scalars()]
    return ids


def database_persister(engine: Engine, cipher: MultiFernet, hash_key: bytes) -> Persist:
    """Return a function that stores one message and returns its id once committed (a replay, tests)."""

    def persist(raw: bytes, rcpt_count: int, peer: str, mail_from: str) -> int:
        with engine.connect() as connection:
            return insert_rows(connection, [message_row(cipher, hash_key, raw, rcpt_count, peer, mail_from)])[0]

    return persist


class GroupCommit:
    """Group commit for the SMTP edge: messages from concurrent sessions share one transaction.

    ``submit`` hands a prepared row to a writer thread and returns a future that resolves to the
    row's id once the transaction holding it has committed (or fails with the storage error, which
    the edge answers with 451). A writer takes every row waiting when it is free, up to
    ``max_batch``, so under load one commit (one fsync) covers many messages, and at rest a lone
    message waits for nobody: no batching window. A failed transaction fails each of its rows, none
    is acknowledged. The event loop never waits on the database; it only awaits the future.

    One writer on SQLite (a single writer lock: more threads would only queue on it), a few on
    PostgreSQL, where transactions from several connections commit in parallel. Each writer keeps
    its connection, opened at start (no connect or pool ping on the way of the first messages) and
    opened again after a failure. On SQLite the writer never checkpoints the write-ahead log itself
    (a checkpoint at a commit holds that commit's messages for the time of an fsync of the whole
    database): a checkpointer thread does it beside it, which SQLite allows while writes go on, when
    the writer is idle (see ``CHECKPOINT_IDLE_SECONDS``).
    """

    def __init__(self, engine: Engine, *, writers: int | None = None, max_batch: int = 100) -> None:
        self.engine = engine
        self.writers = writers or (POSTGRES_WRITERS if store.is_postgres(engine) else 1)
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Row, Future[int]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._stopping = threading.Event()
        self._last_commit = 0.0  # time.monotonic() of the last commit; 0.0: nothing to checkpoint

    def start(self) -> None:
        ready = [threading.Event() for _ in range(self.writers)]
        for i in range(self.writers):
            thread = threading.Thread(target=self._run, args=(ready[i],), name=f"plumm-persist-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.engine.dialect.name == "sqlite":
            thread = threading.Thread(target=self._checkpoints, name="plumm-checkpoint", daemon=True)
            thread.start()
            self._threads.append(thread)
        for event in ready:  # connected (or failed to: the first batch tries again)
            event.wait(timeout=10)

    def submit(self, row: Row) -> Future[int]:
        future: Future[int] = Future()
        if self._closed:
            future.set_exception(RuntimeError("group commit stopped"))
        else:
            self._queue.put((row, future))
        return future

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what was submitted, then stop the writers."""
        self._closed = True
        self._stopping.set()
        for _ in range(self.writers):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads.clear()

    def _open(self) -> Connection:
        connection = self.engine.connect()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # see _checkpoints
        connection.commit()  # end the transaction the statement began; each batch begins its own
        return connection

    def _connect(self) -> Connection | None:
        try:
            return self._open()
        except Exception:  # the database is away: the next batch tries again, and fails with 451
            return None

    def _run(self, ready: threading.Event) -> None:
        connection = self._connect()
        ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stopping = False
                while len(batch) < self.max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                connection = self._commit(connection, batch)
                if stopping:
                    return
        finally:
            if connection is not None:
                with suppress(Exception):
                    connection.close()

    def _commit(self, connection: Connection | None, batch: list[tuple[Row, Future[int]]]) -> Connection | None:
        """Commit ``batch``; the connection to use next (None after a failure: the next batch
        connects again, so a database that does not answer costs each batch one connect timeout)."""
        try:
            if connection is None:
                connection = self._open()
            ids = insert_rows(connection, [row for row, _ in batch])
        except Exception as error:  # every row of the failed transaction: 451, never 250
            for _, future in batch:
                future.set_exception(error)
            if connection is not None:
                with suppress(Exception):
                    connection.invalidate()
                    connection.close()
            return None
        self._last_commit = time.monotonic()
        for (_, future), row_id in zip(batch, ids, strict=True):
            future.set_result(row_id)
        return connection

    def _checkpoints(self) -> None:
        """SQLite: copy the write-ahead log into the database when the writer is idle, beside it."""
        wal = Path(f"{self.engine.url.database}-wal")
        while not self._stopping.wait(CHECKPOINT_IDLE_SECONDS / 5):
            last = self._last_commit
            idle = last and time.monotonic() - last >= CHECKPOINT_IDLE_SECONDS
            try:
                large = wal.stat().st_size > CHECKPOINT_WAL_BYTES
            except OSError:
                large = False
            if not (idle or large):
                continue
            with suppress(Exception), self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                connection.commit()
            if self._last_commit == last:
                self._last_commit = 0.0  # copied: nothing new until the next commit
