"""Outbound mail: queued in the transaction that causes it, delivered afterwards by whoever holds
its lease (the outbound queue of :mod:`pipeline.queue`).

Contract:

* :func:`enqueue` stores a message encrypted in ``outbound_message`` in the caller's transaction
  (the case's, the digest's), so a crash between the two loses no mail and sends none for a change
  that was not committed. A ``dedupe_key`` (unique) makes a message that may exist once exist once:
  one acknowledgement per inbound message, one digest per recipient and period.
* :func:`deliver_pending` claims due rows one at a time (a lease), sends each through the relay or
  into the outbox folder, and marks it sent while still holding the lease. A relay that refuses
  for now (4xx) or cannot be reached releases the row for a retry after an exponential backoff
  (RFC 5321 section 4.5.4.1: 1 minute doubling to 30, for ``outbound_give_up_hours``); a permanent
  refusal (5xx), or a message older than that, fails and waits for ``plumm outbox retry``.

What is guaranteed: a queued message is never lost (it stays until it is sent or an operator sees
it failed), and it is sent by one lease holder at a time, with the Message-ID it was queued with. A
worker that dies after the relay accepted a message but before its "sent" commit leaves the row
leased; when the lease runs out another worker sends it again, with the same Message-ID: at least
once, as SMTP itself is (RFC 5321 section 6.1), and a receiving system can drop the copy by its
Message-ID. Into the outbox folder a repeat replaces the same file, so there it is exactly once.
"""

from __future__ import annotations

import email.policy
import logging
import os
import re
import smtplib
import socket
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, col

from pipeline import queue, store
from pipeline.queue import OUTBOUND

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

log = logging.getLogger("plumm.delivery")
SMTP_TIMEOUT = 30


def enqueue(
    db: Session,
    rt: Runtime,
    message: EmailMessage,
    *,
    kind: str,
    case_id: int | None,
    to: str,
    dedupe_key: str | None = None,
) -> store.OutboundMessage:
    """Queue ``message`` in the caller's transaction (delivered after it commits)."""
    row = store.OutboundMessage(
        case_id=case_id,
        kind=kind,
        to_hash=store.keyed_hash(rt.hash_key, to),
        message_id_hash=store.keyed_hash(rt.hash_key, str(message["Message-ID"] or "")),
        payload_encrypted=rt.cipher.encrypt(message.as_bytes(policy=policy.SMTP)),
        dedupe_key=dedupe_key,
    )
    db.add(row)
    return row


def default_worker_id(role: str) -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


def deliver_pending(rt: Runtime, *, worker_id: str | None = None, limit: int = 20) -> int:
    """Claim and deliver due mail, one message at a time; returns how many were sent.

    After a refusal for now the rest waits for the next round: a relay that is down is asked once
    per round, not once per message."""
    worker_id = worker_id or default_worker_id("deliver")
    sent = 0
    for _ in range(limit):
        row_id = queue.claim(
            rt.engine, OUTBOUND, worker_id=worker_id, lease_seconds=rt.settings.lease_seconds, now=rt.clock()
        )
        if row_id is None:
            break
        outcome = _deliver_one(rt, row_id, worker_id)
        if outcome == "sent":
            sent += 1
        elif outcome == "retry":
            break
    return sent


def error_code(error: BaseException) -> str:
    """What went wrong, safe to store and log: an SMTP reply code or an exception type, never text."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"smtp-{error.smtp_code}"
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        return "smtp-" + ",".join(sorted({str(code) for code, _text in error.recipients.values()}))
    return type(error).__name__


def permanent(error: BaseException) -> bool:
    """A 5xx refusal will not change by trying again (RFC 5321 section 4.2.1)."""
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        return all(500 <= code < 600 for code, _text in error.recipients.values())
    return False


def _deliver_one(rt: Runtime, row_id: int, worker_id: str) -> str:
    """Send one leased row; "sent", "retry" (released with a backoff), "failed" or "lost" (lease)."""
    with store.session(rt.engine) as db:
        row = db.get(store.OutboundMessage, row_id)
        assert row is not None
        kind, attempts, created_at = row.kind, row.attempts, store.aware(row.created_at)
        message = message_from_bytes(rt.cipher.decrypt(row.payload_encrypted), policy=policy.default)
    assert isinstance(message, EmailMessage)
    try:
        where = deliver(message, relay=rt.settings.relay, outbox_dir=rt.settings.outbox_dir, stamp=created_at)
    except Exception as error:  # the relay or the disk said no: a retry, or a final failure
        now, code = rt.clock(), error_code(error)
        expired = now - created_at >= timedelta(hours=rt.settings.outbound_give_up_hours)
        if permanent(error) or expired:
            queue.fail(rt.engine, OUTBOUND, row_id, worker_id, error=code)
            log.error("outbound %d (%s) failed for good (%s) after %d attempt(s)", row_id, kind, code, attempts)
            return "failed"
        delay = queue.backoff(
            attempts, base=rt.settings.outbound_retry_seconds, cap=rt.settings.outbound_retry_max_seconds
        )
        queue.release(rt.engine, OUTBOUND, row_id, worker_id, now=now, delay=delay, error=code)
        log.warning(
            "outbound %d (%s) not delivered (%s), attempt %d; retry in %ds",
            row_id,
            kind,
            code,
            attempts,
            int(delay.total_seconds()),
        )
        return "retry"
    with store.session(rt.engine) as db:
        held = queue.hold(db, OUTBOUND, row_id, worker_id)
        if held is None:  # our lease ran out while sending; whoever holds it now sends it again
            log.warning("outbound %d (%s) delivered, but its lease had passed to another worker", row_id, kind)
            return "lost"
        held.delivered_to = where
        held.sent_at = rt.clock()
        held.last_error = None
        queue.finish(db, OUTBOUND, held)
        db.commit()
    return "sent"


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def deliver(
    message: EmailMessage, *, relay: tuple[str, int] | None, outbox_dir: Path, stamp: datetime | None = None
) -> str:
    """Send through ``relay`` (host, port) or write ``<outbox_dir>/<stamp>-<Message-ID>.eml`` atomically.

    ``stamp`` is when the message was queued, so delivering the same message again replaces the
    same file instead of writing a second one. Returns ``"smtp://host:port"`` or the path written;
    never message content.
    """
    if relay is not None:
        host, port = relay
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT) as smtp:
            smtp.send_message(message)
        return f"smtp://{host}:{port}"
    outbox_dir = Path(outbox_dir)
    outbox_dir.mkdir(parents=True, exist_ok=True)
    stamp_text = (stamp or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    ident = _UNSAFE_FILENAME.sub("_", str(message.get("Message-ID", "")).strip("<>"))[:100] or "message"
    final = outbox_dir / f"{stamp_text}-{ident}.eml"
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


def requeue_failed(rt: Runtime, *, ids: Sequence[int] = ()) -> int:
    """An operator puts failed mail (these ids, or all of it) back in the queue; how many."""
    condition = col(store.OutboundMessage.id).in_(list(ids)) if ids else None
    with store.session(rt.engine) as db:
        count = queue.requeue(db, OUTBOUND, condition)
        db.commit()
    log.info("outbound: %d failed message(s) re-queued", count)
    return count
