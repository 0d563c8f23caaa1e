"""Relatives named in a letter ("[their] partner Sam"), replaced by role where the role is known."""

from __future__ import annotations

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Token

from pipeline.stages.redaction.recognizers.base import DocRecognizer, doc_of, result, sentence_start
from pipeline.stages.redaction.rules import RelativeRules
from pipeline.stages.redaction.vocabulary import Vocabulary


class RelativeRecognizer(DocRecognizer):
    """Relatives' and others' names after a relation word: "her husband, Tom", "his sister Jane"."""

    def __init__(self, rules: RelativeRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._nouns = {n.casefold() for n in rules.nouns}
        super().__init__(["PERSON"], "RelativeRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = doc_of(nlp_artifacts)
        if doc is None:
            return []
        out = []
        for tok in doc:
            if tok.lower_ not in self._nouns:
                continue
            j = tok.i + 1
            if j < len(doc) and doc[j].text in ("'s", "\u2019s"):
                continue
            while j < len(doc) and (doc[j].text in (",", "(", "-", "\u2013", ":") or _wrap(doc[j])) and j - tok.i <= 2:
                j += 1
            span = self.run_from(doc, j, limit=3) if j < len(doc) else None
            if span:
                a, b = span
                out.append(result("PERSON", doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text), self._rules.score))
            elif j == tok.i + 1 and j < len(doc) and self._capitalised_word(doc[j]):
                # "his brother Per has been staying": a name that is also an ordinary word, told by its
                # capital in mid-sentence right after the relation. Marked, so it is matched where it
                # recurs in capitals ("Per came to one session").
                out.append(result("PERSON", doc[j].idx, doc[j].idx + len(doc[j].text), self._rules.score, trigger="1"))
        return out

    def _capitalised_word(self, tok: Token) -> bool:
        t = tok.text
        if len(t) < 2 or not t.isalpha() or not t[0].isupper() or not t[1:].islower() or sentence_start(tok):
            return False
        low = t.casefold()
        return low not in self._vocab.pronouns and low not in self._vocab.titles and low not in self._vocab.allow_terms


def _wrap(tok: Token) -> bool:
    """A line break inside a paragraph ("her partner\nSam"), not a blank line."""
    return tok.is_space and tok.text.count("\n") == 1
