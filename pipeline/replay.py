"""Replay: run every ``*.eml`` of a folder through the full pipeline and write what came out.

Per message ``OUT/<stem>.txt`` (the redacted letter exactly as a CSM sees it) and
``OUT/<stem>.json`` (status, sections, counts by type, reason); ``OUT/report.json`` and
``OUT/report.txt`` summarise. Outputs hold no timestamps and no removed values, so two runs
over the same inputs and rules are byte-identical; timings go to ``OUT/run.json``.
Each message runs in a fresh temporary database (unless ``db_url`` is given) so one
fixture's outcome never depends on which others sit beside it. It never stops at a bad message.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pipeline import store
from pipeline.config import Settings
from pipeline.smtp import database_persister
from pipeline.worker import Runtime, Worker

log = logging.getLogger("plumm.replay")


@dataclass(frozen=True, slots=True)
class ReplayResult:
    stem: str
    summary: dict[str, Any]
    letter: str
    seconds: float


def case_summary(case: store.Case | None, *, acknowledged: bool) -> dict[str, Any]:
    if case is None:
        return {"status": "not-recorded", "reason": "no-case", "stage": None, "sections": None,
                "sessions_requested": None, "period": None, "entity_counts": {}, "sources": [],
                "acknowledged": False}
    sections = {key: bool(value.get("present")) for key, value in sorted(case.sections.items())} or None
    return {
        "status": case.status,
        "reason": case.reason,
        "stage": case.reason_stage,
        "sections": sections,
        "sessions_requested": case.sessions_requested,
        "period": case.period,
        "entity_counts": dict(sorted(case.entity_counts.items())),
        "sources": list(case.sources),
        "acknowledged": acknowledged,
    }


def _replay_one(settings: Settings, raw: bytes, db_url: str) -> tuple[dict[str, Any], str]:
    rt = Runtime(settings.model_copy(update={"database_url": db_url}))
    store.migrate(db_url)
    message_id = database_persister(rt.engine, rt.cipher, rt.hash_key)(raw, 1, "replay", "")
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
    with store.session(rt.engine) as db:
        row = db.get(store.InboundMessage, message_id)
        case = db.get(store.Case, row.case_id) if row is not None and row.case_id is not None else None
        acknowledged = case is not None and db.execute(
            select(store.OutboundMessage.id).where(
                store.OutboundMessage.case_id == case.id, store.OutboundMessage.kind == "acknowledgement"
            )
        ).first() is not None
        letter = case.letter_redacted if case is not None and case.status != "quarantined" else ""
        return case_summary(case, acknowledged=acknowledged), letter


def replay(
    source: Path,
    out: Path,
    *,
    settings: Settings,
    db_url: str | None = None,
    progress: Callable[[str], None] = lambda _stem: None,
) -> list[ReplayResult]:
    out.mkdir(parents=True, exist_ok=True)
    results: list[ReplayResult] = []
    with tempfile.TemporaryDirectory(prefix="plumm-replay-") as tmp:
        base = settings.model_copy(update={"data_dir": Path(tmp), "outbound_smtp": ""})
        for index, path in enumerate(sorted(source.glob("*.eml"))):
            started = time.perf_counter()
            url = db_url or f"sqlite:///{Path(tmp) / f'replay-{index}.db'}"
            try:
                summary, letter = _replay_one(base, path.read_bytes(), url)
            except Exception as error:  # never stop at one message; say what happened
                log.error("replay of message %d failed (%s)", index, type(error).__name__)
                summary, letter = case_summary(None, acknowledged=False), ""
                summary["reason"] = f"replay-error:{type(error).__name__}"
            result = ReplayResult(path.stem, summary, letter, time.perf_counter() - started)
            write_outputs(out, result)
            results.append(result)
            progress(path.stem)
    write_report(out, results)
    return results


def write_outputs(out: Path, result: ReplayResult) -> None:
    (out / f"{result.stem}.txt").write_text(result.letter + ("\n" if result.letter else ""), encoding="utf-8")
    (out / f"{result.stem}.json").write_text(
        json.dumps({"message": result.stem, **result.summary}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def write_report(out: Path, results: list[ReplayResult]) -> None:
    by_status = Counter(r.summary["status"] for r in results)
    entities: Counter[str] = Counter()
    for r in results:
        entities.update(r.summary["entity_counts"])
    report = {
        "summary": {"messages": len(results), "by_status": dict(sorted(by_status.items())),
                    "entities_removed": dict(sorted(entities.items()))},
        "messages": [{"message": r.stem, **r.summary} for r in results],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    lines = [f"Replay of {len(results)} messages", ""]
    lines += [f"  {status:<22} {count}" for status, count in sorted(by_status.items())]
    lines += ["", "Identifiers removed, by type:"]
    lines += [f"  {etype:<22} {count}" for etype, count in sorted(entities.items())]
    lines += ["", "Per message:"]
    for r in results:
        s = r.summary
        flags = " ".join(f"{k}={'yes' if v else 'NO'}" for k, v in (s["sections"] or {}).items())
        lines.append(f"  {r.stem:<50} {s['status']:<22} {s['reason'] or '':<28} {flags}")
    (out / "report.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    timings = {"messages": {r.stem: round(r.seconds, 4) for r in results},
               "total_seconds": round(sum(r.seconds for r in results), 3),
               "finished_at": store.utcnow().isoformat()}
    (out / "run.json").write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
