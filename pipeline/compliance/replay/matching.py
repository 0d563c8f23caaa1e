"""Finding a ground-truth value in a text (whole words, any spacing, case-insensitive), and masking
such values wherever a letter or a diff is shown."""

from __future__ import annotations

import re
from typing import Any


class Scrubber:
    """Masks removed values in diffs: every ground-truth string, and, on lines that are new,
    any identifier-shaped word (capitalised, with a digit or an @) the golden text does not have."""

    _WORD = re.compile(r"[\w@.+'’-]*\w")

    def __init__(self, truths: dict[str, dict[str, Any]]) -> None:
        patterns = []
        for truth in truths.values():
            for etype, values in sorted((truth.get("must_not_survive") or {}).items()):
                patterns += [(etype, value) for value in values if value.strip()]
        # Longest first, so "Dr Jane Doe" is masked whole before "Doe".
        self._patterns = [
            (etype, value, value_pattern(value))
            for etype, value in sorted(patterns, key=lambda p: (-len(p[1]), p[0], p[1]))
        ]

    def known(self, line: str) -> str:
        for etype, value, pattern in self._patterns:

            def mask(match: re.Match[str], etype: str = etype, value: str = value) -> str:
                return f"[LEAK:{etype}]" if survives(value, match.group(0)) else match.group(0)

            line = pattern.sub(mask, line)
        return line

    _BRACKETED = re.compile(r"(\[[^\[\]\s]+\])")  # placeholders, [LEAK:TYPE] and [?] stay as they are

    def new_line(self, line: str, golden_words: set[str]) -> str:
        def mask(match: re.Match[str]) -> str:
            word = match.group(0)
            if word.lower() in golden_words:
                return word
            if word[0].isupper() or "@" in word or any(c.isdigit() for c in word):
                return "[?]"
            return word

        pieces = self._BRACKETED.split(self.known(line))
        return "".join(piece if i % 2 else self._WORD.sub(mask, piece) for i, piece in enumerate(pieces))


def word_set(text: str) -> set[str]:
    return {w.lower() for w in Scrubber._WORD.findall(text)}


def value_pattern(value: str) -> re.Pattern[str]:
    """Case-insensitive, whole-word, any run of whitespace (a line break too) between words."""
    body = r"\s+".join(re.escape(part) for part in value.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def survives(value: str, text: str) -> bool:
    """Whether a must-not-survive value is in ``text``: case-insensitive and whole-word, except that
    a capitalised one-word value found only in lower case is the ordinary word ("Will" the client,
    "I will recommend"), which must survive."""
    ordinary_word = " " not in value.strip() and value != value.lower()
    return any(not (ordinary_word and match.group(0).islower()) for match in value_pattern(value).finditer(text))
