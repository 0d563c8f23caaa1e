"""What the letter asks for: how many additional sessions, how often (the period), which therapy.

A count is a candidate when a pattern of ``sessions`` in ``rules/sections.yaml`` finds it (a count
next to "sessions", "more", "another", "block of", "extend by", or in a form field) and it is not a
score, a date, a length of time or a part ("8 of 12"). A sentence the clause reading turns down (a
grant already made, the client's own wish, someone else's ask, a question, a discharge without an
ask) offers none. The best candidate: one in the accepted recommendation, then in a sentence with
the writer's own ask, then a form field, then anywhere; within a sentence the first count after the
ask ("[they] has used 8 sessions; I recommend 6 more"). A count given alone as the answer to our
quoted question ("Ten (10).") is the request's. A slash with spaces round it separates alternatives
("5 Sitzungen / 5 more sessions"); written close it makes a score or a part ("8/10"). A letter that
turns its ask down (a closing, a grant already made, a withdrawal) requests no count and no period.

The period is a frequency pattern's category (weekly / fortnightly / monthly) or its words as
written; the one nearest the chosen count wins, then one in a sentence that asks, then a
"Frequency:" field. A frequency in a clause about someone else or in the past is not the request's.
"""

from __future__ import annotations

from spacy.tokens import Doc, Span, Token

from pipeline.stages.sections.clauses import Reading, subjects, who, word_of
from pipeline.stages.sections.rules import SEP, SectionRules, count_value
from pipeline.stages.sections.sentences import BULLET, Unit, unit_index

# vetoes that take a sentence's counts and frequencies out of the request
_NOT_THE_REQUEST = frozenset(
    {
        "withdrawn",
        "for-someone-else",
        "past-grant",
        "someone-else-asks",
        "client-wish",
        "question",
        "negated",
        "discharge",
    }
)


def _offers(reading: Reading) -> bool:
    vetoes = set(reading.vetoes) & _NOT_THE_REQUEST
    if reading.firm:
        vetoes -= {"discharge"}  # "I'm asking for 4 more, after which I expect to discharge"
    return not vetoes


def _value(doc: Doc, tok: Token, rules: SectionRules) -> int | None:
    numbers = {k.lower(): v for k, v in rules.sessions.numbers.items()}
    value: float | None = count_value(tok.text, numbers)
    if value is None:
        return None
    # "half a dozen"
    before = [t.lower_ for t in doc[max(0, tok.i - 2) : tok.i]]
    for word, factor in rules.sessions.fractions.items():
        if word in before:
            value *= factor
    value *= _blocks_of(doc, tok, rules, numbers)
    if value != int(value) or not 1 <= value <= rules.sessions.max:
        return None
    return int(value)


_MORE = frozenset({"more", "further", "additional", "extra", "new"})


def _blocks_of(doc: Doc, tok: Token, rules: SectionRules, numbers: dict[str, int]) -> float:
    """The other factor when ``tok`` counts blocks of sessions or the sessions of each block: "two more
    blocks of three" is six, whichever of the two counts a pattern found; 1 otherwise."""
    blocks = {w.lower() for w in rules.sessions.blocks}

    def words(span: Span) -> list[Token]:
        return [t for t in span if not (t.is_space or t.is_punct or t.lower_ in _MORE)]

    after = words(doc[tok.i + 1 : tok.i + 6])
    if len(after) >= 3 and after[0].lemma_.lower() in blocks and after[1].lower_ == "of" and after[2]._.plumm_count:
        return count_value(after[2].text, numbers) or 1
    before = words(doc[max(0, tok.i - 5) : tok.i])
    if len(before) >= 3 and before[-1].lower_ == "of" and before[-2].lemma_.lower() in blocks:
        if before[-3]._.plumm_count:
            return count_value(before[-3].text, numbers) or 1
    return 1


def _list_marker(doc: Doc, tok: Token) -> bool:
    """``tok`` numbers a list's item ("1. Eight sessions at fortnightly intervals"): it opens its line and
    the marker's full stop or bracket follows, or it is the unit's first word with them."""
    line_start = doc.text.rfind("\n", 0, tok.idx) + 1
    marker = BULLET.match(doc.text[line_start : tok.idx + len(tok.text) + 1])
    return marker is not None and line_start + marker.end() > tok.idx and any(c.isdigit() for c in marker.group(0))


def _is_count(doc: Doc, tok: Token, rules: SectionRules, unit: Unit, *, field: bool = False) -> bool:
    if _list_marker(doc, tok):
        return False
    nxt = next((t for t in doc[tok.i + 1 : tok.i + 2] if not t.is_space), None)
    prev = next((t for t in reversed(doc[max(0, tok.i - 1) : tok.i]) if not t.is_space), None)
    not_before = {w.lower() for w in rules.sessions.not_before}
    not_after = {w.lower() for w in rules.sessions.not_after}
    if nxt is not None and (nxt.lower_ in not_before or nxt.lemma_.lower() in not_before) and not _apart(tok, nxt):
        return False
    if (
        not field
        and prev is not None
        and (prev.lower_ in not_after or prev.lemma_.lower() in not_after)
        and not _apart(prev, tok)
    ):
        return False  # "session 8" - but a row's label ends with its noun: "Number of additional sessions 6"
    if (
        prev is not None
        and prev.lower_ in ("to", "-", "–", "or", "of")
        and prev.i > 0
        and doc[prev.i - 1]._.plumm_count
    ):
        return False  # the top of a range or the whole of a part: "16 to 20 sessions", "8 of 12"
    # a row whose label asks ("Sessions requested 5") says what the count is; the parser, reading the rows of a
    # table as one sentence, may hang the count on a verb of the row before
    return field or not _counted_before(tok, unit)


def _apart(left: Token, right: Token) -> bool:
    """A slash with spaces round it between ``left`` and ``right``: it separates alternatives, as a note in
    two languages does ("5 lisäkäyntiä / 5 more sessions"), where "8/10" and "1/5" write a score or a part."""
    slash = left if left.text == "/" else right if right.text == "/" else None
    if slash is None or slash.i == 0 or slash.i + 1 >= len(slash.doc):
        return False
    return bool(slash.doc[slash.i - 1].whitespace_) and bool(slash.whitespace_)


# the form-field patterns of ``sessions``: their label names the count ("Additional sessions requested: 6")
_FIELD_RULES = frozenset({"sessions-field-n", "sessions-row-n", "number-of-sessions-row-n"})
# the rows whose label says what the count is, whatever verb the parser hangs it on
_ROW_RULES = frozenset({"sessions-row-n", "number-of-sessions-row-n"})

_HAD_VERBS = frozenset(
    {
        "use",
        "approve",
        "attend",
        "complete",
        "give",
        "grant",
        "have",
        "remain",
        "authorise",
        "authorize",
        "fund",
        "allocate",
        "book",
        "provide",
        "receive",
        "take",
        "offer",
        "leave",
    }
)
# "[CLIENT] has asked for another 6 and I support this": an ask in the perfect is still the ask
_ASK_LEMMAS = frozenset({"ask", "request", "recommend", "propose", "suggest", "seek", "motivate"})
_SESSION_WORDS = frozenset(
    {"session", "sessions", "appointment", "appointments", "total", "number", "extension", "increase", "request"}
)


def _done(verb: Token) -> bool:
    """The verb tells of the past: "I asked", "we have met", "they were given" - a field's bare
    participle ("Sessions requested: 8") does not."""
    auxes = [c for c in verb.children if c.dep_ in ("aux", "auxpass")]
    if any(a.tag_ == "MD" or a.lower_ == "to" for a in auxes):
        return False  # "could [they] be given six more?"
    if verb.tag_ == "VBN":
        # "we have met", "they were given", "has been approved" - not "sessions are requested"
        perfect = any(a.lemma_ == "have" for a in auxes) and verb.lemma_.lower() not in _ASK_LEMMAS
        return perfect or any(a.lemma_ == "be" and a.tag_ in ("VBD", "VBN") for a in auxes)
    if verb.tag_ != "VBD" or any(a.lemma_ == "be" and a.tag_ in ("VBZ", "VBP") for a in auxes):
        return False  # a past tag under a present "is" is the tagger misreading "[they] is started"
    subject = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subject is None or subject.lower_ in _SESSION_WORDS:
        return False
    # a field's label is no subject: "Recommendation: twelve more sessions, held weekly" (the parser may
    # hang the label on a participle it reads as a past verb)
    label = subject.i + 1 < len(subject.doc) and subject.doc[subject.i + 1].text == ":"
    return not label


def _in(unit: Unit, tok: Token) -> bool:
    return unit.start <= tok.i < unit.end


def _verb_over(tok: Token, unit: Unit, steps: int) -> Token | None:
    """The verb ``tok`` hangs from, within its own unit: the parser, reading a form's lines as one
    sentence, may hang "Frequency: twice a month" on a verb of the line before; a word of another
    line tells nothing of this one."""
    verb = tok
    for _ in range(steps):
        if verb.pos_ in ("VERB", "AUX") or verb.head is verb or not _in(unit, verb.head):
            break
        verb = verb.head
    return verb if verb.pos_ in ("VERB", "AUX") else None


def _counted_before(tok: Token, unit: Unit) -> bool:
    """A count of sessions had, used or given: "they have used their 4 sessions", "attended all 8",
    "six approved sessions", "In June I asked for 10"."""
    noun = tok.head
    if _in(unit, noun) and any(
        c.dep_ in ("amod", "acl") and c.tag_ == "VBN" and c.lemma_.lower() in _HAD_VERBS for c in noun.children
    ):
        return True
    verb = _verb_over(tok, unit, 4)
    return verb is not None and _done(verb)


def sessions_requested(
    doc: Doc,
    units: list[Unit],
    rules: SectionRules,
    readings: list[Reading],
    asks: set[int],
    first_hit: dict[int, int],
    likely: set[int] = frozenset(),  # type: ignore[assignment]
) -> tuple[int | None, tuple[int, int] | None]:
    """The number of additional sessions asked for, and where it sits (unit, token); ``asks`` are the
    units of the accepted recommendation, ``likely`` those that read like an ask without counting as
    one on their own ("Three more.", "6 sessions, biweekly.")."""
    compiled = rules.compiled()
    # (rank, bare? 1 : 0, after the ask? 0 : 1, token, value, unit)
    candidates: list[tuple[int, int, int, int, int, int]] = []
    for match_id, s, e in compiled.sessions(doc):
        label, rule_id = doc.vocab.strings[match_id].split(SEP, 1)
        ui = unit_index(units, s)
        if ui is None or not _offers(readings[ui]):
            continue
        if units[ui].question and ui not in asks:
            continue
        num = next((t for t in doc[s:e] if t._.plumm_count), None)
        if num is None or not _is_count(doc, num, rules, units[ui], field=rule_id in _ROW_RULES):
            continue
        value = _value(doc, num, rules)
        if value is None:
            continue
        reading = readings[ui]
        if ui in asks:
            rank = 0
        elif reading.firm or ui in likely:
            rank = 1
        elif rule_id in _FIELD_RULES:
            rank = 2
        elif label == "sessions":
            rank = 3
        else:
            continue  # a bare count ("8 sessions") outside an ask is not the request
        anchor = first_hit.get(ui, reading.act_token if reading.act_token is not None else -1)
        after = 0 if num.i >= anchor else 1
        explicit = 0 if label == "sessions" else 1  # "6 additional sessions" over a bare "6 sessions"
        candidates.append((rank, explicit, after, num.i, value, ui))
    for ui in sorted(asks):
        if ui < len(units) and readings[ui].answer and _offers(readings[ui]):
            # the count given alone as the answer to our question ("Ten (10).")
            num = next(t for t in doc[units[ui].start : units[ui].end] if t._.plumm_count)
            value = _value(doc, num, rules)
            if value is not None:
                candidates.append((0, 0, 0, num.i, value, ui))
    if not candidates:
        return None, None
    best = min(candidates)
    return best[4], (best[5], best[3])


def _about_the_request(tok: Token, unit: Unit, rules: SectionRules, others: frozenset[str]) -> bool:
    """Not a frequency of someone else's or of the past: "[their] GP sees [them] every two weeks",
    "we have met weekly since [DATE_1]"."""
    verb = _verb_over(tok, unit, 4)
    if verb is None:
        return True
    kind, found = subjects(verb)
    if kind == "active" and found and who(word_of(found[0]), rules.clauses, others) == "other":
        return False
    return not _done(verb)


def period_requested(
    doc: Doc,
    units: list[Unit],
    rules: SectionRules,
    readings: list[Reading],
    asks: set[int],
    count_at: tuple[int, int] | None,
    likely: set[int] = frozenset(),  # type: ignore[assignment]
    others: frozenset[str] = frozenset(),
) -> str | None:
    compiled = rules.compiled()
    not_before = {w.lower() for w in rules.period.not_before}
    labels = {w.lower() for w in rules.period.field_labels}
    found: list[tuple[int, int, int, str]] = []  # (start, -length, unit, phrase)
    for match_id, s, e in compiled.period(doc):
        ui = unit_index(units, s)
        if ui is None or not _offers(readings[ui]):
            continue
        nxt = next((t for t in doc[e : units[ui].end] if not (t.is_space or t.lower_ in ("-", "booster"))), None)
        if nxt is not None and (nxt.lemma_.lower() in not_before or nxt.lower_ in not_before):
            continue
        if not _about_the_request(doc[s], units[ui], rules, others):
            continue
        means = doc.vocab.strings[match_id]
        found.append((s, -(e - s), ui, means or " ".join(doc[s:e].text.lower().split())))
    if not found:
        return None
    # the longest match at each start ("twice a month" over "month")
    found.sort()
    kept: list[tuple[int, int, int, str]] = []
    covered = -1
    for s, negative_length, ui, phrase in found:
        if s < covered:
            continue
        kept.append((s, negative_length, ui, phrase))
        covered = s - negative_length
    counted = {count_at[0]} if count_at is not None else set()
    if count_at is not None:
        same = [k for k in kept if k[2] == count_at[0]]
        if same:
            # the nearest to the count, after it first ("six more at fortnightly intervals")
            return min(same, key=lambda k: (abs(k[0] - count_at[1]), k[0] < count_at[1]))[3]
    for pool in (
        [k for k in kept if k[2] in asks],
        # the ask's next line or sentence opening with the frequency: "6 more please. Fortnightly, if
        # possible.", a bullet "* every two weeks" under the ask's bullet
        [k for k in kept if k[2] - 1 in asks | counted and _opens(doc, units[k[2]], k[0])],
        [k for k in kept if readings[k[2]].firm or k[2] in likely],
        [k for k in kept if _field(doc, units[k[2]], labels)],
        # a frequency asked for by itself, in a reply or a postscript: "Sorry - weekly, please."
        [k for k in kept if _pleads(doc, units[k[2]], compiled.request_words)],
    ):
        if pool:
            return pool[0][3]
    return None


def _pleads(doc: Doc, unit: Unit, words: frozenset[str]) -> bool:
    """The unit asks with a please-word and has no verb of its own: "Sorry about that - weekly, please."."""
    span = doc[unit.start : unit.end]
    return any(t.lower_ in words for t in span) and not any(t.pos_ in ("VERB", "AUX") for t in span)


def _opens(doc: Doc, unit: Unit, token: int) -> bool:
    """``token`` is the unit's first word (after a bullet or a dash), or the value of a field line
    ("- Spacing: fortnightly"), or in a line as short as a table's row ("Frequency      Weekly")."""
    words = [t for t in doc[unit.start : unit.end] if not t.is_space]
    first = next((t for t in words if not t.is_punct), None)
    if (first is not None and first.i == token) or len(words) <= _FIELD_LABEL:
        return True
    colon = next((i for i, t in enumerate(words) if t.text == ":"), None)
    return colon is not None and colon <= _FIELD_LABEL and colon + 1 < len(words) and words[colon + 1].i == token


_FIELD_LABEL = 8  # the tokens a field's label may take before its colon (a placeholder is three)


def _field(doc: Doc, unit: Unit, labels: set[str]) -> bool:
    """A "Frequency: weekly" line of a form."""
    words = [t for t in doc[unit.start : unit.end] if not t.is_space]
    colon = next((i for i, t in enumerate(words) if t.text in (":", "-", "–")), None)
    return colon is not None and any(t.lower_ in labels for t in words[:colon])


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
