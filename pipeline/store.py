"""The database: inbound messages and outbound mail (the two queues, see ``pipeline.queue``), cases,
case letters and events; the engine, sessions and Alembic migrations.

Contract: the intake, the queue, the worker, the cases and outbound modules, compliance and the CLI
use this module; the stages never do (``tests/test_architecture.py`` checks it).
Raw messages and vaults are stored encrypted (see ``pipeline.compliance.keys``); hashes of sender
addresses and Message-IDs (keyed HMAC) allow de-duplication, threading and rate limits
without storing those values in clear.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from contextlib import suppress
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, event
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, create_engine

from pipeline.models import CaseStatus
from pipeline.patterns import case_reference


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite hands some back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class MessageStatus(enum.StrEnum):
    """An inbound message in the queue (see ``pipeline.queue``); ``quarantined`` is its final failure."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    QUARANTINED = "quarantined"


class OutboundStatus(enum.StrEnum):
    """Outbound mail in the queue (see ``pipeline.queue``); ``failed`` waits for an operator's retry."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class InboundMessage(SQLModel, table=True):
    __tablename__ = "inbound_message"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, index=True)
    raw_encrypted: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int
    rcpt_count: int = 1
    peer: str = ""  # "ip" only, for abuse limits; not a letter value
    status: str = Field(default=MessageStatus.PENDING, index=True)
    attempts: int = 0
    lease_until: datetime | None = None
    worker_id: str | None = None
    not_before: datetime | None = None
    error_stage: str | None = None
    error_reason: str | None = None
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    message_id_hash: str | None = Field(default=None, index=True)
    sender_hash: str | None = Field(default=None, index=True)
    processed_at: datetime | None = None


class Case(SQLModel, table=True):
    __tablename__ = "case"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(default="", index=True)
    status: str = Field(default=CaseStatus.RECEIVED, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    letter_redacted: str = ""
    sources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sections: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sessions_requested: int | None = None
    period: str | None = None
    therapy: str | None = None  # the therapy asked for, by its name in rules/sections.yaml ("CBT")
    entity_counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str | None = None  # quarantine / awaiting reason code
    reason_stage: str | None = None
    vault_encrypted: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    sender_hash: str | None = Field(default=None, index=True)
    sender_signals: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    account: str | None = Field(default=None, index=True)
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_digest_at: datetime | None = None
    # When the case entered its current status (how long it has waited there).
    status_since: datetime = Field(default_factory=utcnow, index=True)
    # The reference the client sees (``PLC-XXXX-XXXX``, random): never the one the employer saw.
    client_reference: str | None = Field(default=None, unique=True)


class LetterKind(enum.StrEnum):
    """Who wrote a message recorded on a case: the therapist (a letter), the employer's HR (its
    answer to our request) or the client (a reply to our notification)."""

    LETTER = "letter"
    EMPLOYER = "employer"
    CLIENT = "client"


class CaseLetter(SQLModel, table=True):
    """One message of a case, already redacted: a therapist's letter (a thread has several), or a
    reply from the employer or the client (``kind``)."""

    __tablename__ = "case_letter"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    message_id: int = Field(foreign_key="inbound_message.id", index=True, unique=True)
    seq: int
    kind: str = Field(default=LetterKind.LETTER, index=True)
    received_at: datetime = Field(default_factory=utcnow)
    redacted_text: str = ""
    sources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    entity_counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The message's subject line, redacted and verified with its text (None: it had none, or it was
    # withheld); withheld when it could not be verified, so nothing of it was kept.
    subject_redacted: str | None = None
    subject_withheld: bool = False


class CaseEvent(SQLModel, table=True):
    """Append-only audit trail: who moved a case from what to what, when, and why."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    note: str = ""


class OutboundMessage(SQLModel, table=True):
    """Mail we send (acknowledgements, digests, employer requests, notifications), queued with the
    change that caused it and delivered by whoever holds its lease (see ``pipeline.queue``)."""

    __tablename__ = "outbound_message"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    kind: str = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    to_hash: str = Field(default="", index=True)
    message_id_hash: str = Field(default="", index=True)
    payload_encrypted: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default=OutboundStatus.PENDING, index=True)
    attempts: int = 0
    lease_until: datetime | None = None
    worker_id: str | None = None
    not_before: datetime | None = None
    last_error: str | None = None  # an exception type or SMTP code, never a server's text
    # What may exist once: "ack:<inbound id>", "digest:<recipient hash>:after:<previous digest id>".
    dedupe_key: str | None = Field(default=None, unique=True)
    sent_at: datetime | None = None
    delivered_to: str = ""  # "relay" or an outbox file name; never an address


class ConsoleUser(SQLModel, table=True):
    """A person who signs in to the web console (``plumm users add``); the password is an argon2 hash."""

    __tablename__ = "console_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str
    accounts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only trail of what happens outside a case: sign-ins, failed and refused sign-ins,
    users added and disabled. ``client`` is a keyed hash of where a request came from."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(index=True)
    kind: str = Field(index=True)
    client: str = Field(default="", index=True)
    note: str = ""


class ProcessHeartbeat(SQLModel, table=True):
    """The last sign of life of each listener, worker and console process (``pipeline.telemetry``)."""

    __tablename__ = "process_heartbeat"

    process: str = Field(primary_key=True)  # "<kind>:<host>:<pid>"
    kind: str = Field(index=True)
    at: datetime = Field(default_factory=utcnow)


class MetricCounter(SQLModel, table=True):
    """A counter several processes add to (SMTP refusals by code, stage latency buckets)."""

    __tablename__ = "metric_counter"

    name: str = Field(primary_key=True)
    labels: str = Field(primary_key=True, default="")  # "key=value,key=value", sorted
    value: float = 0.0


_ALL_TABLES = [
    InboundMessage,
    Case,
    CaseLetter,
    CaseEvent,
    OutboundMessage,
    ConsoleUser,
    AuditEvent,
    ProcessHeartbeat,
    MetricCounter,
]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL + synchronous=FULL: a committed row survives a crash, and readers don't block the writer.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@lru_cache(maxsize=8)
def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            with suppress(OSError):  # a folder we cannot make: connecting fails, and says so
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A bounded connect: a database that stops answering must give 451 and a retry, not a hang.
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 5})


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def migrate(url: str) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["engine"] = make_engine(url)
    command.upgrade(cfg, "head")


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def keyed_hash(key: bytes, value: str) -> str:
    """Stable pseudonym for an address or Message-ID: lets us match without storing it."""
    return hmac.new(key, value.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def reference_for(case_id: int, created_at: datetime) -> str:
    return case_reference(case_id, created_at.year)
