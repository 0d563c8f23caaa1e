"""Replay: run every ``*.eml`` of a folder through the full pipeline and write what came out.

Per message ``OUT/<stem>.txt`` (the redacted letter exactly as a CSM sees it) and
``OUT/<stem>.json`` (status, sections, counts by type, reason); ``OUT/report.json``,
``OUT/report.txt`` and ``OUT/report.html`` summarise. Outputs hold no timestamps, paths or
removed values, so two runs over the same inputs and rules are byte-identical; timings and
other run metadata go to ``OUT/run.json`` only.

In process, each message runs in a fresh temporary database (unless ``db_url`` is given) so one
fixture's outcome never depends on which others sit beside it. ``via_smtp`` instead sends each
message (CRLF line endings, envelope sender from the From header) to a running listener and reads
its case from the listener's database, found by the keyed hash of that sender among the rows
stored after the send (so the replay needs the listener's PLUMM_HASH_KEY or PLUMM_DATA_DIR). Sends
are sequential, follow-ups first, each waiting for its case: on a fresh database no fixture
threads onto another's case, and the outcomes match the in-process ones. A message the listener
refuses (5xx) is the outcome ``refused``. It never stops at a bad message.

Checks, for compliance staff: ``expect`` compares with golden ``<stem>.replay.txt`` /
``<stem>.replay.json`` beside each fixture (drift = fail); ``ground_truth`` counts every
``must_not_survive`` string of ``<stem>.expected.json`` found in the outputs (leak = fail) and
the share of ``must_keep`` phrases kept. Diffs and leak reports name fixtures, entity types and
list indices, never a removed value.
"""

from __future__ import annotations

import difflib
import email
import email.message
import email.parser
import email.policy
import email.utils
import json
import logging
import re
import smtplib
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from pipeline import store
from pipeline.config import Settings
from pipeline.intake.rawstore import database_persister
from pipeline.patterns import CASE_REFERENCE_RE, PLACEHOLDER_RE, placeholder_type

log = logging.getLogger("plumm.replay")

GOLDEN_TXT = ".replay.txt"
GOLDEN_JSON = ".replay.json"
GROUND_TRUTH = ".expected.json"
LETTER = ".letter.txt"
FALLBACK_SENDER = "replay@heyplumm.com"
SMTP_WAIT_SECONDS = 120.0
MAX_SMTP_LINE = 998  # RFC 5321 4.5.3.1.6, without CRLF
NO_SECTIONS = {"needs": False, "recommendation": False}


class ReplayError(Exception):
    """The replay cannot run as asked (configuration or environment); exit code 2."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    stem: str
    summary: dict[str, Any]
    letter: str
    seconds: float
    notes: tuple[str, ...] = ()  # run metadata (goes to run.json only)

    @property
    def txt(self) -> str:
        """The bytes of ``OUT/<stem>.txt`` (and of the golden ``<stem>.replay.txt``)."""
        return self.letter + ("\n" if self.letter else "")

    @property
    def json_text(self) -> str:
        return json.dumps({"message": self.stem, **self.summary}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True, slots=True)
class Drift:
    stem: str
    missing: bool
    diff: str  # unified diff, scrubbed (see ``Scrubber``); empty when the golden is missing


@dataclass(frozen=True, slots=True)
class Leak:
    stem: str
    entity_type: str
    index: int  # position in must_not_survive[entity_type]; never the value
    where: str  # "letter" or "json"

    def describe(self) -> str:
        return f"{self.stem}: {self.entity_type}[{self.index}] survived in the {self.where} output"


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One field of a message's outcome that differs from its hand-written ``expected.json``.

    ``expected`` and ``actual`` are statuses, reason codes, booleans, numbers or entity type
    names, never a value from a letter."""

    stem: str
    field: str
    expected: Any
    actual: Any

    def describe(self) -> str:
        return f"{self.stem}: {self.field} expected {self.expected!r}, replay gave {self.actual!r}"


@dataclass(frozen=True, slots=True)
class GroundTruth:
    stem: str
    strings: int
    by_type: dict[str, int]
    leaks: tuple[Leak, ...]
    must_keep: int
    kept: int
    missing_kept: tuple[int, ...]  # indices into must_keep
    disagreements: tuple[Disagreement, ...] = ()  # the outcome against the hand-written expectation


@dataclass(slots=True)
class ReplayRun:
    results: list[ReplayResult]
    drifts: list[Drift] | None = None  # None: not checked
    ground_truth: list[GroundTruth] | None = None
    golden_written: list[str] = field(default_factory=list)
    golden_refused: list[str] = field(default_factory=list)  # leaking or contradicting: never golden
    golden_changes: dict[str, list[str]] = field(default_factory=dict)  # what a refresh changes, per message
    scrubber: Scrubber | None = None  # masks ground-truth values wherever a letter is shown
    not_compared: list[str] = field(default_factory=list)  # refused over SMTP as any server would

    @property
    def leaks(self) -> list[Leak]:
        return [leak for gt in self.ground_truth or [] for leak in gt.leaks]

    @property
    def disagreements(self) -> list[Disagreement]:
        return [d for gt in self.ground_truth or [] for d in gt.disagreements]

    @property
    def passed(self) -> bool:
        return not self.drifts and not self.leaks and not self.disagreements and not self.golden_refused

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


# -- summaries ----------------------------------------------------------------------------
def case_summary(case: store.Case | None, *, acknowledged: bool) -> dict[str, Any]:
    if case is None:
        return {
            "status": "not-recorded",
            "reason": "no-case",
            "stage": None,
            "sections": dict(NO_SECTIONS),
            "sessions_requested": None,
            "period": None,
            "entity_counts": {},
            "sources": [],
            "acknowledged": False,
        }
    # Always both verdicts, as DESIGN.md's contract says: a message with no letter has neither section.
    sections = {key: bool((case.sections.get(key) or {}).get("present")) for key in NO_SECTIONS}
    return {
        "status": case.status,
        "reason": case.reason,
        "stage": case.reason_stage,
        "sections": sections,
        "sessions_requested": case.sessions_requested,
        "period": case.period,
        "entity_counts": {k: int(v) for k, v in sorted(case.entity_counts.items())},
        "sources": list(case.sources),
        "acknowledged": acknowledged,
    }


def _headers(raw: bytes) -> email.message.Message:
    """Headers only: a hostile body (thousands of nested parts) must not break the replay itself."""
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)


def envelope_sender(raw: bytes) -> str:
    """The From header's address, as a mail client would use for MAIL FROM; a fixed one if absent."""
    message = _headers(raw)
    _name, address = email.utils.parseaddr(str(message.get("From", "")))
    return address if address.count("@") == 1 and all(address.split("@")) else FALLBACK_SENDER


def _thread_marked(raw: bytes) -> bool:
    """Carries In-Reply-To/References or a case reference in the subject (a follow-up)."""
    message = _headers(raw)
    subject = str(message.get("Subject", ""))
    return bool(message.get("In-Reply-To") or message.get("References") or CASE_REFERENCE_RE.search(subject))


def _read_case(engine: Engine, message_id: int) -> tuple[dict[str, Any], str, tuple[str, ...]]:
    """Summary and redacted letter of the case a stored message ended in."""
    with store.session(engine) as db:
        row = db.get(store.InboundMessage, message_id)
        case = db.get(store.Case, row.case_id) if row is not None and row.case_id is not None else None
        notes: tuple[str, ...] = ()
        acknowledged = False
        if case is not None:
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
        return case_summary(case, acknowledged=acknowledged), letter, notes


# -- in process ---------------------------------------------------------------------------
def _replay_one(settings: Settings, raw: bytes, db_url: str) -> tuple[dict[str, Any], str, tuple[str, ...]]:
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


def _in_process(
    paths: list[Path], settings: Settings, db_url: str | None, tmp: Path, progress: Callable[[str], None]
) -> list[ReplayResult]:
    results = []
    for index, path in enumerate(paths):
        started = time.perf_counter()
        url = db_url or f"sqlite:///{tmp / f'replay-{index}.db'}"
        try:
            summary, letter, notes = _replay_one(settings, path.read_bytes(), url)
            result = ReplayResult(path.stem, summary, letter, time.perf_counter() - started, notes)
        except Exception as error:  # never stop at one message; say what happened
            result = _failed(path.stem, error, started)
        results.append(result)
        progress(path.stem)
    return results


# -- via SMTP -----------------------------------------------------------------------------
def parse_host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ReplayError("--via-smtp must be HOST:PORT")
    return host, int(port)


def _via_smtp(
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
    from pipeline.keys import load_hash_key

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
                summary, letter, notes = _read_case(engine, message_id)
                result = ReplayResult(path.stem, summary, letter, time.perf_counter() - started, notes)
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


def _unsendable(result: ReplayResult, source: Path) -> bool:
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


# -- the run ------------------------------------------------------------------------------
def replay(
    source: Path,
    out: Path,
    *,
    settings: Settings,
    db_url: str | None = None,
    progress: Callable[[str], None] = lambda _stem: None,
    via_smtp: str | None = None,
    expect: bool = False,
    ground_truth: bool = False,
    update_golden: bool = False,
    smtp_timeout: float = SMTP_WAIT_SECONDS,
) -> ReplayRun:
    """Replay every ``*.eml`` of ``source``, check as asked, write outputs and reports to ``out``."""
    if via_smtp and not db_url:
        raise ReplayError("--via-smtp needs --db: the listener's database, where the cases appear")
    if expect and update_golden:
        raise ReplayError("--expect and --update-golden exclude each other: update, review, then expect")
    address = parse_host_port(via_smtp) if via_smtp else None
    paths = sorted(source.glob("*.eml"))
    if not paths:
        raise ReplayError(f"no .eml files in {source}")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="plumm-replay-") as tmp:
        if address is not None:
            assert db_url is not None
            results = _via_smtp(paths, settings, db_url, address, progress, smtp_timeout)
        else:
            base = settings.model_copy(update={"data_dir": Path(tmp), "outbound_smtp": ""})
            results = _in_process(paths, base, db_url, Path(tmp), progress)
    for result in results:
        write_outputs(out, result)
    truths = load_ground_truth(source, [r.stem for r in results])
    run = ReplayRun(results, scrubber=Scrubber(truths))
    if ground_truth or update_golden:
        run.ground_truth = [
            check_ground_truth(r, truths[r.stem], source_letter(source, r.stem)) for r in results if r.stem in truths
        ]
    if expect:
        run.not_compared = sorted(r.stem for r in results if _unsendable(r, source))
        compared = [r for r in results if r.stem not in run.not_compared]
        run.drifts = compare_golden(source, compared, run.scrubber or Scrubber({}))
    if update_golden:
        refused = {leak.stem for leak in run.leaks} | {d.stem for d in run.disagreements}
        for result in results:
            changes = golden_changes(source, result)
            if not changes:
                continue
            run.golden_changes[result.stem] = changes
            if result.stem in refused:
                run.golden_refused.append(result.stem)
                continue
            write_golden(source, result)
            run.golden_written.append(result.stem)
        if not ground_truth:
            run.ground_truth = None
    write_report(out, run)
    write_run_metadata(out, run, mode="via-smtp" if address else "in-process", seconds=time.perf_counter() - started)
    return run


def write_outputs(out: Path, result: ReplayResult) -> None:
    (out / f"{result.stem}.txt").write_text(result.txt, encoding="utf-8", newline="\n")
    (out / f"{result.stem}.json").write_text(result.json_text, encoding="utf-8", newline="\n")


# -- golden files -------------------------------------------------------------------------
def write_golden(source: Path, result: ReplayResult) -> None:
    (source / f"{result.stem}{GOLDEN_TXT}").write_text(result.txt, encoding="utf-8", newline="\n")
    (source / f"{result.stem}{GOLDEN_JSON}").write_text(result.json_text, encoding="utf-8", newline="\n")


def _placeholder_types(text: str) -> Counter[str]:
    return Counter(t for t in (placeholder_type(m.group(0)) for m in PLACEHOLDER_RE.finditer(text)) if t)


def golden_changes(source: Path, result: ReplayResult) -> list[str]:
    """What writing this result as the golden would change, in words a reviewer can check: the
    outcome fields, the placeholder types in the letter and the counts by type (never a value).
    Empty when the golden files already hold exactly this result."""
    txt_path, json_path = source / f"{result.stem}{GOLDEN_TXT}", source / f"{result.stem}{GOLDEN_JSON}"
    if not txt_path.exists() or not json_path.exists():
        return ["new golden files"]
    old_txt, old_json = txt_path.read_text(encoding="utf-8"), json_path.read_text(encoding="utf-8")
    if old_txt == result.txt and old_json == result.json_text:
        return []
    old = json.loads(old_json)
    changes = [
        f"{key}: {old.get(key)!r} -> {result.summary.get(key)!r}"
        for key in ("status", "reason", "stage", "sections", "sessions_requested", "period", "acknowledged", "sources")
        if old.get(key) != result.summary.get(key)
    ]
    before, after = _placeholder_types(old_txt), _placeholder_types(result.txt)
    for etype in sorted(set(before) | set(after)):
        if before[etype] != after[etype]:
            changes.append(f"placeholders [{etype}]: {before[etype]} -> {after[etype]}")
    old_counts, new_counts = old.get("entity_counts") or {}, result.summary.get("entity_counts") or {}
    for etype in sorted(set(old_counts) | set(new_counts)):
        if old_counts.get(etype) != new_counts.get(etype):
            changes.append(f"removed {etype}: {old_counts.get(etype, 0)} -> {new_counts.get(etype, 0)}")
    if not changes:
        changes.append("letter wording changed (same outcome and placeholder types)")
    return changes


class Scrubber:
    """Masks removed values in diffs: every ground-truth string, and, on lines that are new,
    any identifier-shaped word (capitalised, with a digit or an @) the golden text does not have."""

    _WORD = re.compile(r"[\w@.+'’-]*\w")

    def __init__(self, truths: dict[str, dict[str, Any]]) -> None:
        patterns = []
        for truth in truths.values():
            for etype, values in sorted((truth.get("must_not_survive") or {}).items()):
                patterns += [(etype, value) for value in values if value.strip()]
        # Longest first, so "Dr Jane Doe" is masked whole before "Doe".
        self._patterns = [
            (etype, value, value_pattern(value))
            for etype, value in sorted(patterns, key=lambda p: (-len(p[1]), p[0], p[1]))
        ]

    def known(self, line: str) -> str:
        for etype, value, pattern in self._patterns:

            def mask(match: re.Match[str], etype: str = etype, value: str = value) -> str:
                return f"[LEAK:{etype}]" if survives(value, match.group(0)) else match.group(0)

            line = pattern.sub(mask, line)
        return line

    _BRACKETED = re.compile(r"(\[[^\[\]\s]+\])")  # placeholders, [LEAK:TYPE] and [?] stay as they are

    def new_line(self, line: str, golden_words: set[str]) -> str:
        def mask(match: re.Match[str]) -> str:
            word = match.group(0)
            if word.lower() in golden_words:
                return word
            if word[0].isupper() or "@" in word or any(c.isdigit() for c in word):
                return "[?]"
            return word

        pieces = self._BRACKETED.split(self.known(line))
        return "".join(piece if i % 2 else self._WORD.sub(mask, piece) for i, piece in enumerate(pieces))


def _words(text: str) -> set[str]:
    return {w.lower() for w in Scrubber._WORD.findall(text)}


def _diff(old: str, new: str, name: str, scrub: Scrubber, *, letter: bool) -> list[str]:
    """Unified diff; ground-truth values masked everywhere, and on new lines of a letter (not of the
    JSON, which holds only types, codes and counts) identifier-shaped words too."""
    golden_words = _words(old)
    lines = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), f"golden/{name}", f"replay/{name}", lineterm="", n=2
    ):
        if letter and line.startswith("+") and not line.startswith("+++"):
            line = "+" + scrub.new_line(line[1:], golden_words)
        elif not line.startswith(("---", "+++", "@@")):
            line = scrub.known(line)
        lines.append(line)
    return lines


def compare_golden(source: Path, results: Iterable[ReplayResult], scrub: Scrubber) -> list[Drift]:
    drifts = []
    for result in results:
        txt_path, json_path = source / f"{result.stem}{GOLDEN_TXT}", source / f"{result.stem}{GOLDEN_JSON}"
        if not txt_path.exists() or not json_path.exists():
            drifts.append(Drift(result.stem, missing=True, diff=""))
            continue
        old_txt = txt_path.read_text(encoding="utf-8")
        old_json = json_path.read_text(encoding="utf-8")
        if old_txt == result.txt and old_json == result.json_text:
            continue
        lines = _diff(old_txt, result.txt, f"{result.stem}.txt", scrub, letter=True)
        lines += _diff(old_json, result.json_text, f"{result.stem}.json", scrub, letter=False)
        drifts.append(Drift(result.stem, missing=False, diff="\n".join(lines) + "\n"))
    return drifts


# -- ground truth -------------------------------------------------------------------------
def value_pattern(value: str) -> re.Pattern[str]:
    """Case-insensitive, whole-word, any run of whitespace (a line break too) between words."""
    body = r"\s+".join(re.escape(part) for part in value.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def survives(value: str, text: str) -> bool:
    """Whether a must-not-survive value is in ``text``: case-insensitive and whole-word, except that
    a capitalised one-word value found only in lower case is the ordinary word ("Will" the client,
    "I will recommend"), which must survive."""
    ordinary_word = " " not in value.strip() and value != value.lower()
    return any(not (ordinary_word and match.group(0).islower()) for match in value_pattern(value).finditer(text))


def load_ground_truth(source: Path, stems: Iterable[str]) -> dict[str, dict[str, Any]]:
    truths = {}
    for stem in stems:
        path = source / f"{stem}{GROUND_TRUTH}"
        if path.exists():
            try:
                truths[stem] = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as error:
                raise ReplayError(f"{path.name}: not valid JSON ({type(error).__name__})") from error
    return truths


# The outcome fields of ``expected.json`` and the summary key each is compared with.
OUTCOME_FIELDS: tuple[tuple[str, str], ...] = (
    ("status", "status"),
    ("reason", "reason"),
    ("sections", "sections"),
    ("sessions_requested", "sessions_requested"),
    ("period", "period"),
    ("acknowledge", "acknowledged"),
)

# The placeholder types a must_not_survive value of each type may be replaced by: a person by name
# or by role (with the title written before it, or inside an address or handle that holds the
# name), an employer as an employer or an organisation, an age where a date of birth is expected
# (the fixtures file ages under DATE_OF_BIRTH), a school or a town where an address is. THERAPIST
# holds every kind of the therapist's identifiers (name, practice, website...), so any placeholder
# is right for it.
_NAME_TYPES = frozenset({"PERSON", "TITLE", "EMAIL", "URL", "HANDLE"})
REMOVED_AS: dict[str, frozenset[str] | None] = {
    "PERSON": _NAME_TYPES | {"CLIENT"},
    "RELATIVE": _NAME_TYPES | {"RELATIVE"},
    "THERAPIST": None,
    "EMAIL": frozenset({"EMAIL", "URL", "HANDLE"}),
    "PHONE_NUMBER": frozenset({"PHONE"}),
    "UK_NHS": frozenset({"NHS"}),
    "UK_NINO": frozenset({"NI"}),
    "UK_POSTCODE": frozenset({"POSTCODE", "ADDRESS"}),
    "ADDRESS": frozenset({"ADDRESS", "POSTCODE", "LOCATION", "ORG"}),
    "DATE_OF_BIRTH": frozenset({"DOB", "AGE"}),
    "EMPLOYER": frozenset({"EMPLOYER", "ORG"}),
    "REGISTRATION_NUMBER": frozenset({"REGISTRATION"}),
    "EMPLOYEE_ID": frozenset({"EMPLOYEE_ID", "REFERENCE"}),
}
_TOKEN = re.compile(r"\[[^\[\]\n]{1,40}\]|\w+|[^\w\s]")


def _block_pattern(block: str) -> str:
    """A pattern for an original block from its redacted form: a placeholder matches any run of
    text on one line, a line break stays a line break, other words match themselves."""
    parts = []
    for piece in re.split(r"(\[[^\[\]\n]{1,40}\]|\s+)", block):
        if not piece:
            continue
        if PLACEHOLDER_RE.fullmatch(piece):
            parts.append("(.+?)")
        elif piece.isspace():
            parts.append(r"\s*\n\s*" if "\n" in piece else r"\s+")
        else:
            parts.append(re.escape(piece))
    return "".join(parts)


def _stand_ins(letter: str, redacted: str) -> list[tuple[int, int, set[str]]]:
    """Spans of the unredacted ``letter`` and the placeholder types that stand in for each.

    The two texts are aligned word by word; each changed block of the redacted text becomes a
    pattern (see ``_block_pattern``) matched against the original block, so adjacent values
    ("NMC 123" above "a@b.example") each get their own placeholder. Where the pattern does not
    match, the whole block gets every placeholder type in it."""
    source = list(_TOKEN.finditer(letter))
    target = list(_TOKEN.finditer(redacted))
    matcher = difflib.SequenceMatcher(None, [m.group(0) for m in source], [m.group(0) for m in target], autojunk=False)
    spans: list[tuple[int, int, set[str]]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag not in ("replace", "insert") or i1 == i2 or j1 == j2:
            continue
        start, end = source[i1].start(), source[i2 - 1].end()
        block = redacted[target[j1].start() : target[j2 - 1].end()]
        types = [placeholder_type(m.group(0)) for m in PLACEHOLDER_RE.finditer(block)]
        match = re.fullmatch(_block_pattern(block), letter[start:end])
        if match is None:
            spans.append((start, end, {t for t in types if t}))
            continue
        for group, etype in enumerate(types, start=1):
            if etype:
                spans.append((start + match.start(group), start + match.end(group), {etype}))
    return spans


def replaced_by(letter: str, redacted: str, value: str) -> list[set[str]]:
    """For each occurrence of ``value`` in the unredacted ``letter`` that the redacted text shows
    replaced, the placeholder types that stand in its place."""
    spans = _stand_ins(letter, redacted)
    found = []
    for occurrence in value_pattern(value).finditer(letter):
        types = set().union(*(t for s, e, t in spans if s < occurrence.end() and e > occurrence.start()))
        if types:
            found.append(types)
    return found


def expected_outcome(truth: dict[str, Any]) -> dict[str, Any]:
    """The hand-written outcome of ``expected.json`` keyed as the replay summary is."""
    outcome = truth.get("outcome") or {}
    flat = {"status": outcome.get("status"), "reason": outcome.get("reason"), **truth}
    return {summary_key: flat.get(truth_key) for truth_key, summary_key in OUTCOME_FIELDS}


def check_outcome(result: ReplayResult, truth: dict[str, Any], letter: str | None) -> tuple[Disagreement, ...]:
    """Compare the replay's outcome with the hand-written one, field by field, and check that each
    identifier of the unredacted ``letter`` was replaced by a placeholder of its own kind (a street
    shown to a CSM as ``[PERSON_3]`` is a mistake even though nothing leaked)."""
    found: list[Disagreement] = []
    written = {**(truth.get("outcome") or {}), **truth}
    want = expected_outcome(truth)
    for truth_key, summary_key in OUTCOME_FIELDS:
        if truth_key not in written:
            found.append(Disagreement(result.stem, truth_key, "a value in expected.json", "none written"))
        elif want[summary_key] != result.summary.get(summary_key):
            found.append(Disagreement(result.stem, summary_key, want[summary_key], result.summary.get(summary_key)))
    if letter is None or not result.letter:
        return tuple(found)
    for etype, values in sorted((truth.get("must_not_survive") or {}).items()):
        accepted = REMOVED_AS.get(etype, frozenset({etype}))
        if accepted is None:
            continue
        for index, value in enumerate(values):
            wrong = sorted(
                {t for types in replaced_by(letter, result.letter, value) if value.strip() for t in types - accepted}
            )
            if wrong:
                found.append(Disagreement(result.stem, f"{etype}[{index}] replaced by", sorted(accepted), wrong))
    return tuple(found)


def source_letter(source: Path, stem: str) -> str | None:
    """The reviewed unredacted letter of a fixture (``<stem>.letter.txt``), if it has one."""
    path = source / f"{stem}{LETTER}"
    return path.read_text(encoding="utf-8") if path.exists() else None


def check_ground_truth(result: ReplayResult, truth: dict[str, Any], letter: str | None = None) -> GroundTruth:
    leaks: list[Leak] = []
    by_type: dict[str, int] = {}
    strings = 0
    json_text = result.json_text
    for etype, values in sorted((truth.get("must_not_survive") or {}).items()):
        for index, value in enumerate(values):
            if not value.strip():
                continue
            strings += 1
            by_type[etype] = by_type.get(etype, 0) + 1
            for where, text in (("letter", result.letter), ("json", json_text)):
                if survives(value, text):
                    leaks.append(Leak(result.stem, etype, index, where))
    keep = [p for p in truth.get("must_keep") or [] if p.strip()]
    normalised = " ".join(result.letter.split()).lower()
    missing = tuple(i for i, phrase in enumerate(keep) if " ".join(phrase.split()).lower() not in normalised)
    return GroundTruth(
        result.stem,
        strings,
        by_type,
        tuple(leaks),
        must_keep=len(keep),
        kept=len(keep) - len(missing),
        missing_kept=missing,
        disagreements=check_outcome(result, truth, letter),
    )


# -- reports ------------------------------------------------------------------------------
def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report_data(run: ReplayRun) -> dict[str, Any]:
    """Everything the reports show, deterministic (sorted keys and lists, no times or paths)."""
    results = run.results
    by_status = Counter(r.summary["status"] for r in results)
    entities: Counter[str] = Counter()
    for r in results:
        entities.update(r.summary["entity_counts"])
    summary: dict[str, Any] = {
        "messages": len(results),
        "by_status": dict(sorted(by_status.items())),
        "entities_removed": dict(sorted(entities.items())),
    }
    drift_by_stem = {d.stem: d for d in run.drifts or []}
    truth_by_stem = {gt.stem: gt for gt in run.ground_truth or []}
    if run.drifts is not None:
        summary["expect"] = {
            "passed": not run.drifts,
            "drifted": sorted(d.stem for d in run.drifts if not d.missing),
            "missing_golden": sorted(d.stem for d in run.drifts if d.missing),
        }
        if run.not_compared:
            summary["expect"]["not_compared_refused_over_smtp"] = run.not_compared
    if run.ground_truth is not None:
        leaks = run.leaks
        leaked_strings = {(leak.stem, leak.entity_type, leak.index) for leak in leaks}
        strings_by_type: Counter[str] = Counter()
        for gt in run.ground_truth:
            strings_by_type.update(gt.by_type)
        leaks_by_type = Counter(etype for _stem, etype, _i in leaked_strings)
        strings = sum(gt.strings for gt in run.ground_truth)
        must_keep = sum(gt.must_keep for gt in run.ground_truth)
        kept = sum(gt.kept for gt in run.ground_truth)
        disagreements = run.disagreements
        summary["ground_truth"] = {
            "passed": not leaks and not disagreements,
            "disagreements": len(disagreements),
            "disagreements_by_field": dict(sorted(Counter(_field_kind(d.field) for d in disagreements).items())),
            "fixtures": len(run.ground_truth),
            "strings": strings,
            "leaked_strings": len(leaked_strings),
            "leak_rate": _rate(len(leaked_strings), strings),
            "leaks_by_type": {
                t: {"strings": n, "leaked": leaks_by_type.get(t, 0)} for t, n in sorted(strings_by_type.items())
            },
            "must_keep": must_keep,
            "kept": kept,
            "kept_rate": _rate(kept, must_keep),
        }
    if run.golden_refused:
        summary["golden_refused"] = sorted(run.golden_refused)
    if run.drifts is not None or run.ground_truth is not None or run.golden_refused:
        summary["passed"] = run.passed
    messages = []
    for r in results:
        entry: dict[str, Any] = {"message": r.stem, **r.summary}
        if run.drifts is not None:
            drift = drift_by_stem.get(r.stem)
            entry["golden"] = (
                "not-compared"
                if r.stem in run.not_compared
                else "same"
                if drift is None
                else "missing"
                if drift.missing
                else "drift"
            )
        truth = truth_by_stem.get(r.stem)
        if truth is not None:
            entry["ground_truth"] = {
                "strings": truth.strings,
                "leaks": [{"type": leak.entity_type, "index": leak.index, "where": leak.where} for leak in truth.leaks],
                "must_keep": truth.must_keep,
                "kept": truth.kept,
                "missing_kept": list(truth.missing_kept),
                "disagreements": [
                    {"field": d.field, "expected": d.expected, "actual": d.actual} for d in truth.disagreements
                ],
            }
        messages.append(entry)
    return {"summary": summary, "messages": messages}


def _field_kind(field_name: str) -> str:
    """``status`` stays ``status``; ``ADDRESS[2] replaced by`` becomes ``placeholder kind``."""
    return "placeholder kind" if field_name.endswith(" replaced by") else field_name


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def report_text(data: dict[str, Any], run: ReplayRun) -> str:
    s = data["summary"]
    lines = [f"Replay of {s['messages']} messages", ""]
    if "passed" in s:
        lines += [f"RESULT: {'PASS' if s['passed'] else 'FAIL'}", ""]
    lines += [f"  {status:<22} {count}" for status, count in sorted(s["by_status"].items())]
    lines += ["", "Identifiers removed, by type:"]
    lines += [f"  {etype:<22} {count}" for etype, count in sorted(s["entities_removed"].items())]
    if "expect" in s:
        e = s["expect"]
        lines += ["", f"Golden comparison: {'no drift' if e['passed'] else 'DRIFT'}"]
        lines += [f"  drifted: {stem}" for stem in e["drifted"]]
        lines += [f"  no golden file: {stem}" for stem in e["missing_golden"]]
        lines += [
            f"  not compared (line over 998 bytes, refused over SMTP): {stem}"
            for stem in e.get("not_compared_refused_over_smtp", [])
        ]
    if "ground_truth" in s:
        g = s["ground_truth"]
        lines += [
            "",
            f"Ground truth ({g['fixtures']} fixtures): {g['leaked_strings']} of {g['strings']} "
            f"must-not-survive strings leaked ({_pct(g['leak_rate'])}); kept phrases "
            f"{g['kept']}/{g['must_keep']} ({_pct(g['kept_rate'])})",
        ]
        lines += [
            f"  {etype:<22} {v['leaked']} leaked of {v['strings']}" for etype, v in sorted(g["leaks_by_type"].items())
        ]
        lines += [f"  LEAK {leak.describe()}" for leak in run.leaks]
        lines += ["", f"Outcome against expected.json: {g['disagreements']} disagreement(s)"]
        lines += [f"  {kind:<22} {count}" for kind, count in g["disagreements_by_field"].items()]
        lines += [f"  DISAGREE {d.describe()}" for d in run.disagreements]
    for stem in s.get("golden_refused", []):
        lines.append(f"  golden NOT written for {stem}: it leaks or contradicts expected.json")
    lines += ["", "Per message:"]
    for m in data["messages"]:
        flags = " ".join(f"{k}={'yes' if v else 'NO'}" for k, v in sorted((m["sections"] or {}).items()))
        extra = ""
        if "golden" in m:
            extra += f" golden={m['golden']}"
        if "ground_truth" in m:
            gt = m["ground_truth"]
            extra += f" leaks={len(gt['leaks'])} kept={gt['kept']}/{gt['must_keep']}"
            extra += f" disagreements={len(gt['disagreements'])}" if gt["disagreements"] else ""
        line = f"  {m['message']:<45} {m['status']:<22} {m['reason'] or '-':<38} {flags}{extra}"
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


def write_report(out: Path, run: ReplayRun) -> None:
    from pipeline.report import render_html

    data = report_data(run)
    (out / "report.json").write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n"
    )
    (out / "report.txt").write_text(report_text(data, run), encoding="utf-8", newline="\n")
    # The page shows the letter as a CSM sees it, except a ground-truth value that survived,
    # which is shown as [LEAK:TYPE]: the report proves the leak without repeating it.
    scrub = run.scrubber or Scrubber({})
    letters = {r.stem: scrub.known(r.letter) for r in run.results}
    leaks = [leak.describe() for leak in run.leaks]
    (out / "report.html").write_text(render_html(data, letters, leaks=leaks), encoding="utf-8", newline="\n")


def write_run_metadata(out: Path, run: ReplayRun, *, mode: str, seconds: float) -> None:
    """The only non-deterministic file: timings, mode, notes, when."""
    meta = {
        "mode": mode,
        "messages": {
            r.stem: {"seconds": round(r.seconds, 4), **({"notes": list(r.notes)} if r.notes else {})}
            for r in run.results
        },
        "total_seconds": round(seconds, 3),
        "finished_at": store.utcnow().isoformat(),
        "golden_written": run.golden_written,
    }
    (out / "run.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
