"""The fail-closed catch-all for a message typed in lower case, Philter-style.

The model finds names by their capitals; a hurried writer types "for sam okafor" or "her sister
wambui". In a message whose sentences mostly start in lower case (``lower_case`` in redaction.yaml),
a lower-case word survives only because it is known to be safe: a word of English (the spaCy
lemmatizer tables, with its regular and irregular inflections), of the allow-list (clinical terms,
drug names, abbreviations), a stop word, or an informal spelling listed in the rules. Any other
lower-case word is an identifier. Three cues take ordinary words too: a relative's name after the
relation ("her brother <x>"), a word right before a bracketed unknown name ("<nickname> (<given>
<surname>)"), and a lower-case name of a place or organisation ending in a listed tail after a cue
("(<x> <y> county)", "at <x> <y> freight"). A letter written with capitals is never touched: the
rule needs lower-case sentence starts to outnumber capitalised ones.
"""

from __future__ import annotations

import re
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.rules import LowerCaseRules, RelativeRules
from pipeline.stages.redaction.vocabulary import Vocabulary, _english_words, fold, lemma_table, pos_key

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")
# A sentence start: the text's, a paragraph's, or after a full stop, question or exclamation mark.
_START = re.compile(
    r"(?:\A|\n[ \t]*\n|(?P<stop>[.!?])[ \t\n]+)[ \t>]*(?P<bullet>[\-\*\u2022][ \t]+)?[\"'(\u201c\u2018]?"
    r"(?P<w>[^\W\d_][\w'\u2019\-]*)"
)
_PRONOUN_I = re.compile(r"(?<![\w'\u2019.])(?P<i>[iI])(?:['\u2019](?:m|ve|ll|d))?(?![\w.])")
_SUFFIXES = ("n't", "'s", "'re", "'m", "'ve", "'ll", "'d", "'")
# Words before a nickname that make the word a thing, not a person ("the model (...)").
_DETERMINERS = frozenset("the a an this that these those my her his their our your its some any each every".split())


@lru_cache(maxsize=1)
def _pos_words() -> tuple[frozenset[str], frozenset[str]]:
    """(irregular inflections of English words, adjectives and adverbs) from the lemmatizer tables."""
    exc, index = lemma_table("lemma_exc"), lemma_table("lemma_index")
    if exc is None or index is None:
        return frozenset(), frozenset()
    inflected: set[str] = set()
    for key in exc.keys():
        inflected.update(exc[key].keys())
    modifiers: set[str] = set()
    for pos in ("adj", "adv"):
        if (key := pos_key(index, pos)) is not None:
            modifiers.update(index[key])
        if (key := pos_key(exc, pos)) is not None:
            modifiers.update(exc[key].keys())
    return frozenset(inflected), frozenset(modifiers)


def _stems(w: str) -> set[str]:
    stems: set[str] = set()
    for suffix, repl in (
        ("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("d", ""),
        ("ing", ""), ("ing", "e"), ("ly", ""), ("ily", "y"), ("er", ""), ("ers", ""), ("est", ""),
        ("ness", ""), ("ment", ""), ("ments", ""), ("ful", ""), ("less", ""),
    ):  # fmt: skip
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            base = w[: len(w) - len(suffix)] + repl
            stems.add(base)
            if len(base) >= 4 and base[-1] == base[-2]:
                stems.add(base[:-1])  # "stopped", "running"
    return stems


class LowerCaseRecognizer(EntityRecognizer):
    """Unknown lower-case words, and lower-case names after a cue, in a message typed in lower case."""

    def __init__(
        self, rules: LowerCaseRules, relatives: RelativeRules, vocab: Vocabulary, *, author_heads: list[str]
    ) -> None:
        self._rules = rules
        heads = "|".join(re.escape(h) for h in sorted(author_heads, key=len, reverse=True)) or "(?!x)x"
        # The authors of a named model in brackets ("dual process model (<author> & <author>)"): kept.
        self._authored = re.compile(rf"(?i:(?<![\w])(?:{heads})s?)[ \t]*\([^()\n]{{1,60}}\)")
        self._vocab = vocab
        self._informal = frozenset(fold(w).casefold() for w in rules.informal)
        self._calendar = frozenset(w.casefold() for w in rules.calendar)
        self._place_before = frozenset(w.casefold() for w in rules.place_before)
        self._place_tails = frozenset(w.casefold() for w in rules.place_tails)
        nouns = sorted({n.casefold() for n in relatives.nouns}, key=len, reverse=True)
        word = r"[^\W\d_][\w'\u2019\-]*"
        self._relative = (
            re.compile(rf"(?<![\w'\u2019])(?:{'|'.join(re.escape(n) for n in nouns)})[ \t,]+(?P<w>{word})")
            if nouns
            else None
        )
        self._nickname = re.compile(rf"(?P<w>{word})[ \t]*\([ \t]*(?P<inner>{word}(?:[ \t]+{word}){{0,2}})[ \t]*[,)]")
        tails = "|".join(re.escape(t) for t in sorted({*rules.place_tails, *rules.org_tails}, key=len, reverse=True))
        cues = "|".join((r"\(" if c == "(" else rf"(?<![\w'\u2019]){re.escape(c)}") for c in rules.name_tail_cues)
        self._tailed = (
            re.compile(rf"(?:{cues})[ \t]*(?P<run>(?:{word}[ \t]+){{1,3}}(?P<tail>{tails}))(?![\w'\u2019])")
            if tails and cues
            else None
        )
        super().__init__(
            supported_entities=[rules.entity, rules.place_entity, rules.org_entity], name="LowerCaseRecognizer"
        )

    def load(self) -> None:
        pass

    # ------------------------------------------------------------------ the message

    def lower_case_written(self, text: str) -> bool:
        """Whether the message's sentences mostly start in lower case (a bullet's item does not count;
        neither does a word after a short form's full stop, "e.g. sleep")."""
        lower = upper = 0
        for m in _START.finditer(text):
            if m.group("bullet"):
                continue
            w = m.group("w")
            if m.group("stop"):
                before = re.search(r"([\w.]+)\.?$", text[: m.start("stop")])
                prev = before.group(1) if before else ""
                if "." in prev or len(prev) <= 2 or prev.casefold() in self._informal:
                    continue
            if w.islower():
                lower += 1
            elif w[0].isupper() and (not w.isupper() or w == "I"):
                upper += 1
        for m in _PRONOUN_I.finditer(text):
            if m.group("i") == "i":
                lower += 1
            else:
                upper += 1
        return lower >= self._rules.min_lower_starts and lower >= self._rules.ratio * upper

    # ------------------------------------------------------------------ words

    def ordinary(self, word: str) -> bool:
        """A lower-case word known to be safe: English, allow-listed, a stop word or informal."""
        w = fold(word).casefold()
        if w in self._informal or w in self._calendar:
            return True
        for suffix in _SUFFIXES:
            if w.endswith(suffix) and len(w) > len(suffix) + 1:
                w = w[: -len(suffix)]
                break
        if w in self._informal or self._known(w):
            return True
        parts = [p for p in re.split(r"['\-]", w) if p]
        return len(parts) > 1 and all(self._known(p) or p in self._informal for p in parts)

    def _known(self, w: str) -> bool:
        if len(w) < 2:
            return True
        vocab = self._vocab
        english = _english_words()
        if w in english or w in vocab.ambiguous or vocab.not_a_name(w) or w in _pos_words()[0]:
            return True
        return any(s in english or vocab.not_a_name(s) for s in _stems(w))

    def _plain_word(self, w: str) -> bool:
        """An ordinary word that cannot be a name after a cue: a stop word, an allow-listed or
        calendar word, a describing word, or an inflected form ("was", "died", "still")."""
        low = fold(w).casefold()
        if low in self._vocab.stop or low in self._calendar or low in self._informal:
            return True
        if self._vocab.not_a_name(low) or low in _pos_words()[1] or low in _pos_words()[0]:
            return True
        return any(s in _english_words() for s in _stems(low))

    # ------------------------------------------------------------------ analyse

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not text or not self.lower_case_written(text):
            return []
        protected = self._vocab.protected_ranges(text) + [m.span() for m in self._authored.finditer(text)]
        rules = self._rules
        out: list[RecognizerResult] = []
        unknown: list[tuple[int, int]] = []

        def free(a: int, b: int) -> bool:
            return not any(pa < b and a < pb for pa, pb in protected) and not _in_address(text, a, b)

        for m in _WORD.finditer(text):
            w = m.group(0)
            if not w.islower() or self.ordinary(w) or not free(*m.span()):
                continue
            unknown.append(m.span())
            prev = re.search(r"([^\W\d_]+)[ \t]+$", text[max(0, m.start() - 20) : m.start()])
            place = prev is not None and prev.group(1).casefold() in self._place_before
            out.append(result(rules.place_entity if place else rules.entity, *m.span(), rules.score, catch_all="1"))
        if self._relative is not None:
            for m in self._relative.finditer(text):
                w = m.group("w")
                if w.islower() and not self._plain_word(w) and free(*m.span("w")):
                    out.append(result(rules.entity, *m.span("w"), rules.score, catch_all="1"))
        for m in self._nickname.finditer(text):
            w = m.group("w")
            a, b = m.span("inner")
            inner_unknown = any(ua >= a and ub <= b for ua, ub in unknown)
            before = re.search(r"([^\W\d_]+)[ \t]*$", text[max(0, m.start() - 20) : m.start()])
            det = before is not None and before.group(1).casefold() in _DETERMINERS
            if inner_unknown and w.islower() and not det and not self._plain_word(w) and free(*m.span("w")):
                out.append(result(rules.entity, *m.span("w"), rules.score, catch_all="1"))
        if self._tailed is not None:
            for m in self._tailed.finditer(text):
                run = m.group("run")
                words = run.split()
                if not run.islower() or any(x.casefold() in self._vocab.stop for x in words[:-1]):
                    continue
                if any(self._vocab.is_allowed_word(x) for x in words[:-1]) or not free(*m.span("run")):
                    continue
                entity = rules.place_entity if m.group("tail").casefold() in self._place_tails else rules.org_entity
                out.append(result(entity, *m.span("run"), rules.score, catch_all="1"))
        return out


def _in_address(text: str, a: int, b: int) -> bool:
    """Inside an e-mail address, a web address or a handle (their own recognizers name them)."""
    left = text.rfind(" ", 0, a) + 1
    chunk_end = re.search(r"\s|$", text[b:])
    right = b + (chunk_end.start() if chunk_end else 0)
    chunk = text[left:right]
    return "@" in chunk or "/" in chunk.replace("b/c", "").replace("w/", "") or "www." in chunk
