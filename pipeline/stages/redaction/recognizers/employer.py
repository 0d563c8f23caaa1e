"""Employers and other organisations named in a letter."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Token

from pipeline.stages.redaction.recognizers.address import StreetAddressRecognizer
from pipeline.stages.redaction.recognizers.base import DocRecognizer, doc_of, result
from pipeline.stages.redaction.recognizers.location import ROLE_NOUN
from pipeline.stages.redaction.rules import EmployerRules
from pipeline.stages.redaction.vocabulary import Vocabulary, fold, word_alternation


class EmployerRecognizer(DocRecognizer):
    """Employers and other organisations: spaCy ORG entities (minus allow-listed ones like Plumm, NHS),
    names after "works at"/"employed by"/"her employer", and names ending in Ltd/plc/LLP."""

    def __init__(self, rules: EmployerRules, vocab: Vocabulary) -> None:
        self._rules = rules
        ctx = "|".join(re.escape(c).replace(r"\ ", r"\s+") for c in sorted(rules.context, key=len, reverse=True))
        # "works at the Co-op": a determiner may stand between the context and the name.
        self._context = re.compile(rf"(?<!\w)(?:{ctx})\W{{0,3}}(?:the[ \t]+)?$", re.IGNORECASE)
        cap = StreetAddressRecognizer.CAP
        suffix = word_alternation(rules.company_suffixes)
        self._company = re.compile(rf"(?<![\w])(?:{cap}[ \t]+|&[ \t]+){{1,4}}{suffix}\.?(?![\w])")
        self._org_tails = {w.casefold() for w in rules.org_tail_words}
        tails = word_alternation(w[:1].upper() + w[1:] for w in rules.org_tail_words)
        # "at Bramble Distribution", "for Harlow Foods": capitalised words ending in an organisation's
        # generic word, after the preposition that places someone in it (the model may call it a work
        # of art or nothing at all).
        self._tailed = re.compile(
            rf"(?<![\w])(?:at|for|with|joined)[ \t]+(?:the[ \t]+)?(?P<name>(?:{cap}[ \t]+){{1,3}}{tails})(?![\w\-])"
        )
        cues = "|".join(re.escape(c) for c in sorted(rules.unique_role_cues, key=len, reverse=True))
        # The role words between "the only" and "at/in/on/for": up to four lower-case words.
        self._unique_role = (
            re.compile(
                rf"(?<!\w)(?:the|their|its|our|your)[ \t]+(?:{cues})[ \t]+"
                rf"(?P<role>[a-z][\w\-]*(?:[ \t]+[a-z][\w\-]*){{0,3}}?)"
                rf"(?=[ \t]+(?:at|in|on|for|within|across|of)\b)",
                re.IGNORECASE,
            )
            if cues
            else None
        )
        branch = word_alternation(rules.union_branch_words)
        # "IBEW Local 5", "Local 1199", "Lodge No. 72": the word as written (capitalised), its number,
        # and the union's short form in capitals right before it.
        self._union_branch = (
            re.compile(rf"(?<![\w&])(?:[A-Z][A-Z&\-]{{1,7}}[ \t]+)?{branch}[ \t]+(?:No\.?[ \t]*)?\d{{1,5}}(?![\w])")
            if rules.union_branch_words
            else None
        )
        super().__init__(["EMPLOYER", "ORG"], "EmployerRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        doc = doc_of(nlp_artifacts)
        out = self._unique_roles(text) + self._companies(text) + self._tailed_names(text) + self._union_branches(text)
        if doc is None:
            return out
        return out + self._model_organisations(doc, text) + self._after_context(doc, text)

    def _unique_roles(self, text: str) -> list[RecognizerResult]:
        r = self._rules
        out = []
        for m in self._unique_role.finditer(text) if self._unique_role else ():
            # Only a word for a person's role ("audiologist", "engineer", "nurse") is a unique role;
            # "the only option for", "the only one in" are not.
            if ROLE_NOUN.search(m.group("role")) and not self._vocab.is_allowed_span(m.group("role")):
                out.append(result("EMPLOYER", m.start("role"), m.end("role"), r.score))
        return out

    def _union_branches(self, text: str) -> list[RecognizerResult]:
        if self._union_branch is None:
            return []
        return [result("EMPLOYER", m.start(), m.end(), self._rules.score) for m in self._union_branch.finditer(text)]

    def _companies(self, text: str) -> list[RecognizerResult]:
        r = self._rules
        out = []
        for m in self._company.finditer(text):
            words = m.group(0).split()
            start = m.start()
            while len(words) > 1 and self._vocab.not_a_name(words[0]):
                start = text.index(words[1], start + len(words[0]))
                words = words[1:]
            if len(words) > 1:
                out.append(result("EMPLOYER", start, m.end(), r.score))
        return out

    def _tailed_names(self, text: str) -> list[RecognizerResult]:
        r = self._rules
        out = []
        for m in self._tailed.finditer(text):
            words = m.group("name").split()
            # Its own words must name it: "at Clinical Psychology Services" is all vocabulary.
            if any(not self._vocab.not_a_name(w) and w.casefold() not in self._org_tails for w in words[:-1]):
                employer = bool(self._context.search(text[max(0, m.start() - 40) : m.start("name")]))
                out.append(result("EMPLOYER" if employer else "ORG", m.start("name"), m.end("name"), r.score))
        return out

    def _model_organisations(self, doc: Doc, text: str) -> list[RecognizerResult]:
        r = self._rules
        out = []
        for ent in doc.ents:
            if ent.label_ != "ORG":
                continue
            toks = [t for t in ent if not (t.is_punct or t.is_space)]
            while toks and not self._keep(toks[0]):
                toks = toks[1:]
            if not toks:
                continue
            # An organisation keeps its generic tail ("Halden Logistics Services", "... NHS Trust"):
            # the tail alone would be harmless, but "[ORG_1] Services" reads as a half-done job.
            last = toks[-1].i
            while (
                last + 1 < len(doc)
                and (doc[last + 1].lower_ in self._org_tails or doc[last + 1].text in ("NHS", "&"))
                and last + 1 - toks[0].i < 8
            ):
                last += 1
            toks = [t for t in doc[toks[0].i : last + 1] if not (t.is_punct or t.is_space)]
            while toks and not self._keep(toks[-1]) and toks[-1].lower_ not in self._org_tails:
                toks = toks[:-1]
            if not any(self._keep(t) for t in toks):
                continue
            start, end = toks[0].idx, toks[-1].idx + len(toks[-1].text)
            if self._vocab.is_allowed_span(text[start:end]):
                continue
            employer = bool(self._context.search(text[max(0, start - 40) : start]))
            out.append(result("EMPLOYER" if employer else "ORG", start, end, r.score if employer else r.org_score))
        return out

    def _after_context(self, doc: Doc, text: str) -> list[RecognizerResult]:
        """A name right after "works at" (the rules' context) where the model found no entity."""
        r = self._rules
        out = []
        for tok in doc:
            if tok.i == 0 or not self.name_like(tok):
                continue
            if self._context.search(text[max(0, tok.idx - 40) : tok.idx]) and not doc[tok.i - 1].is_space:
                span = self.run_from(doc, tok.i)
                if span:
                    a, b = span
                    end = doc[b - 1].idx + len(doc[b - 1].text)
                    # Keep a hyphenated tail with the name ("Co-op", "Marks-and-Spencer").
                    tail = re.match(r"(?:[\-\u2010\u2011][\w&']+)+", text[end:])
                    end += tail.end() if tail else 0
                    out.append(result("EMPLOYER", doc[a].idx, end, r.score))
        return out

    def _keep(self, tok: Token) -> bool:
        if tok.text in ("'s", "\u2019s"):
            return False
        if tok.like_num or (tok.text[:1].isdigit() and any(c.isalpha() for c in tok.text)):
            return True  # "3M", "7digital"
        return self.name_like(tok) and fold(tok.text).casefold() not in self._vocab.allow_terms
