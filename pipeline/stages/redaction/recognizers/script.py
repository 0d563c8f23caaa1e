"""Words in a script other than Latin: in a letter written in English, a run of Han, Hangul, kana,
Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai... letters is a name (the client's name as their
family writes it, a place, an employer), so it is removed, fail-closed, whatever the model makes of
it (spaCy's English model reads none of them). Words of one such letter on their own (a Greek
"α" in a formula) stay; a run of CJK letters counts from one character, as a CJK name may be one.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result

ENTITY = "PERSON"
_SCORE = 0.85
# Letters (and combining marks) separated by nothing, or by one space or a middle dot between words.
_RUN = re.compile(
    r"[^\W\d_](?:[\w\u00b7\u30fb\u0300-\u036f\u0900-\u097f\u0e00-\u0e7f]|[ \t\u3000\u00b7\u30fb](?=[^\W\d_]))*"
)
_CJK = ("CJK", "HANGUL", "HIRAGANA", "KATAKANA", "BOPOMOFO")


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    """The first word of a character's Unicode name ("LATIN", "CJK", "CYRILLIC"), "" if unnamed."""
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0]


def _foreign(ch: str) -> bool:
    return ch.isalpha() and _script(ch) not in ("LATIN", "")


class ScriptRecognizer(EntityRecognizer):
    """Runs of letters in a non-Latin script (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=[ENTITY], name="ScriptRecognizer")

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if text.isascii():
            return []
        out = []
        for start, end in _foreign_runs(text):
            letters = [c for c in text[start:end] if c.isalpha()]
            if len(letters) >= 2 or _script(letters[0]) in _CJK:
                out.append(result(ENTITY, start, end, _SCORE, script="1"))
        return out


def _foreign_runs(text: str) -> list[tuple[int, int]]:
    """Spans of words whose letters are all non-Latin, joined across single spaces."""
    runs: list[tuple[int, int]] = []
    for m in _RUN.finditer(text):
        # Cut the run into words; keep the words made of non-Latin letters, joining neighbours.
        for w in re.finditer(r"[^ \t\u3000\u00b7\u30fb]+", m.group(0)):
            word = w.group(0)
            # Made of non-Latin letters only; a word with no letter at all ("½", "²": numeric
            # characters that are word characters but not digits) is not a name.
            if not any(c.isalpha() for c in word) or not all(_foreign(c) or not c.isalpha() for c in word):
                continue
            a, b = m.start() + w.start(), m.start() + w.end()
            if runs and re.fullmatch(r"[ \t\u3000\u00b7\u30fb]?", text[runs[-1][1] : a]):
                runs[-1] = (runs[-1][0], b)
            else:
                runs.append((a, b))
    return runs
