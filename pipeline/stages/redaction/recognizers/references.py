"""Employee IDs and other reference numbers, by the label before them."""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.rules import EmployeeIdRules


class EmployeeIdRecognizer(EntityRecognizer):
    """Employee, staff and payroll numbers after their context words."""

    def __init__(self, rules: EmployeeIdRules, entity: str = "EMPLOYEE_ID") -> None:
        self._rules = rules
        self._entity = entity
        ctx = "|".join(re.escape(c).replace(r"\ ", r"[ \t]*") for c in sorted(rules.context, key=len, reverse=True))
        self._rx = re.compile(
            rf"(?<![\w])(?:{ctx})(?:(?<=[^\w])|(?![\w]))\.?[ \t]*(?:is|was|:|-|=|#)?[ \t]*(?:is[ \t]+)?(?P<v>[A-Z0-9][A-Z0-9\-/]{{2,19}})(?![\w])",  # noqa: E501 (a regex reads best on one line)
            re.IGNORECASE,
        )
        super().__init__(supported_entities=[entity], name=f"{entity.title().replace('_', '')}Recognizer")

    def load(self) -> None:
        pass

    # A UK vehicle registration ("AB12 CDE") is a lookup number wherever it stands; the shape (two
    # letters, two digits, three letters) is not one clinical vocabulary uses.
    PLATE = re.compile(r"(?<![\w\-])[A-Z]{2}[0-9]{2}[ \t]?[A-Z]{3}(?![\w\-])")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        out: list[RecognizerResult] = []
        if self._entity == "EMPLOYEE_ID":
            plates = self.PLATE.finditer(text)
            out.extend(result(self._entity, m.start(), m.end(), self._rules.score) for m in plates)
        for m in self._rx.finditer(text):
            value = m.group("v")
            if self._entity != "EMPLOYEE_ID" and re.fullmatch(r"(?:19|20)\d{2}", value):
                continue  # "with reference to 2025" is a year
            if sum(ch.isdigit() for ch in value) >= (1 if self._entity == "EMPLOYEE_ID" else 3):
                out.append(result(self._entity, m.start("v"), m.end("v"), self._rules.score))
        return out
