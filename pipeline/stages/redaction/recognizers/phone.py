"""Phone numbers of every region we see, by Google's libphonenumber (the ``phonenumbers`` package).

Lenient on purpose: a number of a possible length for some region counts, valid or not (an invented
number in a real format is still a number), in national or international (+CC, 00CC) format, its
extension included. The letter's own hints (the country of a +CC number, the country-code domain of
an address or website, the region of a postcode) order the regions and raise the score; a number
possible only elsewhere still counts, lower, so a national ID claiming the same digits names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatch, PhoneNumberMatcher
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.recognizers.digits import DigitShapes
from pipeline.stages.redaction.rules import PhoneRules
from pipeline.stages.redaction.vocabulary import word_alternation

# "0161 496 0312 ext. 204", "x204", "extension 12": the extension is part of the number (also used
# where a seeded number is matched again, see known.py).
PHONE_EXTENSION = r"(?:[ \t]*,?[ \t]*(?:ext(?:ension)?\.?|x)[ \t]*\d{1,5}(?!\d))?"

_PLUS = re.compile(r"^\(?\+")
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_DOMAIN_TLD = re.compile(r"(?<![\w\-])[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.([A-Za-z]{2})(?![\w\-])")
_CANDIDATE_DIGITS = re.compile(r"\d")


class _MultiRegionMatcher(PhoneNumberMatcher):
    """libphonenumber's matcher, each candidate parsed for each region in turn until one accepts it.

    Candidates are found once (the matcher's own extraction); only ``_parse_and_verify`` is repeated
    per region, and a candidate with too few digits, or glued to a word, is not parsed at all. A
    national number is read first by the regions whose trunk prefix it is written with ("0" in the
    UK, Ireland, Australia...; none in North America or Denmark); ``region_of`` records the region
    that accepted it, or None when only a region whose trunk prefix it lacks did.
    """

    def __init__(self, text: str, regions: Sequence[str], accept: Callable[[str, int], bool]) -> None:
        self._regions = tuple(regions)
        self._accept = accept
        self.region_of: dict[int, str | None] = {}
        super().__init__(text, self._regions[0], leniency=Leniency.POSSIBLE, max_tries=65535)

    def _parse_and_verify(self, candidate: str, offset: int) -> PhoneNumberMatch | None:
        if not self._accept(candidate, offset):
            return None
        digits = re.sub(r"\D", "", candidate)
        fitting = [r for r in self._regions if _trunk_fits(r, digits)]
        for region in fitting + [r for r in self._regions if r not in fitting]:
            self.preferred_region = region
            match = super()._parse_and_verify(candidate, offset)
            if match is not None:
                self.region_of[offset] = region if region in fitting else None
                return match
        return None


def _trunk_fits(region: str, digits: str) -> bool:
    """A national number written as the region writes it: with its trunk prefix, if it has one."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    prefix = metadata.national_prefix if metadata is not None else None
    return not prefix or prefix == "1" or digits.startswith(prefix)


class PhoneRecognizer(EntityRecognizer):
    """Phone numbers in any of the configured regions' formats (see the module docstring)."""

    def __init__(
        self,
        rules: PhoneRules,
        shapes: DigitShapes,
        *,
        context_window: int = 40,
        region_hints: Callable[[str], list[str]] | None = None,
    ) -> None:
        self._rules = rules
        self._shapes = shapes
        self._window = context_window
        self._region_hints = region_hints
        self._tlds = {k.casefold(): v for k, v in rules.tld_regions.items()}
        words = word_alternation(rules.context)
        self._context = re.compile(rf"(?<![\w]){words}(?![\w])", re.IGNORECASE)
        super().__init__(supported_entities=["PHONE"], name="PhoneRecognizer")

    def load(self) -> None:
        pass

    def hints(self, text: str) -> list[str]:
        """Regions the letter points to: +CC numbers, country-code domains, postcodes; then defaults."""
        hints: list[str] = []
        for match in PhoneNumberMatcher(text, "ZZ", leniency=Leniency.POSSIBLE):
            hints.append(phonenumbers.region_code_for_country_code(match.number.country_code or 0))
        hints += [
            self._tlds[m.group(1).casefold()] for m in _DOMAIN_TLD.finditer(text) if m.group(1).casefold() in self._tlds
        ]
        if self._region_hints is not None:
            hints += self._region_hints(text)
        hints += self._rules.default_hints
        return list(dict.fromkeys(h for h in hints if h in self._rules.regions))

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not _CANDIDATE_DIGITS.search(text):
            return []
        hinted = self.hints(text)
        regions = hinted + [r for r in self._rules.regions if r not in hinted]
        min_digits = self._rules.min_digits

        def accept(candidate: str, offset: int) -> bool:
            digits = sum(c.isdigit() for c in candidate)
            if digits < min_digits or _DOTTED_QUAD.fullmatch(candidate.strip()):
                return False  # too short, or an IP address
            return not _glued(text, offset, offset + len(candidate))

        matcher = _MultiRegionMatcher(text, regions, accept)
        out: list[RecognizerResult] = []
        for match in matcher:
            start, end = match.start, match.end
            if len(str(match.number.national_number)) < min_digits and not _PLUS.match(match.raw_string):
                continue
            if self._shapes.exempt(text, start, end):
                continue
            # "+CC" names its country; a label before it ("Tel:", "Mobile") names it a phone; so
            # does a national number written as a region the letter points to writes it.
            strong = (
                bool(_PLUS.match(match.raw_string))
                or matcher.region_of.get(start) in hinted
                or bool(self._context.search(text[max(0, start - self._window) : start]))
            )
            score = self._rules.score if strong else self._rules.score_elsewhere
            out.append(result("PHONE", start, end, score))
        return out


def _glued(text: str, start: int, end: int) -> bool:
    """A candidate inside a longer code ("EAP-2026-44817", "U-5582131"), not a number on its own."""
    before = text[start - 1] if start > 0 else ""
    if before.isalnum() or (before in "-/" and start > 1 and text[start - 2].isalnum()):
        return True
    after = text[end] if end < len(text) else ""
    return after.isalnum() or (after in "-/" and end + 1 < len(text) and text[end + 1].isalnum())
