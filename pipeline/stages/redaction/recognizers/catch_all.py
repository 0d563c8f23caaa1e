"""The fail-closed catch-all, Philter-style: a digit run nothing else explains is an identifier.

Any run with 4+ digits, or a letter-digit mix ("U-558213", "7KX2P", "ZKM3911"), that is not a date,
score, measure, count, money or allow-listed clinical term (see :mod:`.digits`) becomes ``ID`` at a
low score, so that a more specific recognizer (phone, postcode, NHS number, registration...) claiming
the same span names its type. It keeps a number because it is known to be clinical, not because no
pattern matched it.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.recognizers.digits import DigitShapes


class DigitRunRecognizer(EntityRecognizer):
    """Digit runs and letter-digit codes that no clinical shape explains."""

    def __init__(self, shapes: DigitShapes) -> None:
        self._shapes = shapes
        self._entity = shapes.rules.entity
        self._score = shapes.rules.score
        super().__init__(supported_entities=[self._entity], name="DigitRunRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        shapes = self._shapes
        return [
            result(self._entity, run.start, run.end, self._score, catch_all="1")
            for run in shapes.runs(text)
            if shapes.suspect(run.text) and not shapes.exempt(text, run.start, run.end)
        ]
