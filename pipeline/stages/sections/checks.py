"""One section, checked: headings with content after them, and phrase patterns that are not negated,
not asked as a question and not said by a third party."""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

from pipeline.models import SectionVerdict
from pipeline.patterns import placeholder_type
from pipeline.stages.sections.clauses import subjects
from pipeline.stages.sections.rules import Compiled, SectionRule
from pipeline.stages.sections.sentences import BULLET, Unit, unit_index


@dataclass(frozen=True)
class Hit:
    unit: int
    token: int  # start token, for document order
    rule: str


class _Scope:
    """Negation cues of one section over one doc."""

    def __init__(
        self,
        doc: Doc,
        compiled: Compiled,
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

    def negated(self, start: int, end: int, unit: Unit) -> bool:
        negated = self._cue_near(start, end, unit)
        if self._reversed(end, unit):
            return not negated
        return negated

    def _reversed(self, end: int, unit: Unit) -> bool:
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

    def _cue_near(self, start: int, end: int, unit: Unit) -> bool:
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

    def content_negated(self, unit: Unit, from_token: int) -> bool:
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


def _writer_is_subject(tok: Token) -> bool:
    """True when the verb's subject is the writer (I / we), the reader, or none (imperative, fragment)."""
    kind, found = subjects(tok)
    if kind != "active":
        return True
    return found[0].lower_ in _FIRST_PERSON or found[0].lower_ in ("it", "this")


def _named_before(subject: Token, titles: frozenset[str]) -> list[Token]:
    """The role a redacted name is introduced by: "[their] psychiatrist, [PERSON_2], recommends"."""
    # a redacted name, which may be the writer's own ("[PERSON_2] recommends six additional sessions")
    if placeholder_type(f"[{subject.text}]") != "PERSON":
        return []
    doc, i = subject.doc, subject.i - 1
    if i >= 0 and doc[i].text == "[":
        i -= 1
    if i >= 0 and doc[i].lower_.rstrip(".") in titles:
        i -= 1
    if i >= 1 and doc[i].text == ",":
        return [doc[i - 1]]
    return []


def _third_party_is_subject(tok: Token, third_parties: set[str], titles: frozenset[str]) -> bool:
    """True when an active subject of the clause is someone else ("[their] GP", "the line manager",
    "Dr [PERSON_2], [their] consultant, recommends", "[PERSON_2] recommends")."""
    kind, found = subjects(tok)
    if kind != "active":
        return False
    for subject in found:
        for who in (subject, *(c for c in subject.children if c.dep_ == "appos"), *_named_before(subject, titles)):
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


def _answers_form_row(tail: str, answers: frozenset[str]) -> bool:
    """The rest of a heading's line is only a form's answer, after a space: a table row flattened into
    one line ("Extension requested Yes"), read as "Extension requested: Yes"."""
    return tail[:1].isspace() and tail.strip(" \t*_.").casefold() in answers


# the writer's own heading: "My recommendations", "Our proposal"
_HEADING_OWNERS = frozenset({"my", "our"})
_LABEL_WORDS = 4  # the other language's label before a slash: "Frekvence / Frequency"


def _opens_line(before: str) -> bool:
    """What stands before a heading on its line leaves it a heading: nothing but a bullet, number or
    markup; the writer's possessive ("My recommendations"); or the same label in another language and
    a slash, as bilingual forms print them ("Prodloužení požadováno / Extension requested")."""
    rest = BULLET.sub("", before, count=1).strip(" \t*_#>")
    if not rest or not before.strip(" \t*_#>"):
        return True
    if rest.casefold() in _HEADING_OWNERS:
        return True
    label = rest.removesuffix("/").strip()
    return rest.endswith("/") and 0 < len(label.split()) <= _LABEL_WORDS and not any(c in label for c in ".!?:;,/")


def heading_hits(
    doc: Doc, units: list[Unit], compiled: Compiled, text: str
) -> tuple[dict[str, list[tuple[int, int]]], set[int]]:
    """Per section: (unit index, token index where the heading's content starts); heading tokens.

    A heading is a phrase at the start of a line (after an optional bullet, number or markup)
    followed by ":" / "-", the end of the line or only a form's answer ("Extension requested Yes"); its
    content is what follows, on the same line or the next. A heading directly followed by another
    heading has no content.
    """
    raw: list[tuple[str, int, int]] = []
    for match_id, s, e in sorted(compiled.headings(doc), key=lambda m: (m[1], -m[2])):
        span: Span = doc[s:e]
        line_start = text.rfind("\n", 0, span.start_char) + 1
        if not _opens_line(text[line_start : span.start_char]):
            continue
        line_end = text.find("\n", span.end_char)
        line_end = len(text) if line_end < 0 else line_end
        tail = text[span.end_char : line_end]
        if not (_HEADING_TAIL.match(tail) or _answers_form_row(tail, compiled.form_answers)):
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
        ui = unit_index(units, first.i)
        if ui is None:
            continue
        found.setdefault(label, []).append((ui, first.i))
    heading_tokens = {i for _, s, e in raw for i in range(s, e)}
    return found, heading_tokens


def section_hits(
    section: SectionRule,
    doc: Doc,
    units: list[Unit],
    pattern_matches: list[tuple[str, str, int, int]],
    headings: dict[str, list[tuple[int, int]]],
    compiled: Compiled,
    boundaries: set[str],
    closings: tuple[str, ...],
) -> list[Hit]:
    """Every qualifying hit of ``section``'s headings and phrase rules, in no particular order."""
    scope = _Scope(doc, compiled, section, boundaries, closings)
    rules_by_id = {p.id: p for p in section.patterns}
    third_parties = {t.lower() for t in section.third_parties}
    hits: list[Hit] = []
    for section_id, rule_id, s, e in pattern_matches:
        if section_id != section.id:
            continue
        ui = unit_index(units, s)
        if ui is None or units[ui].question:
            continue
        rule = rules_by_id[rule_id]
        if rule.negatable and scope.negated(s, e, units[ui]):
            continue
        if rule.first_person and (not _writer_is_subject(doc[s]) or _past_grant(doc[s])):
            continue
        if third_parties and _third_party_is_subject(doc[s], third_parties, compiled.name_titles):
            continue
        hits.append(Hit(ui, s, rule_id))
    for ui, content_start in headings.get(section.id, []):
        unit = units[ui]
        if unit.question:
            continue
        if scope.content_negated(unit, max(content_start, unit.start)):
            continue
        hits.append(Hit(ui, content_start, "heading"))
    return hits


def verdict_of(
    section: SectionRule, units: list[Unit], hits: list[Hit]
) -> tuple[SectionVerdict, set[int], dict[int, int]]:
    """The rules' verdict from ``hits``: the first hit in document order is the evidence."""
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
