"""How many additional sessions are requested, and how often (the period)."""

from __future__ import annotations

import re

from spacy.tokens import Doc, Token

from pipeline.stages.sections.rules import SEP, Compiled, SectionRules
from pipeline.stages.sections.sentences import Unit, unit_index

_TIMES = re.compile(r"^(?:\+|x)?(\d{1,2})x?$")  # "6x weekly sessions", "Plan: +6 sessions", "extension x6"


def _is_number(tok: Token) -> bool:
    return bool(tok.like_num or _TIMES.match(tok.lower_))


def _number(tok: Token, numbers: dict[str, int], maximum: int) -> int | None:
    word = tok.lower_
    times = _TIMES.match(word)
    if times:
        word = times.group(1)
    value = int(word) if word.isdigit() else numbers.get(word)
    if value is None or not 1 <= value <= maximum:
        return None
    return value


def sessions_requested(
    doc: Doc,
    units: list[Unit],
    rules: SectionRules,
    compiled: Compiled,
    preferred: set[int],
    first_hit: dict[int, int],
) -> tuple[int | None, set[int]]:
    # (rank, before the recommendation, token, value, unit): in "[they] has used 8 of [their] 8 sessions;
    # I recommend 6 more" the number after the recommendation wins
    candidates: list[tuple[int, int, int, int, int]] = []
    numbers = {k.lower(): v for k, v in rules.sessions.numbers.items()}
    for match_id, s, e in compiled.sessions(doc):
        label = doc.vocab.strings[match_id].split(SEP)[0]
        ui = unit_index(units, s)
        if ui is None:
            continue
        num = next((t for t in doc[s:e] if _is_number(t)), None)
        value = _number(num, numbers, rules.sessions.max) if num is not None else None
        if value is None:
            continue
        in_rec = ui in preferred
        if label == "bare" and not in_rec:
            continue
        rank = (0 if in_rec else 2) + (0 if label == "sessions" else 1)
        before = 1 if in_rec and s < first_hit.get(ui, s) else 0
        candidates.append((rank, before, s, value, ui))
    if not candidates:
        return None, set()
    best = min(candidates)
    return best[3], {best[4]}


def period_requested(
    doc: Doc,
    units: list[Unit],
    rules: SectionRules,
    compiled: Compiled,
    preferred: set[int],
    near: set[int],
) -> str | None:
    not_before = {w.lower() for w in rules.period.not_before}
    durations: dict[int, int] = {}
    for _, s, e in compiled.duration(doc):
        durations[s] = max(e, durations.get(s, e))  # the longest duration at a start
    gap = rules.period.duration.gap if rules.period.duration is not None else 0
    candidates: list[tuple[int, int, str]] = []  # (rank, token, phrase)
    covered: set[int] = set()  # duration starts used by a frequency
    for _, s, e in compiled.period(doc):
        ui = unit_index(units, s)
        if ui is None or units[ui].question:
            continue
        nxt = next((t for t in doc[e : units[ui].end] if not t.is_space), None)
        if nxt is not None and (nxt.lemma_.lower() in not_before or nxt.lower_ in not_before):
            continue
        if ui not in near and ui not in preferred:
            continue  # "the end of [their] monthly sessions" in a question is not a requested period
        phrase = " ".join(doc[s:e].text.lower().split())
        # "weekly for two months", "weekly, for two months", "weekly sessions for the next two months":
        # keep a duration that follows within the same clause
        for d in range(e, min(e + gap + 1, units[ui].end)):
            if d in durations:
                covered.add(d)
                phrase = f"{phrase} {' '.join(doc[d : durations[d]].text.lower().split())}"
                break
            if doc[d].is_punct and doc[d].text != ",":
                break
        rank = 0 if ui in near else 1
        candidates.append((rank, s, phrase))
    if not candidates:
        # no frequency: a duration alone in the request ("12 sessions over 3 months")
        for s, e in sorted(durations.items()):
            ui = unit_index(units, s)
            if s in covered or ui is None or units[ui].question or (ui not in near and ui not in preferred):
                continue
            candidates.append((2 + (0 if ui in near else 1), s, " ".join(doc[s:e].text.lower().split())))
    if not candidates:
        return None
    # among matches at one position prefer the longest ("twice weekly" over "weekly")
    best_rank = min(c[0] for c in candidates)
    first = min(c[1] for c in candidates if c[0] == best_rank)
    at_first = [c for c in candidates if c[0] == best_rank and c[1] <= first + 1]
    overlapping = sorted(at_first, key=lambda c: (c[1], -len(c[2])))
    return overlapping[0][2]


def therapy_requested(doc: Doc, units: list[Unit], rules: SectionRules, near: set[int]) -> str | None:
    """The therapy asked for, by its display name in ``therapies``: one named in the request's
    units first, else the one the letter names most often (the first of equals)."""
    compiled = rules.compiled()
    named: list[tuple[int, str, bool]] = []  # (token, name, in the request)
    for matcher in (compiled.therapies, compiled.therapy_acronyms):
        for match_id, s, _e in matcher(doc):
            ui = unit_index(units, s)
            named.append((s, doc.vocab.strings[match_id], ui is not None and ui in near))
    if not named:
        return None
    named.sort()
    in_request = [name for _, name, near_ in named if near_]
    if in_request:
        return in_request[0]
    counts: dict[str, int] = {}
    for _, name, _near in named:
        counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda name: counts[name])  # first-seen wins a tie (dicts keep order)
