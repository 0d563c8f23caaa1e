"""Letters must be in English: plainly English text passes at once, anything else is asked of
langdetect (seeded, so a replay never differs run to run)."""

from __future__ import annotations

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

from pipeline.models import LetterMissing
from pipeline.stages.extract.text import word_list

DetectorFactory.seed = 0  # langdetect is randomised; replay must not differ run to run

_LANGUAGE_MIN_WORDS = 20

_ENGLISH_FUNCTION_WORDS = frozenset(
    "the and of to a in is for that with on as are be this have has was were it i we you they he she "
    "their our my your his her at by from or not an will would can could should been which who "
    "also more sessions session client therapy".split()
)


def check_language(text: str) -> None:
    words = word_list(text)
    if len(words) < _LANGUAGE_MIN_WORDS:
        return
    lowered = [w.lower() for w in words]
    english = sum(1 for w in lowered if w in _ENGLISH_FUNCTION_WORDS) / len(lowered)
    if english >= 0.08:
        return  # plainly English, whatever names it holds
    try:
        guesses = detect_langs(text[:5000])
    except LangDetectException:
        return
    if guesses and guesses[0].lang != "en" and guesses[0].prob >= 0.80:
        raise LetterMissing("language-not-supported")
