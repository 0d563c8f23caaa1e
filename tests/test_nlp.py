"""The model's attribute ruler, matched through an index, gives exactly what spaCy's Matcher gives."""

from __future__ import annotations

import pytest
from spacy.pipeline import AttributeRuler

from pipeline.nlp import IndexedRulerMatch

# Invented text touching every kind of rule: one-token tag rules, lower-case exceptions, NOT_IN
# conditions (auxiliaries, determiners, spaces), and the patterns of several tokens ("gon na",
# "got ta", "let 's", "c'm on", "y' all", "ai n't", an expletive "there is"), with odd spacing.
TEXTS = [
    "Dear Ms Quill,\n\nI ain't gonna pretend: Robin Vantablack (born 01/02/1990) has gotta keep going. "
    "Let's say y'all c'mon. There is progress; there were setbacks. It's nothin' much.\n\n"
    "  \t\nThe client, who was referred, has been attending weekly. Which sessions? That one.",
    "SESSIONS REQUESTED: 6 (six) further sessions of CBT, fortnightly.\n- item one\n- item two  \n",
    "",
    " ",
    "Gon na got ta ai n't",
]


@pytest.mark.parametrize("text", TEXTS)
def test_indexed_ruler_matches_as_spacy_does(nlp, text: str) -> None:
    ruler = nlp.get_pipe("attribute_ruler")
    assert isinstance(ruler.match, IndexedRulerMatch)  # installed by get_nlp
    with nlp.select_pipes(disable=["attribute_ruler", "lemmatizer", "ner"]):
        doc = nlp(text)
    assert ruler.match(doc) == AttributeRuler.match(ruler, doc)


def test_indexed_ruler_leaves_no_rule_to_the_whole_doc_matcher(nlp) -> None:
    """Every rule of several tokens can only begin at a known word: the Matcher reads windows only."""
    match = nlp.get_pipe("attribute_ruler").match
    assert not match._whole_doc


def test_tokens_annotated_the_same(nlp) -> None:
    """POS, morphology and lemmas of a whole parse are those of the stock ruler."""
    ruler = nlp.get_pipe("attribute_ruler")
    text = " ".join(TEXTS)
    fast = nlp(text)
    with nlp.select_pipes(disable=["attribute_ruler", "lemmatizer", "ner"]):
        doc = nlp(text)
    ruler.set_annotations(doc, AttributeRuler.match(ruler, doc))
    doc = nlp.get_pipe("lemmatizer")(doc)
    got = [(t.pos_, t.tag_, str(t.morph), t.lemma_, t.dep_) for t in fast]
    assert got == [(t.pos_, t.tag_, str(t.morph), t.lemma_, t.dep_) for t in doc]
