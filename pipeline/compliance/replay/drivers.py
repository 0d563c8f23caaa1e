"""The two ways to run a message through the pipeline for a replay: in process (a fresh temporary
database per message, the real store and worker), or via SMTP to a running listener, reading the case
from its database. Both end in the same per-message summary."""

from __future__ import annotations

import email
import email.message
import email.parser
import email.policy
import email.utils
import logging
import re
import smtplib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from pipeline import store
from pipeline.compliance.replay.results import ReplayError, ReplayResult
from pipeline.config import Settings
from pipeline.intake.rawstore import database_persister
from pipeline.patterns import CASE_REFERENCE_RE

log = logging.getLogger("plumm.replay")

FALLBACK_SENDER = "replay@heyplumm.com"
SMTP_WAIT_SECONDS = 120.0
MAX_SMTP_LINE = 998  # RFC 5321 4.5.3.1.6, without CRLF
NO_SECTIONS = {"needs": False, "recommendation": False}


def case_summary(
    case: store.Case | None, *, acknowledged: bool, letter: store.CaseLetter | None = None
) -> dict[str, Any]:
    """The per-message JSON: the case's outcome, and the subject line of the message's own ``letter``
    row as the CSM reads it (redacted and verified; null when it had none or it was withheld, and
    whenever the case is quarantined, as its letter is)."""
    if case is None:
        return {
            "status": "not-recorded",
            "reason": "no-case",
            "stage": None,
            "sections": dict(NO_SECTIONS),
            "sessions_requested": None,
            "period": None,
            "therapy": None,
            "section_reasons": {},
            "entity_counts": {},
            "sources": [],
            "acknowledged": False,
            "subject": None,
            "subject_withheld": False,
        }
    shown = case.status != "quarantined"
    # Always both verdicts, as DESIGN.md's contract says: a message with no letter has neither section.
    sections = {key: bool((case.sections.get(key) or {}).get("present")) for key in NO_SECTIONS}
    return {
        "status": case.status,
        "reason": case.reason,
        "stage": case.reason_stage,
        "sections": sections,
        "sessions_requested": case.sessions_requested,
        "period": case.period,
        "therapy": case.therapy,
        # why, in plain words (fixed phrases, never the letter's words; the evidence sentences stay
        # out of the JSON and are shown in report.html beside the letter)
        "section_reasons": {
            key: str((case.sections.get(key) or {}).get("reason") or "") for key in NO_SECTIONS if key in case.sections
        },
        "entity_counts": {k: int(v) for k, v in sorted(case.entity_counts.items())},
        "sources": list(case.sources),
        "acknowledged": acknowledged,
        "subject": letter.subject_redacted if letter is not None and shown else None,
        "subject_withheld": bool(letter is not None and letter.subject_withheld),
    }


def headers_of(raw: bytes) -> email.message.Message:
    """Headers only: a hostile body (thousands of nested parts) must not break the replay itself."""
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)


def envelope_sender(raw: bytes) -> str:
    """The From header's address, as a mail client would use for MAIL FROM; a fixed one if absent."""
    message = headers_of(raw)
    _name, address = email.utils.parseaddr(str(message.get("From", "")))
    return address if address.count("@") == 1 and all(address.split("@")) else FALLBACK_SENDER


def _thread_marked(raw: bytes) -> bool:
    """Carries In-Reply-To/References or a case reference in the subject (a follow-up)."""
    message = headers_of(raw)
    subject = str(message.get("Subject", ""))
    return bool(message.get("In-Reply-To") or message.get("References") or CASE_REFERENCE_RE.search(subject))


def evidence_of(case: store.Case | None) -> tuple[tuple[str, str], ...]:
    """(section, evidence sentence of the redacted letter) of a case that shows its letter."""
    if case is None or case.status == "quarantined":
        return ()
    return tuple(
        (key, str((case.sections.get(key) or {}).get("evidence") or ""))
        for key in NO_SECTIONS
        if (case.sections.get(key) or {}).get("evidence")
    )


def _read_case(
    engine: Engine, message_id: int
) -> tuple[dict[str, Any], str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Summary, redacted letter, run notes and section evidence of the case a stored message ended in."""
    with store.session(engine) as db:
        row = db.get(store.InboundMessage, message_id)
        case = db.get(store.Case, row.case_id) if row is not None and row.case_id is not None else None
        notes: tuple[str, ...] = ()
        acknowledged = False
        letter_row = None
        if case is not None:
            L = store.CaseLetter
            letter_row = db.execute(select(L).where(col(L.message_id) == message_id)).scalar_one_or_none()
            acknowledged = (
                db.execute(
                    select(col(store.OutboundMessage.id)).where(
                        col(store.OutboundMessage.case_id) == case.id,
                        col(store.OutboundMessage.kind) == "acknowledgement",
                    )
                ).first()
                is not None
            )
            others = db.execute(
                select(func.count())
                .select_from(store.InboundMessage)
                .where(col(store.InboundMessage.case_id) == case.id, col(store.InboundMessage.id) != message_id)
            ).scalar_one()
            if others:
                notes = (f"threaded onto a case with {others} other message(s)",)
        letter = case.letter_redacted if case is not None and case.status != "quarantined" else ""
        summary = case_summary(case, acknowledged=acknowledged, letter=letter_row)
        return summary, letter, notes, evidence_of(case)


def _replay_one(
    settings: Settings, raw: bytes, db_url: str
) -> tuple[dict[str, Any], str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    from pipeline.runtime import Runtime
    from pipeline.worker import Worker

    rt = Runtime(settings.model_copy(update={"database_url": db_url}))
    store.migrate(db_url)
    message_id = database_persister(rt.engine, rt.cipher, rt.hash_key)(raw, 1, "replay", envelope_sender(raw))
    worker = Worker(rt, worker_id="replay")
    for _ in range(settings.max_attempts + 1):
        with store.session(rt.engine) as db:
            row = db.get(store.InboundMessage, message_id)
            if row is not None and row.case_id is not None:
                break
        if not worker.run_once():
            # Retry back-off: let the message become claimable again immediately.
            with store.session(rt.engine) as db:
                row = db.get(store.InboundMessage, message_id)
                if row is not None and row.status == store.MessageStatus.PENDING:
                    row.not_before = None
                    db.add(row)
                    db.commit()
    return _read_case(rt.engine, message_id)


def _failed(stem: str, error: BaseException, started: float) -> ReplayResult:
    log.error("replay of %s failed (%s)", stem, type(error).__name__)
    summary = case_summary(None, acknowledged=False)
    summary["reason"] = f"replay-error:{type(error).__name__}"
    return ReplayResult(stem, summary, "", time.perf_counter() - started)


def run_in_process(
    paths: list[Path], settings: Settings, db_url: str | None, tmp: Path, progress: Callable[[str], None]
) -> list[ReplayResult]:
    results = []
    for index, path in enumerate(paths):
        started = time.perf_counter()
        url = db_url or f"sqlite:///{tmp / f'replay-{index}.db'}"
        try:
            summary, letter, notes, evidence = _replay_one(settings, path.read_bytes(), url)
            result = ReplayResult(path.stem, summary, letter, time.perf_counter() - started, notes, evidence)
        except Exception as error:  # never stop at one message; say what happened
            result = _failed(path.stem, error, started)
        results.append(result)
        progress(path.stem)
    return results


def parse_host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ReplayError("--via-smtp must be HOST:PORT")
    return host, int(port)


def run_via_smtp(
    paths: list[Path],
    settings: Settings,
    db_url: str,
    address: tuple[str, int],
    progress: Callable[[str], None],
    timeout: float,
) -> list[ReplayResult]:
    """Send each message to the listener, then wait for its case in the listener's database.

    One client sends sequentially and waits for each case before the next message, so the
    stored row of a send is the newest row with its sender's keyed hash, and follow-ups go first
    so that, on a fresh database, no fixture threads onto another fixture's case.
    """
    from pipeline.compliance.keys import load_hash_key

    engine = store.make_engine(db_url)
    hash_key = load_hash_key(settings)
    recipient = settings.intake_addresses[0]
    deadline = time.monotonic() + timeout
    raws = {path: path.read_bytes() for path in paths}
    order = sorted(paths, key=lambda p: (not _thread_marked(raws[p]), p.name))
    by_stem: dict[str, ReplayResult] = {}
    try:
        client = smtplib.SMTP(*address, timeout=30)
    except OSError as error:
        raise ReplayError(f"cannot connect to the SMTP listener ({type(error).__name__})") from error
    with client:
        for path in order:
            started = time.perf_counter()
            raw, sender = raws[path], envelope_sender(raws[path])
            try:
                with store.session(engine) as db:
                    high_water = db.execute(select(func.max(col(store.InboundMessage.id)))).scalar_one() or 0
                client.sendmail(sender, [recipient], _smtp_line_endings(raw))
                message_id = _stored_row(engine, high_water, store.keyed_hash(hash_key, sender))
                _wait_for_case(engine, message_id, deadline)
                summary, letter, notes, evidence = _read_case(engine, message_id)
                result = ReplayResult(path.stem, summary, letter, time.perf_counter() - started, notes, evidence)
            except ReplayError:
                raise
            except smtplib.SMTPResponseException as refusal:  # the listener said no: an outcome, not a bug
                summary = case_summary(None, acknowledged=False)
                summary.update(status="refused", reason=f"smtp-refused:{refusal.smtp_code}", stage="smtp")
                result = ReplayResult(path.stem, summary, "", time.perf_counter() - started)
            except Exception as error:  # a timed-out or dropped message: record it, go on
                result = _failed(path.stem, error, started)
            if result.summary["status"] in {"refused", "not-recorded"}:
                _reconnect_if_closed(client, address)
            by_stem[path.stem] = result
            progress(path.stem)
    return [by_stem[p.stem] for p in paths]


def unsendable(result: ReplayResult, source: Path) -> bool:
    """Refused over SMTP because a line is over RFC 5321's 998 bytes: no SMTP server takes it (the
    sender's own server would bounce it), so via SMTP it is an outcome, not drift; any other
    refusal is drift."""
    summary = result.summary
    if summary["status"] != "refused" or not str(summary["reason"]).startswith("smtp-refused:5"):
        return False
    raw = (source / f"{result.stem}.eml").read_bytes()
    return max((len(line) for line in raw.splitlines()), default=0) > MAX_SMTP_LINE


def _smtp_line_endings(raw: bytes) -> bytes:
    """CRLF line endings, as any mail client puts on the wire (smtplib leaves bytes alone)."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def _reconnect_if_closed(client: smtplib.SMTP, address: tuple[str, int]) -> None:
    try:
        client.noop()
    except (smtplib.SMTPServerDisconnected, OSError):
        client.connect(*address)
        client.ehlo()


def _stored_row(engine: Engine, high_water: int, sender_hash: str) -> int:
    with store.session(engine) as db:
        row_id = db.execute(
            select(func.min(col(store.InboundMessage.id))).where(
                col(store.InboundMessage.id) > high_water,
                col(store.InboundMessage.sender_hash) == sender_hash,
            )
        ).scalar_one()
    if row_id is None:
        raise ReplayError(
            "the listener accepted a message but no stored row matched it: do the listener and "
            "the replay use the same database and PLUMM_HASH_KEY/PLUMM_DATA_DIR?"
        )
    return int(row_id)


class CaseTimeout(Exception):
    """A sent message had no case before the overall deadline."""


def _wait_for_case(engine: Engine, message_id: int, deadline: float) -> None:
    while True:
        with store.session(engine) as db:
            row = db.get(store.InboundMessage, message_id)
            if row is not None and row.case_id is not None:
                return
        if time.monotonic() > deadline:
            raise CaseTimeout(f"message row {message_id} has no case yet")
        time.sleep(0.1)
