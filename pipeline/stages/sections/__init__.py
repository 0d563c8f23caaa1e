"""Sections stage: does the (redacted) letter contain the required sections, and why (or why not)?

Contract: :func:`assess_sections` takes the redacted letter text and the validated rules from
``rules/sections.yaml`` (with the sentence classifier trained at load) and returns a
:class:`~pipeline.models.SectionReport`: per section present/absent, the evidence sentence (from the
redacted text), the rule or witness that found it and the reason in plain words ("recommendation
found: the therapist requests 6 further sessions", "no recommendation: the only request is for
someone other than the client"), plus the number of additional sessions requested, their period
and the therapy asked for, when stated.

How it decides (every check runs, then one decision per section, see ``decide.py``):

* the text is parsed once with the shared spaCy model (:func:`pipeline.nlp.get_nlp`) and cut
  into units: spaCy's sentences after terminal punctuation, plus the layout of a letter (blank
  lines, bullets, headings, short lines such as a greeting); a question that opens as a polite
  request ("Please could you authorise another 8 sessions?") is read as a statement;
* three witnesses per unit: the *phrase rules* (headings with content, spaCy ``Matcher`` patterns
  with negation cues and third parties, ``checks.py``), the *sentence classifier*
  (``classifier.py``) and the *reading* of the clause from its dependency parse: who asks, what
  for, for whom, negated, discharge, past grant, hedge (``clauses.py``);
* a letter that asks for nothing and says why (treatment complete, a past grant, an ask only for
  someone else) has no needs section either: it does not explain why *more* sessions are needed.

The output is deterministic: the first qualifying unit in document order is the evidence, and the
classifier is trained with a fixed solver and seed. Nothing here logs or raises with letter content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from spacy.tokens import Doc

from pipeline.models import LetterMissing, SectionReport, SectionVerdict
from pipeline.nlp import get_nlp
from pipeline.stages.sections.checks import Hit, heading_hits, section_hits
from pipeline.stages.sections.clauses import (
    Reading,
    answers,
    cue_positions,
    other_placeholders,
    read_unit,
    withdrawals,
)
from pipeline.stages.sections.decide import Decision, UnitEvidence, decide_needs, decide_recommendation, reason_text
from pipeline.stages.sections.forms import answered
from pipeline.stages.sections.requests import period_requested, sessions_requested, therapy_requested
from pipeline.stages.sections.rules import RULES_FILE, SEP, SectionRules, load_section_rules
from pipeline.stages.sections.sentences import (
    TERMINAL,
    Unit,
    layout_boundaries,
    polite_requests_are_statements,
    sentence_units,
)

__all__ = [
    "PARSE_WITHOUT",
    "RULES_FILE",
    "SectionRules",
    "Witnesses",
    "assess_sections",
    "load_section_rules",
    "read_letter",
]


# No named entities: the text is already redacted and no check reads them; the recogniser is half of
# the model's time, and the tagger, parser and lemmas it leaves do not depend on it.
PARSE_WITHOUT = ("ner",)


def _rule_hits(doc: Doc, units: list[Unit], rules: SectionRules, text: str) -> dict[str, list[Hit]]:
    """Per section, every hit of its headings and phrase rules."""
    compiled = rules.compiled()
    headings, heading_tokens = heading_hits(doc, units, compiled, text)
    boundaries = {b.lower() for b in rules.clause_boundaries}
    closings = tuple(" ".join(c.lower().split()) for c in rules.closings)
    pattern_matches: list[tuple[str, str, int, int]] = []
    for match_id, s, e in compiled.patterns(doc):
        if s in heading_tokens:
            continue  # "Clinical rationale: n/a" - the heading's own words are not content
        if any(t.text in TERMINAL for t in doc[s : e - 1]):
            continue  # a gap in a pattern never spans two sentences ("I asked. More sessions...")
        section_id, rule_id = doc.vocab.strings[match_id].split(SEP, 1)
        pattern_matches.append((section_id, rule_id, s, e))
    pattern_matches.sort(key=lambda m: (m[2], m[3], m[0], m[1]))
    return {
        section.id: section_hits(section, doc, units, pattern_matches, headings, compiled, boundaries, closings)
        for section in rules.sections
    }


def _evidence(
    units: list[Unit], hits: list[Hit], probabilities: list[float], readings: list[Reading]
) -> list[UnitEvidence]:
    by_unit: dict[int, list[Hit]] = {}
    for h in sorted(hits, key=lambda h: (h.token, h.rule)):
        by_unit.setdefault(h.unit, []).append(h)
    return [
        UnitEvidence(
            unit=i,
            text=unit.text,
            rules=tuple(h.rule for h in by_unit.get(i, [])),
            first_token=by_unit[i][0].token if i in by_unit else None,
            probability=probabilities[i],
            reading=readings[i],
        )
        for i, unit in enumerate(units)
    ]


def _about_sessions(doc: Doc, rules: SectionRules) -> bool:
    """The message names a session, therapy, client or clinical word at all (``letter_words``)."""
    words = {w.lower() for w in rules.letter_words}
    if any(t.lower_ in words or t.lemma_.lower() in words for t in doc):
        return True
    if any(" " in w and w in doc.text.lower() for w in words):
        return True
    compiled = rules.compiled()
    return bool(compiled.therapies(doc) or compiled.therapy_acronyms(doc)) or "[CLIENT" in doc.text


@dataclass(frozen=True)
class Witnesses:
    """What the three witnesses say about every unit of one letter, per section (see ``decide.py``)."""

    doc: Doc
    units: list[Unit]
    readings: list[Reading]
    evidence: dict[str, list[UnitEvidence]]  # section id -> one entry per unit
    others: frozenset[str]


def read_letter(text: str, *, rules: SectionRules, doc: Doc | None = None) -> Witnesses:
    """Parse ``text`` once (unless ``doc`` is it, parsed ahead without ``PARSE_WITHOUT``: the worker
    parses several letters at once with ``nlp.pipe``) and hear every witness on every unit.

    Raises :class:`~pipeline.models.LetterMissing` (``no-letter-found``) for a message that is no
    letter about a client's sessions at all: no witness hears a section in it, and it names no
    session, therapy, client or clinical word."""
    compiled = rules.compiled()
    form = answered(text, compiled.boxes)  # a form's empty tick boxes say nothing
    if doc is None or form != text:
        text = form
        doc = get_nlp()(text, disable=list(PARSE_WITHOUT))
    units = polite_requests_are_statements(doc, sentence_units(doc, layout_boundaries(text)), compiled)
    hits = _rule_hits(doc, units, rules, text)
    scores = rules.sentence_classifier().scores([u.text for u in units])
    cues = cue_positions(doc, compiled)
    others = other_placeholders(doc, rules.clauses)
    read = [read_unit(doc, u, compiled, rules.clauses, cues, others) for u in units]
    readings = withdrawals(doc, units, read, cues, rules.clauses, others)
    readings = answers(doc, units, readings, compiled, {k.lower(): v for k, v in rules.sessions.numbers.items()})
    evidence = {
        section.id: _evidence(units, hits.get(section.id, []), scores[section.id], readings)
        for section in rules.sections
        if section.id in scores
    }
    # a message is a letter when a witness hears an ask or a need in it ("Another 6 please"), or it
    # names a session, therapy, client or clinical word at all
    alone = rules.classifier.recommendation.alone
    heard = any(e.rules for ev in evidence.values() for e in ev) or any(
        e.probability >= alone for e in evidence.get("recommendation", [])
    )
    if rules.letter_words and not heard and not _about_sessions(doc, rules):
        raise LetterMissing("no-letter-found", stage="sections")
    return Witnesses(doc, units, readings, evidence, others)


@dataclass(frozen=True)
class _Ask:
    """The recommendation of one text (a letter or its subject line) and what it asks for."""

    seen: Witnesses
    decision: Decision
    frames: tuple[str, ...]
    sessions: int | None
    period: str | None
    therapy: str | None


def _ask(seen: Witnesses, rules: SectionRules) -> _Ask:
    doc, units, readings, others = seen.doc, seen.units, seen.readings, seen.others
    rec_evidence = seen.evidence["recommendation"]
    recommendation, frames = decide_recommendation(rec_evidence, rules.classifier.recommendation)
    # where the request is stated: the ask's units (and the line after a heading)
    rec_units = set(recommendation.units)
    rec_first = {e.unit: e.first_token for e in rec_evidence if e.unit in rec_units and e.first_token is not None}
    # sentences that read like an ask without counting as one on their own ("Three more.")
    likely = {e.unit for e in rec_evidence if (e.rules or e.probability >= 0.5) and not e.reading.vetoes}
    sessions, count_at = sessions_requested(doc, units, rules, readings, rec_units, rec_first, likely)
    period = period_requested(doc, units, rules, readings, rec_units, count_at, likely, others)
    therapy = therapy_requested(doc, units, rules, rec_units | ({count_at[0]} if count_at else set()))
    if not recommendation.present and recommendation.code != "none":
        # the letter turns its ask down (a closing, a grant already made, a withdrawal, the decision left
        # to us): it requests no count and no period, whatever counts it tells ("thank you for the four
        # extra sessions in March")
        sessions, period = None, None
    return _Ask(seen, recommendation, frames, sessions, period, therapy)


SUBJECT_RULE = "subject"  # the rule of a recommendation read in the subject line


def _subject_ask(subject: str, rules: SectionRules) -> _Ask | None:
    """The ask of a subject line that makes one ("Please approve 4 more sessions", "Recommend 4
    additional sessions (monthly)"), or a title that names the writer's act and a count ("Extension
    request - 6x weekly sessions"); None otherwise."""
    if not subject.strip():
        return None
    try:
        seen = read_letter(subject, rules=rules)
    except LetterMissing:
        return None
    asked = _ask(seen, rules)
    if asked.decision.present:
        return replace(asked, decision=replace(asked.decision, rule=SUBJECT_RULE))
    if asked.sessions is None or asked.decision.code != "none":
        return None
    titled = next((i for i, r in enumerate(seen.readings) if r.firm and not r.vetoes), None)
    if titled is None:
        return None
    found = Decision(True, titled, SUBJECT_RULE, "found", seen.readings[titled], (titled,))
    return replace(asked, decision=found)


def assess_sections(
    text: str, *, rules: SectionRules, doc: Doc | None = None, subject: str | Callable[[], str] = ""
) -> SectionReport:
    """Assess the redacted letter ``text`` against ``rules``; deterministic, one spaCy parse (see
    :func:`read_letter` for ``doc`` and for the message that is no letter at all).

    ``subject`` is the message's redacted subject line: when the letter asks for nothing and turns no
    ask down, an ask made only in the subject is the recommendation ("Please approve 4 more sessions"
    over a body that says "see subject"); it never gives the needs. It may be given as a function,
    called only then (redacting and verifying a subject costs as much as a short letter)."""

    def subject_ask() -> _Ask | None:
        return _subject_ask(subject() if callable(subject) else subject, rules)

    try:
        seen = read_letter(text, rules=rules, doc=doc)
    except LetterMissing:
        in_subject = subject_ask()
        if in_subject is None:
            raise
        return _report(rules, None, Decision(False, None, "", "none"), in_subject)
    asked = _ask(seen, rules)
    needs = decide_needs(seen.evidence["needs"], rules.classifier.needs, asked.frames)
    if not asked.decision.present and asked.decision.code == "none":
        asked = subject_ask() or asked
    return _report(rules, seen, needs, asked)


def _report(rules: SectionRules, seen: Witnesses | None, needs: Decision, asked: _Ask) -> SectionReport:
    sessions, therapy = asked.sessions, asked.therapy
    quoted = {"needs": (needs, seen), "recommendation": (asked.decision, asked.seen)}
    verdicts = []
    for section in rules.sections:
        decision, source = quoted.get(section.id, (Decision(False, None, "", "none"), None))
        verdicts.append(
            SectionVerdict(
                id=section.id,
                title=section.title,
                present=decision.present,
                evidence=source.units[decision.unit].text if source and decision.unit is not None else "",
                rule=decision.rule,
                reason=reason_text(section.id, decision, rules.reasons, sessions=sessions, therapy=therapy),
            )
        )
    return SectionReport(verdicts=tuple(verdicts), sessions_requested=sessions, period=asked.period, therapy=therapy)
