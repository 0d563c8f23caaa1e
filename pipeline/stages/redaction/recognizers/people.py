"""People's names, from the model's PERSON entities and the shapes names take in letters."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Token

from pipeline.stages.redaction.recognizers.base import NON_NAME_ENTS, DocRecognizer, doc_of, result, sentence_start
from pipeline.stages.redaction.rules import PersonRules
from pipeline.stages.redaction.vocabulary import Vocabulary, _english_words, common_words


class PersonRecognizer(DocRecognizer):
    """People: spaCy PERSON entities, names after triggers ("my client X", "Dear X", "Re: X"), and
    capitalised proper nouns in name positions that the small model labels ORG/GPE or misses.

    Ordinary words that are also names (Hope, Will, Grace...) count only as proper nouns.
    """

    def __init__(self, rules: PersonRules, vocab: Vocabulary) -> None:
        self._rules = rules
        self._triggers = [tuple(t) for t in rules.triggers]
        self._verbs = {v.casefold() for v in rules.name_verbs}
        self._human_verbs = {v.casefold() for v in rules.human_verbs}
        self._lowercase_slots = [re.compile(p, re.IGNORECASE) for p in rules.lowercase_slots]
        super().__init__(["PERSON"], "PersonRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = doc_of(nlp_artifacts)
        if doc is None:
            return []
        # The doc's text is made anew at each reading of ``doc.text``: once here, for every field label.
        doc_text = doc.text
        out = (
            self._model_persons(doc, doc_text)
            + self._after_triggers(doc)
            + self._proper_nouns(doc, doc_text)
            + self._lowercase(text)
        )
        return out + self._wrapped_tails(doc, out)

    def _wrapped_tails(self, doc: Doc, found: list[RecognizerResult]) -> list[RecognizerResult]:
        """The rest of each name found that a wrapped line broke ("Dr Fabien\nOllard, is informed")."""
        ends = {t.idx + len(t.text): t.i for t in doc}
        out = []
        for r in found:
            j = ends.get(r.end)
            tail = self._wrapped_tail(doc, j + 1) if j is not None else None
            if tail is not None:
                out.append(result("PERSON", tail.idx, tail.idx + len(tail.text), r.score))
        return out

    @staticmethod
    def _english(word: str) -> bool:
        english = _english_words()
        stems = [word] + [word[: -len(end)] for end in ("s", "es", "ed", "d", "ing") if word.endswith(end)]
        return word in common_words() or any(w in english for w in stems)

    def _lowercase(self, text: str) -> list[RecognizerResult]:
        """A first name typed in lower case in a name slot ("can <name> have"), when no English word."""
        out = []
        for rx in self._lowercase_slots:
            for m in rx.finditer(text):
                word = m.group("name")
                if not word.islower() or self._english(word) or self._vocab.not_a_name(word):
                    continue
                end = m.end("initial") if m.groupdict().get("initial") else m.end("name")
                out.append(result("PERSON", m.start("name"), end, self._rules.trigger_score, trigger="1"))
        return out

    def _model_persons(self, doc: Doc, text: str) -> list[RecognizerResult]:
        r = self._rules
        out: list[RecognizerResult] = []
        for ent in doc.ents:
            if ent.label_ != "PERSON":
                continue
            toks = [t for t in ent if self.name_like(t) and self.ambiguous_ok(t)]
            if (
                len(toks) == 1
                and all(t.i == toks[0].i or not t.is_alpha for t in ent)  # "4.3 Overall" is one word
                and sentence_start(toks[0])
                and toks[0].lower_ in common_words()
            ):
                nxt = doc[ent.end] if ent.end < len(doc) else None
                if nxt is None or nxt.pos_ not in ("VERB", "AUX"):
                    continue  # "Contact:", "Overall," labelled PERSON at the start of a line
            for t in toks:
                if not self._field_label(t, text):
                    out.append(result("PERSON", t.idx, t.idx + len(t.text), r.entity_score))
        return out

    def _field_label(self, tok: Token, text: str) -> bool:
        """A word of English in a field's label ("Role:", "Job title:" opening a line of a signature
        or form), which the model may take into the name on the line above: a label, not a name.
        ``text`` is the doc's text."""
        doc = tok.doc
        a = tok.i
        while a > 0 and doc[a - 1].is_alpha and "\n" not in text[doc[a - 1].idx : tok.idx] and tok.i - a < 2:
            a -= 1
        if text[text.rfind("\n", 0, doc[a].idx) + 1 : doc[a].idx].strip():
            return False  # not at the start of a line
        b = tok.i
        while b + 1 < len(doc) and b - a < 2 and doc[b + 1].is_alpha and doc[b].whitespace_ == " ":
            b += 1
        if b + 1 >= len(doc) or doc[b + 1].text != ":":
            return False
        return all(self._english(t.lower_) and t.lower_ not in self._vocab.ambiguous for t in doc[a : b + 1])

    def _after_triggers(self, doc: Doc) -> list[RecognizerResult]:
        r = self._rules
        out: list[RecognizerResult] = []
        lowers = [t.lower_ for t in doc]
        for i in range(len(doc)):
            span = self._after_trigger(doc, i, lowers)
            if span:
                a, b = span
                out.append(
                    result("PERSON", doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text), r.trigger_score, trigger="1")
                )
        return out

    def _wrapped_tail(self, doc: Doc, j: int) -> Token | None:
        """The rest of a name that a wrapped line broke ("Dr Fabien\nOllard, is informed"): one
        name-like word opening the next line, the sentence going on after it (punctuation or a word
        in lower case), not a signature's next line."""
        if j + 2 >= len(doc) or not doc[j].is_space or doc[j].text.count("\n") != 1:
            return None
        tail, after = doc[j + 1], doc[j + 2]
        if not self.name_like(tail) or self._english(tail.lower_):
            return None
        return tail if after.text in (",", ";", ")") or after.text.islower() else None

    def _proper_nouns(self, doc: Doc, text: str) -> list[RecognizerResult]:
        r = self._rules
        out: list[RecognizerResult] = []
        for tok in doc:
            if tok.lower_ in self._vocab.ambiguous and self._person_subject(tok):
                # "Patience has attended every session", "Summer says": an ordinary-word name opening
                # a sentence as the subject of a verb only people do.
                out.append(result("PERSON", tok.idx, tok.idx + len(tok.text), r.entity_score))
                continue
            if self._surname_after_name(tok):
                out.append(result("PERSON", tok.idx, tok.idx + len(tok.text), r.propn_score))
                continue
            if tok.tag_ not in ("NNP", "NNPS") or tok.ent_type_ in NON_NAME_ENTS:
                continue
            if (
                len(tok.text) < 2
                or not self.name_like(tok)
                or not self.ambiguous_ok(tok)
                or self._field_label(tok, text)
            ):
                continue
            if tok.is_upper and len(tok) > 1 and tok.ent_type_ != "PERSON":
                continue  # acronyms are organisations or clinical terms, handled elsewhere
            if self._ordinary_run(tok):
                continue
            nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
            prev = doc[tok.i - 1] if tok.i > 0 else None
            paired = (nxt is not None and nxt.tag_ in ("NNP", "NNPS") and self.name_like(nxt)) or (
                prev is not None and prev.tag_ in ("NNP", "NNPS") and self.name_like(prev) and not sentence_start(tok)
            )
            if sentence_start(tok):
                verb_follows = nxt is not None and (
                    nxt.lower_ in self._verbs or nxt.text in ("'s", "\u2019s") or nxt.pos_ in ("VERB", "AUX")
                )
                # "4.3 Overall risk", "Suicide:" labelled PERSON: an ordinary word opening a line
                # is a name only when a verb follows or another name stands beside it.
                model_person = tok.ent_type_ == "PERSON" and tok.lower_ not in common_words()
                # "<Name> – <nickname>, as she prefers – has used ...": the subject of a verb further
                # on, a word of no English, is a name though an aside parts it from its verb.
                # So is one a dash or "and" joins to another name ("<Name> – <nickname>", "(<Place> and
                # <Place> runs)"), both words of no English.
                after_dash = doc[tok.i + 2] if tok.i + 2 < len(doc) else None
                subject = not self._english(tok.lower_) and (
                    # (a word before a comma is a greeting or an address to the reader: "Hej, ...")
                    (
                        tok.dep_ in ("nsubj", "nsubjpass")
                        and tok.head.pos_ in ("VERB", "AUX")
                        and (nxt is None or nxt.text != ",")
                    )
                    or (
                        nxt is not None
                        and nxt.lower_ in ("\u2013", "\u2014", "-", "and", "or", "&")
                        and after_dash is not None
                        and after_dash.tag_ == "NNP"
                        and self.name_like(after_dash)
                        and not self._english(after_dash.lower_)
                        and self._sentence_goes_on(after_dash)
                    )
                )
                if not (verb_follows or paired or model_person or subject or self._variant_of_name(tok)):
                    continue
            elif (
                tok.lower_ in common_words()
                and tok.lower_ not in self._vocab.ambiguous
                and not paired
                and tok.ent_type_ != "PERSON"
            ):
                # An English adjective, verb or adverb capitalised alone ("Risk Passive suicidal
                # ideation": a form's value after its label) is that word; the names that are such
                # words are the ambiguous list's, and a name beside it or the model's PERSON still count.
                continue
            out.append(result("PERSON", tok.idx, tok.idx + len(tok.text), r.propn_score))
        return out

    @staticmethod
    def _sentence_goes_on(tok: Token) -> bool:
        """Whether the sentence goes on after the name ``tok`` opens, with a comma, a bracket or a word
        in lower case (an aside: "<Name> – <nickname>, as ..."), not a sign-off ("Thx - <Name> <Surname>")."""
        doc, j = tok.doc, tok.i
        while j + 1 < len(doc) and doc[j + 1].tag_ in ("NNP", "NNPS") and "\n" not in doc[j].whitespace_:
            j += 1
        nxt = doc[j + 1] if j + 1 < len(doc) else None
        if nxt is None or nxt.is_space or "\n" in doc[j].whitespace_:
            return False
        return nxt.text in (",", "(", ";") or nxt.text.islower()

    def _ordinary_run(self, tok: Token) -> bool:
        """Two capitalised words that are both ordinary English, neither a first name that is also
        a word, which the model did not call a person, between a determiner and the common noun they
        qualify ("the Quiet Harbour number", a service's name): a named thing, not a name. A name
        of two English words opens with one of those first names ("Rose Baker"); a longer run may be
        an organisation's name, and a run without a determiner may open a labelled line: both stay
        suspects."""
        doc = tok.doc
        a = tok.i
        while a > 0 and doc[a - 1].tag_ in ("NNP", "NNPS") and doc[a - 1].whitespace_ == " ":
            a -= 1
        b = tok.i + 1
        while b < len(doc) and doc[b].tag_ in ("NNP", "NNPS") and doc[b - 1].whitespace_ == " ":
            b += 1
        run = doc[a:b]
        before, after = (doc[a - 1] if a > 0 else None), (doc[b] if b < len(doc) else None)
        if len(run) != 2 or before is None or before.pos_ != "DET" or after is None:
            return False
        if after.pos_ != "NOUN" or not after.text.islower():
            return False
        return all(
            t.ent_type_ != "PERSON" and t.lower_ not in self._vocab.ambiguous and self._english(t.lower_) for t in run
        )

    def _surname_after_name(self, tok: Token) -> bool:
        """A capitalised word the tagger missed as a proper noun ("O'Donnell" read as a noun) right after
        a name in mid-sentence, when it is no English word: the rest of the name."""
        if tok.tag_ in ("NNP", "NNPS") or tok.i == 0 or tok.is_upper or sentence_start(tok):
            return False
        prev = tok.doc[tok.i - 1]
        if prev.tag_ not in ("NNP", "NNPS") or not self.name_like(prev) or prev.whitespace_ != " ":
            return False
        return self.name_like(tok) and not self._english(tok.lower_)

    def _variant_of_name(self, tok: Token) -> bool:
        """A name in apposition to a name, opening a bracket ("<First> <Last> (<Variant> on his contract)"):
        another form of it, when no English word."""
        head = tok.head
        return (
            tok.i > 0
            and tok.doc[tok.i - 1].text == "("
            and tok.dep_ == "appos"
            and head is not tok
            and head.tag_ in ("NNP", "NNPS")
            and self.name_like(head)
            and not self._english(tok.lower_)
        )

    def _person_subject(self, tok: Token) -> bool:
        if not tok.text[:1].isupper() or tok.is_upper:
            return False
        doc = tok.doc
        j = tok.i + 1
        if j < len(doc) and doc[j].text in ("'s", "\u2019s"):
            return False
        # Skip auxiliaries and adverbs: "Hope has always attended", "Grace has been struggling".
        skippable = ("AUX", "ADV", "PART")
        while j < len(doc) and j - tok.i <= 3 and (doc[j].pos_ in skippable or doc[j].lower_ == "been"):
            j += 1
        if j >= len(doc) or doc[j].lower_ not in self._human_verbs:
            return False
        # Passive ("Patience will be needed", "Hope was lost") is about the word, not a person.
        be = {"be", "been", "is", "was", "are", "were", "being"}
        return not (doc[j].tag_ == "VBN" and any(t.lower_ in be for t in doc[tok.i + 1 : j]))

    def _after_trigger(self, doc: Doc, i: int, lowers: list[str]) -> tuple[int, int] | None:
        for trig in self._triggers:
            n = len(trig)
            if i - n < 0 or lowers[i - 1] != trig[-1]:
                continue
            if tuple(lowers[i - n : i]) != trig:
                continue
            j = i
            while j < len(doc) and doc[j].text in (",", ":", "-", "\u2013") and j - i < 2:
                j += 1
            while j < len(doc) and (doc[j].lower_.rstrip(".") in self._vocab.titles or doc[j].text == "."):
                j += 1
            if j < len(doc) and doc[j].is_space:
                return None
            return self.run_from(doc, j)
        return None
