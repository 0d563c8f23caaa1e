"""Outbound mail queue (transactional outbox): queue in the case's transaction, deliver after.

A message is stored encrypted in ``outbound_message`` in the same transaction that records
the case, and delivered by the worker loop (relay or outbox folder) afterwards, so a crash
between the two loses no acknowledgement and sends none for an unrecorded case.
"""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session, col

from pipeline import outbox, store

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger("plumm.delivery")
MAX_DELIVERY_ATTEMPTS = 5


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
                row.delivered_to = outbox.deliver(message, relay=rt.settings.relay, outbox_dir=rt.settings.outbox_dir)
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
