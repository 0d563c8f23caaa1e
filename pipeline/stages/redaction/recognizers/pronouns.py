"""Gendered pronouns and neo-pronouns, neutralised to ``[they]``/``[them]``/``[their]``... (not
vaulted)."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Token

from pipeline.stages.redaction.recognizers.base import doc_of, result
from pipeline.stages.redaction.rules import PronounRules


class PronounRecognizer(EntityRecognizer):
    """Gendered pronouns and neopronouns, each with its neutral replacement by grammatical role.

    Possessive "her" (spaCy tag ``PRP$``) becomes ``their``, object "her" becomes ``them``; the
    replacement is carried in ``recognition_metadata["neutral"]``.
    """

    def __init__(self, rules: PronounRules) -> None:
        self._rules = rules
        self._fixed = {k.casefold(): v for k, v in rules.fixed.items()}
        self._by_role = {k.casefold(): v for k, v in rules.by_role.items()}
        self._positional = {w.casefold() for w in rules.needs_pronoun_position}
        super().__init__(supported_entities=["PRONOUN"], name="PronounRecognizer")

    def load(self) -> None:
        pass

    @property
    def words(self) -> set[str]:
        return set(self._fixed) | set(self._by_role)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = doc_of(nlp_artifacts)
        if doc is None:
            return []
        out = []
        for tok in doc:
            w = tok.lower_
            if w in self._by_role:
                neutral = self._by_role[w].possessive if _possessive(tok) else self._by_role[w].other
            elif w in self._fixed:
                if w in self._positional and not _pronoun_position(tok):
                    continue
                neutral = self._fixed[w]
            else:
                continue
            out.append(result("PRONOUN", tok.idx, tok.idx + len(tok.text), 1.0, neutral=neutral))
        return out


def _possessive(tok: Token) -> bool:
    if tok.tag_ == "PRP$":
        return True
    if tok.tag_ == "PRP":
        return False
    # Neopronouns are unknown to the tagger: possessive when a noun phrase follows.
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    return nxt is not None and nxt.pos_ in ("NOUN", "ADJ", "PROPN", "NUM") and not nxt.is_punct


def _pronoun_position(tok: Token) -> bool:
    if tok.text != tok.lower_:
        return False
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    if nxt is not None and not tok.whitespace_ and nxt.text in ("-", "\u2010", "\u2011"):
        return False  # the first part of a compound ("e-mail", "e-learning"), never a pronoun
    if tok.tag_ in ("PRP", "PRP$"):
        return True
    prev = tok.doc[tok.i - 1] if tok.i > 0 else None
    subject = nxt is not None and nxt.pos_ in ("VERB", "AUX")
    obj = (
        prev is not None
        and prev.pos_ in ("VERB", "ADP")
        and (nxt is None or nxt.is_punct or nxt.pos_ in ("ADP", "CCONJ"))
    )
    return subject or obj
