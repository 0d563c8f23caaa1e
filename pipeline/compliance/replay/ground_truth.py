"""The hand-written truth of a fixture (``<stem>.expected.json``): strings that must not survive,
phrases that must, the outcome, and that each identifier was replaced by a placeholder of its own kind."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.compliance.replay.matching import survives, value_pattern
from pipeline.compliance.replay.results import Disagreement, GroundTruth, Leak, ReplayError, ReplayResult
from pipeline.patterns import PLACEHOLDER_RE, placeholder_type

GROUND_TRUTH = ".expected.json"
LETTER = ".letter.txt"


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
# is right for it. A national, health or other ID number may also be shown as a plain ``[ID_n]``
# (the type of the catch-all and of the ID-number recognizers), a bank or card number as
# ``[BANK_ACCOUNT_n]`` or ``[CARD_n]``.
_NAME_TYPES = frozenset({"PERSON", "TITLE", "EMAIL", "URL", "HANDLE"})
REMOVED_AS: dict[str, frozenset[str] | None] = {
    "PERSON": _NAME_TYPES | {"CLIENT"},
    "RELATIVE": _NAME_TYPES | {"RELATIVE"},
    "THERAPIST": None,
    "EMAIL": frozenset({"EMAIL", "URL", "HANDLE"}),
    "PHONE_NUMBER": frozenset({"PHONE"}),
    "UK_NHS": frozenset({"NHS", "ID"}),
    "UK_NINO": frozenset({"NI", "ID"}),
    "UK_POSTCODE": frozenset({"POSTCODE", "ADDRESS"}),
    "ADDRESS": frozenset({"ADDRESS", "POSTCODE", "LOCATION", "ORG"}),
    "DATE_OF_BIRTH": frozenset({"DOB", "AGE"}),
    "EMPLOYER": frozenset({"EMPLOYER", "ORG"}),
    "JOB_TITLE": frozenset({"JOB_TITLE", "EMPLOYER", "ORG"}),
    "REGISTRATION_NUMBER": frozenset({"REGISTRATION"}),
    "EMPLOYEE_ID": frozenset({"EMPLOYEE_ID", "REFERENCE", "ID", "BANK_ACCOUNT", "CARD"}),
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
