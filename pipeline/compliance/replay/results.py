"""What a replay produces: one result per message, the checks' findings, and the run that holds them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pipeline.compliance.replay.matching import Scrubber


class ReplayError(Exception):
    """The replay cannot run as asked (configuration or environment); exit code 2."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    stem: str
    summary: dict[str, Any]
    letter: str
    seconds: float
    notes: tuple[str, ...] = ()  # run metadata (goes to run.json only)
    # (section, evidence sentence of the redacted letter): shown in report.html beside the letter
    evidence: tuple[tuple[str, str], ...] = ()

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
