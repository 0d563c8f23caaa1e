"""Gendered pronouns and neo-pronouns, neutralised to ``[they]``/``[them]``/``[their]``... (not
vaulted)."""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Token

from pipeline.stages.redaction.recognizers.base import doc_of, result
from pipeline.stages.redaction.rules import PronounRules
from pipeline.stages.redaction.vocabulary import _english_words, common_words


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
        self._foreign = {k.casefold(): v for k, v in rules.foreign.items()}
        self._languages = {w.casefold() for w in rules.foreign_languages}
        self._pronoun_nouns = {w.casefold() for w in rules.pronoun_nouns}
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
            elif w in self._foreign and self._foreign_pronoun(tok):
                neutral = self._foreign[w]
            else:
                continue
            out.append(result("PRONOUN", tok.idx, tok.idx + len(tok.text), 1.0, neutral=neutral))
        return out

    def _foreign_pronoun(self, tok: Token) -> bool:
        """A pronoun of the client's language (``pronouns.foreign``): one that is no English word in
        lower case, or capitalised opening a sentence ("Elle est ..."); one that is also an English word
        ("son", "hen") only between two words of no English ("envoyer son nom") or named as a pronoun
        ("hen in Swedish", "the pronoun hen")."""
        doc, i = tok.doc, tok.i
        if tok.text != tok.lower_ and not (tok.is_sent_start or (i > 0 and doc[i - 1].text in (".", "!", "?", "\n"))):
            return False
        if not _english(tok.lower_):
            return True
        words = [t for t in doc[max(0, i - 3) : i] if not t.is_punct and not t.is_space]
        after = [t for t in doc[i + 1 : i + 4] if not t.is_punct and not t.is_space]
        if after[:1] and after[0].lower_ == "in" and len(after) > 1 and after[1].lower_ in self._languages:
            return True
        if words and words[-1].lower_ in self._pronoun_nouns:
            return True
        return bool(words and after) and all(t.is_alpha and not _english(t.lower_) for t in (words[-1], after[0]))


def _english(word: str) -> bool:
    """A word of English: the lemmatizer's tables, the common words or a stop word ("her", "is")."""
    return word in _english_words() or word in common_words() or word in STOP_WORDS


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
