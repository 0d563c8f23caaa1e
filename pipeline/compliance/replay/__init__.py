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

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline import store
from pipeline.compliance.replay.drivers import (
    SMTP_WAIT_SECONDS,
    envelope_sender,
    parse_host_port,
    run_in_process,
    run_via_smtp,
    unsendable,
)
from pipeline.compliance.replay.golden import compare_golden, golden_changes, write_golden
from pipeline.compliance.replay.ground_truth import (
    check_ground_truth,
    check_outcome,
    load_ground_truth,
    replaced_by,
    source_letter,
)
from pipeline.compliance.replay.matching import Scrubber, survives
from pipeline.compliance.replay.report import report_data, write_report
from pipeline.compliance.replay.results import ReplayError, ReplayResult, ReplayRun
from pipeline.config import Settings

__all__ = [
    "ReplayError",
    "ReplayResult",
    "ReplayRun",
    "Scrubber",
    "check_ground_truth",
    "check_outcome",
    "compare_golden",
    "envelope_sender",
    "golden_changes",
    "per_message_logs_quiet",
    "replaced_by",
    "replay",
    "report_data",
    "survives",
    "write_golden",
    "write_report",
]

log = logging.getLogger("plumm.replay")
# What logs a line per message: too much for a replay of a folder (a progress bar, a benchmark).
PER_MESSAGE_LOGGERS = ("plumm.worker", "plumm.cases", "plumm.smtp", "presidio-analyzer")


@contextmanager
def per_message_logs_quiet(enabled: bool = True) -> Iterator[None]:
    """Only errors from the per-message loggers while it lasts; their levels are restored after."""
    loggers = [logging.getLogger(name) for name in PER_MESSAGE_LOGGERS]
    levels = [logger.level for logger in loggers]
    if enabled:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


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
            results = run_via_smtp(paths, settings, db_url, address, progress, smtp_timeout)
        else:
            base = settings.model_copy(update={"data_dir": Path(tmp), "outbound_smtp": ""})
            results = run_in_process(paths, base, db_url, Path(tmp), progress)
    for result in results:
        write_outputs(out, result)
    truths = load_ground_truth(source, [r.stem for r in results])
    run = ReplayRun(results, scrubber=Scrubber(truths))
    if ground_truth or update_golden:
        run.ground_truth = [
            check_ground_truth(r, truths[r.stem], source_letter(source, r.stem)) for r in results if r.stem in truths
        ]
    if expect:
        run.not_compared = sorted(r.stem for r in results if unsendable(r, source))
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
