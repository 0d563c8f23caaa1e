"""Street addresses (postcodes are formats: see formats.py)."""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.recognizers.formats import is_uk_postcode
from pipeline.stages.redaction.rules import AddressRules
from pipeline.stages.redaction.vocabulary import Vocabulary, common_words, word_alternation


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
        # The same street typed all in lower case ("22 <name> view, <town> <postcode>"): its name words
        # must hold one that is no word of English (checked in ``_lower_case_streets``); then the words
        # between its comma and a postcode are its town.
        low_suffix = word_alternation(s.casefold() for s in rules.street_suffixes)
        self._lower = re.compile(
            rf"(?<![\w/.,:])\d{{1,4}}[a-z]?,?[ \t]+(?P<name>(?:[a-z][a-z'\u2019\-]*[ \t]+){{1,3}}?)"
            rf"(?P<street>{low_suffix})(?![\w])"
            rf"(?:,[ \t]*(?P<town>(?:[^\W\d_][\w'\u2019\-]*[ \t]+){{1,3}})"
            rf"(?P<postcode>[A-Za-z]{{1,2}}\d[A-Za-z\d]?[ \t]?\d[A-Za-z]{{2}}|\d{{4,5}})(?![\w]))?"
        )
        self._bare = re.compile(rf"(?<![\w])(?:{cap}[ \t]+){{1,3}}{bare}(?![\w])")
        self._building = re.compile(rf"(?<![\w])(?:{cap}[ \t]+){{1,3}}{building}(?![\w])")
        self._continental = _continental_patterns(rules)
        labels = word_alternation(" ".join(label.split()) for label in rules.labels).replace(r"\ ", r"[ \t]+")
        # "Home address: ...", "Home area<TAB>...", a flattened table's "Home address 4 ...": the value
        # opens with a digit or a capital and runs to the end of its line or cell.
        # A bilingual form gives the label in the local language first ("Bydliště / Home address").
        self._labelled = re.compile(
            rf"^[ \t>*|\-\u2022]*(?:[^\W\d_][^\n/|\t:]{{0,40}}?[ \t]*/[ \t]*)?"
            rf"(?i:{labels})[ \t]*(?::|\||\t|[ \t]{{2,}}|[\-\u2013][ \t]|(?<=[^ \t])[ \t])[ \t|]*"
            rf"(?P<value>[\d{_UP[1:-1]}][^\n|\t]*?)(?=[ \t]*(?:$|\||\t|[ \t]{{3,}}))",
            re.MULTILINE,
        )
        super().__init__(supported_entities=["ADDRESS"], name="StreetAddressRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        score = self._rules.score
        out = [result("ADDRESS", m.start(), m.end(), score) for m in self._numbered.finditer(text)]
        out += [result("ADDRESS", m.start(), m.end(), score) for m in self._unit.finditer(text)]
        out += self._lower_case_streets(text)
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
        return out + self._continental_streets(text) + self._labelled_values(text)

    def _lower_case_streets(self, text: str) -> list[RecognizerResult]:
        """ "22 <name> view, <town> <postcode>" in lower case: an address when a word of the street's
        name is no word of English nor of the clinical vocabulary (not "3 more weekly sessions at the
        green"); the town, between the comma and a postcode, goes with it (the postcode is a format's)."""
        out = []
        counts = {w.casefold() for w in self._rules.not_after_number}
        for m in self._lower.finditer(text):
            words = m.group("name").split()
            if words[0] in counts or all(self._vocab.is_ordinary(w) for w in words):
                continue  # "3 miles along the park road": a count, not a house number
            postcode = m.group("postcode")
            end = m.end("town") if postcode and is_uk_or_numeric_postcode(postcode) else m.end("street")
            out.append(result("ADDRESS", m.start(), end, self._rules.score))
        return out

    def _labelled_values(self, text: str) -> list[RecognizerResult]:
        """The value of an address field, removed whole: it ``fills`` what the other detections
        (a town, a postcode) leave of it (see ``Redactor._select``)."""
        out = []
        for m in self._labelled.finditer(text):
            if not self._vocab.is_allowed_span(m.group("value")):
                out.append(result("ADDRESS", m.start("value"), m.end("value"), self._rules.score, fill="1"))
        return out

    def _continental_streets(self, text: str) -> list[RecognizerResult]:
        """ "Storgatan 12", "Hauptplatz 3/2/8", "ul. Długa 15 m. 4", "12 rue de la Paix", "via Roma 4"."""
        out = []
        exceptions = {w.casefold() for w in self._rules.street_ending_exceptions}
        apart = {w.casefold() for w in self._rules.street_words}
        for rx in self._continental:
            for m in rx.finditer(text):
                name = m.group("name")
                words = name.split()
                last = words[-1].casefold()
                # A street word written apart, in lower case, after a capitalised name ("Kongens gate 5")
                # is the street's, even when it is also a word of English.
                written_apart = len(words) > 1 and words[-1].islower() and last in apart
                if last in exceptions or (last in common_words() and rx is self._continental[0] and not written_apart):
                    continue  # "Brigade 3", "Cascade 2": an English word, not a street
                if self._vocab.is_allowed_span(name):
                    continue  # "via Zoom 3": a platform, not a street
                if rx is self._continental[-1] and any(
                    w.casefold() in common_words() or self._vocab.not_a_name(w) for w in words
                ):
                    continue  # "March 31, 2024 London": a date, not a street
                out.append(result("ADDRESS", m.start(), m.end(), self._rules.score))
        return out


def is_uk_or_numeric_postcode(value: str) -> bool:
    """A UK postcode in any case, or a postcode of four or five digits (Australia, the US)."""
    return value.isdigit() or is_uk_postcode(value)


_UP = r"[A-Z\u00c0-\u00de\u0100-\u017f]"
_UPWORD = rf"{_UP}[\w'\u2019\-]*"


def _continental_patterns(rules: AddressRules) -> list[re.Pattern[str]]:
    """Street name and number in the continental orders: the street word ending the name
    ("Storgatan 12"), opening it ("ul. Długa 15"), or after the number ("12 rue de la Paix")."""
    endings = word_alternation(rules.street_endings)
    words = word_alternation(rules.street_words)
    particles = word_alternation(rules.name_particles)
    flat_words = word_alternation(rules.flat_words)
    counts = word_alternation(rules.not_after_number)
    # "12", "12B", "12 B", "5 A 12" (Finnish staircase and flat), "3/2/8", "12-3"; not "3 times".
    number = (
        r"\d{1,4}[A-Za-z]?(?:[ \t]?[/\-][ \t]?\d{1,4}[A-Za-z]?){0,3}(?:[ \t][A-Z](?:[ \t]\d{1,3})?)?(?![\w/])"
        rf"(?![ \t]+(?i:{counts})(?![\w]))"
    )
    # "m. 4", "lgh 1102", "Top 8", and the Danish floor and side ("2. tv.").
    flat = (
        rf"(?:,?[ \t]*(?:(?<![\w])(?i:{flat_words})[ \t]*\d{{1,4}}[A-Za-z]?(?![\w])"
        rf"|,?[ \t]*\d{{1,2}}\.?[ \t]*(?i:tv|th|mf|st)\.?(?![\w])))*"
    )
    # "00-950 Warszawa", "1010 Wien", "114 55 Stockholm", "1017 AB Amsterdam", "D-80331 München".
    town = (
        rf"(?:,?[ \t]*(?:\n[ \t]*)?(?:[A-Z]{{1,2}}-)?\d{{2,5}}(?:[ \-]\d{{2,3}})?(?:[ \t]?[A-Z]{{2}}(?![\w]))?"
        rf"[ \t]+{_UPWORD}(?:[ \t\-]+{_UPWORD})?)?"
    )
    named = rf"(?:(?i:{particles})[ \t]*)*{_UPWORD}(?:[ \t]+(?:(?i:{particles})[ \t]+)*{_UPWORD}){{0,3}}"
    ending = (
        rf"(?P<name>(?:{_UPWORD}[ \t]+){{0,2}}{_UP}[\w'\-]*?(?i:{endings})"
        rf"|(?:{_UPWORD}[ \t]+){{1,3}}(?i:{endings}|{words}))"
    )
    prefix = word_alternation(rules.street_prefixes)
    first = word_alternation(rules.number_first_prefixes)
    interior = word_alternation(rules.interior_words)
    return [
        re.compile(rf"(?<![\w]){ending}(?<=[\w.])[ \t]+{number}{flat}{town}"),
        re.compile(rf"(?<![\w])(?i:{prefix})[ \t]*(?P<name>{named}),?[ \t]+{number}{flat}{town}"),
        re.compile(
            rf"(?<![\w])\d{{1,4}}(?:[ \t]?(?:bis|ter)|[A-Za-z])?,?[ \t]+(?i:{first})[ \t]+(?P<name>{named}){town}"
        ),
        # No street word, but a flat inside the building after the number ("Colima 214, int. 3",
        # "Belgrano 1450, depto. 5"): the flat makes it an address.
        re.compile(
            rf"(?<![\w])(?P<name>{named}),?[ \t]+\d{{1,5}}[A-Za-z]?,?[ \t]+(?i:{interior})[ \t]*"
            rf"[\dA-Za-z]{{1,4}}(?![\w])"
        ),
        # No street word, but the house number, a comma, the postcode and the town, as Central European
        # letters write it ("Husova 12, 110 00 Praha 1", "Długa 15, 00-238 Warszawa"); the name must
        # hold no word of English (checked in ``_continental_streets``).
        re.compile(
            rf"(?<![\w])(?P<name>{named})[ \t]+\d{{1,4}}[A-Za-z]?(?:/\d{{1,4}}[A-Za-z]?)?,[ \t]*(?:\n[ \t]*)?"
            rf"(?:[A-Z]{{1,2}}-)?\d{{2,5}}(?:[ \-]\d{{2,3}})?[ \t]+{_UPWORD}(?:[ \t]+\d{{1,2}})?(?![\w])"
        ),
    ]


# --------------------------------------------------------------------------------------------------
# spaCy-based recognizers: people, relatives, employers and organisations, places
# --------------------------------------------------------------------------------------------------
