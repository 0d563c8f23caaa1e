"""Long letters: the NLP works on bounded pieces, so time and memory stay bounded up to the size limit.

Contract: :func:`pieces` cuts a text into consecutive pieces of at most ``limit`` characters that
join back to the text exactly: whole paragraphs grouped, a longer paragraph cut at line ends, then
after a sentence, then at a space. :func:`redact_in_pieces` redacts them in order through the
Redactor's public API with one vault (the identifiers known from the whole message in every piece;
each piece continues the numbering and reuses the placeholders of the pieces before it), then gives
a piece again the final vault where an identifier found later still shows in it, and verifies the
whole (:class:`~pipeline.models.RedactionUnverified` as for any letter).
:func:`assess_in_pieces` assesses the sections of each piece and keeps, per section, the first
piece where it is present (the sessions and period from the first piece stating them); a piece the
sections stage refuses (no letter in it) counts for nothing, unless every piece is refused.

Both check a deadline between pieces and call ``progress`` after each (the worker renews its lease
there): past the deadline the letter is :class:`~pipeline.models.LetterTooLong`, as is a text over
what the product reads at all (:func:`check_length`). Nothing here logs or raises a letter's value.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from types import MappingProxyType

from pipeline.models import (
    IntakeOutcome,
    KnownIdentifiers,
    LetterTooLong,
    Redaction,
    RedactionUnverified,
    SectionReport,
    SectionVerdict,
    add_counts,
)
from pipeline.stages.redaction import Redactor
from pipeline.stages.sections import SectionRules, assess_sections

# A piece the NLP handles in about a second or two and well under 100 MB; spaCy refuses a text over
# 1,000,000 characters and needs about 1 GB per 100,000 characters of one text with our components.
PIECE_CHARS = 50_000
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n\s*")
_LINE_END = re.compile(r"\n")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")
_SPACE = re.compile(r"\s+")


def check_length(text: str, *, max_chars: int) -> None:
    if len(text) > max_chars:
        raise LetterTooLong(stage="extract")


def _cut(text: str, limit: int, separators: list[re.Pattern[str]]) -> list[str]:
    """``text`` as consecutive parts of at most ``limit`` characters, cut after the first separator
    that yields parts that small (a hard cut if none does)."""
    if len(text) <= limit:
        return [text]
    if not separators:
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    separator, rest = separators[0], separators[1:]
    units, start = [], 0
    for match in separator.finditer(text):
        units.append(text[start : match.end()])
        start = match.end()
    units.append(text[start:])
    parts: list[str] = []
    current = ""
    for unit in (u for u in units if u):
        for piece in _cut(unit, limit, rest) if len(unit) > limit else [unit]:
            if current and len(current) + len(piece) > limit:
                parts.append(current)
                current = ""
            current += piece
    if current:
        parts.append(current)
    return parts


def pieces(text: str, *, limit: int = PIECE_CHARS) -> list[str]:
    """Consecutive pieces of ``text``, each at most ``limit`` characters; ``"".join`` gives ``text``."""
    return _cut(text, limit, [_PARAGRAPH_END, _LINE_END, _SENTENCE_END, _SPACE])


def _checkpoint(deadline: float | None, progress: Callable[[], None], stage: str) -> None:
    progress()
    if deadline is not None and time.monotonic() > deadline:
        raise LetterTooLong(stage=stage)


def redact_in_pieces(
    redactor: Redactor,
    text: str,
    known: KnownIdentifiers,
    *,
    vault: Mapping[str, str] | None = None,
    deadline: float | None = None,
    progress: Callable[[], None] = lambda: None,
    limit: int = PIECE_CHARS,
) -> Redaction:
    """Redact ``text`` piece by piece with one vault; verify the whole. See the module contract."""
    text = unicodedata.normalize("NFC", text)
    parts = pieces(text, limit=limit)
    current: Mapping[str, str] = dict(vault or {})
    done: list[Redaction] = []
    for part in parts:
        redaction = redactor.redact(part, known, vault=current)
        current = redaction.vault
        done.append(redaction)
        _checkpoint(deadline, progress, "redact")
    # A name the model found in a later piece is in the vault now; a piece before it may still show it.
    for i, part in enumerate(parts):
        try:
            redactor.verify(_with_vault(done[i], current), known)
            continue
        except RedactionUnverified:  # redact this piece again with the final vault; all verified below
            pass
        done[i] = redactor.redact(part, known, vault=current)
        current = done[i].vault
        _checkpoint(deadline, progress, "redact")
    # Each piece verified against the vault of the whole (verify scales with its text), what it
    # finds removed (Redactor.clean), and the pieces' vault carried on.
    for i, redaction in enumerate(done):
        done[i] = redactor.clean(_with_vault(redaction, current), known)
        current = done[i].vault
    return Redaction(
        text="".join(r.text for r in done),
        counts=MappingProxyType(add_counts(*(r.counts for r in done))),
        vault=MappingProxyType(dict(sorted(current.items()))),
        cleaned=tuple(sorted({t for r in done for t in r.cleaned})),
    )


def _with_vault(redaction: Redaction, vault: Mapping[str, str]) -> Redaction:
    return Redaction(text=redaction.text, counts=redaction.counts, vault=vault, cleaned=redaction.cleaned)


def assess_in_pieces(
    text: str,
    *,
    rules: SectionRules,
    deadline: float | None = None,
    progress: Callable[[], None] = lambda: None,
    limit: int = PIECE_CHARS,
) -> SectionReport:
    """The sections of a long redacted text, piece by piece. See the module contract."""
    reports = []
    refusals: list[IntakeOutcome] = []
    for part in pieces(text, limit=limit):
        try:
            reports.append(assess_sections(part, rules=rules))
        except IntakeOutcome as outcome:  # a piece that reads as no letter at all says nothing here
            refusals.append(outcome)
        _checkpoint(deadline, progress, "sections")
    if not reports:  # no piece is: that is the letter's outcome
        raise refusals[0]
    verdicts: list[SectionVerdict] = []
    for i, first in enumerate(reports[0].verdicts):
        present = [r.verdicts[i] for r in reports if r.verdicts[i].present]
        verdicts.append(present[0] if present else first)
    sessions = next((r.sessions_requested for r in reports if r.sessions_requested is not None), None)
    period = next((r.period for r in reports if r.period is not None), None)
    return SectionReport(verdicts=tuple(verdicts), sessions_requested=sessions, period=period)
