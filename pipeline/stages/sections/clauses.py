"""What one sentence says, read from its dependency parse: who asks, what for, for whom, and how.

For each unit of a letter (see ``sentences.py``) :func:`read_unit` returns a :class:`Reading`:

* ``act``: the first word of the unit that asks for sessions, by kind (recommend, request, ask,
  propose, motivate, support, authorise, benefit, continue...: ``clauses.acts`` in
  ``rules/sections.yaml``), and its ``object`` (sessions, therapy, a block, continuation...);
* ``subject``: who does the act, from the parse: the therapist (I / we / my / our), the reader
  (you / Plumm: "could you approve..."), the client, someone else (a GP, a partner), or nobody
  (an imperative, a passive, a form field: read as the writer's own);
* ``for_other``: the sessions are for someone else ("for [CLIENT'S PARTNER]", "[their] husband
  would benefit from...");
* ``negated``: a negation on the act or its clause ("I do not recommend"), or a "no further
  sessions are needed" statement;
* ``discharge``: the letter closes the work (treatment complete, discharged, no longer needs);
* ``past_grant``: a grant already made ("Plumm approved 6 sessions in March") with no new ask;
* ``hedged``: the writer asks for nothing ("might help, but I am not requesting them");
* ``leaves_to_reader``: the decision is left to us with no ask of the writer's own;
* ``on_file``: a pointer to details elsewhere ("details are on file", "as discussed");
* ``client_wish``: the client asks, and the writer does not say they back it;
* ``withdrawn``: the writer takes the ask back elsewhere in the same message ("please treat the
  request below as withdrawn", "please ignore the request above"; not "[their] wife describes [them]
  as withdrawn"), see :func:`withdrawals`;
* ``answer``: a count alone, maybe with its frequency, opening a paragraph: an interleaved reply's
  answer to our quoted "how many sessions?" ("SIX, FORTNIGHTLY."), see :func:`answers`.

Cue lists are data (``clauses`` in ``rules/sections.yaml``); this module only combines them with
the parse. Nothing here logs or raises with letter content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from spacy.tokens import Doc, Span, Token

from pipeline.patterns import COUNT_MORE, placeholder_type
from pipeline.stages.sections.rules import ClauseRules, Compiled, count_value
from pipeline.stages.sections.sentences import Unit

# the writer, or the reader being asked ("I would be grateful if you could approve...")
WRITER = frozenset({"i", "we", "me", "us", "myself", "ourselves"})
READER = frozenset({"you", "plumm", "your"})
CLIENT_WORDS = frozenset({"client", "patient", "they", "he", "she", "employee", "member", "user", "xperson"})
CLIENT_PLACEHOLDERS = frozenset({"CLIENT", "PERSON", "TITLE"})

# dependencies to climb from a word to the verb whose subject decides who speaks
# ("I'd be keen to offer": keen -acomp-> be, which has "I")
UP_TO_CLAUSE = frozenset(
    {"xcomp", "advcl", "conj", "ccomp", "pcomp", "prep", "aux", "acomp", "attr", "oprd", "pobj", "dobj", "acl", "relcl"}
)


@dataclass(frozen=True)
class Reading:
    act: str | None = None  # kind of ask ("recommend", "request"...), or None
    act_token: int | None = None
    object: str | None = None  # "sessions", "therapy", "block"...
    subject: str = "none"  # "therapist" | "reader" | "client" | "other" | "none"
    firm: bool = False  # the writer's own, not negated ask (recommend, request, ask, propose...)
    backed: bool = False  # the writer says they back it ("..., and I agree")
    # the act sits under the writer's own view: "I believe [they] would benefit from more sessions"
    writer_view: bool = False
    for_other: bool = False
    negated: bool = False
    discharge: bool = False
    past_grant: bool = False
    hedged: bool = False
    leaves_to_reader: bool = False
    on_file: bool = False
    # the mail's own small print ("you are receiving this email because...", "if you are not the
    # intended recipient"): no sentence of the letter, for either section
    boilerplate: bool = False
    enquiry: bool = False  # the message comes before the letter ("before I write anything formal")
    client_wish: bool = False
    withdrawn: bool = False  # the message takes its ask back (see withdrawals)
    # a count alone, maybe with its frequency, opening a paragraph: the answer to a question the reply
    # quoted above it ("SIX, FORTNIGHTLY.", "Ten (10)."), see answers
    answer: bool = False
    question: bool = False
    verb: bool = False  # the unit has a verb: a sentence, not a title ("Request for additional sessions")
    heading: bool = False  # opens like a heading: "Why further sessions are needed", "How ... would help:"

    @property
    def vetoes(self) -> tuple[str, ...]:
        """Why this sentence is not the writer's ask for the client, most telling first."""
        found = [
            ("withdrawn", self.withdrawn),
            ("for-someone-else", self.for_other),
            ("discharge", self.discharge),
            ("negated", self.negated),
            ("past-grant", self.past_grant),
            ("leaves-to-reader", self.leaves_to_reader),
            ("hedged", self.hedged),
            ("someone-else-asks", self.subject == "other" and not self.backed),
            ("client-wish", self.client_wish),
            ("question", self.question),
        ]
        return tuple(name for name, hit in found if hit)


def subjects(tok: Token) -> tuple[str, list[Token]]:
    """The subject of the clause ``tok`` is in, walking up from ``tok``.

    Returns ("active", subjects), ("passive", subjects) or ("none", []) for an imperative or a
    fragment. Subjects are in the parser's child order.
    """
    for _ in range(8):
        first = next((c for c in tok.children if c.dep_ in ("nsubj", "csubj", "expl", "nsubjpass")), None)
        if first is not None:
            if first.dep_ == "nsubjpass":
                return "passive", [c for c in tok.children if c.dep_ == "nsubjpass"]
            return "active", [c for c in tok.children if c.dep_ in ("nsubj", "csubj", "expl")]
        if tok.dep_ in UP_TO_CLAUSE and tok.head is not tok:
            tok = tok.head
            continue
        break
    return "none", []


_SKIP = frozenset({"[", "]", ",", "(", ")", "-", "–"})
_POSSESSIVES = frozenset({"their", "his", "her", "the", "my", "our"})


def other_placeholders(doc: Doc, rules: ClauseRules) -> frozenset[str]:
    """Person placeholders the letter introduces as someone other than the client, anywhere in it:
    "[their] partner, [PERSON_2]", "[PERSON_2] ([their] husband)". In the role form they are
    already "[CLIENT'S PARTNER]"; in the older form only this apposition tells them apart."""
    others = set()
    for tok in doc:
        if placeholder_type(f"[{tok.text}]") != "PERSON":
            continue
        before = [t for t in doc[max(0, tok.i - 4) : tok.i] if t.text not in _SKIP]
        after = [t for t in doc[tok.i + 1 : tok.i + 6] if t.text not in _SKIP]
        if before and before[-1].lower_ in rules.other_people:
            others.add(tok.text)
        elif len(after) > 1 and after[0].lower_ in _POSSESSIVES and after[1].lower_ in rules.other_people:
            others.add(tok.text)
    return frozenset(others)


def _is_other_person(tok: Token, rules: ClauseRules, others: frozenset[str] = frozenset()) -> bool:
    kind = placeholder_type(f"[{tok.text}]")
    text = tok.text.lower().replace("’", "'")
    if tok.text in others:
        return True
    if kind is None and "partner" in text:
        return True  # "[CLIENT'S PARTNER]"
    if kind in CLIENT_PLACEHOLDERS or text in CLIENT_WORDS:
        return False
    return tok.lemma_.lower() in rules.other_people or text in rules.other_people


def who(tok: Token, rules: ClauseRules, others: frozenset[str] = frozenset()) -> str:
    """Who a subject word is: therapist, reader, client or other."""
    text = tok.text.lower()
    if text in WRITER:
        return "therapist"
    if text in READER:
        return "reader"
    if _is_other_person(tok, rules, others):
        return "other"
    # "[their] GP", "the line manager": a third party named by role
    compound = " ".join([*(c.lower_ for c in tok.children if c.dep_ in ("compound", "amod")), tok.lower_])
    if tok.lemma_.lower() in rules.third_parties or compound in rules.third_parties:
        return "other"
    return (
        "client"
        if (text in CLIENT_WORDS or placeholder_type(f"[{tok.text}]") in CLIENT_PLACEHOLDERS or text in ("[", "]"))
        else "none"
    )


def _subject_of(tok: Token, rules: ClauseRules, others: frozenset[str]) -> str:
    kind, found = subjects(tok)
    if kind != "active" or not found:
        return "none"
    head = found[0]
    if head.text == "[" and head.i + 1 < len(head.doc):  # "[PERSON_1]" split as "[", "PERSON_1", "]"
        head = head.doc[head.i + 1]
    role = who(head, rules, others)
    for appos in head.children:
        if appos.dep_ == "appos" and who(appos, rules, others) == "other":
            return "other"
    return role


def _span_has(doc: Doc, unit: Unit, hits: set[int]) -> bool:
    return any(i in hits for i in range(unit.start, unit.end))


def _beneficiary(obj: Token, rules: ClauseRules, others: frozenset[str]) -> str | None:
    """Who the sessions named by ``obj`` are for: "for X" on the noun or its verb, the subject of the
    verb that has them ("[their] partner would benefit from sessions", "that [PERSON_2] has sessions"),
    or the one they are offered to ("offer [their] husband sessions")."""
    verb = obj
    while verb.dep_ in ("pobj", "prep", "dobj", "compound", "conj", "appos", "attr") and verb.head is not verb:
        verb = verb.head
        if verb.pos_ in ("VERB", "AUX"):
            break
    for holder in (obj, verb):
        for prep in holder.children:
            if prep.dep_ == "prep" and prep.lower_ in ("for", "to"):
                for person in prep.children:
                    if person.dep_ == "pobj":
                        role = who(word_of(person), rules, others)
                        if role in ("client", "other"):
                            return role
    for child in verb.children:
        # the subject of a verb of having ("[their] partner would benefit from sessions"), not of any
        # verb ("[their] partner drives [them] to appointments")
        if child.dep_ in ("nsubj", "nsubjpass") and verb.lemma_.lower() not in _RECEIVING:
            continue
        if child.dep_ in ("nsubj", "nsubjpass", "dative"):
            role = who(word_of(child), rules, others)
            if role in ("client", "other"):
                return role
    return None


_RECEIVING = frozenset(
    {
        "have",
        "get",
        "receive",
        "benefit",
        "need",
        "require",
        "attend",
        "access",
        "start",
        "begin",
        "take",
        "gain",
        "profit",
        "seek",
        "give",
        "offer",
        "provide",
        "allocate",
        "fund",
        "be",
    }
)


def word_of(tok: Token) -> Token:
    """The word of a bracketed placeholder the parser attached by its bracket ("[", "PERSON_2", "]")."""
    if tok.text == "[" and tok.i + 1 < len(tok.doc):
        return tok.doc[tok.i + 1]
    return tok


def _for_other(doc: Doc, unit: Unit, act: Token | None, rules: ClauseRules, others: frozenset[str]) -> bool:
    """Sessions for someone else: "for [CLIENT'S PARTNER]", "[their] husband would benefit from...",
    "I recommend that [their] partner has sessions of [their] own"."""
    words = doc[unit.start : unit.end]
    if not any(_is_other_person(t, rules, others) for t in words):
        return False
    objects = {w for ws in rules.objects.values() for w in ws}
    said = [_beneficiary(t, rules, others) for t in words if t.lemma_.lower() in objects or t.lower_ in objects]
    said = [role for role in said if role is not None]
    if said:
        return all(role == "other" for role in said)
    if act is None:
        return False
    # no sessions named: the act's own subject or addressee ("[their] partner would benefit too")
    return any(
        _is_other_person(word_of(t), rules, others) and t.dep_ in ("nsubj", "nsubjpass", "dative", "dobj")
        for t in act.subtree
        if unit.start <= t.i < unit.end
    )


def _negated(doc: Doc, unit: Unit, act: Token | None, negations: set[int], excepted: set[int]) -> bool:
    if _span_has(doc, unit, negations):
        return True
    if act is None:
        return False
    heads = [act, act.head] if act.dep_ in ("xcomp", "ccomp", "dobj", "pobj", "attr") else [act]
    for tok in heads:
        for child in tok.children:
            if (child.dep_ == "neg" or child.lower_ in ("never", "no")) and child.i not in excepted:
                return True
    return False


def _past_grant(act: Token | None, unit: Unit, doc: Doc, rules: ClauseRules, past: set[int]) -> bool:
    """A grant already made, by us or someone else: "Plumm approved 6 sessions", "were authorised"."""
    if act is None:
        return False
    lemma = act.lemma_.lower()
    if lemma not in rules.grant_verbs:
        return False
    aux = [c for c in act.children if c.dep_ in ("aux", "auxpass")]
    modal = any(a.tag_ == "MD" or a.lower_ in ("to",) for a in aux)
    if modal:
        return False
    if act.tag_ == "VBD" or (act.tag_ == "VBN" and aux):
        return True
    return _span_has(doc, unit, past)


def _past_ask(act: Token | None, unit: Unit, doc: Doc, past: set[int]) -> bool:
    """An ask the writer made before: "I recommended 6 sessions last time", "I initially requested 10"."""
    if act is None or act.tag_ not in ("VBD", "VBN"):
        return False
    if not any(c.dep_ == "nsubj" and c.lower_ in WRITER for c in act.children):
        return False
    return any(i in past for i in range(unit.start, unit.end))


def find_acts(doc: Doc, unit: Unit, compiled: Compiled) -> list[tuple[str, Token]]:
    """The words of ``unit`` that name an ask, with their kind, in order."""
    by_lemma = compiled.act_lemmas
    found = []
    for tok in doc[unit.start : unit.end]:
        kind = by_lemma.get(tok.lemma_.lower()) or by_lemma.get(tok.lower_)
        if kind is not None:
            found.append((kind, tok))
    return found


def find_object(doc: Doc, unit: Unit, rules: ClauseRules) -> str | None:
    for tok in doc[unit.start : unit.end]:
        word = tok.lemma_.lower()
        for name, words in rules.objects.items():
            if word in words or tok.lower_ in words:
                return name
    return None


def _main_act(
    doc: Doc, unit: Unit, compiled: Compiled, rules: ClauseRules, cues: dict[str, set[int]], others: frozenset[str]
) -> tuple[str | None, Token | None]:
    """The act the unit turns on: the writer's own first ("Plumm approved 6 sessions; I now request a
    further 6"), then one by the reader or nobody that is not a grant already made, then the first."""
    acts = find_acts(doc, unit, compiled)
    if not acts:
        return None, None
    for wanted in ("therapist", "reader-or-none"):
        for kind, tok in acts:
            role = _subject_of(tok, rules, others)
            if wanted == "therapist" and role == "therapist":
                return kind, tok
            if (
                wanted == "reader-or-none"
                and role in ("reader", "none")
                and not _past_grant(tok, unit, doc, rules, cues["past"])
            ):
                return kind, tok
    return acts[0]


def read_unit(
    doc: Doc,
    unit: Unit,
    compiled: Compiled,
    rules: ClauseRules,
    cues: dict[str, set[int]],
    others: frozenset[str] = frozenset(),
) -> Reading:
    """The reading of one unit (see the module docstring); ``cues`` are the token positions of each
    cue list's matches in ``doc`` (from :func:`cue_positions`), ``others`` the placeholders the
    letter introduces as other people (:func:`other_placeholders`)."""
    kind, act = _main_act(doc, unit, compiled, rules, cues, others)
    subject = _subject_of(act, rules, others) if act is not None else "none"
    negated = _negated(doc, unit, act, cues["negation"], cues["excepted"])
    if negated and act is not None and any(t.i in cues["reversed"] for t in act.subtree):
        negated = False  # "I would not recommend ending therapy"
    backed = _span_has(doc, unit, cues["support"])
    past = _past_grant(act, unit, doc, rules, cues["past"]) or _past_ask(act, unit, doc, cues["past"])
    # a firm ask of the writer's own outweighs a hedge or "the number is up to you" beside it
    firm = (
        act is not None
        and subject in ("therapist", "none", "reader")
        and kind in rules.firm_acts
        and not negated
        and not past
    )
    client_wish = subject == "client" and kind in rules.wish_acts and not backed and _wished(act, kind, rules)
    return Reading(
        act=kind,
        act_token=act.i if act is not None else None,
        object=find_object(doc, unit, rules),
        subject=subject,
        firm=firm,
        backed=backed,
        writer_view=act is not None and _under_writer(act, rules, others),
        for_other=_for_other(doc, unit, act, rules, others),
        negated=negated,
        discharge=_span_has(doc, unit, cues["discharge"])
        or (_span_has(doc, unit, cues["prospective"]) and not _asks(doc, unit, kind, negated)),
        past_grant=past,
        hedged=_span_has(doc, unit, cues["hedge"] - _asides(doc, unit)) and not firm,
        leaves_to_reader=_span_has(doc, unit, cues["leave"] - _asides(doc, unit)) and not firm,
        on_file=_span_has(doc, unit, cues["on_file"]),
        boilerplate=_span_has(doc, unit, cues["boilerplate"]),
        enquiry=_span_has(doc, unit, cues["enquiry"]),
        client_wish=client_wish,
        question=unit.question,
        verb=any(t.pos_ in ("VERB", "AUX") for t in doc[unit.start : unit.end]),
        heading=_opens_like_heading(doc, unit),
    )


_ASIDE_LENGTH = 40  # tokens: a bracket left open longer than this is no aside


def _asides(doc: Doc, unit: Unit) -> set[int]:
    """Token positions inside round brackets that sit within ``unit``: an aside qualifies a detail, so a
    hedge or a "your call" in it ("eight further sessions (possibly one with [their] partner)") does
    not hedge the sentence's ask. A unit that is all aside ("(I may hold off for now.)") keeps its own."""
    inside: set[int] = set()
    opened: int | None = None
    for tok in doc[unit.start : unit.end]:
        if tok.text == "(":
            opened = tok.i
        elif tok.text == ")" and opened is not None:
            if tok.i - opened <= _ASIDE_LENGTH and (opened > unit.start or tok.i < unit.end - 2):
                inside.update(range(opened, tok.i + 1))
            opened = None
    return inside


def _asks(doc: Doc, unit: Unit, act: str | None, negated: bool) -> bool:
    """The unit asks for something: an act not turned round, or a count of more ("8 more please")."""
    return (act is not None and not negated) or bool(COUNT_MORE.search(doc[unit.start : unit.end].text))


def withdrawals(
    doc: Doc,
    units: list[Unit],
    readings: list[Reading],
    cues: dict[str, set[int]],
    rules: ClauseRules,
    others: frozenset[str] = frozenset(),
) -> list[Reading]:
    """Every unit's reading, marked ``withdrawn`` when the message takes its ask back ("please treat the
    request below as withdrawn", "so I withdraw my request", "please do not action it"), wherever the
    ask sits, before or after: an ask the writer withdraws is no ask. Not withdrawn: a withdrawal that
    points to another message ("please disregard my previous email"), an ask that replaces the one taken
    back ("instead, I request..."), the writer's own ask after the withdrawal in the same sentence
    ("I withdraw my request for 6 and ask for 8"), and a cue that is what the client or someone else
    does or is ("[their] partner describes [them] as withdrawn", "[they] withdrew from it all")."""
    takes_back = [
        u
        for u in units
        if _writers_withdrawal(doc, u, cues["withdraw"], rules, others)
        and not _span_has(doc, u, cues["on_file"] | cues["past"])
    ]
    if not takes_back:
        return readings
    first_cue = {id(u): min(i for i in range(u.start, u.end) if i in cues["withdraw"]) for u in takes_back}
    marked = []
    for unit, reading in zip(units, readings, strict=True):
        if _span_has(doc, unit, cues["replace"]):
            marked.append(reading)
            continue
        cue = first_cue.get(id(unit))
        if cue is not None and reading.firm and reading.act_token is not None and reading.act_token > cue:
            marked.append(reading)
            continue
        marked.append(replace(reading, withdrawn=True))
    return marked


# a verb or adjective said of its clause's subject or object ("describes [them] as withdrawn", "tends to
# disregard [their] own needs"), or a verb that shares it ("stopped going and has withdrawn from it")
_PREDICATED = frozenset({"advcl", "xcomp", "oprd", "acomp", "amod", "acl", "attr", "pobj", "conj"})


def _cue_subject(tok: Token, unit: Unit, rules: ClauseRules, others: frozenset[str]) -> str:
    """Who says or does what ``tok`` is in, within ``unit``: the subject of its own verb, up through the
    words said of something ("[their] wife describes [them] as withdrawn"); a verb with no subject of its
    own is an imperative, even where the parser hangs it on another clause ("please ignore the request
    above - [they] won't need...", "..., so please treat the request as withdrawn"), or a greeting's
    words on the line before ("Hi Plumm team," over "Please disregard..."); a passive is nobody's."""
    for _ in range(8):
        own = next(
            (c for c in tok.children if c.dep_ in ("nsubj", "csubj", "nsubjpass") and unit.start <= c.i < unit.end),
            None,
        )
        if own is not None:
            return "none" if own.dep_ == "nsubjpass" else who(word_of(own), rules, others)
        if tok.pos_ in ("VERB", "AUX") and (tok.dep_ not in _PREDICATED or _bare_imperative(tok)):
            return "none"
        if tok.head is tok or not unit.start <= tok.head.i < unit.end:
            return "none"
        tok = tok.head
    return "none"


def _bare_imperative(verb: Token) -> bool:
    """A base-form verb with no "to" before it: an imperative, wherever the parser hangs it ("..., so
    please do not action this"), where "tends to disregard" and "described as withdrawn" are not."""
    return verb.tag_ == "VB" and not any(c.lower_ == "to" and c.dep_ in ("aux", "mark") for c in verb.children)


def _writers_withdrawal(doc: Doc, unit: Unit, cue: set[int], rules: ClauseRules, others: frozenset[str]) -> bool:
    """A withdrawal cue in ``unit`` whose clause is the writer's, the reader's or nobody's ("I withdraw my
    request", "please disregard the request above", "the request is withdrawn"), not the client's or
    someone else's: "[their] wife describes [them] as withdrawn" tells how the client is."""
    i = unit.start
    while i < unit.end:
        if i not in cue:
            i += 1
            continue
        run = range(i, next((j for j in range(i, unit.end) if j not in cue), unit.end))
        top = next((doc[j] for j in run if doc[j].head.i not in run or doc[j].head.i == j), doc[i])
        if _cue_subject(top, unit, rules, others) not in ("client", "other"):
            return True
        i = run.stop
    return False


def answers(
    doc: Doc, units: list[Unit], readings: list[Reading], compiled: Compiled, numbers: dict[str, int]
) -> list[Reading]:
    """Every unit's reading, marked ``answer`` when the unit is a count and nothing else but its frequency
    and punctuation ("SIX, FORTNIGHTLY.", "Ten (10).", "8 - monthly"), and it opens a paragraph that no
    label ends before it: an interleaved reply answers our quoted question "How many additional sessions
    are you recommending?" so, and the quote is set aside before the letter is read. Not an answer: a
    list's number ("1."), two different counts ("19 14", scores), a value under its label ("Sessions
    attended:" then "8"). ``numbers`` are the count words (``sessions.numbers``), lower case."""
    timed: set[int] = set()
    for _, s, e in compiled.period(doc):
        timed.update(range(s, e))
    marked = []
    for unit, reading in zip(units, readings, strict=True):
        words = [t for t in doc[unit.start : unit.end] if not (t.is_punct or t.is_space)]
        counts = {count_value(t.text, numbers) for t in words if t._.plumm_count}
        alone = len(counts) == 1 and all(t._.plumm_count or t.i in timed for t in words)
        if alone and not _LIST_NUMBER.match(unit.text) and _opens_paragraph(doc.text, unit):
            marked.append(replace(reading, answer=True))
        else:
            marked.append(reading)
    return marked


_LIST_NUMBER = re.compile(r"\(?\d{1,2}[.)]")  # "1." or "2)" opening a line numbers a list's item


def _opens_paragraph(text: str, unit: Unit) -> bool:
    """``unit`` starts its line after a blank line (or at the start of the text), and the text above ends
    with no label's colon."""
    before = text[: unit.start_char]
    line_start = before.rfind("\n") + 1
    if before[line_start:].strip():
        return False
    above = before[:line_start]
    if not above.strip():
        return True
    return bool(re.search(r"\n[ \t]*\n$", "\n" + above)) and not above.rstrip().endswith(":")


_MORE_WORDS = frozenset({"more", "further", "additional", "extra", "another"})
# what an act asks for hangs on it by one of these (not a clause the parser hung on it: "as [they] asks to
# be called, [they] started therapy")
_ASKED_FOR = frozenset({"dobj", "dative", "prep", "xcomp", "ccomp", "attr", "npadvmod", "advmod", "acomp", "oprd"})


def _wished(act: Token | None, kind: str | None, rules: ClauseRules) -> bool:
    """A wish act that asks by itself for something of ours ("[they] has asked for more"), or one that
    does not ("continue") under a verb of wanting: "[they] would like to continue", not "[they] continues
    to avoid lifts"."""
    if act is None:
        return True
    if kind in rules.firm_acts and kind != "continue":
        # for something of ours: "[they] has asked for more sessions", not "as [they] asks to be called"
        objects = {w for ws in rules.objects.values() for w in ws}
        asked = [t for c in act.children if c.dep_ in _ASKED_FOR for t in c.subtree]
        return any(
            t.lemma_.lower() in objects or t.lower_ in objects or t.lower_ in _MORE_WORDS or t._.plumm_count
            for t in asked
        )
    wanting = {w.lower() for w in rules.wish_verbs}
    tok = act
    for _ in range(2):
        if tok.dep_ not in ("xcomp", "ccomp", "acomp") or tok.head is tok:
            return False
        tok = tok.head
        if tok.lemma_.lower() in wanting or tok.lower_ in wanting:
            return True
    return False


def _under_writer(act: Token, rules: ClauseRules, others: frozenset[str]) -> bool:
    tok = act
    for _ in range(4):
        if tok.dep_ not in ("ccomp", "xcomp", "advcl") or tok.head is tok:
            return False
        tok = tok.head
        if _subject_of(tok, rules, others) == "therapist":
            return True
    return False


_WH_HEADINGS = frozenset({"why", "how", "whether", "what"})


def _opens_like_heading(doc: Doc, unit: Unit) -> bool:
    words = [t for t in doc[unit.start : unit.end] if not (t.is_punct or t.is_space)]
    return bool(words) and words[0].lower_ in _WH_HEADINGS and not unit.text.rstrip().endswith((".", "!"))


def cue_positions(doc: Doc, compiled: Compiled) -> dict[str, set[int]]:
    """Token positions covered by each cue list's matches (``clauses.cues`` in the rules). A
    discharge that a reversal cue turns round just before it ("not yet ready to end", "premature to
    discharge") is no discharge; its positions go to ``reversed`` instead. One a ``timed`` word governs
    ("after [their] discharge from the ward") tells when, and is no discharge either."""
    found: dict[str, set[int]] = {name: set() for name in (*compiled.clause_cue_names, "reversed", "prospective")}
    matches = [(doc.vocab.strings[match_id], s, e) for match_id, s, e in compiled.clause_cues(doc)]
    # "no hesitation", "not only", "not yet": the recommendation's own exceptions to negation
    found["excepted"] = {i for _, s, e in compiled.exceptions.get("recommendation", _NONE)(doc) for i in range(s, e)}
    for name, s, e in matches:
        if name != "discharge":
            found[name].update(range(s, e))
    for name, s, e in matches:
        if name == "discharge":
            before = range(max(0, s - _REVERSAL_WINDOW), s)
            reversed_ = doc[s].lower_ not in ("no", "not") and any(
                i in found["reversal"] and doc[i].sent == doc[s].sent for i in before
            )
            ahead = doc[s].lower_ not in ("no", "not") and any(
                i in found["prospect"] and doc[i].sent == doc[s].sent for i in range(max(0, s - _PROSPECT_WINDOW), s)
            )
            if _dated(doc[s:e], found["timed"]):
                continue  # "after [their] discharge": when something else happens, no ending of the work
            found["reversed" if reversed_ else "prospective" if ahead else "discharge"].update(range(s, e))
    return found


def _dated(span: Span, timed: set[int]) -> bool:
    """The ending is what a ``timed`` word governs: the object of its preposition ("after [their]
    discharge", "since discharge from the ward") or a clause it marks ("until [they] is discharged")."""
    for tok in span:
        if tok.dep_ in ("pobj", "pcomp") and tok.head.i in timed:
            return True
        if any(c.dep_ == "mark" and c.i in timed for c in tok.children):
            return True
    return False


_REVERSAL_WINDOW = 4
_PROSPECT_WINDOW = 6  # "I'd expect to be able to discharge": the hope a few words before the ending


def _NONE(_doc: Doc) -> list[tuple[int, int, int]]:
    return []
