"""Outbound mail queue (transactional outbox): queue in the case's transaction, deliver after.

A message is stored encrypted in ``outbound_message`` in the same transaction that records
the case, and delivered by the worker loop (relay or outbox folder) afterwards, so a crash
between the two loses no acknowledgement and sends none for an unrecorded case.
"""

from __future__ import annotations

import email.policy
import logging
import os
import re
import smtplib
import tempfile
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session, col

from pipeline import store

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger("plumm.delivery")
MAX_DELIVERY_ATTEMPTS = 5
SMTP_TIMEOUT = 30


def queue(db: Session, rt: Runtime, message: EmailMessage, *, kind: str, case_id: int | None, to: str) -> None:
    db.add(
        store.OutboundMessage(
            case_id=case_id,
            kind=kind,
            to_hash=store.keyed_hash(rt.hash_key, to),
            message_id_hash=store.keyed_hash(rt.hash_key, str(message["Message-ID"] or "")),
            payload_encrypted=rt.cipher.encrypt(message.as_bytes(policy=policy.SMTP)),
        )
    )


def deliver_pending(rt: Runtime, *, limit: int = 20) -> int:
    """Deliver queued mail; returns how many were sent. Failures are retried a few times."""
    sent = 0
    with store.session(rt.engine) as db:
        rows = (
            db.execute(
                select(store.OutboundMessage)
                .where(col(store.OutboundMessage.status) == "pending")
                .order_by(col(store.OutboundMessage.id))
                .limit(limit)
            )
            .scalars()
            .all()
        )
        for row in rows:
            message = message_from_bytes(rt.cipher.decrypt(row.payload_encrypted), policy=policy.default)
            assert isinstance(message, EmailMessage)
            row.attempts += 1
            try:
                row.delivered_to = deliver(message, relay=rt.settings.relay, outbox_dir=rt.settings.outbox_dir)
                row.status = "sent"
                row.sent_at = store.utcnow()
                sent += 1
            except Exception as error:
                log.error(
                    "outbound %d (%s) not delivered (%s), attempt %d",
                    row.id,
                    row.kind,
                    type(error).__name__,
                    row.attempts,
                )
                if row.attempts >= MAX_DELIVERY_ATTEMPTS:
                    row.status = "failed"
            db.add(row)
            db.commit()
    return sent


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def deliver(message: EmailMessage, *, relay: tuple[str, int] | None, outbox_dir: Path) -> str:
    """Send through ``relay`` (host, port) or write ``<outbox_dir>/<timestamp>-<id>.eml`` atomically.

    Returns ``"smtp://host:port"`` or the path written; never message content.
    """
    if relay is not None:
        host, port = relay
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT) as smtp:
            smtp.send_message(message)
        return f"smtp://{host}:{port}"
    outbox_dir = Path(outbox_dir)
    outbox_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    ident = _UNSAFE_FILENAME.sub("_", str(message.get("Message-ID", "")).strip("<>"))[:100] or "message"
    final = outbox_dir / f"{stamp}-{ident}.eml"
    data = message.as_bytes(policy=email.policy.SMTP)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".eml", dir=outbox_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(outbox_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return str(final)
