"""The SMTP edge: validate recipient and size, persist the raw message durably, answer.

Contract: ``250`` is sent only after the raw bytes are committed to the database (encrypted);
any failure to persist answers ``451 4.3.0``. No parsing or NLP happens here. Replies are
the named constants below and never echo a value from the message or an exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.fernet import MultiFernet
from sqlalchemy.engine import Engine

from pipeline import store
from pipeline.config import Settings

log = logging.getLogger("plumm.smtp")

REPLY_ACCEPTED = "250 2.0.0 Message accepted for delivery"
REPLY_RCPT_OK = "250 2.1.5 Recipient OK"
REPLY_UNKNOWN_RECIPIENT = "550 5.1.1 No such recipient here; this server does not relay"
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
REPLY_TOO_BIG = "552 5.3.4 Message too big for this server"
REPLY_TRY_LATER = "451 4.3.0 Temporary failure, please try again later"
REPLY_NO_RECIPIENTS = "554 5.5.1 No valid recipients"
REPLY_VRFY_DISABLED = "252 2.5.2 Cannot verify users; send mail and we will try delivery"

Persist = Callable[[bytes, int, str, str], int]


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


class IntakeHandler:
    def __init__(
        self,
        *,
        intake_addresses: list[str],
        max_message_bytes: int,
        max_recipients: int,
        persist: Persist,
    ) -> None:
        self.intake_addresses = {a.lower() for a in intake_addresses}
        self.max_message_bytes = max_message_bytes
        self.max_recipients = max_recipients
        self.persist = persist

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() not in self.intake_addresses:
            log.info("rcpt refused: unknown recipient")
            return REPLY_UNKNOWN_RECIPIENT
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return REPLY_TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        return REPLY_RCPT_OK

    async def handle_VRFY(self, server: SMTP, session: Session, envelope: Envelope, address: str) -> str:
        return REPLY_VRFY_DISABLED

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if not envelope.rcpt_tos:
            return REPLY_NO_RECIPIENTS
        if len(raw) > self.max_message_bytes:
            return REPLY_TOO_BIG
        peer = session.peer[0] if isinstance(session.peer, tuple) else ""
        loop = asyncio.get_running_loop()
        try:
            message_id = await loop.run_in_executor(
                None, self.persist, raw, len(envelope.rcpt_tos), str(peer), envelope.mail_from or ""
            )
        except Exception as exc:  # any storage fault: the client must retry, we must not say 250
            log.error("persist failed (%s); answered 451", type(exc).__name__)
            return REPLY_TRY_LATER
        log.info("accepted message id=%s size=%d", message_id, len(raw))
        return REPLY_ACCEPTED

    async def handle_exception(self, error: Exception) -> str:
        log.error("smtp session error (%s); answered 451", type(error).__name__)
        return REPLY_TRY_LATER


class IntakeController(Controller):
    """aiosmtpd Controller whose SMTP instances get our limits."""

    def __init__(self, handler: IntakeHandler, *, hostname: str, port: int, **smtp_kwargs: Any) -> None:
        super().__init__(handler, hostname=hostname, port=port, **smtp_kwargs)
        self.intake = handler

    def factory(self) -> SMTP:
        return SMTP(
            self.handler,
            data_size_limit=self.intake.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="heyplumm.com",
            ident="Plumm intake",
            timeout=60,
        )


def build_controller(settings: Settings, engine: Engine, cipher: MultiFernet, hash_key: bytes) -> IntakeController:
    handler = IntakeHandler(
        intake_addresses=settings.intake_addresses,
        max_message_bytes=settings.max_message_bytes,
        max_recipients=settings.max_recipients,
        persist=database_persister(engine, cipher, hash_key),
    )
    return IntakeController(handler, hostname=settings.smtp_host, port=settings.smtp_port)
