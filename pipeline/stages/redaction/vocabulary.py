"""Word lists that tell names from ordinary, clinical and process words, and the folding (accents,
apostrophes, dashes) every comparison uses; plus the re-casing of lines typed in capitals, for the
model only."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.pipeline import Lemmatizer

from pipeline.nlp import get_nlp
from pipeline.stages.redaction.phrases import ClinicalPhrases
from pipeline.stages.redaction.rules import RedactionRules

_APOSTROPHES = "'\u2019\u2018\u02bc\u0060\u00b4"
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"


# An allow-listed instrument with its version or item count ("PHQ-9", "DASS21"): its letters alone.
_INSTRUMENT_STEM = re.compile(r"([A-Z]{3,6})[\-\u2013]?\d{1,3}")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch < "\x80":
        return ch
    if ch in _APOSTROPHES:
        return "'"
    if ch in _DASHES:
        return "-"
    decomposed = unicodedata.normalize("NFKD", ch)
    base = decomposed[0] if decomposed else ch
    if unicodedata.combining(base) or len(base.encode("utf-16-le")) != 2:
        return ch
    return base


class _FoldTable(dict[int, str]):
    """``str.translate`` table that folds each character once, on first sight (one character
    always becomes one character, so offsets are kept)."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        return folded


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Accent-, apostrophe- and dash-insensitive form of ``text`` with the same length and offsets."""
    return text.translate(_FOLD_TABLE)


def word_alternation(words: Iterable[str]) -> str:
    alts = sorted({re.escape(w) for w in words if w}, key=lambda s: (-len(s), s))
    return "(?:" + "|".join(alts) + ")" if alts else "(?!x)x"


class Vocabulary:
    """Word lists used to tell names from ordinary and clinical words (lower case, folded)."""

    def __init__(self, rules: RedactionRules) -> None:
        # derived from these lists only: what the known-identifier recognizer works out once per name
        self.memo: dict[tuple[object, ...], object] = {}
        self.allow_terms = {fold(t).casefold() for t in rules.allow.terms}
        self.allow_words = {fold(w).casefold() for w in rules.allow.words}
        self.ambiguous = {w.casefold() for w in rules.person.ambiguous_names}
        self.titles = {t.casefold() for t in rules.titles}
        # Every title before a name, gendered or not ("Mrs", "Dr", "Ing"): never part of the name.
        self.name_titles_as_written = tuple(rules.name_titles)
        self.name_titles = frozenset(t.casefold() for t in rules.name_titles)
        self.ambiguous_titles = frozenset(t.casefold() for t in rules.ambiguous_titles)
        # Generic last words of an organisation's name ("Services", "Therapy", "Trust").
        self.org_tails = frozenset(w.casefold() for w in rules.employer.org_tail_words)
        self.stop = {w.casefold() for w in STOP_WORDS}
        self.own_domains = tuple(d.casefold() for d in rules.own_domains)
        self.person = rules.person
        # Relations and roles ("partner", "mum", "manager"): what a person is to the client, no name.
        self.relation_words = frozenset(fold(w).casefold() for w in rules.relatives.nouns)
        # Months and days ("March", "Friday"): words of the calendar that are surnames too.
        self.calendar = frozenset(fold(w).casefold() for w in rules.lower_case.calendar)
        upper = [t for t in rules.allow.terms if t.isupper()]
        # An instrument's short form stands for it without its version too ("the PHQ", "GAD still 16").
        upper += sorted({m.group(1) for t in upper if (m := _INSTRUMENT_STEM.fullmatch(t))} - set(upper))
        self.allow_terms |= {t.casefold() for t in upper}
        self.allow_terms_upper = frozenset(fold(t) for t in upper)
        mixed = [t for t in rules.allow.terms if not t.isupper()]
        self._protected_cs = re.compile(rf"(?<![\w]){word_alternation(fold(t) for t in upper)}(?![\w])")
        self._protected_ci = re.compile(rf"(?<![\w]){word_alternation(fold(t) for t in mixed)}(?![\w])", re.IGNORECASE)
        positional = {w.casefold() for w in rules.pronouns.needs_pronoun_position}
        self.pronouns = {w.casefold() for w in [*rules.pronouns.fixed, *rules.pronouns.by_role]} - positional
        phrases = rules.allow.clinical_phrases
        self._qualifiers = frozenset(fold(q).casefold() for q in phrases.qualifiers)
        self.phrases = ClinicalPhrases(
            phrases,
            ordinary=self._ordinary,
            modifier=self._modifier,
            stop=frozenset(self.stop | self.pronouns),
            acronyms=self.allow_terms_upper,
            titles=frozenset(self.titles | self.name_titles),
        )

    def is_allowed_word(self, word: str) -> bool:
        w = fold(word).casefold().strip(".,:;'\"")
        if w.endswith("'s"):
            w = w[:-2]
        return w in self.allow_words or w in self.allow_terms

    def is_allowed_span(self, text: str) -> bool:
        """True when a detection consists only of allow-listed vocabulary (never for ambiguous names)."""
        t = " ".join(fold(text).casefold().split()).strip(".,:;")
        if t in self.allow_terms:
            return True
        words = re.findall(r"[\w'\-&/]+", t)
        if not words:
            return True
        return all(
            (w in self.allow_words or w in self.allow_terms or w in self.stop or w in self.titles)
            and w not in self.ambiguous
            for w in words
        )

    def protected_ranges(self, text: str) -> list[tuple[int, int]]:
        """Where allow-listed clinical and process terms ("GAD-7", "Insomnia Severity Index") and
        named clinical things (an instrument, a therapy model, a crisis line: :mod:`.phrases`) occur."""
        terms, shaped, _authors = _ranges(self, text)
        return sorted(terms | shaped)

    def shaped_ranges(self, text: str) -> frozenset[tuple[int, int]]:
        """The protected ranges kept by their shape alone (:mod:`.phrases`), not by the allow-list."""
        terms, shaped, _authors = _ranges(self, text)
        return shaped - terms

    def author_ranges(self, text: str) -> frozenset[tuple[int, int]]:
        """The protected ranges that are authors' names in brackets after what they wrote: people
        named, kept only while no known identifier stands among them (``Redactor._merge``)."""
        return _ranges(self, text)[2]

    def _term_and_shaped_ranges(
        self, text: str
    ) -> tuple[frozenset[tuple[int, int]], frozenset[tuple[int, int]], frozenset[tuple[int, int]]]:
        folded = fold(text)
        terms = {m.span() for m in self._protected_cs.finditer(folded)} | {
            m.span() for m in self._protected_ci.finditer(folded)
        }
        shaped, authors = self.phrases.find(folded, sorted(terms))
        return frozenset(terms), frozenset(shaped), frozenset(authors)

    def _modifier(self, word: str) -> bool:
        w = word.casefold()
        return w not in self.ambiguous and (w in self._qualifiers or self.not_a_name(w) or w in common_words())

    def is_modifier(self, word: str) -> bool:
        """An adjective, verb or adverb of English or a clinical word: not a name (see ``_modifier``)."""
        return self._modifier(word)

    def is_ordinary(self, word: str) -> bool:
        """A word of English or of the clinical vocabulary (see ``_ordinary``)."""
        return self._ordinary(word)

    def _ordinary(self, word: str) -> bool:
        """A word of English or of the clinical vocabulary, not an ordinary-word name ("Hope")."""
        w = word.casefold()
        if w in self.ambiguous:
            return False
        english = _english_words()
        return w in self._qualifiers or self.not_a_name(w) or w in english or (w[-1:] == "s" and w[:-1] in english)

    def is_own_address(self, text: str) -> bool:
        t = text.casefold()
        return any(t.endswith("@" + d) or t.endswith("." + d) or t == d for d in self.own_domains)

    def not_a_name(self, word: str) -> bool:
        """Ordinary, clinical or process words that are never names on their own."""
        w = fold(word).casefold()
        if w in self.ambiguous:
            return False
        # A pronoun is English, written without accents: "Zé" (a Portuguese short name) is no "ze".
        pronoun = w in self.pronouns and not any(ch.isalpha() and not ch.isascii() for ch in word)
        return pronoun or w in self.allow_words or w in self.allow_terms or w in self.stop or w in self.titles


@lru_cache(maxsize=8)
def _ranges(
    vocab: Vocabulary, text: str
) -> tuple[frozenset[tuple[int, int]], frozenset[tuple[int, int]], frozenset[tuple[int, int]]]:
    # Asked by several stages of one letter in turn: computed once per letter.
    return vocab._term_and_shaped_ranges(text)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """English verbs, adjectives and adverbs (from the spaCy model's lemmatizer tables): a known name
    that is one of these ("Will", "Brown") is matched only when capitalised."""
    table = lemma_table("lemma_index")
    if table is None:
        return frozenset()
    words: set[str] = set()
    for pos in ("verb", "adj", "adv"):
        key = pos_key(table, pos)
        if key is not None:
            words.update(table[key])
    return frozenset(words)


def lemma_table(name: str) -> Any | None:
    """One of the spaCy model's lemmatizer tables ("lemma_index", "lemma_exc"), or None without it."""
    try:
        lemmatizer = cast(Lemmatizer, get_nlp().get_pipe("lemmatizer"))  # spaCy types get_pipe as a callable
        return lemmatizer.lookups.get_table(name)
    except (KeyError, ValueError):
        return None


def pos_key(table: Any, pos: str) -> Any | None:
    """A lemmatizer table's key for a part of speech ("verb", "adj"): its string-store id or the
    name as written, whichever the table holds."""
    strings = get_nlp().vocab.strings
    for candidate in (strings[pos] if pos in strings else pos, pos):
        if candidate in table:
            return candidate
    return None


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """Every word the spaCy model's lemmatizer tables know (nouns too): the dictionary that decides
    how a word typed in capitals is re-cased for analysis."""
    table = lemma_table("lemma_index")
    if table is None:
        return common_words()
    words: set[str] = set()
    for key in table.keys():
        words.update(table[key])
    return frozenset(words)


_CAPS_WORD = re.compile(r"[^\W\d_][\w'\u2019\-]*")


def _is_caps_line(line: str) -> bool:
    words = [w for w in _CAPS_WORD.findall(line) if len(w) >= 2]
    caps = [w for w in words if w.isupper()]
    return len(caps) >= 2 and len([w for w in caps if len(w) >= 3]) >= 1 and len(caps) >= 0.8 * len(words)


# The word before, and what stands before it: a line's start or a heading's punctuation ("RE: MISS").
_TITLE_BEFORE = re.compile(r"(?P<lead>^[ \t>*\-]*|[:;,(\u2013\u2014][ \t]*|)(?P<title>[^\W\d_]+)\.?[ \t]+$")


def _after_title(before: str, vocab: Vocabulary) -> bool:
    """Whether a capitals line has a title right before this point: an unambiguous one ("MRS")
    anywhere, an ambiguous one ("MISS", "LORD") only where a heading puts it, at the line's start or
    after a colon or comma ("SESSIONS: MISS ..."), not as a verb ("HAD TO MISS WORK")."""
    m = _TITLE_BEFORE.search(before)
    if m is None or not m.group("title").isupper():
        return False
    title = fold(m.group("title")).casefold()
    if title not in vocab.titles:
        return False
    if title in vocab.ambiguous_titles:
        return m.group("lead") != "" or m.start() == 0
    return True


def analysis_casing(text: str, vocab: Vocabulary) -> str:
    """``text`` with lines typed in capitals re-cased as ordinary prose, for the model only.

    The small spaCy model reads "WORKS", "REPORT" or "I RECOMMEND" in a capitals line as names or
    organisations and misses the real names. On such lines a dictionary word becomes lower case, a
    title becomes "Mr", a short word stays (an acronym: NHS, CBT) and any other word becomes Title
    case, as a name would be written. Offsets are unchanged (a word whose re-casing would change its
    length is left as it is), so detections map straight back onto the original text.
    """
    if not any(c.isupper() for c in text):
        return text
    english = _english_words()
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        spans = _caps_spans(line)
        if not spans:
            out.append(line)
            continue

        def recase(m: re.Match[str]) -> str:
            word = m.group(0)
            low = fold(word).casefold()
            bare = re.sub(r"['\u2019]s$", "", low)
            if not word.isupper() or len(word) < 2 or fold(word) in vocab.allow_terms_upper:
                return word
            if bare in vocab.titles:
                new = word[0] + word[1:].lower()
            elif _after_title(m.string[: m.start()], vocab):
                # A name after a title stays a name ("MISS HOPE GRAY", "MR WILL DOYLE").
                new = word[0] + word[1:].lower()
            elif bare in english or bare in vocab.stop or bare in vocab.pronouns or bare in vocab.allow_words:
                new = word.lower()
            elif len(word) <= 3:
                return word
            else:
                new = re.sub(r"[^\W\d_]+", lambda p: p.group(0)[0] + p.group(0)[1:].lower(), word)
                new = re.sub(r"(['\u2019])S$", r"\1s", new)
            return new if len(new) == len(word) else word

        original = line
        for a, b in spans:
            part = _CAPS_WORD.sub(recase, original[:b])[a:]
            # Sentence starts capitalised again so the model still sees sentences.
            part = re.sub(r"(^[ \t>]*|[.!?][ \t]+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), part)
            line = line[:a] + part + line[b:]
        out.append(line)
    return "".join(out)


# A sentence's end inside a line: its stop, then the space before the next sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+")


def _caps_spans(line: str) -> list[tuple[int, int]]:
    """Where a line is typed in capitals: the whole line when it mostly is, else each sentence that
    is ("NO RISK TO HER - TADHG IS VERY HANDS ON. she knows who to call."), so a name in a capitals
    sentence is re-cased although the line also holds sentences in lower case."""
    if _is_caps_line(line):
        return [(0, len(line))]
    spans = []
    start = 0
    for m in [*_SENTENCE_END.finditer(line), None]:
        end = m.start() if m else len(line)
        if _is_caps_line(line[start:end]):
            spans.append((start, end))
        start = m.end() if m else end
    return spans
