"""What the recognizers share: building a result, reaching the spaCy ``Doc`` Presidio carries, context
near a match, and the base of the recognizers that read the ``Doc`` (people, relatives, employers,
places)."""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Token

from pipeline.stages.redaction.vocabulary import Vocabulary, fold


def result(entity: str, start: int, end: int, score: float, **meta: str) -> RecognizerResult:
    return RecognizerResult(entity_type=entity, start=start, end=end, score=score, recognition_metadata=dict(meta))


def doc_of(nlp_artifacts: NlpArtifacts | None) -> Doc | None:
    if nlp_artifacts is None:
        return None
    tokens = getattr(nlp_artifacts, "tokens", None)
    return tokens if isinstance(tokens, Doc) else None


def context_near(text: str, start: int, end: int, words_re: re.Pattern[str], window: int) -> bool:
    before = text[max(0, start - window) : start]
    after = text[end : end + 12]
    return bool(words_re.search(before) or words_re.search(after))


NON_NAME_ENTS = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "PERCENT", "MONEY"})


class DocRecognizer(EntityRecognizer):
    """Base for recognizers reading the spaCy ``Doc`` Presidio already built (no second model run)."""

    def __init__(self, entities: list[str], name: str, vocab: Vocabulary) -> None:
        self._vocab = vocab
        super().__init__(supported_entities=entities, name=name)

    def load(self) -> None:
        pass

    def name_like(self, tok: Token) -> bool:
        """A capitalised word that could be (part of) a name."""
        t = tok.text
        if not t or not t[0].isupper() or not any(c.isalpha() for c in t):
            return False
        if any(c.isdigit() for c in t) or "@" in t or "/" in t:
            return False
        if t.isupper() and len(t) > 1 and fold(t).casefold() in self._vocab.allow_terms:
            return False
        return not self._vocab.not_a_name(t.rstrip("."))

    def ambiguous_ok(self, tok: Token) -> bool:
        """An ambiguous-word name ("Will", "Hope") counts only when it is used as a proper noun."""
        if tok.lower_ not in self._vocab.ambiguous:
            return True
        if tok.is_upper and len(tok) > 1:
            return True
        nxt = tok.nbor(1) if tok.i + 1 < len(tok.doc) else None
        if nxt is not None and nxt.text[:1].isupper() and nxt.is_alpha and not self._vocab.not_a_name(nxt.text):
            return True
        if tok.tag_ in ("NNP", "NNPS") and not sentence_start(tok):
            return True
        prev = tok.nbor(-1) if tok.i > 0 else None
        return prev is not None and prev.lower_ in ("client", "dear", "named", "called", ",") and tok.tag_ == "NNP"

    def run_from(self, doc: Doc, i: int, limit: int = 4) -> tuple[int, int] | None:
        """Token range of a run of name-like words starting at ``i`` (possessive "'s" excluded)."""
        j = i
        while j < len(doc) and j - i < limit:
            tok = doc[j]
            if self.name_like(tok) and self.ambiguous_ok_in_run(tok, j == i):
                j += 1
            elif tok.text in ("-",) and j + 1 < len(doc) and self.name_like(doc[j + 1]) and j > i:
                j += 1
            else:
                break
        return (i, j) if j > i else None

    def ambiguous_ok_in_run(self, tok: Token, first: bool) -> bool:
        # After an explicit trigger ("my client Will") an ambiguous word is a name.
        return True


def sentence_start(tok: Token) -> bool:
    if tok.i == 0 or tok.is_sent_start:
        return True
    prev = tok.doc[tok.i - 1]
    if prev.is_space or "\n" in prev.whitespace_ or prev.text in (":", "-", "\u2022", "*", '"', "("):
        return True
    # A numbered paragraph ("4.1 Suicide: ...", "2) Overall ...") starts after its number.
    return bool(_NUMBERING.fullmatch(prev.text)) and sentence_start(prev)


_NUMBERING = re.compile(r"\(?(?:\d{1,2}(?:\.\d{1,2}){0,2}[.)]?|(?:[a-z]|[ivx]{1,4})[.)])")
