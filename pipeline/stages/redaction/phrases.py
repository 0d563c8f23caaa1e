"""Named clinical things a CSM must read, found by their shape: an instrument ("<Name> Social Anxiety
Scale (ABC-D)"), a therapy model ("<Name> & <Name> model", "the <Name> Method"), a diagnosis, a care
plan, a support group, a crisis line; a short form with its score ("ABC-12 score is 30"); a crisis
number ("116 123"); authors in brackets after what they wrote ("<Therapy> (<Name>, <Name> & <Name>)");
a dose with its formulation or timing ("XL 150 mg", "2 mg HS"); a law by its number ("Law 25"); a
named holiday ("<Holiday> holiday"). The rules and word lists are ``clinical_phrases`` in
``rules/allow.yaml``.

Contract: :meth:`ClinicalPhrases.ranges` returns the character ranges of such things in a folded
text (same offsets as the letter); :meth:`ClinicalPhrases.find` also says which of them are authors
in brackets. They join the allow-list's protected ranges: no model guess may turn them into a
placeholder, but a known identifier (the client's own name) is removed inside them all the same,
and authors in brackets with a known identifier among them are no longer kept at all (see
``Redactor._merge``). Fail-closed by construction: a phrase needs a clinical qualifier besides its
head noun, only an instrument's or a model's head may carry leading names, and a leading name that
also stands elsewhere in the letter is a person spoken of, so it is left outside the range for the
recognizers to judge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.stages.redaction.rules import ClinicalPhraseRules

_TOKEN = re.compile(r"&|[^\W\d_][\w'\-]*")
_GAP = re.compile(r"[ \t]+")
_WRAP = re.compile(r"[ \t]*\n[ \t]*")
# Spaces between two words, or a line plainly wrapped there.
_SPACE = r"(?:[ \t]+|[ \t]*\n[ \t]*)"
_AUTHOR = r"[A-Z][\w'\-]+"
# What joins the items of a list, up to the next item: ", ", " and ", " & ", " or ".
_LIST_JOIN = re.compile(r"(?:[ \t]*,\s*(?:and\s+)?|\s+(?:and|&|or)\s+)$")
# An author as a reference gives one: a surname, after initials or a given name ("J. Author",
# "Firstname Author"); up to four joined as a list ("Author, Author & Author").
_AUTHOR_NAME = rf"(?:(?:[A-Z]\.[ \t]?){{1,2}}[ \t]*|[A-Z][a-z]+[ \t]+)?{_AUTHOR}"
_AUTHOR_JOIN = r"(?:[ \t]*,[ \t]*(?:(?:and|&)[ \t]+)?|[ \t]+(?:and|&)[ \t]+|[ \t]*&[ \t]*)"
# In brackets, after what they wrote; a short form or a few words may come first ("(ABC, Author &
# Author)", "(standard protocol, F. Author)"), a year or "et al." after.
_AUTHORS_IN_BRACKETS = re.compile(
    rf"[ \t]*\((?P<lead>(?:[a-z][\w\-]*|[A-Z][A-Z0-9\-]+)(?:[ \t]+[a-z][\w\-]*){{0,2}}[ \t]*,[ \t]*)?"
    rf"(?P<names>{_AUTHOR_NAME}(?:{_AUTHOR_JOIN}{_AUTHOR_NAME}){{0,3}})"
    rf"(?:[ \t]+et[ \t]+al\.?)?(?:,?[ \t]*(?:19|20)\d{{2}}[a-z]?)?\)"
)


def _occurrences(text: str, word: str, spans: Sequence[tuple[int, int]]) -> list[tuple[tuple[int, int], bool]]:
    """Where ``word`` stands outside ``spans`` (capitalised, in capitals or as written), each with
    whether it is one more item of a list that follows one of ``spans`` (", ", " and ", " & ")."""
    forms = {word[:1].upper() + word[1:].lower(), word.upper(), word}
    rx = re.compile(rf"(?<![\w\-])(?:{'|'.join(re.escape(f) for f in sorted(forms))})(?![\w]|-\w)")
    ends = {b for _, b in spans}
    out = []
    for m in rx.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue
        joined = _LIST_JOIN.search(text, max(0, m.start() - 12), m.start())
        out.append((m.span(), joined is not None and joined.start() in ends))
    return out


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    text: str
    kind: str  # "cap", "head", "join", "qual" (a clinical word in lower case, inside a chain)

    @property
    def low(self) -> str:
        return self.text.casefold()


@dataclass(frozen=True, slots=True)
class _Phrase:
    start: int
    end: int
    lead: tuple[_Token, ...]  # leading words that may be authors' names


class ClinicalPhrases:
    """Ranges of named clinical things in a letter (see the module docstring)."""

    def __init__(
        self,
        rules: ClinicalPhraseRules,
        *,
        ordinary: Callable[[str], bool],
        modifier: Callable[[str], bool],
        stop: frozenset[str],
        acronyms: frozenset[str],
        titles: frozenset[str] = frozenset(),
    ) -> None:
        self._heads = {h.casefold() for h in rules.heads}
        self._named = {h.casefold() for h in rules.named_heads}
        self._author_heads = {h.casefold() for h in rules.author_heads}
        self._joiners = {j.casefold() for j in rules.joiners}
        self._qualifiers = {q.casefold() for q in rules.qualifiers}
        self._max_authors = rules.max_authors
        self._ordinary = ordinary  # English or clinical: not a name
        # An adjective, verb or adverb of English, or an allow-listed word: what may open a therapy's
        # or a diagnosis's name; nouns that are also surnames ("Harris") may not.
        self._modifier = modifier
        self._stop = stop  # "Her", "Our", "This": opens a sentence, not a phrase
        self._acronyms = acronyms  # allow-listed terms in capitals (CBT, PTSD): qualifiers too
        self._titles = titles  # "Dr", "Mrs": a person's, never an author's given name
        self._participants = {w.casefold() for w in rules.participant_words}
        self._acronym = re.compile(rf"[ \t]*(?:\n[ \t]*)?\((?P<acro>{rules.acronym})\)")
        self._score = re.compile(rf"(?<![\w\-])(?:{rules.score_acronym})(?:{rules.score_cue})")
        self._possessive_heads = {h.casefold() for h in rules.possessive_heads}
        self._eponym_heads = {h.casefold() for h in rules.eponym_heads}
        self._eponyms = {e.casefold() for e in rules.eponyms}
        # "<Name>'s", "<Name> and <Name>'s", "<Name>'" then up to three lower-case words and a head.
        heads = sorted({*self._possessive_heads, *self._eponym_heads}, key=lambda h: (-len(h), h))
        shorts = sorted(acronyms, key=lambda a: (-len(a), a))
        head = "|".join([*(f"(?i:{re.escape(h)})" for h in heads), *(re.escape(a) for a in shorts)]) or "(?!x)x"
        # A possessive's name: capitalised, or in lower case when it is a listed eponym ("<eponym>'s tasks").
        lower = "|".join(re.escape(e) for e in sorted(self._eponyms, key=lambda e: (-len(e), e))) or "(?!x)x"
        name = rf"(?:{_AUTHOR}|(?:{lower})(?=['\u2019]))"
        self._possessive = re.compile(
            rf"(?<![\w\-'])(?P<first>{name})(?:[ \t]+(?:and|&)[ \t]+(?P<second>{name}))?"
            rf"(?<=[A-Za-z])(?P<poss>'s|(?<=s)'){_SPACE}(?P<words>(?:[A-Za-z][\w\-]*{_SPACE}){{0,3}}?)"
            rf"(?P<head>{head})(?![\w\-])"
        )
        # A listed eponym right before a model's or instrument's head or short form ("<Eponym>
        # eight-phase protocol", "<Eponym> scale", "<Eponym> K10"), or made an adjective of ("<Eponym>-style").
        nouns = sorted({*self._named, *self._author_heads, *self._possessive_heads}, key=lambda h: (-len(h), h))
        head_alt = "|".join(f"(?i:{re.escape(h)})" for h in nouns) or "(?!x)x"
        short_alt = "|".join(re.escape(a) for a in shorts) or "(?!x)x"
        self._eponym_use = re.compile(
            rf"(?<![\w\-'])(?P<name>{_AUTHOR.replace('+', '*')})(?:(?P<style>-(?:style|based|informed|type))"
            rf"|[ \t]+(?P<words>(?:[a-z][\w\-]*[ \t]+){{0,2}}?)"
            rf"(?:(?P<head>{head_alt})|(?P<short>[A-Z]{{1,6}}[\-\u2013]?\d{{1,2}}|{short_alt})))(?![\w\-])"
        )
        self._eponym_bracket = re.compile(
            rf"(?P<before>(?:[\w\-]+[ \t]+){{0,2}}[\w\-]+)[ \t]*\((?P<name>{_AUTHOR})(?:,?[ \t]*(?:19|20)\d{{2}})?\)"
        )
        legal = "|".join(re.escape(h) for h in sorted(rules.legal_heads, key=lambda h: (-len(h), h))) or "(?!x)x"
        word = r"[A-Z][a-z]+(?:-[A-Z]?[a-z]+)?"
        self._legal = re.compile(
            rf"(?<![\w\-'])(?P<words>(?:{word}[ \t]+){{1,5}})(?P<head>{legal})"
            rf"(?P<tail>[ \t]+(?:on|of)[ \t]+(?:the[ \t]+)?{word}(?:[ \t]+{word}){{0,3}})?"
            rf"(?:[ \t]+(?:of[ \t]+)?(?:19|20)\d{{2}})?(?![\w\-])"
        )
        # "Law 25", "Law No. 151": a law named by its number.
        self._numbered_law = re.compile(rf"(?<![\w\-'])(?:{legal})[ \t]+(?:No\.?[ \t]*)?\d{{1,4}}(?![\w\-/]|[.,]\d)")
        # A clinical word and a head noun in any case ("motivational interviewing", "schema therapy").
        quals = sorted(self._qualifiers, key=lambda q: (-len(q), q))
        nouns_any = sorted({*self._heads, *self._possessive_heads, *self._eponym_heads}, key=lambda h: (-len(h), h))
        self._qualified_head = re.compile(
            rf"(?i:(?<![\w\-])(?:{'|'.join(map(re.escape, quals)) or '(?!x)x'})[ \t]+"
            rf"(?:{'|'.join(map(re.escape, nouns_any)) or '(?!x)x'})(?![\w\-]))"
        )
        # A short form right before its phrase in brackets ("ABCD (<Name> Burnout Disorder Scale)").
        self._acronym_before = re.compile(rf"(?<![\w\-])(?P<acro>{rules.acronym})[ \t]*\($")
        holidays = "|".join(re.escape(h) for h in sorted(rules.holidays, key=lambda h: (-len(h), h))) or "(?!x)x"
        holiday_heads = "|".join(re.escape(h) for h in sorted(rules.holiday_heads, key=lambda h: (-len(h), h)))
        self._holiday = re.compile(
            rf"(?<![\w\-'])(?:{holidays})(?:[ \t]+(?:[A-Z][\w'\-]*|[a-z]{{1,3}}-[A-Za-z]\w*)){{0,3}}"
            rf"[ \t]+(?i:{holiday_heads or '(?!x)x'})(?![\w\-])"
        )
        abbr = "|".join(re.escape(a) for a in sorted(rules.dose_abbreviations, key=lambda a: (-len(a), a))) or "(?!x)x"
        units = "|".join(re.escape(u) for u in sorted(rules.dose_units, key=lambda u: (-len(u), u))) or "(?!x)x"
        self._dose = re.compile(
            rf"(?<=[^\W\d_])[ \t]+(?P<dose>(?:(?P<pre>{abbr})[ \t]+)?\d{{1,4}}(?:[.,]\d{{1,3}})?[ \t]?(?:{units})"
            rf"(?:[ \t]+(?P<post>{abbr}))?)(?![\w])"
        )
        crisis = "|".join(f"(?:{p})" for p in rules.crisis_numbers) or "(?!x)x"
        self._crisis = re.compile(rf"(?<![\w\-/.+,])(?<!\d[ \t])(?:{crisis})(?![ \t\-./]?\d)(?!\w)")

    # -- the whole letter ---------------------------------------------------------------------------
    def ranges(self, text: str, protected: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
        """Ranges in ``text`` (folded) to keep; ``protected`` are the allow-list's own, after which an
        author in brackets ("XYZ-E (<Name>)") is kept as after a phrase."""
        return self.find(text, protected)[0]

    def find(
        self, text: str, protected: Sequence[tuple[int, int]] = ()
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """:meth:`ranges`, and those of them that are authors' names in brackets ("(<Name> & <Name>)"):
        people named, so a known identifier among them leaves the whole bracket to the recognizers."""
        chains = self._chains(text)
        phrases = [p for chain in chains for p in self._phrases(text, chain)]
        phrases += [
            r
            for chain in chains
            for r in self._qualifier_runs(text, chain)
            if not any(p.start <= r.start and r.end <= p.end for p in phrases)
        ]
        phrases += self._possessives(text)
        phrases += self._eponym_uses(text)
        phrases += self._laws(text)
        spans: list[tuple[int, int]] = []
        acronyms: set[str] = set()
        for p in phrases:
            start, end = p.start, p.end
            m = self._acronym.match(text, end)
            if m and self._initial_matches(m.group("acro"), text[p.start : p.end]):
                acronyms.add(m.group("acro"))
                end = m.end()
            elif text[end : end + 1] == ")":
                # "ABCD (<Name> Burnout Disorder Scale)": the short form first, spelled out in brackets.
                before = self._acronym_before.search(text, max(0, start - 20), start)
                if before and self._spells(before.group("acro"), text[start:end]):
                    acronyms.add(before.group("acro"))
                    start, end = before.start(), end + 1
            spans.append((start, end))
        # A pair of authors named again on their own ("the <Name> & <Name> cognitive therapy") is
        # the model named again, not two people spoken of.
        pairs = sorted({m.span() for p in phrases for m in self._author_pairs(text, p)})
        listed = [*spans, *protected, *pairs]
        kept = [(self._without_recurring(text, p, listed), end) for p, (_, end) in zip(phrases, spans, strict=True)]
        # A phrase kept with its leading names: where one of them stands for it in a list, it is kept too.
        whole = [p for p, (start, _) in zip(phrases, kept, strict=True) if start == p.start]
        kept += self._listed_leads(text, whole, listed)
        kept += [
            pair
            for pair in pairs
            if not any(self._recurs(text, w, listed) for w in re.findall(_AUTHOR, text[pair[0] : pair[1]]))
        ]
        authors = self._authors_in_brackets(text, [*spans, *protected], spans)
        authors += self._eponyms_in_brackets(text, spans)
        kept += authors
        # A short form stands for its phrase wherever it recurs, and without its version too ("the
        # ABC-L3" named again as "the ABC").
        stems = {m.group(1) for a in acronyms if (m := re.fullmatch(r"([A-Z]{2,})[\-\u2013][A-Za-z0-9]{1,4}", a))}
        for acro in sorted(acronyms | stems):
            kept += [m.span() for m in re.finditer(rf"(?<![\w\-]){re.escape(acro)}(?![\w]|-\w)", text)]
        kept += [m.span() for m in self._score.finditer(text)]
        kept += [m.span() for m in self._crisis.finditer(text)]
        kept += [m.span() for m in self._holiday.finditer(text)]
        kept += [m.span("dose") for m in self._dose.finditer(text) if m.group("pre") or m.group("post")]
        return sorted(set(kept)), sorted(set(authors))

    @staticmethod
    def _spells(acronym: str, phrase: str) -> bool:
        """Whether the capitals of ``acronym`` are the initials of the capitalised words of ``phrase``."""
        initials = "".join(w[0] for w in _TOKEN.findall(phrase) if w[:1].isupper())
        letters = "".join(c for c in acronym if c.isupper())
        return len(letters) >= 2 and letters == initials

    def _qualifier_runs(self, text: str, chain: list[_Token]) -> list[_Phrase]:
        """Two capitalised clinical words or more on one line, with no other capitalised word right
        before or after them ("Prolonged Exposure", "Cognitive Processing"): a named therapy without
        its head noun. Only words of the ``qualifiers`` list (no short form alone), so no name stands
        in it; a run inside a longer name ("<Place> Fear Behavioral Wellness") is that name's."""
        groups: list[list[_Token]] = [[]]
        for tok in chain:
            if tok.kind == "join" or (groups[-1] and not _GAP.fullmatch(text[groups[-1][-1].end : tok.start])):
                groups.append([])
            if tok.kind != "join":
                groups[-1].append(tok)
        return [
            _Phrase(group[0].start, group[-1].end, ())
            for group in groups
            if len(group) >= 2
            and all(t.text[:1].isupper() and not t.text.isupper() and t.low in self._qualifiers for t in group)
        ]

    def _without_recurring(self, text: str, phrase: _Phrase, spans: list[tuple[int, int]]) -> int:
        """Where the kept range of ``phrase`` starts: after the last leading word that also stands
        elsewhere in the letter (a person spoken of, not an author)."""
        start = phrase.start
        for tok in phrase.lead:
            if self._recurs(text, tok.text, spans):
                start = next((t.start for t in phrase.lead if t.start > tok.start), tok.end)
        if start != phrase.start:
            while start < phrase.end and not text[start].isalnum():
                start += 1
        return start

    @staticmethod
    def _author_pairs(text: str, phrase: _Phrase) -> list[re.Match[str]]:
        """Wherever the leading names of ``phrase``, two joined by "&" or "and", stand together."""
        if len(phrase.lead) != 2:
            return []
        first, second = phrase.lead
        joiner = text[first.end : second.start]
        if not re.fullmatch(r"[ \t]*(?:&|and)[ \t]*", joiner):
            return []
        rx = rf"(?<![\w\-]){re.escape(first.text)}[ \t]*(?:&|and)[ \t]*{re.escape(second.text)}(?![\w])"
        return list(re.finditer(rx, text))

    @staticmethod
    def _recurs(text: str, word: str, spans: Sequence[tuple[int, int]]) -> bool:
        """Whether ``word`` stands outside ``spans`` elsewhere, other than as one more item of a list
        of kept things ("the PHQ-9, GAD-7 and <Name>": the instrument again, by its author's name)."""
        return any(not listed for _, listed in _occurrences(text, word, spans))

    @staticmethod
    def _listed_leads(text: str, phrases: Sequence[_Phrase], spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """A kept phrase's leading name standing for it in a list of kept things ("... GAD-7 and <Name>")."""
        return [
            span
            for p in phrases
            for tok in p.lead
            for span, listed in _occurrences(text, tok.text, spans)
            if listed and not any(a <= span[0] < b for a, b in spans)
        ]

    def _authors_in_brackets(
        self, text: str, after: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Authors in brackets right after what they wrote: a kept phrase or term, that with its
        clinical words after "for"/"of" ("<TERM> for chronic pain (<Author>)"), or a clinical word
        and a head noun in lower case ("motivational interviewing (<Author> and <Author>)"). Words
        before them must be clinical, ordinary or a short form of the allow-list ("(ABC, <Author>)",
        "(standard protocol, F. <Author>)"); no name may be a title or stand elsewhere in the letter,
        and none is kept after a therapy named by who takes part in it (``participant_words``)."""
        ends = {end for _, end in after} | {self._clinical_tail(text, end) for _, end in after}
        ends |= {m.end() for m in self._qualified_head.finditer(text)}
        out = []
        for end in sorted(ends):
            m = _AUTHORS_IN_BRACKETS.match(text, end)
            if not m:
                continue
            before = re.findall(r"[^\W\d_][\w'\-]*", text[max(0, end - 60) : end])[-4:]
            if any(w.casefold() in self._participants for w in before):
                continue  # "couples therapy (<Name> & <Name>)": the people in the room, not authors
            lead = re.findall(r"[^\W\d_][\w\-]*", m.group("lead") or "")
            if not all(self._qualifies_word(w) or (w.islower() and self._plain(w)) for w in lead):
                continue
            names = re.findall(_AUTHOR, m.group("names"))
            inside = [*spans, m.span()]
            if any(n.casefold() in self._stop or n.casefold() in self._titles for n in names):
                continue
            if names and not any(self._recurs(text, n, inside) for n in names):
                out.append(m.span())
        return out

    @staticmethod
    def _initial_matches(acronym: str, phrase: str) -> bool:
        initials = {w[0].casefold() for w in _TOKEN.findall(phrase)}
        return acronym[0].casefold() in initials

    # -- an author's model, in the possessive ---------------------------------------------------------
    def _possessives(self, text: str) -> list[_Phrase]:
        """ "<Name>'s cognitive model of panic", "<Name> and <Name>'s cognitive therapy for ...",
        "<Name>' metacognitive therapy": a possessive author, words that are clinical or ordinary and
        a model's head. By its shape alone only before a ``possessive_heads`` noun with a clinical
        word between; a listed clinical eponym may also open an ``eponym_heads`` noun or a short form
        of the allow-list ("<Eponym>'s DBT"). Its "of"/"for" clinical words after it go with it."""
        found = []
        for m in self._possessive.finditer(text):
            names = [g for g in (m.group("first"), m.group("second")) if g]
            if m.group("poss") == "'" and not names[-1].endswith("s"):
                continue
            if any(n[:1].isupper() and n.casefold() in self._stop for n in names):
                continue
            words = m.group("words").split()
            head = m.group("head")
            if not all(self._qualifies_word(w) or self._plain(w) for w in words):
                continue
            eponyms = all(n.casefold() in self._eponyms for n in names)
            clinical = any(self._qualifies_word(w) for w in words)
            if head.casefold() in self._possessive_heads and (clinical or eponyms):
                pass
            elif not (eponyms and (head.casefold() in self._eponym_heads or head in self._acronyms)):
                continue
            end = self._clinical_tail(text, m.end())
            lead = [_Token(m.start("first"), m.end("first"), m.group("first"), "cap")]
            if m.group("second"):
                lead.append(_Token(m.start("second"), m.end("second"), m.group("second"), "cap"))
            # the possessive goes with the last name: a name left out takes it along
            last = lead[-1]
            lead[-1] = _Token(last.start, m.end("poss"), last.text, "cap")
            found.append(_Phrase(m.start(), end, tuple(lead)))
        return found

    def _eponym_uses(self, text: str) -> list[_Phrase]:
        """A listed eponym in a clinical shape without the possessive (see ``_eponym_use``)."""
        found = []
        for m in self._eponym_use.finditer(text):
            name = m.group("name")
            if name.casefold() not in self._eponyms:
                continue
            words = (m.group("words") or "").split()
            if not all(self._qualifies_word(w) or self._plain(w) for w in words):
                continue
            lead = _Token(m.start("name"), m.end("name"), name, "cap")
            found.append(_Phrase(m.start(), m.end(), (lead,)))
        return found

    def _laws(self, text: str) -> list[_Phrase]:
        """A law or an agreement named by ordinary words before a ``legal_heads`` noun ("<Ordinary>
        <Ordinary> Act 2012", "<Ordinary> Act on <Ordinary> <Ordinary>"): every word capitalised
        English that is no name; a sentence's opening word ("This", "Our") is left out. A name among
        them leaves the whole to the recognizers."""
        found = []
        for m in self._legal.finditer(text):
            words = m.group("words").split()
            start = m.start()
            while words and words[0].casefold() in self._stop:
                start = text.index(words[1], start + len(words[0])) if len(words) > 1 else m.start("head")
                words = words[1:]
            tail = (m.group("tail") or "").split()[1:]
            tail = [w for w in tail if w != "the"]
            if len(words) + len(tail) < 2:
                continue
            if not all(self._plain(w) for w in [*words, *tail]):
                continue
            found.append(_Phrase(start, m.end(), ()))
        for m in self._numbered_law.finditer(text):
            # "<Place>'s Law 25", "under Law 25": a law by its number. After a capitalised word that
            # is no possessive and no sentence's opening word it may be a surname ("<Name> Law 25").
            before = re.search(r"([^\W\d_][\w'\-]*)[ \t]+$", text[max(0, m.start() - 40) : m.start()])
            word = before.group(1) if before else ""
            if word[:1].isupper() and not word.endswith("'s") and word.casefold() not in self._stop:
                continue
            if word.casefold() in self._titles:
                continue
            found.append(_Phrase(m.start(), m.end(), ()))
        return found

    def _eponyms_in_brackets(self, text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """ "compassion-focused elements (<Eponym>)": a listed eponym in brackets, right after a clinical
        word or a word of clinical parts, that does not stand elsewhere as a person."""
        out = []
        for m in self._eponym_bracket.finditer(text):
            name, before = m.group("name"), m.group("before")
            if name.casefold() not in self._eponyms:
                continue
            clinical = any(self._qualifies_word(p) for w in before.split() for p in [w, *w.split("-")])
            start = m.start("name") - 1
            if clinical and not self._recurs(text, name, [*spans, (start, m.end())]):
                out.append((start, m.end()))
        return out

    def _clinical_tail(self, text: str, end: int) -> int:
        """After a model's head, "of"/"for" and clinical words or short forms ("of panic", "for PTSD")."""
        m = re.match(r"[ \t]+(?:of|for)[ \t]+((?:[A-Za-z][\w\-]*)(?:[ \t]+[A-Za-z][\w\-]*){0,2})", text[end:])
        if not m:
            return end
        words = m.group(1).split()
        n = 0
        while n < len(words) and self._qualifies_word(words[n]):
            n += 1
        if n == 0:
            return end
        last = re.match(r"[ \t]+(?:of|for)", text[end:])
        assert last is not None
        pos = end + last.end()
        for w in words[:n]:
            pos = text.index(w, pos) + len(w)
        return pos

    def _plain(self, word: str) -> bool:
        """An ordinary word, or one of ordinary parts joined by hyphens ("five-part", "eight-phase")."""
        return self._ordinary(word.casefold()) or all(self._ordinary(p) for p in word.casefold().split("-") if p)

    def _qualifies_word(self, word: str) -> bool:
        return word.casefold() in self._qualifiers or (word.isupper() and word in self._acronyms)

    # -- chains and phrases ---------------------------------------------------------------------------
    def _kind(self, word: str) -> str | None:
        low = word.casefold()
        if word == "&" or low in self._joiners:
            return "join"
        if low in self._heads:
            return "head"
        if word[:1].isupper() and not re.search(r"['\u2019]s$", word):
            return "cap"
        return None

    def _chains(self, text: str) -> list[list[_Token]]:
        """Runs of capitalised words, head nouns and joiners separated by spaces only."""
        chains: list[list[_Token]] = []
        current: list[_Token] = []
        for m in _TOKEN.finditer(text):
            kind = self._kind(m.group(0))
            if kind is None and current and m.group(0).islower() and m.group(0) in self._qualifiers:
                # a clinical word in lower case goes on a chain a name opened: "<Name> cognitive
                # model of panic", "<Name> & <Name> cognitive model of social anxiety"
                kind = "qual"
            gap = text[current[-1].end : m.start()] if current else ""
            adjacent = bool(current) and self._adjacent(gap, current[-1], kind, m.group(0))
            if kind is None or not adjacent:
                if current:
                    chains.append(current)
                current = []
            # A chain opens with a capitalised word, a head noun too ("the Index of Sleep Quality").
            if kind is not None and (current or kind == "cap" or (kind == "head" and m.group(0)[:1].isupper())):
                current.append(_Token(m.start(), m.end(), m.group(0), kind))
        if current:
            chains.append(current)
        return chains

    def _adjacent(self, gap: str, before: _Token, kind: str | None, word: str) -> bool:
        """Spaces join words; a line break only where a phrase was plainly wrapped (a joiner before
        it, a head noun, a joiner or a clinical word after it: "the <Name>\nmodel", "<Name>\nWorry
        Questionnaire"), never a signature's next line."""
        if _GAP.fullmatch(gap):
            return True
        if _WRAP.fullmatch(gap) is None:
            return False
        return before.kind == "join" or kind in ("head", "join") or (kind == "cap" and self._qualifies_word(word))

    def _qualifies(self, tok: _Token) -> bool:
        return tok.low in self._qualifiers or (tok.text.isupper() and tok.text in self._acronyms)

    def _segments(self, chain: list[_Token]) -> list[list[_Token]]:
        """A chain cut after each head noun that a joiner or a non-clinical word follows ("... Scale
        and the ... Inventory", "... Episode <Name>"), and after the lower-case clinical words that
        follow a head's "of" ("... model of panic and the ..."); a head noun followed by another
        clinical word or head goes on ("... Disorder Scale")."""
        segments: list[list[_Token]] = [[]]
        for i, tok in enumerate(chain):
            segments[-1].append(tok)
            nxt = chain[i + 1] if i + 1 < len(chain) else None
            if tok.kind == "head" and nxt is not None and nxt.kind != "head" and not self._qualifies(nxt):
                segments.append([])
            elif tok.kind == "qual" and nxt is not None and nxt.kind == "join" and segments[-1][0].kind == "join":
                # "... model of panic and the <Name> model": the clinical words after "of" end there
                segments.append([])
        return [s for s in segments if s]

    def _phrases(self, text: str, chain: list[_Token]) -> list[_Phrase]:
        found: list[_Phrase] = []
        segments = self._segments(chain)
        for k, segment in enumerate(segments):
            phrase = self._phrase(segment)
            after = self._after_head(segments[k - 1], segment) if phrase is None and k > 0 else None
            if after is not None:
                # "Inventory of Complicated Grief": the head first, its clinical words after "of".
                if found and found[-1].end == segments[k - 1][-1].end:
                    found[-1] = _Phrase(found[-1].start, after.end, found[-1].lead)
                else:
                    found.append(after)
                continue
            if phrase is None:
                continue
            if found and _GAP.sub(" ", text[found[-1].end : phrase.start]).strip().casefold() in self._joiners:
                # "<Name> model of ... Treatment": one thing.
                phrase = _Phrase(found[-1].start, phrase.end, found[-1].lead)
                found.pop()
            found.append(phrase)
        tail = [t for t in chain if not found or t.start >= found[-1].end]
        short = self._acronym.match(text, chain[-1].end)
        if not (tail and short):
            return found
        if found and all(t.kind == "join" or self._ordinary(t.low) for t in tail):
            # "... Treatment for Adults (ABCDE)": ordinary words up to a short form belong to it.
            found[-1] = _Phrase(found[-1].start, chain[-1].end, found[-1].lead)
        elif not found and self._defines(tail, short.group("acro")):
            # "Graded Exposure (GE)": clinical words spelled out by the short form that follows.
            words = [t for t in tail if t.kind != "join"]
            found.append(_Phrase(words[0].start, chain[-1].end, ()))
        return found

    def _after_head(self, before: list[_Token], segment: list[_Token]) -> _Phrase | None:
        """A head noun, then "of" or "for" and capitalised words that are clinical or ordinary, one of
        them a clinical qualifier ("Index of Sleep Quality"): one named thing. Names never stand there."""
        if before[-1].kind != "head" or segment[0].kind != "join" or segment[0].low not in ("of", "for"):
            return None
        words = segment[1:]
        while words and words[-1].kind == "join":
            words = words[:-1]
        if not words or any(t.kind == "head" for t in words) or words[0].kind == "join":
            return None
        if not all(t.kind == "join" or self._qualifies(t) or self._ordinary(t.low) for t in words):
            return None
        if not any(self._qualifies(t) for t in words):
            return None
        return _Phrase(before[-1].start, words[-1].end, ())

    def _defines(self, tokens: list[_Token], acronym: str) -> bool:
        words = [t for t in tokens if t.kind != "join"]
        letters = "".join(c for c in acronym.split("-")[0] if c.isupper())
        initials = "".join(t.text[0].upper() for t in words)
        # The last word names the clinical thing ("... Exposure"); no employer's short form does.
        return 2 <= len(words) <= 4 and letters == initials and self._qualifies(words[-1])

    def _phrase(self, segment: list[_Token]) -> _Phrase | None:
        while segment and segment[0].kind == "join":
            segment = segment[1:]
        heads = [i for i, t in enumerate(segment) if t.kind == "head"]
        if not heads:
            return None
        segment = segment[: heads[-1] + 1]
        head, words = segment[-1], [t for t in segment[:-1] if t.kind != "join"]
        if not words:
            return None
        while words and words[0].low in self._stop and not self._qualifies(words[0]):
            words = words[1:]
        first_qualifier = next((i for i, t in enumerate(words) if self._qualifies(t)), len(words))
        lead, middle = words[:first_qualifier], words[first_qualifier:]
        if any(not (self._qualifies(t) or self._ordinary(t.low) or t.text.isupper()) for t in middle):
            return None
        if not middle:
            # "<Name> & <Name> model": authors alone, before a model's head ("This approach": none).
            if not lead or head.low not in self._author_heads or len(lead) > self._max_authors:
                return None
            return _Phrase(lead[0].start, head.end, tuple(lead))
        if head.low in self._named or head.low in self._author_heads:
            if len(lead) > self._max_authors:
                lead = []  # more words than authors before the clinical ones: keep from those on
        else:
            # Other heads carry no names: the phrase opens after the last word that is not a
            # modifier or a short form ("<Name> Eating Disorder" keeps "Eating Disorder", "SMART
            # Recovery group" and "Persistent Depressive Disorder" stay whole).
            names = [i for i, t in enumerate(lead) if not (t.text.isupper() or self._modifier(t.low))]
            lead = lead[names[-1] + 1 :] if names else lead
        start = (lead or middle)[0].start
        return _Phrase(start, head.end, tuple(lead))
