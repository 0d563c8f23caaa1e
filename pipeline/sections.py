"""Sections stage: does the (redacted) letter contain the required sections?

Contract: :func:`assess_sections` takes the redacted letter text and the validated rules from
``rules/sections.yaml`` and returns a :class:`~pipeline.models.SectionReport`: per section
present/absent, the evidence sentence (from the redacted text) and the id of the rule that
fired, plus the number of additional sessions requested and their period when stated.

How it decides, per section (every check runs, then one decision):

* the text is parsed once with the shared spaCy model (:func:`pipeline.nlp.get_nlp`) and cut
  into sentences: spaCy's sentence starts after terminal punctuation, plus the layout of a
  letter (blank lines, bullet lines, heading lines, short lines such as a greeting);
* a *heading* ("Recommendation", "Reason for referral"...) at the start of a line counts when
  the content that follows it is not empty and, for sections with negation cues, not negated;
* a *phrase pattern* (spaCy ``Matcher``, lemma based) counts unless it sits in a question or,
  for negatable patterns, a negation cue is in the same clause ("I do not recommend"), or its
  clause's subject is one of the section's ``third_parties`` ("[their] GP recommended...");
  a question that opens as a polite request ("Please could you authorise another 8 sessions?")
  is read as a statement.

The output is deterministic: the first qualifying hit in document order is the evidence.
Nothing here logs or raises with letter content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span, Token

from pipeline.models import SectionReport, SectionVerdict
from pipeline.nlp import get_nlp
from pipeline.patterns import placeholder_type
from pipeline.rules import RuleModel, RulesError, load_rules

RULES_FILE = "sections.yaml"

TokenPattern = list[dict[str, Any]]


# --- rule models -------------------------------------------------------------------------------


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

    _compiled: _Compiled | None = PrivateAttr(default=None)

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

    def compiled(self) -> _Compiled:
        if self._compiled is None:
            self._compiled = _compile(self)
        return self._compiled


# --- compiled matchers -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    patterns: Matcher  # label "<section>\x1f<pattern id>"
    headings: PhraseMatcher  # label "<section>"
    cues: dict[str, PhraseMatcher]  # per section id
    exceptions: dict[str, PhraseMatcher]
    sessions: Matcher  # label "sessions\x1f<id>" / "bare\x1f<id>"
    period: Matcher
    duration: Matcher
    polite: Matcher


_SEP = "\x1f"


def _add(matcher: Matcher, label: str, pattern: TokenPattern, where: str) -> None:
    try:
        matcher.add(label, [pattern])
    except Exception as exc:  # spaCy raises ValueError / MatchPatternError with its own text
        raise RulesError(f"{RULES_FILE}: key '{where}': invalid spaCy token pattern: {exc}") from exc


def _compile(rules: SectionRules) -> _Compiled:
    nlp = get_nlp()
    patterns = Matcher(nlp.vocab, validate=True)
    headings = PhraseMatcher(nlp.vocab, attr="LOWER")
    cues: dict[str, PhraseMatcher] = {}
    exceptions: dict[str, PhraseMatcher] = {}
    for si, section in enumerate(rules.sections):
        for pi, rule in enumerate(section.patterns):
            _add(patterns, f"{section.id}{_SEP}{rule.id}", rule.pattern, f"sections.{si}.patterns.{pi}.pattern")
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
        _add(sessions, f"sessions{_SEP}{rule.id}", rule.pattern, f"sessions.patterns.{i}.pattern")
    for i, rule in enumerate(rules.sessions.bare_patterns):
        _add(sessions, f"bare{_SEP}{rule.id}", rule.pattern, f"sessions.bare_patterns.{i}.pattern")
    period = Matcher(nlp.vocab, validate=True)
    for i, rule in enumerate(rules.period.patterns):
        _add(period, rule.id, rule.pattern, f"period.patterns.{i}.pattern")
    duration = Matcher(nlp.vocab, validate=True)
    if rules.period.duration is not None:
        _add(duration, "duration", rules.period.duration.pattern, "period.duration.pattern")
    polite = Matcher(nlp.vocab, validate=True)
    for i, pattern in enumerate(rules.polite_requests):
        _add(polite, "polite", pattern, f"polite_requests.{i}")
    return _Compiled(patterns, headings, cues, exceptions, sessions, period, duration, polite)


def load_section_rules(rules_dir: Path) -> SectionRules:
    """Load and validate ``rules_dir/sections.yaml``, compiling its spaCy patterns (fail fast)."""
    path = Path(rules_dir) / RULES_FILE
    rules = load_rules(path, SectionRules)
    try:
        rules.compiled()
    except RulesError as exc:
        raise RulesError(str(exc).replace(RULES_FILE, str(path), 1)) from exc.__cause__
    return rules


# --- sentences -----------------------------------------------------------------------------------

_BULLET = re.compile(r"^[ \t]*(?:[-*•‣◦▪●–—>]|\(?\d{1,2}[.)]|\(?[a-zA-Z][.)](?=\s)|#{1,6})[ \t]*")
_TERMINAL = (".", "!", "?", "…")


@dataclass(frozen=True)
class _Unit:
    start: int  # token index
    end: int
    start_char: int
    end_char: int
    text: str
    question: bool


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        spans.append((pos, pos + len(body)))
        pos += len(line)
    return spans


def _layout_boundaries(text: str) -> set[int]:
    """Character offsets where a new sentence starts because of the letter's layout."""
    boundaries: set[int] = set()
    lines = _line_spans(text)
    for i, (start, end) in enumerate(lines):
        line = text[start:end]
        stripped = line.strip()
        prev = text[lines[i - 1][0] : lines[i - 1][1]].strip() if i else ""
        if not stripped:
            continue
        if not prev:  # first line of a paragraph
            boundaries.add(start)
        if _BULLET.match(line) and _BULLET.match(line).end() < len(line):  # type: ignore[union-attr]
            boundaries.add(start)
        # a short line that does not run on (a heading, greeting, sign-off, "Dr [PERSON_1]")
        nxt = text[lines[i + 1][0] : lines[i + 1][1]].strip() if i + 1 < len(lines) else ""
        runs_on = nxt[:1].islower()
        if (stripped.endswith(":") or (len(stripped) <= 60 and not stripped.endswith(_TERMINAL))) and not runs_on:
            boundaries.add(start)
            boundaries.add(end)
        elif stripped.endswith(_TERMINAL) and not runs_on:
            boundaries.add(end)
    return boundaries


def _units(doc: Doc, extra_boundaries: set[int]) -> list[_Unit]:
    boundaries = sorted(extra_boundaries)
    units: list[_Unit] = []
    start: int | None = None
    last_real: int | None = None
    b = 0

    def close(upto: int | None) -> None:
        nonlocal start
        if start is not None and upto is not None:
            span = doc[start : upto + 1]
            text = span.text.strip()
            if text:
                units.append(
                    _Unit(
                        start,
                        upto + 1,
                        span.start_char,
                        span.end_char,
                        text,
                        text.rstrip("*_ ").endswith("?"),
                    )
                )
        start = None

    for tok in doc:
        if tok.is_space:
            continue
        new = start is None
        # a layout boundary between the previous real token and this one
        while b < len(boundaries) and boundaries[b] <= tok.idx:
            if last_real is None or boundaries[b] >= doc[last_real].idx + len(doc[last_real].text):
                new = True
            b += 1
        if not new and tok.is_sent_start and last_real is not None:
            # trust spaCy only after terminal punctuation: it also cuts before "[PERSON_1]"
            if doc[last_real].text.endswith(_TERMINAL):
                new = True
        if new:
            close(last_real)
            start = tok.i
        last_real = tok.i
    close(last_real)
    return units


def _polite_requests_are_statements(doc: Doc, units: list[_Unit], compiled: _Compiled) -> list[_Unit]:
    """ "Please could you authorise another 8 sessions?" asks for sessions, not about the process."""
    starts = {s for _, s, _ in compiled.polite(doc)}

    def opens(u: _Unit) -> bool:
        # "Hi - can [PERSON_1] have 6 more sessions please, weekly?": a greeting may come first
        i = u.start
        while i < u.end and (doc[i].is_punct or doc[i].is_space or doc[i].lower_ in _GREETINGS):
            i += 1
        return u.start in starts or i in starts

    return [replace(u, question=False) if u.question and opens(u) else u for u in units]


_GREETINGS = frozenset({"hi", "hello", "hey", "morning", "afternoon", "ok", "okay"})


def _unit_index(units: list[_Unit], token_i: int) -> int | None:
    lo, hi = 0, len(units) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        u = units[mid]
        if token_i < u.start:
            hi = mid - 1
        elif token_i >= u.end:
            lo = mid + 1
        else:
            return mid
    return None


# --- checks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    unit: int
    token: int  # start token, for document order
    rule: str


class _Scope:
    """Negation cues of one section over one doc."""

    def __init__(
        self,
        doc: Doc,
        compiled: _Compiled,
        section: SectionRule,
        boundaries: set[str],
        closings: tuple[str, ...],
    ) -> None:
        self.doc = doc
        self.closings = closings
        self.section = section
        self.boundaries = boundaries
        excepted: set[int] = set()
        for _, s, e in compiled.exceptions[section.id](doc):
            excepted.update(range(s, e))
        self.cue_tokens: set[int] = set()
        for _, s, e in compiled.cues[section.id](doc):
            if not excepted.intersection(range(s, e)):
                self.cue_tokens.update(range(s, e))
        self.excepted = excepted

    def negated(self, start: int, end: int, unit: _Unit) -> bool:
        negated = self._cue_near(start, end, unit)
        if self._reversed(end, unit):
            return not negated
        return negated

    def _reversed(self, end: int, unit: _Unit) -> bool:
        neg = self.section.negation
        reversers = {r.lower() for r in neg.reversers}
        seen = 0
        for tok in self.doc[end : unit.end]:
            if tok.is_space:
                continue
            seen += 1
            if seen > neg.window_after or tok.lower_ in self.boundaries:
                break
            if tok.lower_ in reversers:
                return True
        return False

    def _cue_near(self, start: int, end: int, unit: _Unit) -> bool:
        neg = self.section.negation
        if self.cue_tokens.intersection(range(start, end)):
            return True
        # a dependency-marked negation of the matched words ("would not, at this stage, recommend")
        for tok in self.doc[start:end]:
            if any(c.dep_ == "neg" and c.i not in self.excepted for c in tok.children):
                return True
        before = range(start - 1, unit.start - 1, -1)
        after = range(end, unit.end)
        return self._cue_within(before, neg.window_before) or self._cue_within(after, neg.window_after)

    def _cue_within(self, positions: range, window: int) -> bool:
        """A negation cue among the first ``window`` words at ``positions``, stopping at a clause boundary."""
        seen = 0
        for i in positions:
            if seen >= window:
                break
            tok = self.doc[i]
            if tok.lower_ in self.boundaries:
                break
            if not tok.is_space:
                seen += 1
                if i in self.cue_tokens:
                    return True
        return False

    def content_negated(self, unit: _Unit, from_token: int) -> bool:
        """Heading content: negated when it is empty or a cue is in it."""
        tokens = [t for t in self.doc[from_token : unit.end] if not (t.is_space or t.is_punct)]
        if not tokens:
            return True
        words = " ".join(t.lower_ for t in tokens)
        if any(words == c or words.startswith(c + " ") for c in self.closings):
            return True
        return bool(self.cue_tokens.intersection(range(from_token, unit.end)))


# the writer, or the reader being asked ("I would be grateful if you could approve...")
_FIRST_PERSON = {"i", "we", "me", "us", "you", "plumm"}


# dependencies to climb from a word of the match to the verb whose subject decides who speaks
# ("I'd be keen to offer": keen -acomp-> be, which has "I")
_UP_TO_CLAUSE = frozenset(
    {
        "xcomp",
        "advcl",
        "conj",
        "ccomp",
        "pcomp",
        "prep",
        "aux",
        "acomp",
        "attr",
        "oprd",
        "pobj",
        "dobj",
        "acl",
        "relcl",
    }
)


def _subjects(tok: Token) -> tuple[str, list[Token]]:
    """The subject of the clause ``tok`` is in, walking up from a word of the match.

    Returns ("active", subjects), ("passive", subjects) or ("none", []) for an imperative or a
    fragment. Subjects are in the parser's child order.
    """
    for _ in range(8):
        active = [c for c in tok.children if c.dep_ in ("nsubj", "csubj", "expl")]
        passive = [c for c in tok.children if c.dep_ == "nsubjpass"]
        first = next((c for c in tok.children if c.dep_ in ("nsubj", "csubj", "expl", "nsubjpass")), None)
        if first is not None:
            return ("passive", passive) if first.dep_ == "nsubjpass" else ("active", active)
        if tok.dep_ in _UP_TO_CLAUSE and tok.head is not tok:
            tok = tok.head
            continue
        break
    return ("none", [])


def _writer_is_subject(tok: Token) -> bool:
    """True when the verb's subject is the writer (I / we), the reader, or none (imperative, fragment)."""
    kind, subjects = _subjects(tok)
    if kind != "active":
        return True
    return subjects[0].lower_ in _FIRST_PERSON or subjects[0].lower_ in ("it", "this")


def _named_before(subject: Token) -> list[Token]:
    """The role a redacted name is introduced by: "[their] psychiatrist, [PERSON_2], recommends"."""
    # a redacted name, which may be the writer's own ("[PERSON_2] recommends six additional sessions")
    if placeholder_type(f"[{subject.text}]") != "PERSON":
        return []
    doc, i = subject.doc, subject.i - 1
    if i >= 0 and doc[i].text == "[":
        i -= 1
    if i >= 0 and doc[i].lower_.rstrip(".") in ("dr", "prof", "professor", "mr", "mrs", "ms", "mx"):
        i -= 1
    if i >= 1 and doc[i].text == ",":
        return [doc[i - 1]]
    return []


def _third_party_is_subject(tok: Token, third_parties: set[str]) -> bool:
    """True when an active subject of the clause is someone else ("[their] GP", "the line manager",
    "Dr [PERSON_2], [their] consultant, recommends", "[PERSON_2] recommends")."""
    kind, subjects = _subjects(tok)
    if kind != "active":
        return False
    for subject in subjects:
        for who in (subject, *(c for c in subject.children if c.dep_ == "appos"), *_named_before(subject)):
            compound = [c.lower_ for c in who.children if c.dep_ in ("compound", "amod")]
            names = {who.lower_, who.lemma_.lower(), " ".join([*compound, who.lower_])}
            if names & third_parties:
                return True
    return False


def _past_grant(tok: Token) -> bool:
    """ "Plumm approved 6 additional sessions in [DATE_1]": a grant already made, not a request."""
    return tok.tag_ == "VBD" and tok.lemma_.lower() in _GRANT_VERBS


_GRANT_VERBS = frozenset(
    {"approve", "authorise", "authorize", "grant", "fund", "allocate", "sanction", "give", "provide", "offer"}
    | {"arrange"}
)


_HEADING_TAIL = re.compile(r"^[\s*_]*(?:[:\-–—]|$)")


def _heading_hits(
    doc: Doc, units: list[_Unit], compiled: _Compiled, text: str
) -> tuple[dict[str, list[tuple[int, int]]], set[int]]:
    """Per section: (unit index, token index where the heading's content starts); heading tokens.

    A heading is a phrase at the start of a line (after an optional bullet, number or markup)
    followed by ":" / "-" or the end of the line; its content is what follows, on the same
    line or the next. A heading directly followed by another heading has no content.
    """
    raw: list[tuple[str, int, int]] = []
    for match_id, s, e in sorted(compiled.headings(doc), key=lambda m: (m[1], -m[2])):
        span: Span = doc[s:e]
        line_start = text.rfind("\n", 0, span.start_char) + 1
        before = text[line_start : span.start_char]
        if _BULLET.sub("", before, count=1).strip(" \t*_#>") and before.strip(" \t*_#>"):
            continue
        line_end = text.find("\n", span.end_char)
        line_end = len(text) if line_end < 0 else line_end
        if not _HEADING_TAIL.match(text[span.end_char : line_end]):
            continue
        if raw and raw[-1][1] <= s < raw[-1][2]:
            continue  # a shorter heading inside a longer one ("needs" in "therapy needs")
        raw.append((doc.vocab.strings[match_id], s, e))
    heading_starts = {s for _, s, _ in raw}
    found: dict[str, list[tuple[int, int]]] = {}
    for label, _s, e in raw:
        first = next((t for t in doc[e:] if not (t.is_space or t.is_punct) or t.text == "["), None)
        if first is None or first.i in heading_starts:
            continue
        ui = _unit_index(units, first.i)
        if ui is None:
            continue
        found.setdefault(label, []).append((ui, first.i))
    heading_tokens = {i for _, s, e in raw for i in range(s, e)}
    return found, heading_tokens


def _assess_section(
    section: SectionRule,
    doc: Doc,
    units: list[_Unit],
    pattern_matches: list[tuple[str, str, int, int]],
    headings: dict[str, list[tuple[int, int]]],
    compiled: _Compiled,
    boundaries: set[str],
    closings: tuple[str, ...],
) -> tuple[SectionVerdict, set[int], dict[int, int]]:
    scope = _Scope(doc, compiled, section, boundaries, closings)
    rules_by_id = {p.id: p for p in section.patterns}
    third_parties = {t.lower() for t in section.third_parties}
    hits: list[_Hit] = []
    for section_id, rule_id, s, e in pattern_matches:
        if section_id != section.id:
            continue
        ui = _unit_index(units, s)
        if ui is None or units[ui].question:
            continue
        rule = rules_by_id[rule_id]
        if rule.negatable and scope.negated(s, e, units[ui]):
            continue
        if rule.first_person and (not _writer_is_subject(doc[s]) or _past_grant(doc[s])):
            continue
        if third_parties and _third_party_is_subject(doc[s], third_parties):
            continue
        hits.append(_Hit(ui, s, rule_id))
    for ui, content_start in headings.get(section.id, []):
        unit = units[ui]
        if unit.question:
            continue
        if scope.content_negated(unit, max(content_start, unit.start)):
            continue
        hits.append(_Hit(ui, content_start, "heading"))
    # where the request is stated: the hit sentences, and the line after a heading's first one
    # ("Recommendation:" / "* 6 more sessions" / "* weekly")
    hit_units = {h.unit for h in hits} | {h.unit + 1 for h in hits if h.rule == "heading"}
    first_hit: dict[int, int] = {}  # unit -> token of its first hit
    for h in hits:
        first_hit[h.unit] = min(h.token, first_hit.get(h.unit, h.token))
    if not hits:
        return SectionVerdict(id=section.id, title=section.title, present=False), hit_units, first_hit
    first = min(hits, key=lambda h: (h.token, h.rule))
    return (
        SectionVerdict(
            id=section.id, title=section.title, present=True, evidence=units[first.unit].text, rule=first.rule
        ),
        hit_units,
        first_hit,
    )


_TIMES = re.compile(r"^(?:\+|x)?(\d{1,2})x?$")  # "6x weekly sessions", "Plan: +6 sessions", "extension x6"


def _is_number(tok: Token) -> bool:
    return bool(tok.like_num or _TIMES.match(tok.lower_))


def _number(tok: Token, numbers: dict[str, int], maximum: int) -> int | None:
    word = tok.lower_
    times = _TIMES.match(word)
    if times:
        word = times.group(1)
    value = int(word) if word.isdigit() else numbers.get(word)
    if value is None or not 1 <= value <= maximum:
        return None
    return value


def _sessions(
    doc: Doc,
    units: list[_Unit],
    rules: SectionRules,
    compiled: _Compiled,
    preferred: set[int],
    first_hit: dict[int, int],
) -> tuple[int | None, set[int]]:
    # (rank, before the recommendation, token, value, unit): in "[they] has used 8 of [their] 8 sessions;
    # I recommend 6 more" the number after the recommendation wins
    candidates: list[tuple[int, int, int, int, int]] = []
    numbers = {k.lower(): v for k, v in rules.sessions.numbers.items()}
    for match_id, s, e in compiled.sessions(doc):
        label = doc.vocab.strings[match_id].split(_SEP)[0]
        ui = _unit_index(units, s)
        if ui is None:
            continue
        num = next((t for t in doc[s:e] if _is_number(t)), None)
        value = _number(num, numbers, rules.sessions.max) if num is not None else None
        if value is None:
            continue
        in_rec = ui in preferred
        if label == "bare" and not in_rec:
            continue
        rank = (0 if in_rec else 2) + (0 if label == "sessions" else 1)
        before = 1 if in_rec and s < first_hit.get(ui, s) else 0
        candidates.append((rank, before, s, value, ui))
    if not candidates:
        return None, set()
    best = min(candidates)
    return best[3], {best[4]}


def _period(
    doc: Doc,
    units: list[_Unit],
    rules: SectionRules,
    compiled: _Compiled,
    preferred: set[int],
    near: set[int],
) -> str | None:
    not_before = {w.lower() for w in rules.period.not_before}
    durations: dict[int, int] = {}
    for _, s, e in compiled.duration(doc):
        durations[s] = max(e, durations.get(s, e))  # the longest duration at a start
    gap = rules.period.duration.gap if rules.period.duration is not None else 0
    candidates: list[tuple[int, int, str]] = []  # (rank, token, phrase)
    covered: set[int] = set()  # duration starts used by a frequency
    for _, s, e in compiled.period(doc):
        ui = _unit_index(units, s)
        if ui is None or units[ui].question:
            continue
        nxt = next((t for t in doc[e : units[ui].end] if not t.is_space), None)
        if nxt is not None and (nxt.lemma_.lower() in not_before or nxt.lower_ in not_before):
            continue
        if ui not in near and ui not in preferred:
            continue  # "the end of [their] monthly sessions" in a question is not a requested period
        phrase = " ".join(doc[s:e].text.lower().split())
        # "weekly for two months", "weekly, for two months", "weekly sessions for the next two months":
        # keep a duration that follows within the same clause
        for d in range(e, min(e + gap + 1, units[ui].end)):
            if d in durations:
                covered.add(d)
                phrase = f"{phrase} {' '.join(doc[d : durations[d]].text.lower().split())}"
                break
            if doc[d].is_punct and doc[d].text != ",":
                break
        rank = 0 if ui in near else 1
        candidates.append((rank, s, phrase))
    if not candidates:
        # no frequency: a duration alone in the request ("12 sessions over 3 months")
        for s, e in sorted(durations.items()):
            ui = _unit_index(units, s)
            if s in covered or ui is None or units[ui].question or (ui not in near and ui not in preferred):
                continue
            candidates.append((2 + (0 if ui in near else 1), s, " ".join(doc[s:e].text.lower().split())))
    if not candidates:
        return None
    # among matches at one position prefer the longest ("twice weekly" over "weekly")
    best_rank = min(c[0] for c in candidates)
    first = min(c[1] for c in candidates if c[0] == best_rank)
    at_first = [c for c in candidates if c[0] == best_rank and c[1] <= first + 1]
    overlapping = sorted(at_first, key=lambda c: (c[1], -len(c[2])))
    return overlapping[0][2]


def assess_sections(text: str, *, rules: SectionRules) -> SectionReport:
    """Assess the redacted letter ``text`` against ``rules``; deterministic, one spaCy parse."""
    compiled = rules.compiled()
    nlp = get_nlp()
    doc = nlp(text)
    units = _polite_requests_are_statements(doc, _units(doc, _layout_boundaries(text)), compiled)
    headings, heading_tokens = _heading_hits(doc, units, compiled, text)
    boundaries = {b.lower() for b in rules.clause_boundaries}
    closings = tuple(" ".join(c.lower().split()) for c in rules.closings)
    pattern_matches: list[tuple[str, str, int, int]] = []
    for match_id, s, e in compiled.patterns(doc):
        if s in heading_tokens:
            continue  # "Clinical rationale: n/a" - the heading's own words are not content
        if any(t.text in _TERMINAL for t in doc[s : e - 1]):
            continue  # a gap in a pattern never spans two sentences ("I asked. More sessions...")
        section_id, rule_id = doc.vocab.strings[match_id].split(_SEP, 1)
        pattern_matches.append((section_id, rule_id, s, e))
    pattern_matches.sort(key=lambda m: (m[2], m[3], m[0], m[1]))
    verdicts = []
    rec_units: set[int] = set()
    rec_first: dict[int, int] = {}
    for section in rules.sections:
        verdict, hit_units, first_hit = _assess_section(
            section, doc, units, pattern_matches, headings, compiled, boundaries, closings
        )
        verdicts.append(verdict)
        if section.id == "recommendation":
            rec_units, rec_first = hit_units, first_hit
    sessions, session_units = _sessions(doc, units, rules, compiled, rec_units, rec_first)
    period = _period(doc, units, rules, compiled, rec_units, session_units)
    return SectionReport(verdicts=tuple(verdicts), sessions_requested=sessions, period=period)
