"""A letter cut into units a verdict can quote: spaCy's sentences plus the layout of a letter (blank
lines, bullets, headings, short lines such as a greeting); polite requests ending in "?" count as
statements."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from spacy.tokens import Doc

from pipeline.patterns import COUNT_MORE
from pipeline.stages.sections.rules import Compiled

BULLET = re.compile(r"^[ \t]*(?:[-*•‣◦▪●–—>]|\(?\d{1,2}[.)]|\(?[a-zA-Z][.)](?=\s)|#{1,6})[ \t]*")
TERMINAL = (".", "!", "?", "…")


@dataclass(frozen=True)
class Unit:
    start: int  # token index
    end: int
    start_char: int
    end_char: int
    text: str
    question: bool


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        spans.append((pos, pos + len(body)))
        pos += len(line)
    return spans


def layout_boundaries(text: str) -> set[int]:
    """Character offsets where a new sentence starts because of the letter's layout."""
    boundaries: set[int] = set()
    lines = _line_spans(text)
    for i, (start, end) in enumerate(lines):
        line = text[start:end]
        stripped = line.strip()
        prev = text[lines[i - 1][0] : lines[i - 1][1]].strip() if i else ""
        if not stripped:
            continue
        if not prev:  # first line of a paragraph
            boundaries.add(start)
        if BULLET.match(line) and BULLET.match(line).end() < len(line):  # type: ignore[union-attr]
            boundaries.add(start)
        # a short line that does not run on (a heading, greeting, sign-off, "Dr [PERSON_1]")
        nxt = text[lines[i + 1][0] : lines[i + 1][1]].strip() if i + 1 < len(lines) else ""
        runs_on = nxt[:1].islower()
        if (stripped.endswith(":") or (len(stripped) <= 60 and not stripped.endswith(TERMINAL))) and not runs_on:
            boundaries.add(start)
            boundaries.add(end)
        elif stripped.endswith(TERMINAL) and not runs_on:
            boundaries.add(end)
    return boundaries


def sentence_units(doc: Doc, extra_boundaries: set[int]) -> list[Unit]:
    boundaries = sorted(extra_boundaries)
    units: list[Unit] = []
    start: int | None = None
    last_real: int | None = None
    b = 0

    def close(upto: int | None) -> None:
        nonlocal start
        if start is not None and upto is not None:
            span = doc[start : upto + 1]
            text = span.text.strip()
            if text:
                units.append(
                    Unit(
                        start,
                        upto + 1,
                        span.start_char,
                        span.end_char,
                        text,
                        text.rstrip("*_ ").endswith("?"),
                    )
                )
        start = None

    for tok in doc:
        if tok.is_space:
            continue
        new = start is None
        # a layout boundary between the previous real token and this one
        while b < len(boundaries) and boundaries[b] <= tok.idx:
            if last_real is None or boundaries[b] >= doc[last_real].idx + len(doc[last_real].text):
                new = True
            b += 1
        if not new and tok.is_sent_start and last_real is not None:
            # trust spaCy only after terminal punctuation: it also cuts before "[PERSON_1]"; never
            # after a list's number alone ("1." then the item, on one line)
            if doc[last_real].text.endswith(TERMINAL) and not _marker_only(doc, start, last_real):
                new = True
        if new:
            close(last_real)
            start = tok.i
        last_real = tok.i
    close(last_real)
    return units


def _marker_only(doc: Doc, start: int | None, last: int) -> bool:
    """The unit so far is only a list's number or letter ("1.", "2)", "(a)"): its item follows."""
    if start is None:
        return False
    text = doc[start : last + 1].text.strip()
    found = BULLET.match(text)
    return bool(text) and found is not None and found.end() == len(text) and any(c.isalnum() for c in text)


def polite_requests_are_statements(doc: Doc, units: list[Unit], compiled: Compiled) -> list[Unit]:
    """ "Please could you authorise another 8 sessions?" asks for sessions, not about the process; so does
    a polite request the writer announces after a colon ("I'd like to ask: could you approve 4 more?")."""
    starts = {s for _, s, _ in compiled.polite(doc)}

    def opens(u: Unit) -> bool:
        # "Hi - can [PERSON_1] have 6 more sessions please, weekly?": a greeting may come first, and
        # whom it greets up to its comma or dash ("Hello there,", "Hi Plumm team -")
        i = u.start
        marker = BULLET.match(u.text)  # a list's number first: "1. Can [they] have 8 more?"
        while marker and i < u.end and doc[i].idx < u.start_char + marker.end():
            i += 1
        first = i
        while i < u.end and (doc[i].is_punct or doc[i].is_space or doc[i].lower_ in _GREETINGS):
            i += 1
        if i > first and doc[first].lower_ in _GREETINGS and i not in starts:
            cut = next((t.i for t in doc[i : min(u.end, i + _ADDRESSEE)] if t.text in (",", "-", "–")), None)
            if cut is not None:
                i = cut + 1
                while i < u.end and (doc[i].is_punct or doc[i].is_space):
                    i += 1
        opened = _after_colon(doc, u) | {_after_vocative(doc, u)}
        return u.start in starts or i in starts or bool(opened & starts)

    def pleads_for_more(u: Unit) -> bool:
        # "[PERSON_1] - 6 more sessions please?": a count of more asked for with a please-word anywhere
        words = compiled.request_words
        return any(t.lower_ in words for t in doc[u.start : u.end]) and bool(COUNT_MORE.search(u.text))

    return [replace(u, question=False) if u.question and (opens(u) or pleads_for_more(u)) else u for u in units]


def _after_colon(doc: Doc, u: Unit) -> set[int]:
    """Where a clause opens after a colon (or a spaced dash) in ``u``: the question the writer announces
    ("..., and I'd like to ask: would it be possible to extend [their] allowance by another four sessions?")."""
    opened = set()
    for tok in doc[u.start : u.end - 1]:
        # or after a spaced dash: "Sorry, should have said - could we have another six?"
        dash = tok.text in ("-", "–", "—") and tok.i > u.start and bool(doc[tok.i - 1].whitespace_)
        if tok.text == ":" or dash:
            nxt = next((t for t in doc[tok.i + 1 : u.end] if not t.is_space), None)
            if nxt is not None:
                opened.add(nxt.i)
    return opened


def _after_vocative(doc: Doc, u: Unit) -> int | None:
    """Where the unit goes on after whom it greets, in any language: a few words with no verb up to a
    comma or dash ("Hoi Plumm, could you approve...", "Team - can [they] have..."); None without one."""
    for tok in doc[u.start : min(u.end, u.start + _ADDRESSEE + 1)]:
        if tok.text in (",", "-", "–"):
            if tok.i == u.start:
                return None
            nxt = next((t for t in doc[tok.i + 1 : u.end] if not (t.is_punct or t.is_space)), None)
            return nxt.i if nxt is not None else None
        if tok.pos_ in ("VERB", "AUX"):
            return None
    return None


_GREETINGS = frozenset(
    {"hi", "hiya", "hello", "hey", "dear", "good", "morning", "afternoon", "evening", "greetings", "ok", "okay"}
)
_ADDRESSEE = 6  # "Hi Plumm intake team,": the words a greeting names before its comma


def unit_index(units: list[Unit], token_i: int) -> int | None:
    lo, hi = 0, len(units) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        u = units[mid]
        if token_i < u.start:
            hi = mid - 1
        elif token_i >= u.end:
            lo = mid + 1
        else:
            return mid
    return None
