"""Places (towns, regions) that locate the client."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import DocRecognizer, doc_of, result
from pipeline.stages.redaction.rules import LocationRules
from pipeline.stages.redaction.vocabulary import Vocabulary, word_alternation

ROLE_NOUN = re.compile(
    r"(?:ist|er|or|ian|ant|ent|ee|man|woman|person|nurse|midwife|surgeon|chef|pilot|vicar|priest|judge|"
    r"clerk|guard|lead|chair|head|officer|technician|medic|porter|tutor)s?$",
    re.IGNORECASE,
)


# One to three capitalised words (a place's name), or one or two lower-case words, on the cue's line.
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'\-]*(?:[ \t]+[A-Z][\w'\-]*){0,2}(?![\w'\-@/]|\.\w)")
_LOWER_RUN = re.compile(r"[a-z][a-z'\-]+(?:[ \t]+[a-z][a-z'\-]+)?(?![\w'\-@/]|\.\w)")


def _cue_pattern(cues: list[str], adverbs: list[str]) -> re.Pattern[str] | None:
    """ "<verb> [adverb [adverb]] <preposition> [the] ": each cue's last word is its preposition."""
    if not cues:
        return None
    adverb = word_alternation(adverbs)
    alts = []
    for cue in sorted(set(cues), key=len, reverse=True):
        *verb, prep = cue.split()
        head = r"[ \t]+".join(re.escape(w) for w in verb)
        alts.append(rf"{head}(?:[ \t]+{adverb}){{0,2}}[ \t]+{re.escape(prep)}" if verb else re.escape(prep))
    return re.compile(rf"(?<![\w'\-])(?i:{'|'.join(alts)})[ \t]+(?:the[ \t]+)?")


class LocationRecognizer(DocRecognizer):
    """Places (spaCy GPE/LOC/FAC), which narrow down where the client lives or works."""

    def __init__(self, rules: LocationRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._labels = set(rules.labels)
        nouns = "|".join(
            re.escape(w).replace(r"\ ", r"[ \t]+") for w in sorted(set(rules.workplaces), key=len, reverse=True)
        )
        nouns = nouns or "(?!x)x"
        # One to three capitalised words, then a workplace noun: "Harlow depot", "Kings Park Depot" (a wrapped
        # line may part them).
        self._workplace = re.compile(
            rf"(?<![\w\-])((?:[A-Z][\w'\-]*(?:[ \t]+|[ \t]*\n[ \t]*)){{1,3}})(?i:{nouns})(?![\w\-])"
        )
        self._workplace_noun = re.compile(rf"(?:{nouns})", re.IGNORECASE)
        # A workplace noun with its number, capitalised ("Terminal 18", "Depot 4"): one site of the employer.
        self._numbered_workplace = re.compile(rf"(?<![\w\-])(?=[A-Z])(?i:{nouns})[ \t]+\d{{1,4}}[A-Za-z]?(?![\w\-])")
        # The same in lower case ("works the box at <place> junction"): one or two words, each no word
        # of English nor of the clinical vocabulary (not "the bus depot"), checked in ``_workplaces``.
        self._lower_workplace = re.compile(rf"(?<![\w\-])((?:[a-z][a-z'\-]*[ \t]+){{1,2}})(?:{nouns})(?![\w\-])")
        parts = word_alternation(rules.workplace_parts)
        # "on the <Name> floor": a name (capitalised, or with a capital after a short prefix: "uMhlanga")
        # of a part of the building.
        self._workplace_part = re.compile(
            rf"(?<![\w\-])(?i:on|in|at|to|from)[ \t]+(?i:the)[ \t]+"
            rf"(?P<name>(?:(?:[A-Z]|[a-z]{{1,3}}[A-Z])[\w'\-]*[ \t]+){{1,3}})(?i:{parts})(?![\w\-])"
        )
        forms = "|".join(re.escape(f) for f in sorted(set(rules.legal_forms), key=len, reverse=True))
        # "<Company> GmbH in <Place>", the place perhaps on the next line: where the client works.
        self._company_place = (
            re.compile(
                rf"(?<![\w])(?:{forms})\.?,?[ \t]+in[ \t]*\n?[ \t]*"
                rf"(?P<place>[A-Z][\w'\-]+(?:[ \t]+[A-Z][\w'\-]+){{0,2}})"
            )
            if forms
            else None
        )
        self._residence = _cue_pattern(rules.residence_cues, rules.cue_adverbs)
        self._sender = _cue_pattern(rules.sender_cues, rules.cue_adverbs)
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
        return out + self._workplaces(text) + self._company_places(text) + self._cued_places(text)

    def _cued_places(self, text: str) -> list[RecognizerResult]:
        """The place after a residence cue ("lives over in the <Place>"): its capitalised words, less
        the allow-listed ones, even when they are words of English too; or, after a residence or a
        sender cue ("sent from <place>"), one or two lower-case words of no English."""
        out = []
        for pattern, capitalised in ((self._residence, True), (self._sender, False)):
            for m in pattern.finditer(text) if pattern else ():
                rest = text[m.end() :]
                upper = _CAPITALISED_RUN.match(rest)
                if capitalised and upper:
                    words = list(re.finditer(r"[^ \t]+", upper.group(0)))
                    while words and self._vocab.not_a_name(words[0].group(0)):
                        words = words[1:]
                    while words and self._vocab.not_a_name(words[-1].group(0)):
                        words = words[:-1]
                    if not words:
                        continue
                    a, b = m.end() + words[0].start(), m.end() + words[-1].end()
                    if not self._vocab.is_allowed_span(text[a:b]):
                        out.append(result("LOCATION", a, b, self._rules.score, cue="1"))
                    continue
                lower = _LOWER_RUN.match(rest)
                if lower is None:
                    continue
                if any(self._vocab.is_ordinary(w) for w in lower.group(0).split()):
                    continue
                a = m.end()
                out.append(result("LOCATION", a, a + len(lower.group(0)), self._rules.score, cue="1"))
        return out

    def _company_places(self, text: str) -> list[RecognizerResult]:
        """The place after "<Company> <legal form> in": its name-like words (not an allow-listed term)."""
        out = []
        for m in self._company_place.finditer(text) if self._company_place else ():
            words = m.group("place").split()
            while words and self._vocab.not_a_name(words[-1]):
                words.pop()
            if not words or self._vocab.is_allowed_span(" ".join(words)):
                continue
            start = m.start("place")
            out.append(result("LOCATION", start, start + len(" ".join(words)), self._rules.score))
        return out

    def _workplaces(self, text: str) -> list[RecognizerResult]:
        """ "<Place> depot": the capitalised words before a workplace noun, less the ones that open a
        sentence or are clinical ("The", "Her", "NHS"), with the noun (the two say where)."""
        out = []
        for m in self._workplace.finditer(text):
            words = list(re.finditer(r"[^ \t\n]+", m.group(1)))
            while words and self._vocab.not_a_name(words[0].group(0)):
                words = words[1:]
            if not words or self._workplace_noun.fullmatch(words[-1].group(0)):
                continue
            out.append(result("LOCATION", m.start(1) + words[0].start(), m.end(), self._rules.score, workplace="1"))
        for m in self._workplace_part.finditer(text):
            words = list(re.finditer(r"[^ \t]+", m.group("name")))
            while words and self._vocab.not_a_name(words[0].group(0)):
                words = words[1:]
            if not words or all(self._vocab.is_ordinary(w.group(0)) for w in words):
                continue  # "on the Intensive Care unit", "on the Maple ward": words of English
            a, b = m.start("name") + words[0].start(), m.start("name") + words[-1].end()
            out.append(result("LOCATION", a, b, self._rules.score, workplace="1"))
        for m in self._numbered_workplace.finditer(text):
            out.append(result("LOCATION", m.start(), m.end(), self._rules.score, workplace="1"))
        for m in self._lower_workplace.finditer(text):
            words = list(re.finditer(r"[^ \t\n]+", m.group(1)))
            while words and self._vocab.is_ordinary(words[0].group(0)):
                words = words[1:]
            if not words or any(self._vocab.is_ordinary(w.group(0)) for w in words):
                continue
            out.append(result("LOCATION", m.start(1) + words[0].start(), m.end(), self._rules.score, workplace="1"))
        return out


# --------------------------------------------------------------------------------------------------
# Pronouns and titles (neutralised, not vaulted)
# --------------------------------------------------------------------------------------------------
