"""The SMTP edge: validate recipient and size, persist the raw message durably, answer.

Contract: ``250`` is sent only after the raw bytes are committed to the database (encrypted);
any failure to persist answers ``451 4.3.0``. Messages of concurrent sessions share a transaction
(:class:`~pipeline.intake.rawstore.GroupCommit`, writer threads), so the event loop never waits on
the database and one commit covers many messages under load. No parsing or NLP happens here. Replies are
the named constants below and never echo a value from the message or an exception.

Limits against abuse (all from settings): connections per client address and in total
(``421`` at connect), a read timeout per line, a budget for the whole DATA transfer and for
the whole session, an error budget per session (``421`` and close after N ``5xx`` replies),
per-command call limits, VRFY that verifies nothing and EXPN disabled. STARTTLS is offered
when a certificate and key are configured (a second one inside TLS gets ``503``); PIPELINING is
advertised, AUTH never (no authentication is configured: ``502``). A message too big, as declared
by ``SIZE=`` at MAIL FROM or found during DATA, gets ``552 5.3.4``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import ssl
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.fernet import MultiFernet
from sqlalchemy.engine import Engine

from pipeline.config import Settings
from pipeline.intake.rawstore import GroupCommit, message_row, storage_failure_reason
from pipeline.telemetry import TELEMETRY, Beat

log = logging.getLogger("plumm.smtp")

REPLY_ACCEPTED = "250 2.0.0 Message accepted for delivery"
REPLY_RCPT_OK = "250 2.1.5 Recipient OK"
REPLY_UNKNOWN_RECIPIENT = "550 5.1.1 No such recipient here; this server does not relay"
REPLY_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
REPLY_TOO_BIG = "552 5.3.4 Message too big for this server"
REPLY_TRY_LATER = "451 4.3.0 Temporary failure, please try again later"
REPLY_NO_RECIPIENTS = "554 5.5.1 No valid recipients"
REPLY_VRFY_DISABLED = "252 2.5.2 Cannot verify users; send mail and we will try delivery"
REPLY_EXPN_DISABLED = "502 5.5.1 EXPN is disabled"
REPLY_TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
REPLY_TOO_MANY_ERRORS = "421 4.7.0 Too many errors, closing connection"
REPLY_DATA_TOO_SLOW = "421 4.4.2 Message transfer took too long, closing connection"
REPLY_SESSION_TOO_LONG = "421 4.4.2 Session took too long, closing connection"
REPLY_AUTH_UNAVAILABLE = "502 5.5.1 Authentication is not available here"
REPLY_TLS_ACTIVE = "503 5.5.1 TLS is already active"
# aiosmtpd's own replies we answer differently: an oversize message, declared at MAIL FROM (SIZE=)
# or found during DATA, gets the enhanced status code of RFC 3463.
LIBRARY_REPLIES = {
    "552 Error: message size exceeds fixed maximum message size": REPLY_TOO_BIG,
    "552 Error: Too much mail data": REPLY_TOO_BIG,
}
# Messages up to this size are encrypted on the event loop (tens of microseconds); larger ones in a
# thread, so a 25 MiB message never holds up the other sessions.
INLINE_ENCRYPT_BYTES = 256 * 1024
LISTENER_SWITCH_SECONDS = 0.001  # see tune_listener_process

# Per-session call limits for commands with no business being repeated; "*" is for the rest
# (MAIL/RCPT/DATA: a relay may deliver many messages over one connection).
COMMAND_CALL_LIMITS = {
    "*": 1000,
    "NOOP": 20,
    "HELP": 5,
    "VRFY": 5,
    "EXPN": 5,
    "EHLO": 10,
    "HELO": 10,
    "STARTTLS": 2,
    "AUTH": 3,
}


AsyncPersist = Callable[[bytes, int, str, str], Awaitable[int]]


def group_persister(commit: GroupCommit, cipher: MultiFernet, hash_key: bytes) -> AsyncPersist:
    """Store one message through ``commit``; the row id once its transaction has committed."""

    async def persist(raw: bytes, rcpt_count: int, peer: str, mail_from: str) -> int:
        if len(raw) > INLINE_ENCRYPT_BYTES:
            loop = asyncio.get_running_loop()
            row = await loop.run_in_executor(None, message_row, cipher, hash_key, raw, rcpt_count, peer, mail_from)
        else:
            row = message_row(cipher, hash_key, raw, rcpt_count, peer, mail_from)
        return await asyncio.wrap_future(commit.submit(row))

    return persist


class IntakeHandler:
    def __init__(
        self,
        *,
        intake_addresses: list[str],
        max_message_bytes: int,
        max_recipients: int,
        persist: AsyncPersist,
    ) -> None:
        self.intake_addresses = {a.lower() for a in intake_addresses}
        self.max_message_bytes = max_message_bytes
        self.max_recipients = max_recipients
        self.persist = persist

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """Advertise PIPELINING (aiosmtpd reads pipelined commands in order and answers each in
        turn); never AUTH, which is not configured here."""
        session.host_name = hostname
        kept = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return [*kept[:-1], "250-PIPELINING", kept[-1]]

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
        try:
            message_id = await self.persist(raw, len(envelope.rcpt_tos), str(peer), envelope.mail_from or "")
        except Exception as exc:  # any storage fault: the client must retry, we must not say 250
            log.error("persist failed: %s [%s]; answered 451", storage_failure_reason(exc), type(exc).__name__)
            return REPLY_TRY_LATER
        log.info("accepted message id=%s size=%d", message_id, len(raw))
        return REPLY_ACCEPTED

    async def handle_exception(self, error: Exception) -> str:
        log.error("smtp session error (%s); answered 451", type(error).__name__)
        return REPLY_TRY_LATER


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    max_connections: int = 100
    max_connections_per_ip: int = 20
    read_timeout_seconds: float = 60.0
    data_seconds: float = 120.0
    session_seconds: float = 900.0
    error_limit: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeLimits:
        return cls(
            max_connections=settings.smtp_max_connections,
            max_connections_per_ip=settings.smtp_max_connections_per_ip,
            read_timeout_seconds=settings.smtp_read_timeout_seconds,
            data_seconds=settings.smtp_data_seconds,
            session_seconds=settings.smtp_session_seconds,
            error_limit=settings.smtp_error_limit,
        )


class ConnectionGate:
    """Open connections, in total and per client address. Used from the server's event loop only."""

    def __init__(self, *, total: int, per_ip: int) -> None:
        self.total, self.per_ip = total, per_ip
        self.open: Counter[str] = Counter()

    def acquire(self, ip: str) -> bool:
        if sum(self.open.values()) >= self.total or self.open[ip] >= self.per_ip:
            return False
        self.open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]

    @property
    def count(self) -> int:
        return sum(self.open.values())


class IntakeSMTP(SMTP):
    """aiosmtpd's SMTP with our limits: connection gate, DATA and session budgets, error budget."""

    def __init__(self, handler: Any, *, gate: ConnectionGate, limits: EdgeLimits, **kwargs: Any) -> None:
        super().__init__(
            handler, timeout=limits.read_timeout_seconds, command_call_limit=dict(COMMAND_CALL_LIMITS), **kwargs
        )
        self.gate, self.limits = gate, limits
        self._ip: str | None = None  # set while we hold a slot in the gate
        self._refused = False
        self._errors = 0
        self._session_timer: asyncio.TimerHandle | None = None
        self._data_timer: asyncio.TimerHandle | None = None
        self._in_handler = False

    # -- connection gate ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self._original_transport is None and self.transport is None  # not the STARTTLS re-entry
        if first:
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            if self.gate.acquire(ip):
                self._ip = ip
                self._session_timer = self.loop.call_later(
                    self.limits.session_seconds, self._over_budget, "session", REPLY_SESSION_TOO_LONG
                )
            else:
                self._refused = True
                log.warning("connection refused: over the connection limit (open %d)", self.gate.count)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._release()
        super().connection_lost(error)

    def _release(self) -> None:
        for timer in (self._session_timer, self._data_timer):
            if timer is not None:
                timer.cancel()
        if self._ip is not None:
            self.gate.release(self._ip)
            self._ip = None

    async def _handle_client(self) -> None:
        if self._refused:
            await self.push(REPLY_TOO_MANY_CONNECTIONS)
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    # -- budgets --------------------------------------------------------------------------
    def _over_budget(self, what: str, reply: str) -> None:
        if self._in_handler:  # never cut a persist short: its answer decides 250 or 451
            self._data_timer = self.loop.call_later(1.0, self._over_budget, what, reply)
            return
        log.warning("%s budget exceeded; answered 421 and closed", what)
        TELEMETRY.count("smtp_refused", code=reply[:3])
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(reply.encode("ascii") + b"\r\n")
            transport.close()

    async def smtp_DATA(self, arg: str) -> None:
        self._data_timer = self.loop.call_later(
            self.limits.data_seconds, self._over_budget, "data", REPLY_DATA_TOO_SLOW
        )
        try:
            await super().smtp_DATA(arg)
        finally:
            if self._data_timer is not None:
                self._data_timer.cancel()
                self._data_timer = None

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        if command == "DATA" and self._data_timer is not None:  # the transfer is complete
            self._data_timer.cancel()
            self._data_timer = None
        self._in_handler = True
        try:
            return await super()._call_handler_hook(command, *args)
        finally:
            self._in_handler = False

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = LIBRARY_REPLIES.get(status, status)
        await super().push(status)
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else str(status)
        if text[:1] in ("4", "5"):  # for /metrics: refusals by reply code
            TELEMETRY.count("smtp_refused", code=text[:3])
        if text.startswith("5"):
            self._errors += 1
            if self._errors >= self.limits.error_limit and self.transport is not None:
                log.warning("error budget exhausted (%d errors); answered 421 and closed", self._errors)
                await super().push(REPLY_TOO_MANY_ERRORS)
                self.transport.close()

    async def smtp_EXPN(self, arg: str) -> None:
        await self.push(REPLY_EXPN_DISABLED)

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push(REPLY_AUTH_UNAVAILABLE)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self._tls_protocol is not None:  # RFC 3207: no second negotiation inside TLS
            await self.push(REPLY_TLS_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """A server context for STARTTLS when a certificate and key are configured."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


class IntakeController(Controller):
    """aiosmtpd Controller whose SMTP instances get our limits; it starts and stops the group
    commit's writers with the listener (stopping commits what was submitted)."""

    def __init__(
        self,
        handler: IntakeHandler,
        *,
        hostname: str,
        port: int,
        limits: EdgeLimits | None = None,
        tls: ssl.SSLContext | None = None,
        engine: Engine | None = None,
        commit: GroupCommit | None = None,
        **smtp_kwargs: Any,
    ) -> None:
        super().__init__(handler, hostname=hostname, port=port, **smtp_kwargs)
        self.intake = handler
        # The listener's heartbeat and refusal counts, flushed to the database (/healthz, /metrics).
        self.beat = Beat(engine, kind="listener") if engine is not None else None
        self.limits = limits or EdgeLimits()
        self.tls = tls
        self.commit = commit
        self.gate = ConnectionGate(total=self.limits.max_connections, per_ip=self.limits.max_connections_per_ip)

    def start(self) -> None:
        if self.commit is not None:
            self.commit.start()
        super().start()
        if self.beat is not None:
            self.beat.start()

    def stop(self, no_assert: bool = False) -> None:
        if self.beat is not None and self.beat.is_alive():
            self.beat.stop()
        try:
            super().stop(no_assert=no_assert)
        finally:
            if self.commit is not None:
                self.commit.stop()

    def factory(self) -> SMTP:
        return IntakeSMTP(
            self.handler,
            gate=self.gate,
            limits=self.limits,
            data_size_limit=self.intake.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="heyplumm.com",
            ident="Plumm intake",
            tls_context=self.tls,
        )


def tune_listener_process() -> None:
    """For a process whose job is the listener (``plumm serve``), called once before it listens.

    * What is loaded by now lives as long as the process: keep it out of the garbage collector's
      full passes, which would otherwise walk it and stall every session for a few hundred ms.
    * Switch threads every millisecond instead of every 5: the event loop is busy under load, and
      a writer thread coming back from the database would wait up to 5 ms for the interpreter at
      each step of a commit (measured: PostgreSQL accepted about half as many messages per second).
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(LISTENER_SWITCH_SECONDS)


def build_controller(settings: Settings, engine: Engine, cipher: MultiFernet, hash_key: bytes) -> IntakeController:
    commit = GroupCommit(engine)
    handler = IntakeHandler(
        intake_addresses=settings.intake_addresses,
        max_message_bytes=settings.max_message_bytes,
        max_recipients=settings.max_recipients,
        persist=group_persister(commit, cipher, hash_key),
    )
    return IntakeController(
        handler,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        limits=EdgeLimits.from_settings(settings),
        tls=tls_context(settings),
        engine=engine,
        commit=commit,
    )
