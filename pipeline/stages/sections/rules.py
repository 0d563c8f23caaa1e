"""The rules of the sections check (``rules/sections.yaml``): validated models, and their spaCy
patterns compiled once (a bad pattern fails start-up naming the file and key)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator
from spacy.matcher import Matcher, PhraseMatcher

from pipeline.nlp import get_nlp
from pipeline.rules import RuleModel, RulesError, load_rules

RULES_FILE = "sections.yaml"

TokenPattern = list[dict[str, Any]]


class PatternRule(RuleModel):
    id: str = Field(min_length=1)
    pattern: TokenPattern = Field(min_length=1)
    negatable: bool = False
    first_person: bool = False


class NegationRules(RuleModel):
    cues: list[str] = []
    reversers: list[str] = []
    exceptions: list[str] = []
    window_before: int = Field(6, ge=0, le=20)
    window_after: int = Field(2, ge=0, le=20)


class SectionRule(RuleModel):
    id: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_-]*$")
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    guidance: str = Field(min_length=1)
    headings: list[str] = []
    patterns: list[PatternRule] = []
    negation: NegationRules = NegationRules(window_before=6, window_after=2)
    # subjects whose statement is not the writer's ("[their] GP recommended counselling")
    third_parties: list[str] = []

    @model_validator(mode="after")
    def _something_to_match(self) -> SectionRule:
        if not self.headings and not self.patterns:
            raise ValueError("a section needs at least one heading or pattern")
        ids = [p.id for p in self.patterns]
        if len(ids) != len(set(ids)):
            raise ValueError("pattern ids must be unique within a section")
        return self


class SessionsRules(RuleModel):
    numbers: dict[str, int]
    max: int = Field(52, ge=1)
    patterns: list[PatternRule] = Field(min_length=1)
    bare_patterns: list[PatternRule] = []


class DurationRule(RuleModel):
    pattern: TokenPattern = Field(min_length=1)
    # words allowed between a frequency and its duration ("weekly sessions for two months")
    gap: int = Field(0, ge=0, le=4)


class PeriodRules(RuleModel):
    patterns: list[PatternRule] = Field(min_length=1)
    duration: DurationRule | None = None
    not_before: list[str] = []


class SectionRules(RuleModel):
    clause_boundaries: list[str] = []
    closings: list[str] = []
    # a sentence ending with "?" that opens with one of these is a request, not a question
    # ("Please could you authorise another 8 sessions?")
    polite_requests: list[TokenPattern] = []
    sections: list[SectionRule] = Field(min_length=1)
    sessions: SessionsRules
    period: PeriodRules

    _compiled: Compiled | None = PrivateAttr(default=None)

    @field_validator("sections")
    @classmethod
    def _unique_ids(cls, value: list[SectionRule]) -> list[SectionRule]:
        ids = [s.id for s in value]
        if len(ids) != len(set(ids)):
            raise ValueError("section ids must be unique")
        return value

    def section(self, section_id: str) -> SectionRule:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(section_id)

    def compiled(self) -> Compiled:
        if self._compiled is None:
            self._compiled = compile_rules(self)
        return self._compiled


@dataclass(frozen=True)
class Compiled:
    patterns: Matcher  # label "<section>\x1f<pattern id>"
    headings: PhraseMatcher  # label "<section>"
    cues: dict[str, PhraseMatcher]  # per section id
    exceptions: dict[str, PhraseMatcher]
    sessions: Matcher  # label "sessions\x1f<id>" / "bare\x1f<id>"
    period: Matcher
    duration: Matcher
    polite: Matcher


SEP = "\x1f"


def _add(matcher: Matcher, label: str, pattern: TokenPattern, where: str) -> None:
    try:
        matcher.add(label, [pattern])
    except Exception as exc:  # spaCy raises ValueError / MatchPatternError with its own text
        raise RulesError(f"{RULES_FILE}: key '{where}': invalid spaCy token pattern: {exc}") from exc


def compile_rules(rules: SectionRules) -> Compiled:
    nlp = get_nlp()
    patterns = Matcher(nlp.vocab, validate=True)
    headings = PhraseMatcher(nlp.vocab, attr="LOWER")
    cues: dict[str, PhraseMatcher] = {}
    exceptions: dict[str, PhraseMatcher] = {}
    for si, section in enumerate(rules.sections):
        for pi, rule in enumerate(section.patterns):
            _add(patterns, f"{section.id}{SEP}{rule.id}", rule.pattern, f"sections.{si}.patterns.{pi}.pattern")
        if section.headings:
            headings.add(section.id, [nlp.make_doc(h) for h in section.headings])
        cue_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        if section.negation.cues:
            cue_matcher.add("cue", [nlp.make_doc(c) for c in section.negation.cues])
        cues[section.id] = cue_matcher
        exc_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        if section.negation.exceptions:
            exc_matcher.add("exception", [nlp.make_doc(c) for c in section.negation.exceptions])
        exceptions[section.id] = exc_matcher
    sessions = Matcher(nlp.vocab, validate=True)
    for i, rule in enumerate(rules.sessions.patterns):
        _add(sessions, f"sessions{SEP}{rule.id}", rule.pattern, f"sessions.patterns.{i}.pattern")
    for i, rule in enumerate(rules.sessions.bare_patterns):
        _add(sessions, f"bare{SEP}{rule.id}", rule.pattern, f"sessions.bare_patterns.{i}.pattern")
    period = Matcher(nlp.vocab, validate=True)
    for i, rule in enumerate(rules.period.patterns):
        _add(period, rule.id, rule.pattern, f"period.patterns.{i}.pattern")
    duration = Matcher(nlp.vocab, validate=True)
    if rules.period.duration is not None:
        _add(duration, "duration", rules.period.duration.pattern, "period.duration.pattern")
    polite = Matcher(nlp.vocab, validate=True)
    for i, pattern in enumerate(rules.polite_requests):
        _add(polite, "polite", pattern, f"polite_requests.{i}")
    return Compiled(patterns, headings, cues, exceptions, sessions, period, duration, polite)


def load_section_rules(rules_dir: Path) -> SectionRules:
    """Load and validate ``rules_dir/sections.yaml``, compiling its spaCy patterns (fail fast)."""
    path = Path(rules_dir) / RULES_FILE
    rules = load_rules(path, SectionRules)
    try:
        rules.compiled()
    except RulesError as exc:
        raise RulesError(str(exc).replace(RULES_FILE, str(path), 1)) from exc.__cause__
    return rules
