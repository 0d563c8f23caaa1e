"""Professional registration numbers (HCPC, BACP, NMC...) by the register named before them."""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.rules import RegistrationRules
from pipeline.stages.redaction.vocabulary import word_alternation


class RegistrationNumberRecognizer(EntityRecognizer):
    """Professional registration numbers (HCPC PYL01234, BACP, UKCP, NMC PIN, GMC) near their context."""

    # Shapes that are registration numbers on their own.
    STANDALONE = (
        r"(?<![\w])(?:PYL|CS|AS|OT|PH|SL|DT|AR|PA|CH|RA|ODP|PA|BS)[ \t]?\d{5,6}(?!\w)",
        r"(?<![\w])\d{2}[A-Z]\d{4}[A-Z](?!\w)",  # NMC PIN
    )
    # A dot groups thousands in much of the world ("M.N. 54.321").
    VALUE = r"(?:[A-Z]{1,4}-?)?\d[\dA-Z\-/]{3,14}(?<![\-/])|\d{1,3}(?:\.\d{3}){1,3}(?![\d.]\d)"

    def __init__(self, rules: RegistrationRules) -> None:
        self._rules = rules
        words = word_alternation(rules.bodies + rules.context)
        self._context = re.compile(rf"(?<![\w]){words}(?![\w])", re.IGNORECASE)
        self._value = re.compile(rf"(?<![\w]){self.VALUE}(?![\w])")
        self._standalone = [re.compile(p) for p in self.STANDALONE]
        super().__init__(supported_entities=["REGISTRATION"], name="RegistrationNumberRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        out: list[RecognizerResult] = []
        for rx in self._standalone:
            out.extend(result("REGISTRATION", m.start(), m.end(), self._rules.score) for m in rx.finditer(text))
        for c in self._context.finditer(text):
            window = text[c.end() : c.end() + self._rules.window]
            window = window.split("\n", 1)[0]
            for m in self._value.finditer(window):
                value = m.group(0)
                digits = sum(ch.isdigit() for ch in value)
                has_letters = any(ch.isalpha() for ch in value)
                if digits >= 5 or (has_letters and digits >= 4):
                    if re.fullmatch(r"(?:19|20)\d{2}", value):
                        continue
                    start = c.end() + m.start()
                    out.append(result("REGISTRATION", start, start + len(value), self._rules.score))
                    break
        return out
