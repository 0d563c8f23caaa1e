"""Relatives named in a letter ("[their] partner Sam"), replaced by role where the role is known."""

from __future__ import annotations

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import DocRecognizer, doc_of, result
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
            while j < len(doc) and doc[j].text in (",", "(", "-", "\u2013", ":") and j - tok.i <= 2:
                j += 1
            span = self.run_from(doc, j, limit=3) if j < len(doc) else None
            if span:
                a, b = span
                out.append(result("PERSON", doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text), self._rules.score))
        return out
