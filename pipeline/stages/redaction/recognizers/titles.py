"""Gendered titles (Mr, Mrs, Ms, Miss...), neutralised to ``[TITLE]`` (not vaulted)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.vocabulary import word_alternation

# A capitalised word after a title, accented too ("Sra. López"), or a surname's particle ("Sr. de la Torre").
_NAME_NEXT = (
    r"[ \t]+(?:(?:de|del|della|di|da|dos|das|du|la|le|van|von|der|den|ter)[ \t]+){0,2}[A-Z\u00c0-\u00de][^\W\d_]"
)


class TitleRecognizer(EntityRecognizer):
    """Gendered titles (Mr, Mrs, Ms, Miss, Mx, Sir, Madam...), with a following full stop."""

    def __init__(self, titles: Sequence[str], ambiguous: Sequence[str], abbreviated: Sequence[str] = ()) -> None:
        plain = [t for t in titles if t not in ambiguous]
        self._plain = re.compile(rf"(?<![\w]){word_alternation(plain)}(?:\.|(?![\w]))")
        amb = word_alternation(ambiguous)
        self._ambiguous = re.compile(
            rf"(?<![\w])(?:(?<=Dear )(?:{amb})(?![\w])|{amb}\.?(?={_NAME_NEXT})|(?<=or )(?:{amb})(?![\w]))"
        )
        # A short form in lower case with its full stop before a name ("sig. Rossi", "sr. Ortega").
        short = word_alternation(t.casefold() for t in abbreviated)
        self._lower_short = re.compile(rf"(?<![\w.]){short}\.(?={_NAME_NEXT})")
        self._lower_sir = re.compile(r"(?<![\w])(?:sir|madam)(?![\w])")
        # ALL CAPS name lines ("RE: MRS NOMVULA DLAMINI"): an upper-case title before a capitalised
        # word. "MS" and the ambiguous titles must precede an ALL CAPS word, as "MS" alone is multiple
        # sclerosis and "HR Manager" a department.
        loose = {t.upper() for t in ambiguous} | {"MS"}
        upper = [t.upper() for t in titles if t.upper() not in loose and len(t) > 1]
        strict = [t for t in sorted(loose) if len(t) > 1]
        self._upper = re.compile(
            rf"(?<![\w])(?:{word_alternation(upper)}\.?(?=[ \t]+[A-Z])"
            rf"|{word_alternation(strict)}\.?(?=[ \t]+[A-Z]{{2,}}(?![a-z])))"
        )
        super().__init__(supported_entities=["TITLE"], name="TitleRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        out = [result("TITLE", m.start(), m.end(), 1.0) for m in self._plain.finditer(text)]
        out += [result("TITLE", m.start(), m.end(), 1.0) for m in self._ambiguous.finditer(text)]
        out += [result("TITLE", m.start(), m.end(), 1.0) for m in self._lower_sir.finditer(text)]
        out += [result("TITLE", m.start(), m.end(), 1.0) for m in self._lower_short.finditer(text)]
        out += [result("TITLE", m.start(), m.end(), 1.0) for m in self._upper.finditer(text)]
        return out


# --------------------------------------------------------------------------------------------------
# Known identifiers seeded from the message
# --------------------------------------------------------------------------------------------------
