"""One decision per section from three witnesses: the phrase rules, the sentence classifier and the
reading of each clause; and the reason for it in plain words.

Per sentence (unit):

* an **ask** (recommendation) counts when the phrase rules find one and the classifier gives the
  sentence at least ``agree``, or the classifier alone gives it at least ``alone`` and the sentence
  has the shape of an ask (an act such as "recommend"/"request", or what is asked for: sessions,
  therapy, "6 more"), or the sentence is a count alone that answers our quoted question in an
  interleaved reply ("SIX, FORTNIGHTLY."); then the clause reading may still turn it down: taken
  back in the same message, for someone else, a discharge, negated, a grant already made, a
  decision left to us, a hedge, someone else's recommendation, the client's own wish, a question;
* a **need** counts the same way (thresholds of its own), unless the sentence only points to
  details held elsewhere ("on file", "as discussed") or says the work is complete.

Per letter: the recommendation is present when one sentence is an ask; its evidence is the first.
The needs section is present when one sentence is a need, except in a letter that asks for nothing
and says why (treatment complete, an update on sessions already granted, an ask only for someone
else, a hedge that asks for nothing, an enquiry made before writing the letter): such a letter does
not explain why *more* sessions are needed.

Reasons are built from fixed phrases (``reasons`` in ``rules/sections.yaml``), a count of sessions
and the names of therapies from our vocabulary, never from the letter's words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.patterns import COUNT_MORE
from pipeline.stages.sections.clauses import Reading
from pipeline.stages.sections.rules import ReasonRules, Thresholds

# vetoes that also tell a letter asks for nothing, and why (needs is withheld then)
NO_ASK_FRAMES = ("discharge", "past-grant", "for-someone-else", "hedged")


@dataclass(frozen=True)
class UnitEvidence:
    """What the three witnesses say about one unit, for one section."""

    unit: int
    text: str
    rules: tuple[str, ...]  # ids of the phrase rules (or "heading") that found this section here
    first_token: int | None  # where the first of them starts
    probability: float  # the classifier's
    reading: Reading


@dataclass(frozen=True)
class Decision:
    present: bool
    unit: int | None  # the evidence unit
    rule: str  # the rule id, "heading" or "classifier" that found it; "" when absent
    code: str  # the reason's code: "found", or why not ("discharge", "none"...)
    reading: Reading | None = None
    units: tuple[int, ...] = ()  # every unit that qualified (the ask may run over several)


def _shape_of_ask(e: UnitEvidence) -> bool:
    """An act or what is asked for, in a sentence (a title is no ask) - or a count: "another 6 please"."""
    if COUNT_MORE.search(e.text):
        return True
    return e.reading.verb and not e.reading.heading and (e.reading.act is not None or e.reading.object is not None)


def _writer_acts(r: Reading) -> bool:
    """The sentence's act is the writer's own ("I ask whether...", "we would like to continue")."""
    if r.act is None or r.heading:
        return False
    return r.subject in ("therapist", "reader", "none") or (r.writer_view and r.act == "benefit")


def _names_what(e: UnitEvidence) -> bool:
    """The sentence names what is asked for (sessions, therapy, a block, "6 more", going on: "would
    benefit from continuing"): "I've recommended [they] come back if things flare up" is the
    writer's act, but for nothing of ours."""
    named = e.reading.object is not None or e.reading.act in ("continue", "benefit")
    return named or bool(COUNT_MORE.search(e.text))


def _writer_asks(e: UnitEvidence) -> bool:
    """A phrase rule's ask the classifier doubts still counts when it is the writer's own act for
    something of ours, or a count of more with no one else as its subject ("Can I get 6x more pls")."""
    if _writer_acts(e.reading) and _names_what(e):
        return True
    mine = e.reading.subject in ("therapist", "reader", "none") and not e.reading.heading
    return mine and bool(COUNT_MORE.search(e.text))


def _candidate(e: UnitEvidence, limits: Thresholds, *, needs_shape: bool) -> str | None:
    """The witness that puts ``e`` forward, or None (never the mail's own small print)."""
    if e.reading.boilerplate:
        return None
    if e.rules and (e.probability >= limits.agree or (needs_shape and _writer_asks(e))):
        return e.rules[0]
    if e.probability >= limits.alone and (not needs_shape or _shape_of_ask(e)):
        return "classifier"
    return None


# the witness for a count given alone as the answer to our quoted question ("SIX, FORTNIGHTLY.")
ANSWER = "answer"

# the witness for an ask whose object is the list it introduces ("We propose the following:" / "1. Six more")
INTRODUCES = "introduces-ask"


def _introduces_ask(e: UnitEvidence, follows: UnitEvidence) -> bool:
    """The writer's own firm act ending in a colon, whose next line (a list's first item) names what is
    asked for and is no question: "I would propose the following:" then "1. Two more blocks of four"."""
    r = e.reading
    if not (r.firm and _writer_acts(r) and e.text.rstrip(" *_").endswith(":")):
        return False
    nxt = follows.reading
    return not (nxt.question or nxt.vetoes or nxt.boilerplate) and _names_what(follows)


def _only_named(e: UnitEvidence, by: str) -> bool:
    """The classifier alone puts the sentence forward, and only because it names sessions or therapy
    beside a verb: no act of asking, no count of more ("Sessions attended 10 of 10")."""
    return by == "classifier" and e.reading.act is None and not COUNT_MORE.search(e.text)


def decide_recommendation(evidence: list[UnitEvidence], limits: Thresholds) -> tuple[Decision, tuple[str, ...]]:
    """The recommendation verdict, and the no-ask frames the letter shows (for the needs verdict).

    A sentence only the classifier reads as an ask, with no act and no count of more, does not stand
    against the letter's own word that it asks for nothing and why (a closing, a past grant, an ask
    for someone else, a hedge): "Sessions attended 10 of 10" in a closing summary that says "No
    further sessions are being requested" is a record of the work, not an ask."""
    turned_down: list[tuple[str, UnitEvidence]] = []
    found: Decision | None = None
    accepted: list[int] = []
    weak_only = True  # every accepted sentence is one the classifier only reads as naming sessions
    for i, e in enumerate(evidence):
        vetoes = e.reading.vetoes
        by = _candidate(e, limits, needs_shape=True)
        follows = evidence[i + 1] if i + 1 < len(evidence) else None
        if by is None and follows is not None and _introduces_ask(e, follows):
            by = INTRODUCES
        if by is None and e.reading.answer:
            by = ANSWER
        if by is None:
            if (e.reading.act is not None or e.reading.object is not None) and vetoes:
                # an ask turned round without counting as one: "I am not asking for more", "I leave it
                # to you to decide whether more sessions are appropriate"
                turned_down.append((vetoes[0], e))
            continue
        if vetoes:
            turned_down.append((vetoes[0], e))
            continue
        accepted.append(e.unit)
        weak_only = weak_only and _only_named(e, by)
        if "heading" in e.rules or by == INTRODUCES:
            accepted.append(e.unit + 1)  # "Recommendation:" / "* 6 more sessions" / "* weekly"
        if found is None:
            found = Decision(True, e.unit, by, "found", e.reading)
    frames = tuple(dict.fromkeys(code for code, _ in turned_down if code in NO_ASK_FRAMES))
    frames += tuple(f for f in ("discharge",) if f not in frames and any(e.reading.discharge for e in evidence))
    if any(code == "withdrawn" and _withdrawn_ask(e, limits) for code, e in turned_down):
        # the letter asked, with its reasons, then took the ask back ("please disregard the request above;
        # [they] won't need further sessions"): the reasons were still stated, the needs stand
        frames = ()
    # a message written before the letter ("before I write anything formal, ...") asks for nothing yet
    frames += tuple(f for f in ("enquiry",) if any(e.reading.enquiry for e in evidence))
    if found is not None and not (weak_only and any(code in NO_ASK_FRAMES for code, _ in turned_down)):
        return replace(found, units=tuple(sorted(set(accepted)))), ()
    if not turned_down:
        # a message that takes an ask back asks for nothing, even where its ask is not in the letter (the
        # subject line's)
        taken_back = next((e for e in evidence if e.reading.withdrawn), None)
        if taken_back is not None:
            return Decision(False, None, "", "withdrawn", taken_back.reading), frames
        ending = next((e for e in evidence if e.reading.discharge), None)
        if ending is not None:
            return Decision(False, ending.unit, "", "discharge", ending.reading), frames
        return Decision(False, None, "", "none"), frames
    order = [c for c in _ABSENT_ORDER if any(code == c for code, _ in turned_down)]
    code = order[0]
    unit = next(e for c, e in turned_down if c == code)
    return Decision(False, unit.unit, "", code, unit.reading), frames


def _withdrawn_ask(e: UnitEvidence, limits: Thresholds) -> bool:
    """A sentence that would be the writer's ask but for its withdrawal: the letter made an ask."""
    if e.reading.vetoes != ("withdrawn",):
        return False
    by = _candidate(e, limits, needs_shape=True)
    return by is not None and not _only_named(e, by)


# the reason given when several sentences were turned down: the one a therapist can act on first
_ABSENT_ORDER = (
    "withdrawn",
    "for-someone-else",
    "discharge",
    "past-grant",
    "negated",
    "leaves-to-reader",
    "hedged",
    "someone-else-asks",
    "client-wish",
    "question",
)


def decide_needs(evidence: list[UnitEvidence], limits: Thresholds, frames: tuple[str, ...]) -> Decision:
    found: Decision | None = None
    pointer: UnitEvidence | None = None
    for e in evidence:
        by = _candidate(e, limits, needs_shape=False)
        if by is None:
            continue
        if e.reading.on_file:
            pointer = pointer or e
            continue
        if e.reading.discharge or e.reading.question:
            continue
        found = found or Decision(True, e.unit, by, "found", e.reading)
    if found is not None and frames:
        return Decision(False, None, "", f"no-ask:{frames[0]}")
    if found is not None:
        return found
    if pointer is not None:
        return Decision(False, pointer.unit, "", "on-file")
    return Decision(False, None, "", "none")


def reason_text(
    section: str, decision: Decision, reasons: ReasonRules, *, sessions: int | None, therapy: str | None
) -> str:
    """The plain-words reason for a verdict (fixed phrases, a count and a therapy name only)."""
    if section == "recommendation" and decision.present and decision.reading is not None:
        act = reasons.acts.get(decision.reading.act or "", reasons.acts["default"])
        what = reasons.objects.get(decision.reading.object or "", reasons.objects["default"])
        if sessions:
            what = reasons.counted.format(n=sessions)
        if therapy:
            what = f"{what} of {therapy}"
        return reasons.found["recommendation"].format(act=act, what=what)
    if decision.present:
        return reasons.found[section].format(how=reasons.how.get(decision.rule, reasons.how["default"]))
    codes = reasons.absent[section]
    return codes.get(decision.code, codes["none"])
