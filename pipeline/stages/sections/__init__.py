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

from spacy.tokens import Doc

from pipeline.models import SectionReport
from pipeline.nlp import get_nlp
from pipeline.stages.sections.checks import assess_section, heading_hits
from pipeline.stages.sections.requests import period_requested, sessions_requested
from pipeline.stages.sections.rules import RULES_FILE, SEP, SectionRules, load_section_rules
from pipeline.stages.sections.sentences import (
    TERMINAL,
    layout_boundaries,
    polite_requests_are_statements,
    sentence_units,
)

__all__ = ["PARSE_WITHOUT", "RULES_FILE", "SectionRules", "assess_sections", "load_section_rules"]


# No named entities: the text is already redacted and no check reads them; the recogniser is half of
# the model's time, and the tagger, parser and lemmas it leaves do not depend on it.
PARSE_WITHOUT = ("ner",)


def assess_sections(text: str, *, rules: SectionRules, doc: Doc | None = None) -> SectionReport:
    """Assess the redacted letter ``text`` against ``rules``; deterministic, one spaCy parse.

    ``doc`` is ``text`` parsed ahead without ``PARSE_WITHOUT`` (the worker parses several letters at
    once with ``nlp.pipe``); without it the text is parsed here."""
    compiled = rules.compiled()
    if doc is None:
        doc = get_nlp()(text, disable=list(PARSE_WITHOUT))
    units = polite_requests_are_statements(doc, sentence_units(doc, layout_boundaries(text)), compiled)
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
    verdicts = []
    rec_units: set[int] = set()
    rec_first: dict[int, int] = {}
    for section in rules.sections:
        verdict, hit_units, first_hit = assess_section(
            section, doc, units, pattern_matches, headings, compiled, boundaries, closings
        )
        verdicts.append(verdict)
        if section.id == "recommendation":
            rec_units, rec_first = hit_units, first_hit
    sessions, session_units = sessions_requested(doc, units, rules, compiled, rec_units, rec_first)
    period = period_requested(doc, units, rules, compiled, rec_units, session_units)
    return SectionReport(verdicts=tuple(verdicts), sessions_requested=sessions, period=period)
