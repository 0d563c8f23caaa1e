"""Orchestration: claim a stored message, run the stages in order, record the outcome.

``process`` is the data flow of DESIGN.md in one function; it touches no database.
``process_many`` is the same for the messages a worker claimed together: the model reads their
letters in one batch (``nlp.pipe``) and a long letter, read in pieces, comes after the others.
``Worker`` claims messages from the inbound queue, a few per round trip (:mod:`pipeline.queue`: a
lease, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a compare-and-set update everywhere), runs
``process_many`` on them, and records each case, its acknowledgement and the message's end in one
transaction, guarded by the lease so a message is recorded exactly once; a long letter's lease is
renewed between its pieces. Business outcomes (``IntakeOutcome``) become cases; any other
exception is a bug: the message is released with a backoff, and after ``max_attempts`` it is
quarantined with the stage that failed (Mailman's shunt). Between batches the worker delivers
due outbound mail (:mod:`pipeline.outbound.delivery`, the same queue discipline).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlmodel import col

from pipeline import queue, store
from pipeline.cases import recording
from pipeline.cases.threading import find_prior
from pipeline.models import (
    IntakeOutcome,
    KnownIdentifiers,
    Letter,
    LetterMissing,
    ParsedMail,
    Prior,
    Processed,
    Redaction,
    Subject,
)
from pipeline.nlp import get_nlp
from pipeline.outbound import delivery
from pipeline.patterns import vault_key_type
from pipeline.queue import INBOUND
from pipeline.runtime import Runtime
from pipeline.stages.extract import extract
from pipeline.stages.identifiers import seed_identifiers
from pipeline.stages.long_letters import PIECE_CHARS, assess_in_pieces, check_length, redact_in_pieces
from pipeline.stages.parse import parse
from pipeline.stages.redaction.recognizers.known import forget_letters
from pipeline.stages.sections import PARSE_WITHOUT, assess_sections
from pipeline.telemetry import TELEMETRY

if TYPE_CHECKING:
    from spacy.tokens import Doc

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
    started = time.perf_counter()
    try:
        return func(*args, **kwargs)
    except IntakeOutcome as outcome:
        if not outcome.stage:
            outcome.stage = name
        raise
    except Exception as error:
        raise StageFailed(name, error) from error
    finally:
        TELEMETRY.observe("stage_seconds", time.perf_counter() - started, stage=name)


def _with_prior(known: KnownIdentifiers, prior: Prior) -> KnownIdentifiers:
    """Identifiers vaulted from earlier letters of the case are known for a follow-up too."""
    if not prior.vault:
        return known
    extra = tuple(v for k, v in sorted(prior.vault.items()) if vault_key_type(k) != "EMAIL")
    emails = tuple(v for k, v in sorted(prior.vault.items()) if vault_key_type(k) == "EMAIL")
    return KnownIdentifiers(
        names=known.names,
        emails=tuple(dict.fromkeys(known.emails + emails)),
        other=tuple(dict.fromkeys(known.other + extra)),
    )


@dataclass
class _InWork:
    """A message between the stages of :func:`process_many`."""

    mail: ParsedMail
    prior: Prior
    letter: Letter
    known: KnownIdentifiers
    pieces: dict[str, Any]  # the deadline and progress callback of a long letter's pieces
    artifacts: Any = None  # the model's parse of the letter, made ahead for several letters at once
    redaction: Redaction | None = None
    subject_artifacts: Any = None  # the model's parse of the subject line, made ahead with the letters'
    subject: Subject | None = None
    doc: Doc | None = None  # the model's parse of the redacted text for the sections, made ahead

    @property
    def combined(self) -> str:
        assert self.redaction is not None
        return "\n\n".join((*self.prior.letters, self.redaction.text))

    @property
    def subject_line(self) -> str:
        """The subject as one line (a folded header's breaks and runs of spaces as one space)."""
        return " ".join((self.mail.subject or "").split())


Result = Processed | StageFailed


def process(
    rt: Runtime,
    raw: bytes,
    *,
    find_prior: Callable[[ParsedMail], Prior] = lambda _m: Prior(),
    progress: Callable[[], None] = lambda: None,
) -> Processed:
    """The data flow: parse, extract, seed identifiers, redact, verify (the subject line too), assess
    sections.

    A letter longer than one NLP piece is redacted and assessed in pieces, within a time budget per
    million characters, calling ``progress`` between pieces (:mod:`pipeline.stages.long_letters`).
    A stage that fails raises :class:`StageFailed`."""
    result = process_many(rt, [raw], find_prior=find_prior, progress=[progress])[0]
    if isinstance(result, StageFailed):
        raise result
    return result


def process_many(
    rt: Runtime,
    raws: list[bytes],
    *,
    find_prior: Callable[[ParsedMail], Prior] = lambda _m: Prior(),
    progress: list[Callable[[], None]] | None = None,
    on_result: Callable[[int, Result], None] = lambda _i, _r: None,
) -> list[Result]:
    """:func:`process` for several messages, each result in its place (a failed stage as its
    :class:`StageFailed`), and handed to ``on_result(index, result)`` as soon as it is known.

    The model reads the letters that fit one piece all at once, twice (``nlp.pipe``: the letters and
    their subject lines for redaction, then the redacted letters for the sections), which costs less
    than one letter at a time; their results come first. A long letter is read in pieces after them,
    one at a time, so it never holds the others up. Every other step is each message's own."""
    try:
        calls = progress or [lambda: None] * len(raws)
        items: list[Result | _InWork] = [
            _read(rt, raw, find_prior, call) for raw, call in zip(raws, calls, strict=True)
        ]
        for index, item in enumerate(items):
            if not isinstance(item, _InWork):
                on_result(index, item)
        short = [
            i for i, item in enumerate(items) if isinstance(item, _InWork) and len(item.letter.text) <= PIECE_CHARS
        ]
        long = [i for i, item in enumerate(items) if isinstance(item, _InWork) and i not in short]
        _batch(rt, items, short)
        for index in short:
            on_result(index, cast(Result, items[index]))
        for index in long:
            item = items[index]
            assert isinstance(item, _InWork)
            redacted = _redact(rt, item)
            items[index] = _assess(rt, redacted) if isinstance(redacted, _InWork) else redacted
            on_result(index, cast(Result, items[index]))
        return [cast(Result, item) for item in items]
    finally:
        forget_letters(rt.redactor.vocab)  # no name pattern outlives its batch


def _batch(rt: Runtime, items: list[Result | _InWork], indexes: list[int]) -> None:
    """Redact and assess ``items[indexes]`` (letters that fit one piece) with the model's parses made
    for all of them at once, their subject lines with them; each item is replaced by its result."""
    work = [cast(_InWork, items[i]) for i in indexes]
    titled = [w for w in work if w.subject_line]
    texts = [rt.redactor.analysis_text(w.letter.text) for w in work]
    texts += [rt.redactor.analysis_text(w.subject_line) for w in titled]
    parses = _ahead(lambda: _redaction_parses(rt, texts), len(texts))
    for w, artifacts in zip(work, parses[: len(work)], strict=True):
        w.artifacts = artifacts
    for w, artifacts in zip(titled, parses[len(work) :], strict=True):
        w.subject_artifacts = artifacts
    redacted = {i: _redact(rt, w) for i, w in zip(indexes, work, strict=True)}
    ready = [
        w
        for w in redacted.values()
        if isinstance(w, _InWork) and not w.letter.machine_report and len(w.combined) <= PIECE_CHARS
    ]
    texts = [w.combined for w in ready]
    for w, doc in zip(ready, _ahead(lambda: _section_parses(texts), len(texts)), strict=True):
        w.doc = doc
    for i, result in redacted.items():
        items[i] = _assess(rt, result) if isinstance(result, _InWork) else result


def _ahead(parse_all: Callable[[], list[Any]], count: int) -> list[Any]:
    """Parses made ahead for ``count`` texts; none (each stage then parses its own text, and a
    failure is that message's own) if the batch fails."""
    if count == 0:
        return []
    try:
        return parse_all()
    except Exception as error:  # noqa: BLE001 - each message's stage tries again and reports its own
        log.warning("batched parse of %d letters failed (%s); parsing one by one", count, type(error).__name__)
        return [None] * count


def _redaction_parses(rt: Runtime, texts: list[str]) -> list[Any]:
    engine = rt.redactor.analyzer.nlp_engine
    return [artifacts for _text, artifacts in engine.process_batch(texts, "en", batch_size=len(texts))]


def _section_parses(texts: list[str]) -> list[Doc]:
    return list(get_nlp().pipe(texts, batch_size=len(texts), disable=list(PARSE_WITHOUT)))


def _read(
    rt: Runtime, raw: bytes, find_prior: Callable[[ParsedMail], Prior], progress: Callable[[], None]
) -> Result | _InWork:
    """Parse, find the case it follows up, extract, check the length, seed identifiers."""
    try:
        mail = _stage("parse", parse, raw)
    except IntakeOutcome as outcome:
        return Processed(mail=None, outcome=outcome)
    except StageFailed as failure:
        return failure
    prior = find_prior(mail)
    letter: Letter | None = None
    try:
        letter = _stage(
            "extract",
            extract,
            mail,
            time_budget_seconds=rt.settings.message_time_budget_seconds,
            own_addresses=(*rt.settings.intake_addresses, rt.settings.sender_address),
        )
        _stage("extract", check_length, letter.text, max_chars=rt.settings.max_letter_chars)
        seeded = _stage("identifiers", seed_identifiers, mail, letter, vocabulary=rt.redactor.vocab)
    except (IntakeOutcome, StageFailed) as stopped:
        return _stopped(mail, letter, stopped)
    per_million = rt.settings.letter_seconds_per_million_chars
    budget = max(rt.settings.message_time_budget_seconds, per_million * len(letter.text) / 1e6)
    pieces = {"deadline": time.monotonic() + budget, "progress": progress}
    return _InWork(mail=mail, prior=prior, letter=letter, known=_with_prior(seeded, prior), pieces=pieces)


def _machine_report_outcome() -> LetterMissing:
    """The outcome of every machine report (:attr:`Letter.machine_report`): no letter, whatever its text."""
    return LetterMissing("no-letter-found", stage="extract")


def _stopped(mail: ParsedMail, letter: Letter | None, stopped: IntakeOutcome | StageFailed) -> Result:
    """What a message that stopped before its text was verified comes to. A machine report's text is
    a courtesy to the CSM: if it cannot be read, redacted or verified, the report keeps its outcome
    (never a quarantine, never a retry) and the case gets no text (fail closed)."""
    if letter is not None and letter.machine_report:
        if isinstance(stopped, StageFailed):
            log.warning("machine report not kept: stage %s failed (%s)", stopped.stage, stopped.error_type)
        return Processed(mail=mail, outcome=_machine_report_outcome())
    if isinstance(stopped, StageFailed):
        return stopped
    return Processed(mail=mail, outcome=stopped)


def _redact(rt: Runtime, item: _InWork) -> Result | _InWork:
    """Redact and verify (a long letter in pieces), then the subject line with the letter's identifiers."""
    letter, known, vault = item.letter, item.known, item.prior.vault
    try:
        if len(letter.text) > PIECE_CHARS:
            item.redaction = _stage(
                "redact", redact_in_pieces, rt.redactor, letter.text, known, vault=vault, **item.pieces
            )
        else:
            item.redaction = _stage(
                "redact", rt.redactor.redact, letter.text, known, vault=vault, artifacts=item.artifacts
            )
            item.redaction = _stage("verify", rt.redactor.clean, item.redaction, known)
    except (IntakeOutcome, StageFailed) as stopped:
        return _stopped(item.mail, letter, stopped)
    item.subject = _subject(rt, item)
    return item


def _subject(rt: Runtime, item: _InWork) -> Subject:
    """The subject line, redacted with the letter's known identifiers and placeholders and verified:
    shown to the CSM with the letter, and read by the sections stage for an ask made only there. Fails
    closed: a subject that cannot be verified (or whose redaction fails) is withheld, never kept as
    written, and the letter's own outcome stands."""
    assert item.redaction is not None
    vault = item.redaction.vault
    if not item.subject_line:
        return Subject(vault=vault)
    try:
        redacted = _stage(
            "subject",
            rt.redactor.redact,
            item.subject_line,
            item.known,
            vault=vault,
            artifacts=item.subject_artifacts,
        )
        verified = _stage("subject", rt.redactor.clean, redacted, item.known)
        if _stage("subject", rt.redactor.unexplained_words, verified.text):
            # Too little context for the model: a word no vocabulary explains may be a name, so the
            # line is not shown; its verified redaction is still read for an ask ("4 more for <X> M").
            log.info("subject line withheld: a word no vocabulary explains")
            return Subject(withheld=True, vault=vault, read=verified.text)
    except (IntakeOutcome, StageFailed) as stopped:
        why = stopped.reason if isinstance(stopped, IntakeOutcome) else stopped.error_type
        log.info("subject line withheld: its redaction could not be verified (%s)", why)
        return Subject(withheld=True, vault=vault)
    return Subject(text=verified.text, vault=verified.vault, read=verified.text)


def _assess(rt: Runtime, item: _InWork) -> Result:
    """Assess the sections of the letter with the case's earlier letters (a long text in pieces). A
    machine report is never assessed: its verified redaction is kept with its outcome."""
    if item.letter.machine_report:
        return Processed(
            mail=item.mail,
            letter=item.letter,
            redaction=item.redaction,
            outcome=_machine_report_outcome(),
            subject=item.subject,
        )
    combined = item.combined
    try:
        if len(combined) > PIECE_CHARS:
            report = _stage("sections", assess_in_pieces, combined, rules=rt.section_rules, **item.pieces)
        else:
            report = _stage(
                "sections",
                assess_sections,
                combined,
                rules=rt.section_rules,
                doc=item.doc,
                subject=item.subject.read if item.subject is not None else "",
            )
    except IntakeOutcome as outcome:
        # No letter after all (a question, a notice): its redaction is verified, so the case keeps it.
        return Processed(
            mail=item.mail, letter=item.letter, redaction=item.redaction, outcome=outcome, subject=item.subject
        )
    except StageFailed as failure:
        return failure
    return Processed(
        mail=item.mail, letter=item.letter, redaction=item.redaction, sections=report, subject=item.subject
    )


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

    # -- messages ---------------------------------------------------------------------------
    def handle(self, message_id: int) -> None:
        self.handle_many([message_id])

    def handle_many(self, message_ids: list[int]) -> None:
        """Process claimed messages together (:func:`process_many`) and record each as soon as its
        result is known; a message claimed and lost too often is shunted without processing."""
        with store.session(self.rt.engine) as db:
            M = store.InboundMessage
            rows = {r.id: r for r in db.execute(select(M).where(col(M.id).in_(message_ids))).scalars()}
            loaded = [(i, rows[i].attempts, self.rt.cipher.decrypt(rows[i].raw_encrypted)) for i in message_ids]
        work = []
        for message_id, attempts, raw in loaded:
            if attempts > self.rt.settings.max_attempts:
                # It was claimed and lost (killed worker) too many times: shunt it.
                recording.record_failure(
                    self.rt, message_id, self.worker_id, stage="worker", reason="attempts-exhausted"
                )
            else:
                work.append((message_id, attempts, raw))
        if not work:
            return
        started = time.perf_counter()

        def done(index: int, result: Result) -> None:
            message_id, attempts, _raw = work[index]
            if isinstance(result, StageFailed):
                self._failed(message_id, attempts, result)
                return
            reference = self._record(message_id, result)
            log.info(
                "message %d -> case %s in %.3fs",
                message_id,
                reference or "(lease lost)",
                time.perf_counter() - started,
            )

        process_many(
            self.rt,
            [raw for _i, _a, raw in work],
            find_prior=lambda mail: find_prior(self.rt, mail),
            progress=[self._renewer(message_id) for message_id, _a, _r in work],
            on_result=done,
        )

    def _failed(self, message_id: int, attempts: int, failure: StageFailed) -> None:
        """A stage raised: retry after a backoff, or quarantine once the attempts are spent."""
        log.error(
            "message %d: stage %s failed (%s), attempt %d", message_id, failure.stage, failure.error_type, attempts
        )
        if attempts >= self.rt.settings.max_attempts:
            recording.record_failure(
                self.rt, message_id, self.worker_id, stage=failure.stage, reason=f"internal-error:{failure.error_type}"
            )
        else:
            delay = queue.backoff(attempts, base=RETRY_SECONDS, cap=RETRY_MAX_SECONDS)
            queue.release(self.rt.engine, INBOUND, message_id, self.worker_id, now=self.rt.clock(), delay=delay)

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
        TELEMETRY.maybe_flush(self.rt.engine, kind="worker")  # the heartbeat /healthz reads
        return message_id is not None

    def run_batch(self, size: int) -> bool:
        """Claim up to ``size`` messages in one round trip, process them together, deliver pending
        mail; True if any was processed."""
        ids = queue.claim_many(
            self.rt.engine,
            INBOUND,
            worker_id=self.worker_id,
            lease_seconds=self.rt.settings.lease_seconds,
            now=self.rt.clock(),
            limit=size,
        )
        if ids:
            self.handle_many(ids)
        delivery.deliver_pending(self.rt, worker_id=self.worker_id)
        TELEMETRY.maybe_flush(self.rt.engine, kind="worker")  # the heartbeat /healthz reads
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
