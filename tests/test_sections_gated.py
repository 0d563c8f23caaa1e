"""The word-gated Matcher of the section rules finds exactly what spaCy's Matcher finds."""

from __future__ import annotations

import pytest
from spacy.matcher import Matcher
from spacy.tokens import Token

from pipeline.rules import DEFAULT_RULES_DIR
from pipeline.stages.sections import load_section_rules
from pipeline.stages.sections.gated import WordGatedMatcher, gate_of

Token.set_extension("test_gated_digit", getter=lambda t: t.text.isdigit(), force=True)

PATTERNS = {
    # two patterns of one label that find the same span: one match, as the Matcher keeps it
    "ask": [
        [{"LEMMA": {"IN": ["recommend", "request"]}}, {"OP": "*"}, {"LOWER": "sessions"}],
        [{"LEMMA": "recommend"}, {"OP": "*"}, {"LOWER": {"IN": ["sessions", "appointments"]}}],
    ],
    "optional": [[{"LOWER": "further", "OP": "?"}, {"LOWER": "six"}, {"LOWER": "sessions", "OP": "+"}]],
    "negated": [[{"LOWER": "not", "OP": "!"}, {"LOWER": "ready"}]],
    "ungated": [[{"IS_PUNCT": True}, {"IS_SPACE": True, "OP": "*"}, {"IS_TITLE": True}]],
    "custom": [[{"_": {"test_gated_digit": True}}, {"LOWER": "more"}]],
    "absent": [[{"LOWER": "zebra"}, {"LOWER": "crossing"}]],
}

TEXTS = [
    "I recommend a further six sessions sessions for [CLIENT]. Not ready. Ready now.\n\nThanks, 6 more",
    "We request 8 appointments; I recommend appointments too. [they] is not ready to end.",
    "Nothing here about a zebra.",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_same_matches_as_spacy(nlp, text: str) -> None:
    gated, plain = WordGatedMatcher(nlp.vocab), Matcher(nlp.vocab)
    for label, patterns in PATTERNS.items():
        for pattern in patterns:
            gated.add(label, [pattern])
            plain.add(label, [pattern])
    doc = nlp(text)
    assert gated(doc) == sorted(set(plain(doc)))


def test_gate_needs_only_the_tokens_a_pattern_cannot_do_without() -> None:
    optional = gate_of(PATTERNS["optional"][0])
    assert len(optional) == 2  # "six" and "sessions" (+), not the optional "further"
    assert gate_of(PATTERNS["negated"][0]) == gate_of([{"LOWER": "ready"}])
    assert gate_of(PATTERNS["ungated"][0]) == ()


def test_the_section_rules_match_as_before(nlp) -> None:
    compiled = load_section_rules(DEFAULT_RULES_DIR).compiled()
    doc = nlp(TEXTS[0] + " " + TEXTS[1])
    for matcher in (compiled.patterns, compiled.sessions, compiled.period, compiled.polite, compiled.clause_cues):
        assert matcher(doc) == sorted(set(matcher._all(doc)))
