"""Presidio recognizers for therapists' letters, one class per concern, configured from ``rules/``.

Contract: each recognizer takes the letter text (and, where it needs one, the spaCy ``Doc`` carried
in Presidio's ``NlpArtifacts``, so the model runs once per letter) and returns
``RecognizerResult`` spans typed with our entity names (``PERSON``, ``EMAIL``, ``PHONE``, ``NHS``,
``NI``, ``POSTCODE``, ``ADDRESS``, ``DOB``, ``EMPLOYER``, ``ORG``, ``LOCATION``, ``URL``,
``REGISTRATION``, ``EMPLOYEE_ID``, plus ``PRONOUN`` and ``TITLE`` which are neutralised, not
vaulted). The rule models that configure them are defined here too; :mod:`pipeline.redact` loads
them from YAML. No recognizer logs or raises with a value from the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import cast

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from pydantic import Field
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.pipeline import Lemmatizer
from spacy.tokens import Doc, Token

from pipeline.models import KnownIdentifiers
from pipeline.rules import RuleModel

# --------------------------------------------------------------------------------------------------
# Rule models (rules/redaction.yaml and rules/allow.yaml)
# --------------------------------------------------------------------------------------------------


class EmailRules(RuleModel):
    score: float = Field(1.0, ge=0, le=1)


class UrlRules(RuleModel):
    score: float = Field(0.8, ge=0, le=1)
    tlds: list[str]


class ContextRules(RuleModel):
    score: float = Field(0.85, ge=0, le=1)
    context: list[str] = []


class PostcodeRules(RuleModel):
    score: float = Field(0.85, ge=0, le=1)


class DobRules(RuleModel):
    context: list[str]
    context_window: int = Field(40, ge=1)
    year_min: int = Field(1920, ge=1800, le=2100)
    year_max: int = Field(2012, ge=1800, le=2100)
    score_with_context: float = Field(0.95, ge=0, le=1)
    score_without_context: float = Field(0.8, ge=0, le=1)


class RegistrationRules(RuleModel):
    bodies: list[str]
    context: list[str]
    window: int = Field(40, ge=1)
    score: float = Field(0.85, ge=0, le=1)


class EmployeeIdRules(RuleModel):
    context: list[str]
    score: float = Field(0.9, ge=0, le=1)


class AddressRules(RuleModel):
    street_suffixes: list[str]
    bare_suffixes: list[str]
    unit_words: list[str]
    building_words: list[str]
    score: float = Field(0.85, ge=0, le=1)


class EmployerRules(RuleModel):
    context: list[str]
    company_suffixes: list[str]
    org_tail_words: list[str] = []
    # "the only paediatric audiologist at ...": a role held by one person names that person.
    unique_role_cues: list[str] = []
    score: float = Field(0.85, ge=0, le=1)
    org_score: float = Field(0.7, ge=0, le=1)


class LocationRules(RuleModel):
    labels: list[str]
    score: float = Field(0.6, ge=0, le=1)


class PersonRules(RuleModel):
    entity_score: float = Field(0.85, ge=0, le=1)
    trigger_score: float = Field(0.9, ge=0, le=1)
    propn_score: float = Field(0.65, ge=0, le=1)
    triggers: list[list[str]]
    ambiguous_names: list[str]
    name_verbs: list[str]
    human_verbs: list[str] = []


class RelativeRules(RuleModel):
    nouns: list[str]
    score: float = Field(0.9, ge=0, le=1)


class RoleReplacement(RuleModel):
    possessive: str
    other: str


class PronounRules(RuleModel):
    fixed: dict[str, str]
    by_role: dict[str, RoleReplacement]
    needs_pronoun_position: list[str] = []


class AllowRules(RuleModel):
    terms: list[str] = []
    words: list[str] = []


class RedactionRules(RuleModel):
    score_threshold: float = Field(0.45, ge=0, le=1)
    entity_priority: list[str]
    verify_types: list[str]
    own_domains: list[str] = []
    email: EmailRules
    url: UrlRules
    handle: ContextRules
    phone: ContextRules
    nhs: ContextRules
    ni: ContextRules
    postcode: PostcodeRules
    dob: DobRules
    registration: RegistrationRules
    employee_id: EmployeeIdRules
    reference: EmployeeIdRules
    address: AddressRules
    employer: EmployerRules
    location: LocationRules
    person: PersonRules
    relatives: RelativeRules
    pronouns: PronounRules
    titles: list[str]
    ambiguous_titles: list[str] = []
    allow: AllowRules = AllowRules()


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------

_APOSTROPHES = "'\u2019\u2018\u02bc\u0060\u00b4"
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch < "\x80":
        return ch
    if ch in _APOSTROPHES:
        return "'"
    if ch in _DASHES:
        return "-"
    decomposed = unicodedata.normalize("NFKD", ch)
    base = decomposed[0] if decomposed else ch
    if unicodedata.combining(base) or len(base.encode("utf-16-le")) != 2:
        return ch
    return base


def fold(text: str) -> str:
    """Accent-, apostrophe- and dash-insensitive form of ``text`` with the same length and offsets."""
    return "".join(_fold_char(c) for c in text)


def _word_re(words: Iterable[str]) -> str:
    alts = sorted({re.escape(w) for w in words if w}, key=lambda s: (-len(s), s))
    return "(?:" + "|".join(alts) + ")" if alts else "(?!x)x"


class Vocabulary:
    """Word lists used to tell names from ordinary and clinical words (lower case, folded)."""

    def __init__(self, rules: RedactionRules) -> None:
        self.allow_terms = {fold(t).casefold() for t in rules.allow.terms}
        self.allow_words = {fold(w).casefold() for w in rules.allow.words}
        self.ambiguous = {w.casefold() for w in rules.person.ambiguous_names}
        self.titles = {t.casefold() for t in rules.titles}
        self.stop = {w.casefold() for w in STOP_WORDS}
        self.own_domains = tuple(d.casefold() for d in rules.own_domains)
        upper = [t for t in rules.allow.terms if t.isupper()]
        self.allow_terms_upper = frozenset(fold(t) for t in upper)
        mixed = [t for t in rules.allow.terms if not t.isupper()]
        self._protected_cs = re.compile(rf"(?<![\w]){_word_re(fold(t) for t in upper)}(?![\w])")
        self._protected_ci = re.compile(rf"(?<![\w]){_word_re(fold(t) for t in mixed)}(?![\w])", re.IGNORECASE)
        positional = {w.casefold() for w in rules.pronouns.needs_pronoun_position}
        self.pronouns = {w.casefold() for w in [*rules.pronouns.fixed, *rules.pronouns.by_role]} - positional

    def is_allowed_word(self, word: str) -> bool:
        w = fold(word).casefold().strip(".,:;'\"")
        if w.endswith("'s"):
            w = w[:-2]
        return w in self.allow_words or w in self.allow_terms

    def is_allowed_span(self, text: str) -> bool:
        """True when a detection consists only of allow-listed vocabulary (never for ambiguous names)."""
        t = " ".join(fold(text).casefold().split()).strip(".,:;")
        if t in self.allow_terms:
            return True
        words = re.findall(r"[\w'\-&/]+", t)
        if not words:
            return True
        return all(
            (w in self.allow_words or w in self.allow_terms or w in self.stop or w in self.titles)
            and w not in self.ambiguous
            for w in words
        )

    def protected_ranges(self, text: str) -> list[tuple[int, int]]:
        """Where allow-listed clinical and process terms ("GAD-7", "Insomnia Severity Index") occur."""
        folded = fold(text)
        return sorted(
            {m.span() for m in self._protected_cs.finditer(folded)}
            | {m.span() for m in self._protected_ci.finditer(folded)}
        )

    def is_own_address(self, text: str) -> bool:
        t = text.casefold()
        return any(t.endswith("@" + d) or t.endswith("." + d) or t == d for d in self.own_domains)

    def not_a_name(self, word: str) -> bool:
        """Ordinary, clinical or process words that are never names on their own."""
        w = fold(word).casefold()
        if w in self.ambiguous:
            return False
        return (
            w in self.pronouns or w in self.allow_words or w in self.allow_terms or w in self.stop or w in self.titles
        )


def _result(entity: str, start: int, end: int, score: float, **meta: str) -> RecognizerResult:
    return RecognizerResult(entity_type=entity, start=start, end=end, score=score, recognition_metadata=dict(meta))


def _doc(nlp_artifacts: NlpArtifacts | None) -> Doc | None:
    if nlp_artifacts is None:
        return None
    tokens = getattr(nlp_artifacts, "tokens", None)
    return tokens if isinstance(tokens, Doc) else None


def _context_near(text: str, start: int, end: int, words_re: re.Pattern[str], window: int) -> bool:
    before = text[max(0, start - window) : start]
    after = text[end : end + 12]
    return bool(words_re.search(before) or words_re.search(after))


# --------------------------------------------------------------------------------------------------
# Pattern recognizers: structured identifiers
# --------------------------------------------------------------------------------------------------


class EmailRecognizer(PatternRecognizer):
    """Email addresses with any top-level domain, including ``name@localhost`` (no network lookups)."""

    PATTERN = r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+'\-]*@(?=[A-Za-z0-9.\-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*"  # noqa: E501 (a regex reads best on one line)

    # Written out to dodge harvesters: "jane dot doe at example dot com", "jane.doe (at) example (dot) com",
    # "jane[at]example[dot]org". The domain must use a spelled-out dot, so "looked at home. Then" is not one.
    _DOT = r"(?:[ \t]+dot[ \t]+|[ \t]*[(\[{]dot[)\]}][ \t]*)"
    _AT = r"(?:[ \t]+at[ \t]+|[ \t]*[(\[{]at[)\]}][ \t]*|[ \t]+@[ \t]+)"
    _BRACKET_AT = r"(?:[ \t]*[(\[{]at[)\]}][ \t]*|[ \t]+AT[ \t]+)"
    _LOCAL = rf"(?<![\w.@])[a-z0-9][a-z0-9_%+'\-]*(?:(?:{_DOT}|\.)[a-z0-9][a-z0-9_%+'\-]*)*"
    OBFUSCATED = (
        rf"{_LOCAL}(?:{_AT}[a-z0-9][a-z0-9\-]*(?:(?:{_DOT}|\.)[a-z0-9][a-z0-9\-]*)*{_DOT}"
        rf"|(?-i:{_BRACKET_AT})[a-z0-9][a-z0-9\-]*(?:(?:{_DOT}|\.)[a-z0-9][a-z0-9\-]*)*(?:{_DOT}|\.))"
        rf"[a-z]{{2,12}}(?![\w@])"
    )

    def __init__(self, rules: EmailRules, vocab: Vocabulary) -> None:
        self._vocab = vocab
        super().__init__(
            supported_entity="EMAIL",
            name="EmailRecognizer",
            patterns=[
                Pattern("email", self.PATTERN, rules.score),
                Pattern("email_obfuscated", self.OBFUSCATED, rules.score),
            ],
            global_regex_flags=re.UNICODE | re.IGNORECASE,
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        return self._vocab.is_own_address(pattern_text)


class UrlRecognizer(PatternRecognizer):
    """Web addresses (a practice website identifies the therapist); our own domain is kept."""

    def __init__(self, rules: UrlRules, vocab: Vocabulary) -> None:
        self._vocab = vocab
        tld_alts = "|".join(sorted((re.escape(t) for t in rules.tlds), key=len, reverse=True))
        patterns = [
            Pattern("url_scheme", r"\b(?:https?://|www\.)[^\s<>\"')\]]+[^\s<>\"').,;:\]]", rules.score),
            Pattern(
                "bare_domain",
                rf"(?<![@\w.\-])(?:[A-Za-z0-9\-]+\.)+(?:{tld_alts})\b(?![@\-])(?:/[^\s<>\"')]*[^\s<>\"').,;:])?",
                rules.score,
            ),
        ]
        super().__init__(
            supported_entity="URL", name="UrlRecognizer", patterns=patterns, global_regex_flags=re.IGNORECASE
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", pattern_text, flags=re.I).split("/")[0]
        return self._vocab.is_own_address(host)


class HandleRecognizer(PatternRecognizer):
    """Social-media handles ("@sarahj_art"): an @ that starts a word, not the middle of an email."""

    PATTERN = r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])"

    def __init__(self, rules: ContextRules) -> None:
        super().__init__(
            supported_entity="HANDLE",
            name="HandleRecognizer",
            patterns=[Pattern("handle", self.PATTERN, rules.score)],
            context=rules.context,
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # "@ 3pm", "@10" are times and prices, not handles.
        return not any(c.isalpha() for c in pattern_text)


# "0161 496 0312 ext. 204", "x204", "extension 12": the extension is part of the number.
_EXTENSION = r"(?:[ \t]*,?[ \t]*(?:ext(?:ension)?\.?|x)[ \t]*\d{1,5}(?!\d))?"


class UkPhoneRecognizer(PatternRecognizer):
    """UK phone numbers: mobiles (07..., +44 7...), London (020 ...), (0xx) and 01/03/08 numbers."""

    SEP = r"[ \t.\-]?"
    PATTERNS = (
        # +44 (0)20 7946 0000, +44 7700 900123, 0044 ...
        r"(?<![\w+])(?:\+|00)\s?44[ \t]?(?:\(0\)[ \t]?)?\(?\d(?:[ \t\-)]{0,2}\d){8,9}(?!\d)",
        # (020) 7946 0000, (01632) 960 001
        r"(?<![\w)])\(0\d{2,4}\)[ \t]?\d(?:[ \t\-]?\d){5,7}(?!\d)",
        # 07700 900123, 020 7946 0000, 01632 960001, 0161-496-0000
        r"(?<![\w/.\-])0\d(?:[ \t\-]?\d){8,9}(?![\d/])",
    )

    def __init__(self, rules: ContextRules) -> None:
        super().__init__(
            supported_entity="PHONE",
            name="UkPhoneRecognizer",
            patterns=[Pattern(f"uk_phone_{i}", p + _EXTENSION, rules.score) for i, p in enumerate(self.PATTERNS)],
            context=rules.context,
            global_regex_flags=re.UNICODE,
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        digits = re.sub(r"\D", "", re.sub(_EXTENSION + "$", "", pattern_text))
        if digits.startswith("0044"):
            digits = "0" + digits[4:]
        elif digits.startswith("44"):
            digits = "0" + digits[2:]
        if digits.startswith("00"):
            digits = "0" + digits[2:].lstrip("0")
        return not (10 <= len(digits) <= 11 and digits[1] in "1235789")


def nhs_checksum_ok(number: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", number)]
    if len(digits) != 10:
        return False
    total = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == digits[9]


class NhsNumberRecognizer(PatternRecognizer):
    """NHS numbers (10 digits, 3-3-4 groups optional) that pass the modulus 11 check digit."""

    def __init__(self, rules: ContextRules) -> None:
        super().__init__(
            supported_entity="NHS",
            name="NhsNumberRecognizer",
            patterns=[Pattern("nhs", r"(?<![\w\-])\d{3}[ \t\-]?\d{3}[ \t\-]?\d{4}(?![\w\-])", rules.score)],
            context=rules.context,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return nhs_checksum_ok(pattern_text)


class NiNumberRecognizer(PatternRecognizer):
    """National Insurance numbers: two letters, six digits (spaces optional), a final letter A-D."""

    INVALID_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})

    def __init__(self, rules: ContextRules) -> None:
        super().__init__(
            supported_entity="NI",
            name="NiNumberRecognizer",
            patterns=[
                Pattern("ni", r"(?<![\w])[A-Z]{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?[A-D](?!\w)", rules.score)
            ],
            context=rules.context,
            global_regex_flags=re.IGNORECASE,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        return pattern_text[:2].upper() not in self.INVALID_PREFIXES


class UkPostcodeRecognizer(PatternRecognizer):
    """UK postcodes (outward and inward code, the space optional)."""

    PATTERN = r"(?<![\w])(?:GIR[ \t]?0AA|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[ABD-HJLNP-UW-Z]{2})(?!\w)"

    def __init__(self, rules: PostcodeRules) -> None:
        super().__init__(
            supported_entity="POSTCODE",
            name="UkPostcodeRecognizer",
            patterns=[Pattern("postcode", self.PATTERN, rules.score)],
            global_regex_flags=re.IGNORECASE,
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        # Lower-case text that merely fits the shape ("ab1 2cd") must still look like a code.
        return not any(c.isdigit() for c in pattern_text[:4])


# --------------------------------------------------------------------------------------------------
# Context recognizers: dates of birth, registration numbers, employee IDs, street addresses
# --------------------------------------------------------------------------------------------------

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
                near = _context_near(text, m.start(), m.end(), self._context, rules.context_window)
                if near:
                    out.append(_result("DOB", m.start(), m.end(), rules.score_with_context))
                elif rules.year_min <= year <= rules.year_max and len(m.group("y")) == 4:
                    out.append(_result("DOB", m.start(), m.end(), rules.score_without_context))
        for rx in self._partial:
            for m in rx.finditer(text):
                if _context_near(text, m.start(), m.end(), self._context, rules.context_window):
                    out.append(_result("DOB", m.start(), m.end(), rules.score_with_context))
        for rx in self._ages:
            out.extend(_result("AGE", *m.span(), rules.score_with_context) for m in rx.finditer(text))
        for rx in self._bare_ages:
            for m in rx.finditer(text):
                name = m.groupdict().get("name")
                if name and (name.casefold() in _NOT_AGE_SUBJECTS or name.isupper()):
                    continue
                age = m.group("age")
                if age.isdigit() and not 10 <= int(age) <= 99:
                    continue
                out.append(_result("AGE", m.start("age"), m.end("age"), rules.score_with_context))
        return out


class RegistrationNumberRecognizer(EntityRecognizer):
    """Professional registration numbers (HCPC PYL01234, BACP, UKCP, NMC PIN, GMC) near their context."""

    # Shapes that are registration numbers on their own.
    STANDALONE = (
        r"(?<![\w])(?:PYL|CS|AS|OT|PH|SL|DT|AR|PA|CH|RA|ODP|PA|BS)[ \t]?\d{5,6}(?!\w)",
        r"(?<![\w])\d{2}[A-Z]\d{4}[A-Z](?!\w)",  # NMC PIN
    )
    VALUE = r"(?:[A-Z]{1,4}-?)?\d[\dA-Z\-/]{3,14}(?<![\-/])"

    def __init__(self, rules: RegistrationRules) -> None:
        self._rules = rules
        words = _word_re(rules.bodies + rules.context)
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
            out.extend(_result("REGISTRATION", m.start(), m.end(), self._rules.score) for m in rx.finditer(text))
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
                    out.append(_result("REGISTRATION", start, start + len(value), self._rules.score))
                    break
        return out


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
            out.extend(_result(self._entity, m.start(), m.end(), self._rules.score) for m in plates)
        for m in self._rx.finditer(text):
            value = m.group("v")
            if self._entity != "EMPLOYEE_ID" and re.fullmatch(r"(?:19|20)\d{2}", value):
                continue  # "with reference to 2025" is a year
            if sum(ch.isdigit() for ch in value) >= (1 if self._entity == "EMPLOYEE_ID" else 3):
                out.append(_result(self._entity, m.start("v"), m.end("v"), self._rules.score))
        return out


class StreetAddressRecognizer(EntityRecognizer):
    """Street addresses: flat/unit, house number, capitalised street name and suffix, then town lines."""

    CAP = r"[A-Z\u00c0-\u00de][\w'\u2019\-]*"

    def __init__(self, rules: AddressRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._vocab = vocab
        cap = self.CAP
        suffix = _word_re(rules.street_suffixes)
        bare = _word_re(rules.bare_suffixes)
        unit = _word_re(rules.unit_words)
        building = _word_re(rules.building_words)
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
        out = [_result("ADDRESS", m.start(), m.end(), score) for m in self._numbered.finditer(text)]
        out += [_result("ADDRESS", m.start(), m.end(), score) for m in self._unit.finditer(text)]
        for rx in (self._bare, self._building):
            for m in rx.finditer(text):
                words = m.group(0).split()
                # Drop leading ordinary words ("The", "Our", clinical words) from the name part.
                start = m.start()
                while len(words) > 1 and self._vocab.not_a_name(words[0]):
                    start = text.index(words[1], start + len(words[0]))
                    words = words[1:]
                if len(words) > 1:
                    out.append(_result("ADDRESS", start, m.end(), score - 0.2))
        return out


# --------------------------------------------------------------------------------------------------
# spaCy-based recognizers: people, relatives, employers and organisations, places
# --------------------------------------------------------------------------------------------------

_NON_NAME_ENTS = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY"})


class _DocRecognizer(EntityRecognizer):
    """Base for recognizers reading the spaCy ``Doc`` Presidio already built (no second model run)."""

    def __init__(self, entities: list[str], name: str, vocab: Vocabulary) -> None:
        self._vocab = vocab
        super().__init__(supported_entities=entities, name=name)

    def load(self) -> None:
        pass

    def name_like(self, tok: Token) -> bool:
        """A capitalised word that could be (part of) a name."""
        t = tok.text
        if not t or not t[0].isupper() or not any(c.isalpha() for c in t):
            return False
        if any(c.isdigit() for c in t) or "@" in t or "/" in t:
            return False
        if t.isupper() and len(t) > 1 and fold(t).casefold() in self._vocab.allow_terms:
            return False
        return not self._vocab.not_a_name(t.rstrip("."))

    def ambiguous_ok(self, tok: Token) -> bool:
        """An ambiguous-word name ("Will", "Hope") counts only when it is used as a proper noun."""
        if tok.lower_ not in self._vocab.ambiguous:
            return True
        if tok.is_upper and len(tok) > 1:
            return True
        nxt = tok.nbor(1) if tok.i + 1 < len(tok.doc) else None
        if nxt is not None and nxt.text[:1].isupper() and nxt.is_alpha and not self._vocab.not_a_name(nxt.text):
            return True
        if tok.tag_ in ("NNP", "NNPS") and not _sentence_start(tok):
            return True
        prev = tok.nbor(-1) if tok.i > 0 else None
        return prev is not None and prev.lower_ in ("client", "dear", "named", "called", ",") and tok.tag_ == "NNP"

    def run_from(self, doc: Doc, i: int, limit: int = 4) -> tuple[int, int] | None:
        """Token range of a run of name-like words starting at ``i`` (possessive "'s" excluded)."""
        j = i
        while j < len(doc) and j - i < limit:
            tok = doc[j]
            if self.name_like(tok) and self.ambiguous_ok_in_run(tok, j == i):
                j += 1
            elif tok.text in ("-",) and j + 1 < len(doc) and self.name_like(doc[j + 1]) and j > i:
                j += 1
            else:
                break
        return (i, j) if j > i else None

    def ambiguous_ok_in_run(self, tok: Token, first: bool) -> bool:
        # After an explicit trigger ("my client Will") an ambiguous word is a name.
        return True


def _sentence_start(tok: Token) -> bool:
    if tok.i == 0 or tok.is_sent_start:
        return True
    prev = tok.doc[tok.i - 1]
    if prev.is_space or "\n" in prev.whitespace_ or prev.text in (":", "-", "\u2022", "*", '"', "("):
        return True
    # A numbered paragraph ("4.1 Suicide: ...", "2) Overall ...") starts after its number.
    return bool(_NUMBERING.fullmatch(prev.text)) and _sentence_start(prev)


_NUMBERING = re.compile(r"\(?(?:\d{1,2}(?:\.\d{1,2}){0,2}[.)]?|(?:[a-z]|[ivx]{1,4})[.)])")


class PersonRecognizer(_DocRecognizer):
    """People: spaCy PERSON entities, names after triggers ("my client X", "Dear X", "Re: X"), and
    capitalised proper nouns in name positions that the small model labels ORG/GPE or misses.

    Ordinary words that are also names (Hope, Will, Grace...) count only as proper nouns.
    """

    def __init__(self, rules: PersonRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._triggers = [tuple(t) for t in rules.triggers]
        self._verbs = {v.casefold() for v in rules.name_verbs}
        self._human_verbs = {v.casefold() for v in rules.human_verbs}
        super().__init__(["PERSON"], "PersonRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = _doc(nlp_artifacts)
        if doc is None:
            return []
        r = self._rules
        out: list[RecognizerResult] = []
        for ent in doc.ents:
            if ent.label_ != "PERSON":
                continue
            toks = [t for t in ent if self.name_like(t) and self.ambiguous_ok(t)]
            if (
                len(toks) == 1
                and all(t.i == toks[0].i or not t.is_alpha for t in ent)  # "4.3 Overall" is one word
                and _sentence_start(toks[0])
                and toks[0].lower_ in _common_words()
            ):
                nxt = doc[ent.end] if ent.end < len(doc) else None
                if nxt is None or nxt.pos_ not in ("VERB", "AUX"):
                    continue  # "Contact:", "Overall," labelled PERSON at the start of a line
            for t in toks:
                out.append(_result("PERSON", t.idx, t.idx + len(t.text), r.entity_score))
        lowers = [t.lower_ for t in doc]
        for i in range(len(doc)):
            span = self._after_trigger(doc, i, lowers)
            if span:
                a, b = span
                out.append(
                    _result("PERSON", doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text), r.trigger_score, trigger="1")
                )
        for tok in doc:
            if tok.lower_ in self._vocab.ambiguous and self._person_subject(tok):
                # "Patience has attended every session", "Summer says": an ordinary-word name opening
                # a sentence as the subject of a verb only people do.
                out.append(_result("PERSON", tok.idx, tok.idx + len(tok.text), r.entity_score))
                continue
            if tok.tag_ not in ("NNP", "NNPS") or tok.ent_type_ in _NON_NAME_ENTS:
                continue
            if len(tok.text) < 2 or not self.name_like(tok) or not self.ambiguous_ok(tok):
                continue
            if tok.is_upper and len(tok) > 1 and tok.ent_type_ != "PERSON":
                continue  # acronyms are organisations or clinical terms, handled elsewhere
            nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
            prev = doc[tok.i - 1] if tok.i > 0 else None
            paired = (nxt is not None and nxt.tag_ in ("NNP", "NNPS") and self.name_like(nxt)) or (
                prev is not None and prev.tag_ in ("NNP", "NNPS") and self.name_like(prev) and not _sentence_start(tok)
            )
            if _sentence_start(tok):
                verb_follows = nxt is not None and (
                    nxt.lower_ in self._verbs or nxt.text in ("'s", "\u2019s") or nxt.pos_ in ("VERB", "AUX")
                )
                # "4.3 Overall risk", "Suicide:" labelled PERSON: an ordinary word opening a line
                # is a name only when a verb follows or another name stands beside it.
                model_person = tok.ent_type_ == "PERSON" and tok.lower_ not in _common_words()
                if not (verb_follows or paired or model_person):
                    continue
            out.append(_result("PERSON", tok.idx, tok.idx + len(tok.text), r.propn_score))
        return out

    def _person_subject(self, tok: Token) -> bool:
        if not tok.text[:1].isupper() or tok.is_upper:
            return False
        doc = tok.doc
        j = tok.i + 1
        if j < len(doc) and doc[j].text in ("'s", "\u2019s"):
            return False
        # Skip auxiliaries and adverbs: "Hope has always attended", "Grace has been struggling".
        skippable = ("AUX", "ADV", "PART")
        while j < len(doc) and j - tok.i <= 3 and (doc[j].pos_ in skippable or doc[j].lower_ == "been"):
            j += 1
        if j >= len(doc) or doc[j].lower_ not in self._human_verbs:
            return False
        # Passive ("Patience will be needed", "Hope was lost") is about the word, not a person.
        be = {"be", "been", "is", "was", "are", "were", "being"}
        return not (doc[j].tag_ == "VBN" and any(t.lower_ in be for t in doc[tok.i + 1 : j]))

    def _after_trigger(self, doc: Doc, i: int, lowers: list[str]) -> tuple[int, int] | None:
        for trig in self._triggers:
            n = len(trig)
            if i - n < 0 or lowers[i - 1] != trig[-1]:
                continue
            if tuple(lowers[i - n : i]) != trig:
                continue
            j = i
            while j < len(doc) and doc[j].text in (",", ":", "-", "\u2013") and j - i < 2:
                j += 1
            while j < len(doc) and (doc[j].lower_.rstrip(".") in self._vocab.titles or doc[j].text == "."):
                j += 1
            if j < len(doc) and doc[j].is_space:
                return None
            return self.run_from(doc, j)
        return None


class RelativeRecognizer(_DocRecognizer):
    """Relatives' and others' names after a relation word: "her husband, Tom", "his sister Jane"."""

    def __init__(self, rules: RelativeRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._nouns = {n.casefold() for n in rules.nouns}
        super().__init__(["PERSON"], "RelativeRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = _doc(nlp_artifacts)
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
                out.append(_result("PERSON", doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text), self._rules.score))
        return out


class EmployerRecognizer(_DocRecognizer):
    """Employers and other organisations: spaCy ORG entities (minus allow-listed ones like Plumm, NHS),
    names after "works at"/"employed by"/"her employer", and names ending in Ltd/plc/LLP."""

    def __init__(self, rules: EmployerRules, vocab: Vocabulary) -> None:
        self._rules = rules
        ctx = "|".join(re.escape(c).replace(r"\ ", r"\s+") for c in sorted(rules.context, key=len, reverse=True))
        # "works at the Co-op": a determiner may stand between the context and the name.
        self._context = re.compile(rf"(?<!\w)(?:{ctx})\W{{0,3}}(?:the[ \t]+)?$", re.IGNORECASE)
        cap = StreetAddressRecognizer.CAP
        suffix = _word_re(rules.company_suffixes)
        self._company = re.compile(rf"(?<![\w])(?:{cap}[ \t]+|&[ \t]+){{1,4}}{suffix}\.?(?![\w])")
        self._org_tails = {w.casefold() for w in rules.org_tail_words}
        cues = "|".join(re.escape(c) for c in sorted(rules.unique_role_cues, key=len, reverse=True))
        # The role words between "the only" and "at/in/on/for": up to four lower-case words.
        self._unique_role = (
            re.compile(
                rf"(?<!\w)(?:the|their|its|our|your)[ \t]+(?:{cues})[ \t]+"
                rf"(?P<role>[a-z][\w\-]*(?:[ \t]+[a-z][\w\-]*){{0,3}}?)"
                rf"(?=[ \t]+(?:at|in|on|for|within|across|of)\b)",
                re.IGNORECASE,
            )
            if cues
            else None
        )
        super().__init__(["EMPLOYER", "ORG"], "EmployerRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        r = self._rules
        out = []
        for m in self._unique_role.finditer(text) if self._unique_role else ():
            # Only a word for a person's role ("audiologist", "engineer", "nurse") is a unique role;
            # "the only option for", "the only one in" are not.
            if _ROLE_NOUN.search(m.group("role")) and not self._vocab.is_allowed_span(m.group("role")):
                out.append(_result("EMPLOYER", m.start("role"), m.end("role"), r.score))
        for m in self._company.finditer(text):
            words = m.group(0).split()
            start = m.start()
            while len(words) > 1 and self._vocab.not_a_name(words[0]):
                start = text.index(words[1], start + len(words[0]))
                words = words[1:]
            if len(words) > 1:
                out.append(_result("EMPLOYER", start, m.end(), r.score))
        doc = _doc(nlp_artifacts)
        if doc is None:
            return out
        for ent in doc.ents:
            if ent.label_ != "ORG":
                continue
            toks = [t for t in ent if not (t.is_punct or t.is_space)]
            while toks and not self._keep(toks[0]):
                toks = toks[1:]
            if not toks:
                continue
            # An organisation keeps its generic tail ("Halden Logistics Services", "... NHS Trust"):
            # the tail alone would be harmless, but "[ORG_1] Services" reads as a half-done job.
            last = toks[-1].i
            while (
                last + 1 < len(doc)
                and (doc[last + 1].lower_ in self._org_tails or doc[last + 1].text in ("NHS", "&"))
                and last + 1 - toks[0].i < 8
            ):
                last += 1
            toks = [t for t in doc[toks[0].i : last + 1] if not (t.is_punct or t.is_space)]
            while toks and not self._keep(toks[-1]) and toks[-1].lower_ not in self._org_tails:
                toks = toks[:-1]
            if not any(self._keep(t) for t in toks):
                continue
            start, end = toks[0].idx, toks[-1].idx + len(toks[-1].text)
            if self._vocab.is_allowed_span(text[start:end]):
                continue
            employer = bool(self._context.search(text[max(0, start - 40) : start]))
            out.append(_result("EMPLOYER" if employer else "ORG", start, end, r.score if employer else r.org_score))
        # "works at X" where the model found no entity.
        for tok in doc:
            if tok.i == 0 or not self.name_like(tok):
                continue
            if self._context.search(text[max(0, tok.idx - 40) : tok.idx]) and not doc[tok.i - 1].is_space:
                span = self.run_from(doc, tok.i)
                if span:
                    a, b = span
                    end = doc[b - 1].idx + len(doc[b - 1].text)
                    # Keep a hyphenated tail with the name ("Co-op", "Marks-and-Spencer").
                    tail = re.match(r"(?:[\-\u2010\u2011][\w&']+)+", text[end:])
                    end += tail.end() if tail else 0
                    out.append(_result("EMPLOYER", doc[a].idx, end, r.score))
        return out

    def _keep(self, tok: Token) -> bool:
        if tok.text in ("'s", "\u2019s"):
            return False
        if tok.like_num or (tok.text[:1].isdigit() and any(c.isalpha() for c in tok.text)):
            return True  # "3M", "7digital"
        return self.name_like(tok) and fold(tok.text).casefold() not in self._vocab.allow_terms


_ROLE_NOUN = re.compile(
    r"(?:ist|er|or|ian|ant|ent|ee|man|woman|person|nurse|midwife|surgeon|chef|pilot|vicar|priest|judge|"
    r"clerk|guard|lead|chair|head|officer|technician|medic|porter|tutor)s?$",
    re.IGNORECASE,
)


class LocationRecognizer(_DocRecognizer):
    """Places (spaCy GPE/LOC/FAC), which narrow down where the client lives or works."""

    def __init__(self, rules: LocationRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._labels = set(rules.labels)
        super().__init__(["LOCATION"], "LocationRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = _doc(nlp_artifacts)
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
            out.append(_result("LOCATION", start, end, self._rules.score))
        return out


# --------------------------------------------------------------------------------------------------
# Pronouns and titles (neutralised, not vaulted)
# --------------------------------------------------------------------------------------------------


class PronounRecognizer(EntityRecognizer):
    """Gendered pronouns and neopronouns, each with its neutral replacement by grammatical role.

    Possessive "her" (spaCy tag ``PRP$``) becomes ``their``, object "her" becomes ``them``; the
    replacement is carried in ``recognition_metadata["neutral"]``.
    """

    def __init__(self, rules: PronounRules) -> None:
        self._rules = rules
        self._fixed = {k.casefold(): v for k, v in rules.fixed.items()}
        self._by_role = {k.casefold(): v for k, v in rules.by_role.items()}
        self._positional = {w.casefold() for w in rules.needs_pronoun_position}
        super().__init__(supported_entities=["PRONOUN"], name="PronounRecognizer")

    def load(self) -> None:
        pass

    @property
    def words(self) -> set[str]:
        return set(self._fixed) | set(self._by_role)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = _doc(nlp_artifacts)
        if doc is None:
            return []
        out = []
        for tok in doc:
            w = tok.lower_
            if w in self._by_role:
                neutral = self._by_role[w].possessive if _possessive(tok) else self._by_role[w].other
            elif w in self._fixed:
                if w in self._positional and not _pronoun_position(tok):
                    continue
                neutral = self._fixed[w]
            else:
                continue
            out.append(_result("PRONOUN", tok.idx, tok.idx + len(tok.text), 1.0, neutral=neutral))
        return out


def _possessive(tok: Token) -> bool:
    if tok.tag_ == "PRP$":
        return True
    if tok.tag_ == "PRP":
        return False
    # Neopronouns are unknown to the tagger: possessive when a noun phrase follows.
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    return nxt is not None and nxt.pos_ in ("NOUN", "ADJ", "PROPN", "NUM") and not nxt.is_punct


def _pronoun_position(tok: Token) -> bool:
    if tok.text != tok.lower_:
        return False
    if tok.tag_ in ("PRP", "PRP$"):
        return True
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    prev = tok.doc[tok.i - 1] if tok.i > 0 else None
    subject = nxt is not None and nxt.pos_ in ("VERB", "AUX")
    obj = (
        prev is not None
        and prev.pos_ in ("VERB", "ADP")
        and (nxt is None or nxt.is_punct or nxt.pos_ in ("ADP", "CCONJ"))
    )
    return subject or obj


class TitleRecognizer(EntityRecognizer):
    """Gendered titles (Mr, Mrs, Ms, Miss, Mx, Sir, Madam...), with a following full stop."""

    def __init__(self, titles: Sequence[str], ambiguous: Sequence[str]) -> None:
        plain = [t for t in titles if t not in ambiguous]
        self._plain = re.compile(rf"(?<![\w]){_word_re(plain)}(?:\.|(?![\w]))")
        amb = _word_re(ambiguous)
        self._ambiguous = re.compile(
            rf"(?<![\w])(?:(?<=Dear )(?:{amb})(?![\w])|{amb}(?=[ \t]+[A-Z][a-z])|(?<=or )(?:{amb})(?![\w]))"
        )
        self._lower_sir = re.compile(r"(?<![\w])(?:sir|madam)(?![\w])")
        # ALL CAPS name lines ("RE: MRS NOMVULA DLAMINI"): an upper-case title before a capitalised
        # word. "MS" must precede an ALL CAPS word, as "MS" alone is multiple sclerosis.
        upper = [t.upper() for t in titles if t.upper() != "MS" and len(t) > 1]
        self._upper = re.compile(
            rf"(?<![\w])(?:{_word_re(upper)}\.?(?=[ \t]+[A-Z])|MS\.?(?=[ \t]+[A-Z]{{2,}}(?![a-z])))"
        )
        super().__init__(supported_entities=["TITLE"], name="TitleRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        out = [_result("TITLE", m.start(), m.end(), 1.0) for m in self._plain.finditer(text)]
        out += [_result("TITLE", m.start(), m.end(), 1.0) for m in self._ambiguous.finditer(text)]
        out += [_result("TITLE", m.start(), m.end(), 1.0) for m in self._lower_sir.finditer(text)]
        out += [_result("TITLE", m.start(), m.end(), 1.0) for m in self._upper.finditer(text)]
        return out


# --------------------------------------------------------------------------------------------------
# Known identifiers seeded from the message
# --------------------------------------------------------------------------------------------------


def _flex(value: str) -> str:
    """Regex for a value that tolerates spacing, hyphen and apostrophe variants (on folded text)."""
    parts: list[str] = []
    for ch in fold(value).strip():
        if ch.isspace():
            if not parts or parts[-1] != r"[\s\-]+":
                parts.append(r"[\s\-]+")
        elif ch == "-":
            # "Adebayo-Lindqvist" broken over two lines keeps its hyphen at the end of the first.
            parts.append(r"(?:[ \t]*-[ \t]*\n?[ \t]*|\s)?")
        elif ch == "'":
            parts.append(r"['\s]?")
        elif ch == ".":
            parts.append(r"\.?")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


def _phone_flex(value: str) -> str | None:
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return None
    # A leading "+" belongs to the number ("+44 ..."), as does a written extension.
    return r"\+?" + r"[\s\-().+]*".join(re.escape(d) for d in digits) + _EXTENSION


class KnownIdentifierRecognizer(EntityRecognizer):
    """Identifiers seeded from the message itself, removed wherever they recur.

    Names match as the full name, first name or surname alone, possessive ("Sarah's" leaves "'s"),
    any case (ordinary-word names such as "Will" only when capitalised), with accent, hyphen and
    apostrophe variants, and as initials ("S.O.", "S. O.", "SO") of a known full name. Each match
    carries ``recognition_metadata["canonical"]`` so variants of one person share a placeholder.
    Built per letter (it depends on the letter's own identifiers), so it is passed to Presidio as an
    ad-hoc recognizer.
    """

    def __init__(
        self,
        known: KnownIdentifiers,
        vocab: Vocabulary,
        *,
        typed_extra: Sequence[tuple[str, str]] = (),
        discovered: Sequence[str] = (),
        min_length: int = 1,
    ) -> None:
        self._vocab = vocab
        # (regex, entity, canonical, mode): mode "ci" any case, "cs" exact, "word" Title or ALL CAPS
        entries: list[tuple[str, str, str, str]] = []
        # Seeded names match in any case; names from a case vault or found in this letter by the
        # model ("discovered") only capitalised, so a mislabelled word cannot spread in lower case.
        persons = [(n, "seeded") for n in known.names]
        persons += [(v, "vault") for t, v in typed_extra if t == "PERSON"]
        persons += [(v, "discovered") for v in discovered]
        canon_of: dict[str, str] = {}
        # A first name seeded alone ("Dear Hope") shares the placeholder of the one full name it
        # opens ("Hope Nwachukwu"), wherever that full name was seeded; a lone surname joins a full
        # name only if seeded after it, as relatives share surnames ("Mrs Dlamini", "Sipho Dlamini").
        fulls = [fold(" ".join(n.split())).casefold() for n, _ in persons if len(n.split()) > 1]
        openers: dict[str, set[str]] = {}
        for full in fulls:
            openers.setdefault(full.split()[0], set()).add(full)
        for name, _ in persons:
            words = [w for w in re.split(r"\s+", name.strip()) if w]
            full = " ".join(words)
            key = fold(full).casefold()
            if len(words) > 1:
                for w in words:
                    canon_of.setdefault(fold(w).casefold(), key)
                canon_of[key] = key
            elif len(openers.get(key, ())) == 1:
                canon_of[key] = next(iter(openers[key]))
            else:
                canon_of[key] = canon_of.get(key, key)
        for name, origin in persons:
            if _INITIALS_ONLY.fullmatch(fold(name).strip()):
                # "J.K.": the same letters with or without dots and spaces, upper case only.
                letters = re.sub(r"[^A-Z]", "", fold(name).upper())
                key = fold(name).casefold()
                if len(letters) >= max(2, min_length - 1):
                    entries.append((r"\.?[ \t]?".join(letters) + r"\.?", "PERSON", key, "cs"))
                continue
            for variant in self._name_variants(name):
                if len(variant.replace(" ", "")) < min_length:
                    continue
                key = fold(variant).casefold()
                canonical = canon_of.get(key, key)
                if origin != "seeded" or self._is_ordinary_word(variant):
                    mode = "word" if origin != "discovered" else "word-discovered"
                    entries.append((_flex(variant.lower()), "PERSON", canonical, mode))
                else:
                    entries.append((_flex(variant), "PERSON", canonical, "ci"))
            words = [w for w in re.split(r"[\s\-]+", name.strip()) if w and w[0].isalpha()]
            if 2 <= len(words) <= 3 and min_length <= 2:
                initials = [fold(w)[0].upper() for w in words]
                key = canon_of.get(fold(" ".join(name.split())).casefold(), fold(name).casefold())
                dotted = r"\.[ \t]?".join(initials) + r"\."
                entries.append((dotted, "PERSON", key, "cs"))
                entries.append(("".join(initials), "PERSON", key, "cs"))
                # Initial and surname: "S. Okafor", "S Okafor".
                entries.append((rf"{initials[0]}\.?[ \t]+{_flex(words[-1])}", "PERSON", key, "ci"))
        for email in known.emails:
            if email and not vocab.is_own_address(email):
                entries.append((_flex(email), "EMAIL", fold(email).casefold(), "ci"))
        others = [("", o) for o in known.other] + [(t, v) for t, v in typed_extra if t != "PERSON"]
        for typ, value in others:
            value = value.strip()
            if len(value) < max(min_length, 2) or vocab.is_allowed_span(value):
                continue
            entity = typ or classify_value(value)
            if entity == "PHONE" or (entity in ("NHS", "NI", "REGISTRATION", "EMPLOYEE_ID") and _phone_flex(value)):
                rx = _phone_flex(value) if entity in ("PHONE", "NHS") else None
                entries.append((rx or _flex(value), entity, re.sub(r"\W", "", value).casefold(), "ci"))
            else:
                entries.append((_flex(value), entity, " ".join(fold(value).casefold().split()), "ci"))
        self._entries = entries
        self._compiled = self._compile(entries)
        super().__init__(
            supported_entities=sorted({e[1] for e in entries} | {"PERSON"}), name="KnownIdentifierRecognizer"
        )

    def load(self) -> None:
        pass

    def _is_ordinary_word(self, variant: str) -> bool:
        w = fold(variant).casefold()
        return " " not in w and (w in self._vocab.ambiguous or w in self._vocab.stop or w in _common_words())

    @staticmethod
    def _name_variants(name: str) -> list[str]:
        words = [w for w in re.split(r"\s+", name.strip()) if w]
        variants = {" ".join(words)} if words else set()
        for w in words:
            if len(words) > 1 and fold(w).casefold() in _PARTICLES:
                continue  # "van", "de", "an" alone are ordinary words, not the name
            variants.add(w)
            for part in re.split(r"[\-]", w):
                if len(part) >= 3:
                    variants.add(part)
        return sorted(variants, key=lambda v: (-len(v), v))

    @staticmethod
    def _compile(entries: list[tuple[str, str, str, str]]) -> list[tuple[re.Pattern[str], str, str, bool]]:
        compiled = []
        for rx, entity, canonical, mode in entries:
            if mode.startswith("word"):
                pattern = rf"(?<![\w])(?:{_title_variant(rx)}|{_upper_variant(rx)})(?![\w])"
                compiled.append((re.compile(pattern), entity, canonical, mode == "word"))
            elif mode == "cs":
                # Initials glued to a code ("KM-2231", "AB/1234") are part of a reference, not a name.
                pattern = rf"(?<![\w.])(?<![\w][\-/])(?:{rx})(?![\w])(?![\-/]\d)"
                compiled.append((re.compile(pattern), entity, canonical, True))
            else:
                compiled.append((re.compile(rf"(?<![\w])(?:{rx})(?![\w])", re.IGNORECASE), entity, canonical, True))
        return compiled

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        folded = fold(text)
        out = []
        for rx, entity, canonical, known in self._compiled:
            meta = {"canonical": canonical, "known": "1"} if known else {"canonical": canonical}
            for m in rx.finditer(folded):
                # A model-found name matched again elsewhere is no surer than the model was, so it
                # does not outrank a street address or another structured detection it overlaps.
                out.append(_result(entity, m.start(), m.end(), 1.0 if known else 0.85, **meta))
        return out


_PARTICLES = frozenset(
    "van von der den de da di du del della dos das le la bin ibn al el ter ten mac ap ni nic o an mhic ui ua".split()
)
_INITIALS_ONLY = re.compile(r"(?:[A-Z]\.?[ \t]?){2,3}")


def _title_variant(rx: str) -> str:
    # rx is an escaped lower/any-case word regex; build Title-case form from its first literal letter
    for i, ch in enumerate(rx):
        if ch.isalpha():
            return rx[:i] + ch.upper() + rx[i + 1 :]
    return rx


def _upper_variant(rx: str) -> str:
    out = []
    escaped = False
    for ch in rx:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        else:
            out.append(ch.upper() if ch.isalpha() else ch)
    return "".join(out)


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """English verbs, adjectives and adverbs (from the spaCy model's lemmatizer tables): a known name
    that is one of these ("Will", "Brown") is matched only when capitalised."""
    from pipeline.nlp import get_nlp

    try:
        lemmatizer = cast(Lemmatizer, get_nlp().get_pipe("lemmatizer"))  # spaCy types get_pipe as a callable
        table = lemmatizer.lookups.get_table("lemma_index")
    except (KeyError, ValueError):
        return frozenset()
    strings = get_nlp().vocab.strings
    words: set[str] = set()
    for key in ("verb", "adj", "adv"):
        k = strings[key] if key in strings else key
        for candidate in (k, key):
            if candidate in table:
                words.update(table[candidate])
                break
    return frozenset(words)


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """Every word the spaCy model's lemmatizer tables know (nouns too): the dictionary that decides
    how a word typed in capitals is re-cased for analysis."""
    from pipeline.nlp import get_nlp

    try:
        lemmatizer = cast(Lemmatizer, get_nlp().get_pipe("lemmatizer"))
        table = lemmatizer.lookups.get_table("lemma_index")
    except (KeyError, ValueError):
        return _common_words()
    words: set[str] = set()
    for key in table.keys():
        words.update(table[key])
    return frozenset(words)


_CAPS_WORD = re.compile(r"[^\W\d_][\w'\u2019\-]*")


def _is_caps_line(line: str) -> bool:
    words = [w for w in _CAPS_WORD.findall(line) if len(w) >= 2]
    caps = [w for w in words if w.isupper()]
    return len(caps) >= 2 and len([w for w in caps if len(w) >= 3]) >= 1 and len(caps) >= 0.8 * len(words)


def analysis_casing(text: str, vocab: Vocabulary) -> str:
    """``text`` with lines typed in capitals re-cased as ordinary prose, for the model only.

    The small spaCy model reads "WORKS", "REPORT" or "I RECOMMEND" in a capitals line as names or
    organisations and misses the real names. On such lines a dictionary word becomes lower case, a
    title becomes "Mr", a short word stays (an acronym: NHS, CBT) and any other word becomes Title
    case, as a name would be written. Offsets are unchanged (a word whose re-casing would change its
    length is left as it is), so detections map straight back onto the original text.
    """
    if not any(c.isupper() for c in text):
        return text
    english = _english_words()
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if not _is_caps_line(line):
            out.append(line)
            continue

        def recase(m: re.Match[str]) -> str:
            word = m.group(0)
            low = fold(word).casefold()
            bare = re.sub(r"['\u2019]s$", "", low)
            if not word.isupper() or len(word) < 2 or fold(word) in vocab.allow_terms_upper:
                return word
            if bare in vocab.titles:
                new = word[0] + word[1:].lower()
            elif bare in english or bare in vocab.stop or bare in vocab.pronouns or bare in vocab.allow_words:
                new = word.lower()
            elif len(word) <= 3:
                return word
            else:
                new = re.sub(r"[^\W\d_]+", lambda p: p.group(0)[0] + p.group(0)[1:].lower(), word)
                new = re.sub(r"(['\u2019])S$", r"\1s", new)
            return new if len(new) == len(word) else word

        line = _CAPS_WORD.sub(recase, line)
        # Sentence starts capitalised again so the model still sees sentences.
        line = re.sub(r"(^[ \t>]*|[.!?][ \t]+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), line)
        out.append(line)
    return "".join(out)


_EMAIL_RX = re.compile(EmailRecognizer.PATTERN)
_OBFUSCATED_EMAIL_RX = re.compile(EmailRecognizer.OBFUSCATED, re.IGNORECASE)


def classify_value(value: str) -> str:
    """Entity type of a seeded non-name identifier (phone, email, postcode, NHS...)."""
    v = re.sub(_EXTENSION + "$", "", value.strip()) or value.strip()
    if _EMAIL_RX.fullmatch(v) or _OBFUSCATED_EMAIL_RX.fullmatch(v):
        return "EMAIL"
    if re.fullmatch(HandleRecognizer.PATTERN, v):
        return "HANDLE"
    digits = re.sub(r"\D", "", v)
    if re.fullmatch(UkPostcodeRecognizer.PATTERN, v, re.IGNORECASE):
        return "POSTCODE"
    if len(digits) == 10 and re.fullmatch(r"[\d \-]+", v) and nhs_checksum_ok(v):
        return "NHS"
    if re.fullmatch(r"[+()\d \-.]+", v) and 10 <= len(digits) <= 13 and re.match(r"\(?(?:0|\+)", v):
        return "PHONE"
    if re.fullmatch(r"[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]", v, re.IGNORECASE):
        return "NI"
    if any(re.fullmatch(p, v, re.IGNORECASE) for p in DateOfBirthRecognizer.FULL_DATES):
        return "DOB"
    if digits and re.search(r"[A-Za-z]", v) and re.search(r"\d", v) and len(v.split()) > 2:
        return "ADDRESS"
    if digits:
        return "REGISTRATION"
    return "ORG"


def build_recognizers(rules: RedactionRules, vocab: Vocabulary) -> list[EntityRecognizer]:
    """The fixed recognizers of the process (known identifiers are added per letter)."""
    return [
        EmailRecognizer(rules.email, vocab),
        UrlRecognizer(rules.url, vocab),
        HandleRecognizer(rules.handle),
        UkPhoneRecognizer(rules.phone),
        NhsNumberRecognizer(rules.nhs),
        NiNumberRecognizer(rules.ni),
        UkPostcodeRecognizer(rules.postcode),
        DateOfBirthRecognizer(rules.dob),
        RegistrationNumberRecognizer(rules.registration),
        EmployeeIdRecognizer(rules.employee_id),
        EmployeeIdRecognizer(rules.reference, "REFERENCE"),
        StreetAddressRecognizer(rules.address, vocab),
        PersonRecognizer(rules.person, vocab),
        RelativeRecognizer(rules.relatives, vocab),
        EmployerRecognizer(rules.employer, vocab),
        LocationRecognizer(rules.location, vocab),
        PronounRecognizer(rules.pronouns),
        TitleRecognizer(rules.titles, rules.ambiguous_titles),
    ]
