"""Street addresses (postcodes are formats: see formats.py)."""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.rules import AddressRules
from pipeline.stages.redaction.vocabulary import Vocabulary, word_alternation


class StreetAddressRecognizer(EntityRecognizer):
    """Street addresses: flat/unit, house number, capitalised street name and suffix, then town lines."""

    CAP = r"[A-Z\u00c0-\u00de][\w'\u2019\-]*"

    def __init__(self, rules: AddressRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._vocab = vocab
        cap = self.CAP
        suffix = word_alternation(rules.street_suffixes)
        bare = word_alternation(rules.bare_suffixes)
        unit = word_alternation(rules.unit_words)
        building = word_alternation(rules.building_words)
        town = rf"(?:(?:,[ \t]*|[ \t]*\n[ \t]*){cap}(?:[ \t]+{cap}){{0,2}})"
        self._numbered = re.compile(
            rf"(?<![\w])(?:{unit}[ \t]+\d+[A-Za-z]?,?[ \t]+)?\d{{1,4}}[A-Za-z]?(?:-\d{{1,4}})?,?[ \t]+"
            rf"(?:{cap}[ \t]+){{1,4}}?{suffix}(?![\w]){town}{{0,2}}"
        )
        self._unit = re.compile(rf"(?<![\w]){unit}[ \t]+\d+[A-Za-z]?(?![\w])")
        self._bare = re.compile(rf"(?<![\w])(?:{cap}[ \t]+){{1,3}}{bare}(?![\w])")
        self._building = re.compile(rf"(?<![\w])(?:{cap}[ \t]+){{1,3}}{building}(?![\w])")
        super().__init__(supported_entities=["ADDRESS"], name="StreetAddressRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        score = self._rules.score
        out = [result("ADDRESS", m.start(), m.end(), score) for m in self._numbered.finditer(text)]
        out += [result("ADDRESS", m.start(), m.end(), score) for m in self._unit.finditer(text)]
        for rx in (self._bare, self._building):
            for m in rx.finditer(text):
                words = m.group(0).split()
                # Drop leading ordinary words ("The", "Our", clinical words) from the name part.
                start = m.start()
                while len(words) > 1 and self._vocab.not_a_name(words[0]):
                    start = text.index(words[1], start + len(words[0]))
                    words = words[1:]
                if len(words) > 1:
                    out.append(result("ADDRESS", start, m.end(), score - 0.2))
        return out


# --------------------------------------------------------------------------------------------------
# spaCy-based recognizers: people, relatives, employers and organisations, places
# --------------------------------------------------------------------------------------------------
