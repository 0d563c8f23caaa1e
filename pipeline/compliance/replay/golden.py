"""Golden files beside each fixture (``<stem>.replay.txt``/``.replay.json``): compare, describe a
refresh in reviewable words, write. Diffs are scrubbed of removed values."""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pipeline.compliance.replay.matching import Scrubber, word_set
from pipeline.compliance.replay.results import Drift, ReplayResult
from pipeline.patterns import PLACEHOLDER_RE, placeholder_type

GOLDEN_TXT = ".replay.txt"
GOLDEN_JSON = ".replay.json"


def write_golden(source: Path, result: ReplayResult) -> None:
    (source / f"{result.stem}{GOLDEN_TXT}").write_text(result.txt, encoding="utf-8", newline="\n")
    (source / f"{result.stem}{GOLDEN_JSON}").write_text(result.json_text, encoding="utf-8", newline="\n")


def placeholder_types(text: str) -> Counter[str]:
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
    before, after = placeholder_types(old_txt), placeholder_types(result.txt)
    for etype in sorted(set(before) | set(after)):
        if before[etype] != after[etype]:
            changes.append(f"placeholders [{etype}]: {before[etype]} -> {after[etype]}")
    if (old.get("subject"), old.get("subject_withheld")) != (
        result.summary.get("subject"),
        result.summary.get("subject_withheld"),
    ):
        before_subject, after_subject = _subject_state(old), _subject_state(result.summary)
        changes.append(
            f"subject: {before_subject} -> {after_subject}"
            if before_subject != after_subject
            else "subject wording changed (same placeholder types)"
        )
    old_counts, new_counts = old.get("entity_counts") or {}, result.summary.get("entity_counts") or {}
    for etype in sorted(set(old_counts) | set(new_counts)):
        if old_counts.get(etype) != new_counts.get(etype):
            changes.append(f"removed {etype}: {old_counts.get(etype, 0)} -> {new_counts.get(etype, 0)}")
    if not changes:
        changes.append("letter wording changed (same outcome and placeholder types)")
    return changes


# The JSON's one line of the letter's own words: its redacted subject.
_JSON_TEXT_LINE = re.compile(r'^\+\s*"subject":')


def _subject_state(summary: dict[str, object]) -> str:
    """The subject line of a summary in reviewable words: its placeholder types, never its words."""
    if "subject" not in summary:
        return "not recorded"
    if summary.get("subject_withheld"):
        return "withheld"
    text = summary.get("subject")
    if not isinstance(text, str):
        return "none"
    types = placeholder_types(text)
    return "shown" + (" with " + ", ".join(f"[{t}] x{n}" for t, n in sorted(types.items())) if types else "")


def _diff(old: str, new: str, name: str, scrub: Scrubber, *, letter: bool) -> list[str]:
    """Unified diff; ground-truth values masked everywhere, and on new lines of a letter (and the
    JSON's subject line; the rest of the JSON holds only types, codes and counts) identifier-shaped
    words too."""
    golden_words = word_set(old)
    lines = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), f"golden/{name}", f"replay/{name}", lineterm="", n=2
    ):
        if (letter or _JSON_TEXT_LINE.match(line)) and line.startswith("+") and not line.startswith("+++"):
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
