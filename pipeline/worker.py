"""Orchestration: claim a stored message, run the stages in order, record the outcome.

``process`` is the data flow of DESIGN.md in one function; it touches no database.
``Worker`` claims messages from the inbound queue (:mod:`pipeline.queue`: a lease, ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, a compare-and-set update everywhere), runs ``process``, and records
the case, its acknowledgement and the message's end in one transaction, guarded by the lease so a
message is recorded exactly once. Business outcomes (``IntakeOutcome``) become cases; any other
exception is a bug: the message is released with a backoff, and after ``max_attempts`` it is
quarantined with the stage that failed (Mailman's shunt). Between messages the worker delivers
due outbound mail (:mod:`pipeline.outbound.delivery`, the same queue discipline).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import OperationalError

from pipeline import queue, store
from pipeline.cases import recording
from pipeline.cases.threading import find_prior
from pipeline.models import IntakeOutcome, KnownIdentifiers, ParsedMail, Prior, Processed
from pipeline.outbound import delivery
from pipeline.queue import INBOUND
from pipeline.runtime import Runtime
from pipeline.stages.extract import extract
from pipeline.stages.identifiers import seed_identifiers
from pipeline.stages.long_letters import PIECE_CHARS, assess_in_pieces, check_length, redact_in_pieces
from pipeline.stages.parse import parse
from pipeline.stages.sections import assess_sections

if TYPE_CHECKING:
    pass

log = logging.getLogger("plumm.worker")
T = TypeVar("T")
# A stage that raised (a bug, or a database blip) is retried after 2 s, then 4 s...; after
# PLUMM_MAX_ATTEMPTS the message is quarantined with the stage that failed.
RETRY_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0


class StageFailed(Exception):
    """A bug in a stage. Carries the stage name and the exception *type* only, never its text."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"stage {stage} failed with {type(error).__name__}")
        self.stage = stage
        self.error_type = type(error).__name__


def _stage(name: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return func(*args, **kwargs)
    except IntakeOutcome as outcome:
        if not outcome.stage:
            outcome.stage = name
        raise
    except Exception as error:
        raise StageFailed(name, error) from error


def _with_prior(known: KnownIdentifiers, prior: Prior) -> KnownIdentifiers:
    """Identifiers vaulted from earlier letters of the case are known for a follow-up too."""
    if not prior.vault:
        return known
    extra = tuple(v for k, v in sorted(prior.vault.items()) if not k.startswith("[EMAIL"))
    emails = tuple(v for k, v in sorted(prior.vault.items()) if k.startswith("[EMAIL"))
    return KnownIdentifiers(
        names=known.names,
        emails=tuple(dict.fromkeys(known.emails + emails)),
        other=tuple(dict.fromkeys(known.other + extra)),
    )


def process(
    rt: Runtime,
    raw: bytes,
    *,
    find_prior: Callable[[ParsedMail], Prior] = lambda _m: Prior(),
    progress: Callable[[], None] = lambda: None,
) -> Processed:
    """The data flow: parse, extract, seed identifiers, redact, verify, assess sections.

    A letter longer than one NLP piece is redacted and assessed in pieces, within a time budget per
    million characters, calling ``progress`` between pieces (:mod:`pipeline.stages.long_letters`)."""
    try:
        mail = _stage("parse", parse, raw)
    except IntakeOutcome as outcome:
        return Processed(mail=None, outcome=outcome)
    prior = find_prior(mail)
    try:
        letter = _stage(
            "extract",
            extract,
            mail,
            time_budget_seconds=rt.settings.message_time_budget_seconds,
        )
        _stage("extract", check_length, letter.text, max_chars=rt.settings.max_letter_chars)
        seeded = _stage("identifiers", seed_identifiers, mail, letter, vocabulary=rt.redactor.vocab)
        known = _with_prior(seeded, prior)
        per_million = rt.settings.letter_seconds_per_million_chars
        budget = max(rt.settings.message_time_budget_seconds, per_million * len(letter.text) / 1e6)
        pieces: dict[str, Any] = {"deadline": time.monotonic() + budget, "progress": progress}
        if len(letter.text) > PIECE_CHARS:
            redaction = _stage("redact", redact_in_pieces, rt.redactor, letter.text, known, vault=prior.vault, **pieces)
        else:
            redaction = _stage("redact", rt.redactor.redact, letter.text, known, vault=prior.vault)
            _stage("verify", rt.redactor.verify, redaction, known)
        combined = "\n\n".join((*prior.letters, redaction.text))
        if len(combined) > PIECE_CHARS:
            report = _stage("sections", assess_in_pieces, combined, rules=rt.section_rules, **pieces)
        else:
            report = _stage("sections", assess_sections, combined, rules=rt.section_rules)
    except IntakeOutcome as outcome:
        return Processed(mail=mail, outcome=outcome)
    return Processed(mail=mail, letter=letter, redaction=redaction, sections=report)


class Worker:
    def __init__(self, rt: Runtime, *, worker_id: str | None = None) -> None:
        self.rt = rt
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"

    # -- claiming -------------------------------------------------------------------------
    def claim(self) -> int | None:
        """Lease one pending (or lease-expired) message; return its id, or None if idle."""
        return queue.claim(
            self.rt.engine,
            INBOUND,
            worker_id=self.worker_id,
            lease_seconds=self.rt.settings.lease_seconds,
            now=self.rt.clock(),
        )

    # -- one message ----------------------------------------------------------------------
    def handle(self, message_id: int) -> None:
        with store.session(self.rt.engine) as db:
            row = db.get(store.InboundMessage, message_id)
            assert row is not None
            attempts = row.attempts
            raw = self.rt.cipher.decrypt(row.raw_encrypted)
        if attempts > self.rt.settings.max_attempts:
            # It was claimed and lost (killed worker) too many times: shunt it.
            recording.record_failure(self.rt, message_id, self.worker_id, stage="worker", reason="attempts-exhausted")
            return
        started = time.perf_counter()
        try:
            processed = process(
                self.rt, raw, find_prior=lambda mail: find_prior(self.rt, mail), progress=self._renewer(message_id)
            )
        except StageFailed as failure:
            log.error(
                "message %d: stage %s failed (%s), attempt %d", message_id, failure.stage, failure.error_type, attempts
            )
            if attempts >= self.rt.settings.max_attempts:
                recording.record_failure(
                    self.rt,
                    message_id,
                    self.worker_id,
                    stage=failure.stage,
                    reason=f"internal-error:{failure.error_type}",
                )
            else:
                delay = queue.backoff(attempts, base=RETRY_SECONDS, cap=RETRY_MAX_SECONDS)
                queue.release(self.rt.engine, INBOUND, message_id, self.worker_id, now=self.rt.clock(), delay=delay)
            return
        reference = self._record(message_id, processed)
        log.info(
            "message %d -> case %s in %.3fs", message_id, reference or "(lease lost)", time.perf_counter() - started
        )

    def _renewer(self, message_id: int) -> Callable[[], None]:
        """Between the pieces of a long letter: keep the lease, renewed every quarter of its length,
        so no other worker takes the message while this one still works on it."""
        lease = self.rt.settings.lease_seconds
        last = [time.monotonic()]

        def renew() -> None:
            if time.monotonic() - last[0] < lease / 4:
                return
            last[0] = time.monotonic()
            try:
                queue.renew(
                    self.rt.engine, INBOUND, message_id, self.worker_id, now=self.rt.clock(), lease_seconds=lease
                )
            except OperationalError as error:  # a blip: the next piece tries again; recording checks the lease
                log.warning("message %d: lease not renewed (%s)", message_id, type(error).__name__)

        return renew

    RECORD_RETRIES = 5

    def _record(self, message_id: int, processed: Processed) -> str | None:
        """Record, retrying a database blip a few times: the result is in memory, and recording is
        idempotent under the lease (a retry after a commit that did land finds the lease gone)."""
        delay = 0.2
        for attempt in range(1, self.RECORD_RETRIES + 1):
            try:
                return recording.record(self.rt, message_id, self.worker_id, processed)
            except OperationalError as error:
                if attempt == self.RECORD_RETRIES:
                    raise
                log.warning("message %d: recording failed (%s), retry %d", message_id, type(error).__name__, attempt)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        return None  # not reached

    def run_once(self) -> bool:
        """Process at most one message and deliver pending outbound mail; True if one was processed."""
        message_id = self.claim()
        if message_id is not None:
            self.handle(message_id)
        delivery.deliver_pending(self.rt, worker_id=self.worker_id)
        return message_id is not None

    def run_batch(self, size: int) -> bool:
        """Claim up to ``size`` messages in one round trip, process them in turn, deliver pending
        mail; True if any was processed. When the batch has taken half a lease (a long letter in
        it), the messages not started yet are given back, for another worker to take now."""
        claimed_at = time.monotonic()
        ids = queue.claim_many(
            self.rt.engine,
            INBOUND,
            worker_id=self.worker_id,
            lease_seconds=self.rt.settings.lease_seconds,
            now=self.rt.clock(),
            limit=size,
        )
        for i, message_id in enumerate(ids):
            if time.monotonic() - claimed_at > self.rt.settings.lease_seconds / 2:
                for rest in ids[i:]:
                    queue.release(self.rt.engine, INBOUND, rest, self.worker_id, now=self.rt.clock(), delay=timedelta())
                break
            self.handle(message_id)
        delivery.deliver_pending(self.rt, worker_id=self.worker_id)
        return bool(ids)

    def run(self, *, stop: Callable[[], bool] = lambda: False) -> None:
        log.info("worker %s started", self.worker_id)
        while not stop():
            try:
                busy = self.run_batch(self.rt.settings.worker_claim_batch)
            except Exception as error:  # database blip: keep serving, never exit on one fault
                log.error("worker loop error (%s); retrying", type(error).__name__)
                busy = False
            if not busy:
                time.sleep(self.rt.settings.worker_poll_seconds)
