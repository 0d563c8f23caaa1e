"""The rules of the sections check (``rules/sections.yaml``): validated models, and their spaCy
patterns compiled once (a bad pattern fails start-up naming the file and key)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator
from spacy.matcher import PhraseMatcher
from spacy.tokens import Token

from pipeline.nlp import get_nlp
from pipeline.rules import RuleModel, RulesError, load_rules
from pipeline.stages.redaction.rules import REDACTION_FILE, RedactionRules
from pipeline.stages.sections.classifier import SentenceClassifier, train
from pipeline.stages.sections.gated import WordGatedMatcher

RULES_FILE = "sections.yaml"

TokenPattern = list[dict[str, Any]]


class PatternRule(RuleModel):
    id: str = Field(min_length=1)
    pattern: TokenPattern = Field(min_length=1)
    negatable: bool = False
    first_person: bool = False
    means: str | None = None  # a period pattern's category (weekly, fortnightly, monthly)


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
    fractions: dict[str, float] = {}
    # "two more blocks of three": a count of these, each of a count of sessions, is their product
    blocks: list[str] = []
    max: int = Field(52, ge=1)
    patterns: list[PatternRule] = Field(min_length=1)
    bare_patterns: list[PatternRule] = []
    not_before: list[str] = []
    not_after: list[str] = []


class PeriodRules(RuleModel):
    patterns: list[PatternRule] = Field(min_length=1)
    not_before: list[str] = []
    field_labels: list[str] = []


class ClauseRules(RuleModel):
    """How a sentence is read from its parse (``clauses.py``): acts, objects, people and cue lists."""

    # kind of ask -> words (lemmas or forms) that name it: recommend, request, ask, support...
    acts: dict[str, list[str]] = Field(min_length=1)
    # acts that are an ask even beside "I leave the number to you"
    firm_acts: list[str] = []
    # acts that, said by the client ("[CLIENT] has asked for more sessions"), are only a wish
    wish_acts: list[str] = []
    # a wish act that is no ask by itself ("continue") is the client's wish only under one of these
    # ("[they] would like to continue"), not in "[they] continues to avoid" or "[they] needs ... to continue"
    wish_verbs: list[str] = []
    grant_verbs: list[str] = []
    # what is asked for, by name: sessions, therapy, a block, continuation...
    objects: dict[str, list[str]] = {}
    other_people: list[str] = []
    third_parties: list[str] = []
    # cue lists (spaCy token patterns): negation, discharge, past, hedge, leave, on_file, support, reversal,
    # prospect, boilerplate, withdraw (the ask taken back in the same message), replace (an ask replacing it),
    # enquiry (the message comes before a letter: "before I write anything formal"), timed (an ending that
    # dates something else: "after [their] discharge from the ward")
    cues: dict[str, list[TokenPattern]] = {}

    @field_validator("cues")
    @classmethod
    def _known_cues(cls, value: dict[str, list[TokenPattern]]) -> dict[str, list[TokenPattern]]:
        missing = set(CUE_NAMES) - set(value)
        if missing:
            raise ValueError(f"missing cue lists: {', '.join(sorted(missing))}")
        return value


CUE_NAMES = (
    "negation",
    "discharge",
    "past",
    "hedge",
    "leave",
    "on_file",
    "support",
    "reversal",
    "prospect",
    "boilerplate",
    "withdraw",
    "replace",
    "enquiry",
    "timed",
)


class Thresholds(RuleModel):
    """A sentence the phrase rules find counts when the classifier gives it at least ``agree``; one
    the rules miss counts when the classifier alone gives it at least ``alone``."""

    agree: float = Field(ge=0, le=1)
    alone: float = Field(ge=0, le=1.01)


class ClassifierRules(RuleModel):
    """The sentence classifier (``classifier.py``): its training files (relative to the rules folder),
    regularisation, and per section the thresholds of :class:`Thresholds`."""

    training: list[str] = Field(min_length=1)
    c: float = Field(16.0, gt=0)
    needs: Thresholds
    recommendation: Thresholds


class ReasonRules(RuleModel):
    """The plain words of a verdict's reason (``decide.py``): fixed phrases, never the letter's."""

    found: dict[str, str]  # section -> "recommendation found: the therapist {act} {what}"
    acts: dict[str, str]  # kind of ask -> verb phrase ("requests"); "default" required
    objects: dict[str, str]  # what is asked for -> noun phrase ("further sessions"); "default" required
    counted: str  # "{n} further sessions"
    how: dict[str, str]  # rule that found a need -> phrase; "default" required
    absent: dict[str, dict[str, str]]  # section -> reason code -> sentence; "none" required

    @model_validator(mode="after")
    def _defaults(self) -> ReasonRules:
        for name, table in (("acts", self.acts), ("objects", self.objects), ("how", self.how)):
            if "default" not in table:
                raise ValueError(f"{name} needs a 'default' entry")
        for section, table in self.absent.items():
            if "none" not in table:
                raise ValueError(f"absent.{section} needs a 'none' entry")
        return self


class CheckboxRules(RuleModel):
    """The tick boxes of a form, as written: a box ticked ("☒", "[x]") and one left empty ("☐", "[ ]")."""

    ticked: list[str] = []
    unticked: list[str] = []

    @field_validator("ticked", "unticked")
    @classmethod
    def _not_blank(cls, value: list[str]) -> list[str]:
        if any(not v.strip() for v in value):
            raise ValueError("a box is written with at least one visible character")
        return value


class SectionRules(RuleModel):
    clause_boundaries: list[str] = []
    closings: list[str] = []
    # a sentence ending with "?" that opens with one of these is a request, not a question
    # ("Please could you authorise another 8 sessions?")
    polite_requests: list[TokenPattern] = []
    # a question that says one of these and asks for a count of more is a request too, wherever the
    # words stand in it ("[PERSON_1] - 6 more sessions please?", "could [they] please get 6x more?")
    request_words: list[str] = []
    # a form's table row flattened into one line ("Extension requested Yes"): a heading followed on its
    # line by nothing but one of these answers reads as "Extension requested: Yes"
    form_answers: list[str] = []
    sections: list[SectionRule] = Field(min_length=1)
    sessions: SessionsRules
    period: PeriodRules
    clauses: ClauseRules
    classifier: ClassifierRules
    reasons: ReasonRules
    # therapy named in a request, display name -> what letters call it; an all-capitals alias
    # ("CBT", "ACT") matches only in capitals, any other case-insensitively
    therapies: dict[str, list[str]] = {}
    # a message that names none of these is no letter about a client's sessions
    letter_words: list[str] = []
    # a form's tick boxes: what an option left unticked says is not what the form says
    checkboxes: CheckboxRules = CheckboxRules()

    # Filled from redaction.yaml (its titles before a name, gendered or not) by load_section_rules.
    name_titles: list[str] = []
    _compiled: Compiled | None = PrivateAttr(default=None)
    _classifier: SentenceClassifier | None = PrivateAttr(default=None)

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

    def sentence_classifier(self) -> SentenceClassifier:
        if self._classifier is None:
            raise RulesError(f"{RULES_FILE}: the sentence classifier is trained by load_section_rules")
        return self._classifier

    def train_classifier(self, rules_dir: Path) -> None:
        """Train the sentence classifier on ``classifier.training`` (paths relative to ``rules_dir``)."""
        paths = [Path(rules_dir) / name for name in self.classifier.training]
        self._classifier = train(paths, c=self.classifier.c)

    def compiled(self) -> Compiled:
        if self._compiled is None:
            self._compiled = compile_rules(self)
        return self._compiled


@dataclass(frozen=True)
class Compiled:
    patterns: WordGatedMatcher  # label "<section>\x1f<pattern id>"
    headings: PhraseMatcher  # label "<section>"
    cues: dict[str, PhraseMatcher]  # per section id
    exceptions: dict[str, PhraseMatcher]
    sessions: WordGatedMatcher  # label "sessions\x1f<id>" / "bare\x1f<id>"
    period: WordGatedMatcher  # label: the pattern's category (``means``) or "" when kept as written
    polite: WordGatedMatcher
    therapies: PhraseMatcher  # label: display name (lower-case aliases)
    therapy_acronyms: PhraseMatcher  # label: display name (all-capitals aliases, matched as written)
    act_lemmas: dict[str, str]  # word -> kind of ask
    clause_cues: WordGatedMatcher  # label: cue list name
    clause_cue_names: tuple[str, ...]
    # a tick box, ticked or not (group "unticked" for an empty one); None without boxes in the rules
    boxes: re.Pattern[str] | None = None
    # titles before a name ("dr", "prof", "ing"), lower case without the full stop
    name_titles: frozenset[str] = frozenset()
    request_words: frozenset[str] = frozenset()  # lower case
    form_answers: frozenset[str] = frozenset()  # lower case


SEP = "\x1f"


def _add(matcher: WordGatedMatcher, label: str, pattern: TokenPattern, where: str) -> None:
    try:
        matcher.add(label, [pattern])
    except Exception as exc:  # spaCy raises ValueError / MatchPatternError with its own text
        raise RulesError(f"{RULES_FILE}: key '{where}': invalid spaCy token pattern: {exc}") from exc


COUNT_ATTRIBUTE = "plumm_count"
_TIMES = re.compile(r"^(?:\+|x)?(\d{1,2})x?$")  # "6x weekly sessions", "Plan: +6 sessions", "extension x6"


def count_value(word: str, numbers: dict[str, int]) -> int | None:
    """The count a word names: "6", "six", "6x", "x6", "+6", "dozen"; None for anything else."""
    word = word.lower()
    times = _TIMES.match(word)
    if times:
        return int(times.group(1))
    return numbers.get(word)


def _register_count(numbers: dict[str, int]) -> None:
    """The token attribute the sessions patterns use for a count ({_: {plumm_count: true}})."""
    Token.set_extension(COUNT_ATTRIBUTE, getter=lambda tok: count_value(tok.text, numbers) is not None, force=True)


def compile_rules(rules: SectionRules) -> Compiled:
    nlp = get_nlp()
    _register_count({k.lower(): v for k, v in rules.sessions.numbers.items()})
    patterns = WordGatedMatcher(nlp.vocab)
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
    sessions = WordGatedMatcher(nlp.vocab)
    for i, rule in enumerate(rules.sessions.patterns):
        _add(sessions, f"sessions{SEP}{rule.id}", rule.pattern, f"sessions.patterns.{i}.pattern")
    for i, rule in enumerate(rules.sessions.bare_patterns):
        _add(sessions, f"bare{SEP}{rule.id}", rule.pattern, f"sessions.bare_patterns.{i}.pattern")
    period = WordGatedMatcher(nlp.vocab)
    for i, rule in enumerate(rules.period.patterns):
        _add(period, rule.means or "", rule.pattern, f"period.patterns.{i}.pattern")
    polite = WordGatedMatcher(nlp.vocab)
    for i, pattern in enumerate(rules.polite_requests):
        _add(polite, "polite", pattern, f"polite_requests.{i}")
    therapies = PhraseMatcher(nlp.vocab, attr="LOWER")
    acronyms = PhraseMatcher(nlp.vocab, attr="ORTH")
    for name, aliases in rules.therapies.items():
        words = [a for a in aliases if not (a.isupper() and len(a) <= 6)]
        caps = [a for a in aliases if a.isupper() and len(a) <= 6]
        if words:
            therapies.add(name, [nlp.make_doc(a) for a in words])
        if caps:
            acronyms.add(name, [nlp.make_doc(a) for a in caps])
    act_lemmas = {word.lower(): kind for kind, words in rules.clauses.acts.items() for word in words}
    clause_cues = WordGatedMatcher(nlp.vocab)
    for name, patterns_ in rules.clauses.cues.items():
        for i, pattern in enumerate(patterns_):
            _add(clause_cues, name, pattern, f"clauses.cues.{name}.{i}")
    return Compiled(
        patterns,
        headings,
        cues,
        exceptions,
        sessions,
        period,
        polite,
        therapies,
        acronyms,
        act_lemmas,
        clause_cues,
        tuple(rules.clauses.cues),
        _box_pattern(rules.checkboxes),
        frozenset(t.casefold() for t in rules.name_titles),
        frozenset(w.casefold() for w in rules.request_words),
        frozenset(a.casefold() for a in rules.form_answers),
    )


def _box_pattern(boxes: CheckboxRules) -> re.Pattern[str] | None:
    """One expression for every tick box; an empty one is the group ``unticked`` (the longest written
    form first, so "[ ]" is not read as "[")."""

    def either(forms: list[str]) -> str:
        return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))

    if not boxes.ticked and not boxes.unticked:
        return None
    parts = [f"(?P<unticked>{either(boxes.unticked)})"] if boxes.unticked else []
    parts += [f"(?P<ticked>{either(boxes.ticked)})"] if boxes.ticked else []
    return re.compile("|".join(parts))


def load_section_rules(rules_dir: Path) -> SectionRules:
    """Load and validate ``rules_dir/sections.yaml``, compiling its spaCy patterns (fail fast)."""
    path = Path(rules_dir) / RULES_FILE
    rules = load_rules(path, SectionRules)
    redaction = Path(rules_dir) / REDACTION_FILE
    if redaction.exists():
        # One list of titles for every stage: the redaction rules' (validated there).
        titles = load_rules(redaction, RedactionRules).name_titles
        rules = rules.model_copy(update={"name_titles": list(titles)})
    try:
        rules.compiled()
    except RulesError as exc:
        raise RulesError(str(exc).replace(RULES_FILE, str(path), 1)) from exc.__cause__
    rules.train_classifier(Path(rules_dir))
    return rules
