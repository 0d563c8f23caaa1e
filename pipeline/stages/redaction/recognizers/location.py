"""Places (towns, regions) that locate the client."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import DocRecognizer, doc_of, result
from pipeline.stages.redaction.rules import LocationRules
from pipeline.stages.redaction.vocabulary import Vocabulary

ROLE_NOUN = re.compile(
    r"(?:ist|er|or|ian|ant|ent|ee|man|woman|person|nurse|midwife|surgeon|chef|pilot|vicar|priest|judge|"
    r"clerk|guard|lead|chair|head|officer|technician|medic|porter|tutor)s?$",
    re.IGNORECASE,
)


class LocationRecognizer(DocRecognizer):
    """Places (spaCy GPE/LOC/FAC), which narrow down where the client lives or works."""

    def __init__(self, rules: LocationRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._labels = set(rules.labels)
        super().__init__(["LOCATION"], "LocationRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = doc_of(nlp_artifacts)
        if doc is None:
            return []
        out = []
        for ent in doc.ents:
            if ent.label_ not in self._labels:
                continue
            toks = [t for t in ent if self.name_like(t)]
            if not toks:
                continue
            start, end = toks[0].idx, toks[-1].idx + len(toks[-1].text)
            if self._vocab.is_allowed_span(text[start:end]):
                continue
            out.append(result("LOCATION", start, end, self._rules.score))
        return out


# --------------------------------------------------------------------------------------------------
# Pronouns and titles (neutralised, not vaulted)
# --------------------------------------------------------------------------------------------------
