"""The raw message store: the encrypted bytes of a message, committed before the SMTP edge says 250.

Contract: :func:`database_persister` returns the function the SMTP edge (and a replay) calls with
the raw bytes; it returns the stored row's id only once the transaction has committed, so a 250
always means the message is durable. The sender address is kept only as a keyed hash.
:func:`storage_failure_reason` names a failed persist from the exception's type and error code,
never from its text.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from cryptography.fernet import MultiFernet
from sqlalchemy.engine import Engine

from pipeline import store

Persist = Callable[[bytes, int, str, str], int]


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


def database_persister(engine: Engine, cipher: MultiFernet, hash_key: bytes) -> Persist:
    """Return a function that stores one message and returns its id once committed."""

    def persist(raw: bytes, rcpt_count: int, peer: str, mail_from: str) -> int:
        row = store.InboundMessage(
            raw_encrypted=cipher.encrypt(raw),
            size=len(raw),
            rcpt_count=rcpt_count,
            peer=peer,
            sender_hash=store.keyed_hash(hash_key, mail_from) if mail_from else None,
        )
        with store.session(engine) as db:
            db.add(row)
            db.commit()
            assert row.id is not None
            return row.id

    return persist
