"""Identifiers by their format: postcodes of every region, and national, health, insurance, tax and bank
numbers and IP addresses, from Presidio's predefined recognizers and our own patterns
(``rules/structured.yaml``).

Presidio's predefined recognizers score low without context and drop a number whose checksum fails.
Here a hit counts (fail closed): with its checksum or a context word as the specific type (an invalid
number in an ID slot is still an identifier), with a standalone shape (a UK postcode) as its type,
and otherwise, when the catch-all would take it anyway (:mod:`.digits`), as a plain ``ID`` (or the
format's ``shape_entity``) at a score just above the catch-all's. Presidio's own ``analyze`` is not
called: only its patterns, context words and validators are used, so nothing is dropped silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult, predefined_recognizers
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import context_near, result
from pipeline.stages.redaction.recognizers.digits import DigitShapes
from pipeline.stages.redaction.rules import IdFormat, StructuredRules, StructuredScores
from pipeline.stages.redaction.vocabulary import word_alternation


class _NoArguments(logging.Filter):
    """Presidio's validators may log the text they were given (IbanRecognizer does on a bad value):
    a record with arguments is dropped, so no letter value reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.args


logging.getLogger("presidio-analyzer").addFilter(_NoArguments())

_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL


@dataclass(frozen=True)
class _Format:
    spec: IdFormat
    patterns: tuple[re.Pattern[str], ...]
    context: re.Pattern[str] | None
    presidio: PatternRecognizer | None


def _compile_format(spec: IdFormat, rules: StructuredRules) -> _Format:
    presidio: PatternRecognizer | None = None
    patterns: list[re.Pattern[str]] = []
    words = list(spec.context)
    if spec.presidio:
        presidio = getattr(predefined_recognizers, spec.presidio)()
        flags = int(presidio.global_regex_flags or 0) & _FLAGS
        skipped = set(spec.skip_patterns)
        patterns += [re.compile(p.regex, flags) for p in _patterns_of(presidio) if p.name not in skipped]
        words += presidio.context or []
    own_flags = re.IGNORECASE if spec.ignore_case else 0
    patterns += [re.compile(rules.expand(p), own_flags) for p in spec.patterns]
    ignored = {w.casefold() for w in spec.ignore_context}
    words = [w for w in words if w.casefold() not in ignored]
    context = None
    if words:
        alternation = word_alternation(w.casefold() for w in words).replace(r"\ ", r"[\s\-]*")
        context = re.compile(rf"(?<![\w]){alternation}(?![\w])", re.IGNORECASE)
    return _Format(spec, tuple(patterns), context, presidio)


class FormatRecognizer(EntityRecognizer):
    """One recognizer over a list of formats (the postcodes, or the ID numbers, of every region)."""

    def __init__(self, name: str, formats: list[IdFormat], rules: StructuredRules, shapes: DigitShapes) -> None:
        self._formats = [_compile_format(f, rules) for f in formats]
        self._scores: StructuredScores = rules.scores
        self._shapes = shapes
        entities = sorted({f.entity for f in formats} | {f.shape_entity for f in formats})
        super().__init__(supported_entities=entities, name=name)

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        best: dict[tuple[int, int, str], tuple[float, str]] = {}
        for fmt in self._formats:
            for rx in fmt.patterns:
                for m in rx.finditer(text):
                    start, end = m.span("code") if "code" in rx.groupindex and m.group("code") else m.span()
                    hit = self._judge(fmt, text, start, end)
                    town = m.group("town") if "town" in rx.groupindex else None
                    if hit is not None and town and self._shapes.vocab.not_a_name(town):
                        hit = (self._shapes.rules.entity, hit[1])
                    if hit is not None and hit[1] > best.get((start, end, hit[0]), (0.0, ""))[0]:
                        best[(start, end, hit[0])] = (hit[1], fmt.spec.name)
        return [result(e, s, t, score, format=name) for (s, t, e), (score, name) in sorted(best.items())]

    def regions_in(self, text: str) -> list[str]:
        """Regions of the standalone formats found in ``text`` (a hint of where the letter is from)."""
        regions: list[str] = []
        for fmt in self._formats:
            if fmt.spec.standalone and fmt.spec.regions and any(rx.search(text) for rx in fmt.patterns):
                regions += [r for r in fmt.spec.regions if r not in regions]
        return regions

    def _judge(self, fmt: _Format, text: str, start: int, end: int) -> tuple[str, float] | None:
        spec, scores, shapes = fmt.spec, self._scores, self._shapes
        value = text[start:end]
        if shapes.clinical_term(text, start, end):
            return None
        if spec.standalone:
            return spec.entity, scores.standalone
        if shapes.exempt(text, start, end):
            return None
        if _validates(fmt.presidio, value):
            return spec.entity, scores.validated
        if (
            fmt.context is not None
            and sum(c.isdigit() for c in value) >= 3
            and context_near(text, start, end, fmt.context, scores.context_window)
        ):
            return spec.entity, scores.context
        if shapes.suspect(value):
            return spec.shape_entity, scores.shape
        return None


def _patterns_of(recognizer: PatternRecognizer) -> list[Pattern]:
    return list(recognizer.patterns)  # type: ignore[has-type]  # set in PatternRecognizer.__init__


def _validates(recognizer: PatternRecognizer | None, value: str) -> bool:
    if recognizer is None:
        return False
    try:
        verdict: Any = recognizer.validate_result(value)
    except (ValueError, IndexError, TypeError):
        return False
    return verdict is True


# -- shapes other modules classify a known value by ------------------------------------------------
_NHS = predefined_recognizers.NhsRecognizer()
_UK_POSTCODE = tuple(
    re.compile(p.regex, re.IGNORECASE) for p in _patterns_of(predefined_recognizers.UkPostcodeRecognizer())
)


def nhs_checksum_ok(number: str) -> bool:
    """Ten digits whose modulus 11 check digit is right (Presidio's NhsRecognizer validator)."""
    digits = re.sub(r"\D", "", number)
    return len(digits) == 10 and _validates(_NHS, digits)


def is_uk_postcode(value: str) -> bool:
    """A UK postcode in Presidio's UkPostcodeRecognizer format, any case."""
    return any(rx.fullmatch(value.strip()) for rx in _UK_POSTCODE)
