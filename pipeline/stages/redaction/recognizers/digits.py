"""What a run of digits is, for every recognizer of numbers (catch-all, phones, postcodes, ID numbers).

A *run* is letters and digits joined by ``-`` ``.`` ``/`` ("U-558213", "12/03/2025", "F41.1"), or digit
groups joined by single spaces ("1234 5678 9012", "046 454 286"). A run is *suspect* when it has 4+
digits or mixes letters and digits (5+ characters, 2+ digits); it is *exempt* when it is a date, a
year, a score, a measure, a count, money, an ordinal or time, an instrument name ("SCL-90") or an
allow-listed term ("PHQ-9", "COVID-19"); the shapes and word lists are ``catch_all`` in
``rules/structured.yaml``. The recognizers share this so they agree on what is clinical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.stages.redaction.rules import CatchAllRules
from pipeline.stages.redaction.vocabulary import Vocabulary, _english_words, fold, word_alternation

_RUN = re.compile(r"(?<![^\W_])[^\W_]+(?:[\-\u2013./][^\W_]+)*")
_SEGMENTS = re.compile(r"\d+|[^\W\d_]+")
_SPACE = frozenset(" \u00a0\u202f")


@dataclass(frozen=True, slots=True)
class Run:
    start: int
    end: int
    text: str


class DigitShapes:
    """Token runs of a text, and which of them could be identifiers (see the module docstring)."""

    def __init__(self, rules: CatchAllRules, vocab: Vocabulary) -> None:
        self.rules = rules
        self.vocab = vocab
        self._exempt = re.compile("|".join(f"(?:{p})" for p in rules.exempt), re.IGNORECASE)
        self._year = re.compile(rules.year)
        self._units = frozenset(u.casefold() for u in rules.units)
        self._currencies = frozenset(c.casefold() for c in rules.currencies)
        self._before = frozenset(w.casefold() for w in rules.before)
        currency = word_alternation(rules.currencies)
        self._currency_before = re.compile(rf"(?:^|[^\w]){currency}[ \t\u00a0]?$", re.IGNORECASE)
        self._word_before = re.compile(r"([^\W\d_]+)\.?[ \t\u00a0]+$")
        self._word_after = re.compile(r"^[ \t\u00a0]*([^\W\d_]+|[^\w\s])")

    # -- runs ------------------------------------------------------------------------------------
    def runs(self, text: str) -> list[Run]:
        """Every run of ``text``, digit groups joined by single spaces merged into one."""
        raw = [(m.start(), m.end()) for m in _RUN.finditer(text)]
        out: list[Run] = []
        i = 0
        while i < len(raw):
            start, end = raw[i]
            groups = [text[start:end]]
            j = i + 1
            while j < len(raw) and self._joins(text, groups, raw[j - 1][1], raw[j]):
                groups.append(text[raw[j][0] : raw[j][1]])
                end = raw[j][1]
                j += 1
            out.append(Run(start, end, text[start:end]))
            i = j
        return out

    def _joins(self, text: str, groups: list[str], prev_end: int, nxt: tuple[int, int]) -> bool:
        if nxt[0] != prev_end + 1 or text[prev_end] not in _SPACE:
            return False
        prev, group = groups[-1], text[nxt[0] : nxt[1]]
        if not (prev.isdigit() and group.isdigit() and groups[0].isdigit()):
            return False
        if len(groups) == 1 and len(prev) < self.rules.spaced_first_min:
            return False
        if len(prev) <= 2 and self._year.fullmatch(group):
            return False  # "March 12 2025": a day and a year
        if len(group) >= self.rules.spaced_next_min:
            return True
        # A single check digit closes a run of at least two groups ("2123 45678 1").
        after = text[nxt[1] : nxt[1] + 2]
        return len(group) == 1 and len(groups) >= 2 and not (after[:1].isspace() and after[1:2].isdigit())

    # -- suspects and exemptions -----------------------------------------------------------------
    def suspect(self, value: str) -> bool:
        """4+ digits, or a letter-digit mix long enough to be a code ("7KX2P")."""
        digits = sum(c.isdigit() for c in value)
        if digits >= self.rules.min_digits:
            return True
        letters = any(c.isalpha() for c in value)
        alnum = sum(c.isalnum() for c in value)
        return letters and digits >= self.rules.mixed_min_digits and alnum >= self.rules.mixed_min_length

    def exempt(self, text: str, start: int, end: int) -> bool:
        """True when ``text[start:end]`` is a date, score, measure, count, money or clinical term."""
        value = text[start:end].strip()
        if self._exempt.fullmatch(value):
            return True
        if any(c.isalpha() for c in value) and _RUN.fullmatch(value) and self._ordinary_segments(value):
            return True
        return self._counted(text, start, end) or self.clinical_term(text, start, end)

    def clinical_term(self, text: str, start: int, end: int) -> bool:
        """Every digit of ``text[start:end]`` lies in an allow-listed term ("PHQ-9", "COVID-19"); a
        term at the edge of a code ("EAP-2026-44817") does not excuse the code."""
        ranges = self.protected(text)
        digits = [i for i in range(start, end) if text[i].isdigit()]
        return bool(digits) and all(any(a <= i < b for a, b in ranges) for i in digits)

    def _ordinary_segments(self, value: str) -> bool:
        """Words and small numbers joined ("12-week", "mid-2023", "1500m", "R1500", "Level-12"). A year
        counts only as a part of its own ("mid-2023"): glued to a word ("sarah1987") it is a handle."""
        segments = [(m.group(0), m.start()) for m in _SEGMENTS.finditer(value)]
        for i, (seg, at) in enumerate(segments):
            if not seg.isdigit():
                if not self.ordinary_word(seg):
                    return False
                continue
            before = segments[i - 1][0] if i else ""
            after = segments[i + 1][0] if i + 1 < len(segments) else ""
            glued = (i and segments[i - 1][1] + len(before) == at) or (after and at + len(seg) == segments[i + 1][1])
            year = self._year.fullmatch(seg) and not glued
            if not (len(seg) <= 3 or year or self._measure(seg, before, after)):
                return False
        return True

    def _measure(self, number: str, before: str, after: str) -> bool:
        """An amount or measure: "1500m", "2000mg", "R1500", "30k". Never five digits and more, never
        a leading 0 ("P0041187"), and a one-letter unit only in lower case ("1234567H" is a code)."""
        if len(number) > 5 or number.startswith("0"):
            return False
        unit = after.casefold()
        if (unit in self._units or unit in self._currencies) and (len(after) > 1 or after.islower()):
            return True
        return before.casefold() in self._currencies and (len(before) > 1 or before in ("R", "£", "$", "€"))

    def ordinary_word(self, word: str) -> bool:
        """A unit, currency, allow-listed or dictionary word; never the capitals of a code ("GRP")."""
        w = fold(word).casefold()
        if w in self._units or w in self._currencies or self.vocab.is_allowed_word(w):
            return True
        if word.isupper() and len(word) <= 3:
            return False  # "GRP", "KX", "DE": the letters of a code, whatever a dictionary says
        return len(w) >= 2 and (w in _english_words() or w in self.vocab.stop)

    def _counted(self, text: str, start: int, end: int) -> bool:
        """Money ("£1200", "1 200 kr") or a count ("1500 steps", "about 2000")."""
        before = text[max(0, start - 8) : start]
        if self._currency_before.search(before):
            return True
        word = self._word_before.search(text[max(0, start - 20) : start])
        if word and word.group(1).casefold() in self._before:
            return True
        after = self._word_after.match(text[end : end + 20])
        if after:
            w = after.group(1).casefold()
            if w in self._currencies or (len(w) >= 2 and w in self._units):
                return True
        return False

    def protected(self, text: str) -> tuple[tuple[int, int], ...]:
        return _protected(self.vocab, text)


@lru_cache(maxsize=8)
def _protected(vocab: Vocabulary, text: str) -> tuple[tuple[int, int], ...]:
    # Every recognizer of numbers asks for the same letter in turn: computed once per letter.
    return tuple(vocab.protected_ranges(text))
