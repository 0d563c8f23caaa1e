"""Dates of birth and ages, by their context ("DOB", "born on", "aged 34")."""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import context_near, result
from pipeline.stages.redaction.rules import DobRules

_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)


_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_NUMBER_WORDS = (
    rf"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[ \t\-]?(?:{_UNITS}))?|"
    rf"ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|{_UNITS})"
)


# Capitalised words before "is 34" that are not people ("Sleep is 5", "It is 10").
_NOT_AGE_SUBJECTS = frozenset(
    "it this that there here what which score total sleep mood anxiety depression session sessions "
    "room fee cost rate time week day month year age wait waiting list number count level item".split()
)


class DateOfBirthRecognizer(EntityRecognizer):
    """Dates of birth: any date near "DOB"/"born"/"date of birth", or a full date in a birth-year range.

    Durations and frequencies ("for two months", "weekly", "in March") are not dates and never match;
    a full date outside the birth-year range (the letter's date, session dates) is kept.
    """

    FULL_DATES = (
        r"(?<![\w/.\-])(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4}|\d{2})(?![\w/\-]|\.\d)",
        rf"(?<![\w])(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?(?P<mn>{_MONTHS})\.?,?[ \t]+'?(?P<y>\d{{4}}|\d{{2}})(?!\w)",  # noqa: E501 (a regex reads best on one line)
        rf"(?<![\w])(?P<mn>{_MONTHS})\.?[ \t]+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?[ \t]+'?(?P<y>\d{{4}}|\d{{2}})(?!\w)",  # noqa: E501 (a regex reads best on one line)
        r"(?<![\w\-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\w\-])",
    )
    PARTIAL_DATES = (
        rf"(?<![\w])(?:(?:\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?)?(?:{_MONTHS})\.?,?[ \t]+)?(?:19|20)\d{{2}}(?!\w)",  # noqa: E501 (a regex reads best on one line)
        rf"(?<![\w])\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?(?:{_MONTHS})(?!\w)",
    )

    # Ages narrow a person down as much as a birth year: "aged 34", "age: 34", "a 52-year-old",
    # "34 years old", "34yo". Durations ("a 12-week course", "for six years") are not ages.
    AGES = (
        r"(?<![\w\-])aged?[ \t]*[:\-]?[ \t]*\d{1,3}(?![\w\-]|[ \t]*(?:weeks?|months?|days?|sessions?|hours?|mins?|minutes?|%))",  # noqa: E501 (a regex reads best on one line)
        r"(?<![\w\-])\d{1,3}[ \t\-]*(?:years?|yrs?|yr)[ \t\-]*old(?![\w])",
        r"(?<![\w\-])\d{1,3}[ \t]?(?:yo|y/o|y\.o\.)(?![\w])",
        rf"(?<![\w\-])aged?[ \t]+{_NUMBER_WORDS}(?![\w\-])",
        rf"(?<![\w\-]){_NUMBER_WORDS}[ \t\-]*(?:years?|yrs?)[ \t\-]*old(?![\w\-])",
    )
    # A bare age after a person: "she is thirty-four", "he turned 40", "who is now 41", "Sam, now 34,".
    # Only the number is replaced; scores ("her PHQ-9 is 14") have no person before the verb and
    # durations, counts and scores after the number ("is 15 out of 27", "was 6 weeks") are excluded.
    _AGE_VALUE = rf"(?P<age>\d{{1,2}}|{_NUMBER_WORDS})"
    _NOT_AGE_AFTER = (
        r"(?![\w\-%/.]\d|[\w\-%/]|[ \t]*(?:weeks?|months?|days?|hours?|hrs?|minutes?|mins?|sessions?|times?|"
        r"points?|percent|per|out[ \t]+of|of[ \t]+(?:the|her|his|their)|/|%|x\b|miles?|km|kg|stone|lbs?|"
        r"pounds?|am\b|pm\b|o'clock|years?[ \t]+(?:ago|since|into|of|in|with|at)))"
    )
    BARE_AGES = (
        rf"(?<![\w\-])(?i:he|she|they|xe|ze|zie|ey|fae|who|client|patient)[ \t]+(?i:is|was|'s|\u2019s|turned|turns|"
        rf"will[ \t]+be|has[ \t]+(?:just[ \t]+)?turned|is[ \t]+about[ \t]+to[ \t]+turn)[ \t]+"
        rf"(?i:(?:now|just|only|currently|nearly|almost)[ \t]+)?(?i:{_AGE_VALUE}){_NOT_AGE_AFTER}",
        rf"(?<![\w\-])(?P<name>[A-Z][a-z\u00e0-\u00ff'\u2019\-]+)[ \t]+(?:is|turned|turns)[ \t]+"
        rf"(?:(?:now|just|only|currently|nearly|almost)[ \t]+)?(?i:{_AGE_VALUE}){_NOT_AGE_AFTER}",
        r"(?<=[\w)]),[ \t]*(?i:(?:now|currently|aged?)[ \t]+)?(?P<age>\d{2})[ \t]*,(?=[ \t]+[a-z])",
    )

    def __init__(self, rules: DobRules) -> None:
        self._rules = rules
        self._full = [re.compile(p, re.IGNORECASE) for p in self.FULL_DATES]
        self._partial = [re.compile(p, re.IGNORECASE) for p in self.PARTIAL_DATES]
        self._ages = [re.compile(p, re.IGNORECASE) for p in self.AGES]
        self._bare_ages = [re.compile(p) for p in self.BARE_AGES]
        ctx = "|".join(re.escape(c).replace(r"\ ", r"\s*") for c in sorted(rules.context, key=len, reverse=True))
        self._context = re.compile(rf"(?<!\w)(?:{ctx})(?!\w)", re.IGNORECASE)
        super().__init__(supported_entities=["DOB", "AGE"], name="DateOfBirthRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        rules = self._rules
        out: list[RecognizerResult] = []
        for rx in self._full:
            for m in rx.finditer(text):
                year = int(m.group("y"))
                if year < 100:
                    year += 1900 if year > 25 else 2000
                near = context_near(text, m.start(), m.end(), self._context, rules.context_window)
                if near:
                    out.append(result("DOB", m.start(), m.end(), rules.score_with_context))
                elif rules.year_min <= year <= rules.year_max and len(m.group("y")) == 4:
                    out.append(result("DOB", m.start(), m.end(), rules.score_without_context))
        for rx in self._partial:
            for m in rx.finditer(text):
                if context_near(text, m.start(), m.end(), self._context, rules.context_window):
                    out.append(result("DOB", m.start(), m.end(), rules.score_with_context))
        for rx in self._ages:
            out.extend(result("AGE", *m.span(), rules.score_with_context) for m in rx.finditer(text))
        for rx in self._bare_ages:
            for m in rx.finditer(text):
                name = m.groupdict().get("name")
                if name and (name.casefold() in _NOT_AGE_SUBJECTS or name.isupper()):
                    continue
                age = m.group("age")
                if age.isdigit() and not 10 <= int(age) <= 99:
                    continue
                out.append(result("AGE", m.start("age"), m.end("age"), rules.score_with_context))
        return out
