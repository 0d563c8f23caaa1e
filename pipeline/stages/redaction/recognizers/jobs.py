"""The client's job title: a quasi-identifier ("the night-shift depot supervisor at [EMPLOYER_1]"
singles one person out even with every name gone).

The occupation noun phrase is found in the slots a job sits in, read from the spaCy dependency parse
Presidio already computed: the object of "as" after a job verb or noun ("works as", "employed as",
"her role as"), the complement of "is/was/became" when its head is an occupation (or any person noun
tied by "at/for/with" to a named employer, or joined to an age: "<Name> is 36, team leader in ..."),
an apposition to a person ("Dana, QA lead at Brindle"), "as" before a listed occupation wherever it
stands ("now as relief signaller"), a listed occupation qualifying a post ("the night porter desk"), and
the value of a form field or table cell labelled "Occupation:", "Job title:", "Role:"... A field that
holds the employer and the job together ("Employer / role  <Employer> - harbour pilot") gives both:
the job, and the other part as the employer. Cues, slots and word lists are ``job_title`` in
``rules/redaction.yaml``.

What is not the client's stays: a sentence whose subject (or possessor) is the therapist writing
("I work as a counsellor", "in my role as supervisor"), and the signature: the lines after a closing
("Kind regards" and the name and role under it) up to the next letter's greeting. A reply that keeps the
therapist's earlier letter quoted under its own closing ("Thanks, <Name>", then "Dear Plumm team, ...")
holds two letters, and the quoted one is read as it would be in the body.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.tokens import Doc, Token

from pipeline.stages.redaction.recognizers.base import doc_of, result
from pipeline.stages.redaction.recognizers.job_fields import (
    _CAPITAL,
    _CODE_GLOSS,
    _GLOSS,
    _MAX_WORDS,
    ENTITY,
    FieldTitles,
    _alternation,
)
from pipeline.stages.redaction.recognizers.location import ROLE_NOUN
from pipeline.stages.redaction.rules import JobTitleRules
from pipeline.stages.redaction.vocabulary import Vocabulary, _english_words, common_words

_NOUNS = ("NOUN", "PROPN")
_SUBJECTS = ("nsubj", "nsubjpass", "poss")
# Words before the head noun that are not part of the title ("a", "her", "the", "and").
_LEAD_DEPS = ("det", "poss", "predet", "cc", "punct", "case", "prep", "mark", "advmod")
# A subject that is not a person: "this is a lead", "it is a manager's job".
_NOT_PEOPLE = frozenset({"this", "that", "it", "which", "there", "what", "these", "those"})


# Words before a title that are not part of it: an age ("a 31-year-old site manager", removed as an
# age on its own) and "only", "current", "former".
_LEAD_WORDS = re.compile(
    r"(?:\d[\d\-]*|\d+-year-old|year|years|yr|old|aged|-|only|sole|current|currently|former|previous|new)$",
    re.IGNORECASE,
)


# A gloss between dashes after a title ("a tanker driver - <its local word> - with <Employer>").
_DASH_GLOSS = re.compile(
    r"[ \t]+[\-\u2013\u2014][ \t]+(?P<gloss>[^\W\d_][\w'\-]*(?:[ \t]+[^\W\d_][\w'\-]*){0,2})"
    r"[ \t]+[\-\u2013\u2014](?=[ \t])"
)

# A signature's block: blank lines after the closing, then lines up to the next blank line.
_SIGNATURE_BLOCK = re.compile(r"(?:[ \t]*\n)*(?:[^\n]*\S[^\n]*(?:\n|$))+")


# "she’s", "they’re", "I’m" with a typographic apostrophe: the parse takes the short form for a verb.
_CURLY_COPULAS = frozenset({"’s", "’re", "’m"})

_AGE_AFTER = frozenset({"-", "year", "years", "yr", "yrs", "old", "-year-old", "year-old"})


def _not_title(doc: Doc, i: int) -> bool:
    """A word before a title that is not part of it (``_LEAD_WORDS``). A number is an age only when
    "year" or "old" follows it ("a 31-year-old site manager"); otherwise it is part of the title ("a 911
    call-taker")."""
    if not _LEAD_WORDS.match(doc[i].text):
        return False
    if doc[i].text[:1].isdigit() and "year" not in doc[i].lower_ and "old" not in doc[i].lower_:
        after = [t.lower_ for t in doc[i + 1 : i + 3]]
        return bool(after) and (
            after[0] in _AGE_AFTER - {"-"} or after[:2] == ["-", "year"] or after[-1:] == ["year-old"]
        )
    return True


def _after_cue(doc: Doc, j: int) -> int:
    """The first word of a title after its cue: past a line wrapped after the cue ("his post as\n<title>")
    and the determiners."""
    if j + 1 < len(doc) and doc[j].is_space and doc[j].text.count("\n") == 1:
        j += 1
    while j < len(doc) and doc[j].pos_ == "DET":
        j += 1
    return j


class JobTitleRecognizer(FieldTitles):
    """The client's occupation noun phrase in an occupation slot (see the module docstring)."""

    def __init__(self, rules: JobTitleRules, vocab: Vocabulary) -> None:
        self._rules = rules
        low = {
            name: {w.casefold() for w in value} for name, value in rules.model_dump().items() if isinstance(value, list)
        }
        self._as_verbs = low["as_verbs"]
        self._as_nouns = low["as_nouns"]
        self._copulas = low["copulas"]
        self._preps = low["org_preps"]
        self._therapist = low["therapist_subjects"]
        self._of_heads = low["of_heads"]
        self._job_heads = low["job_heads"] | low["foreign_job_heads"]
        self._job_endings = tuple(low["foreign_job_endings"])
        self._gender_endings = tuple(low["gender_endings"])
        self._particles = low["title_particles"]
        self._cue_words = low["apposition_cues"]
        units = _alternation(rules.numbered_units) or "(?!x)x"
        # "Ward 118", "ward J28", "Bay 4": a numbered unit of a workplace is where the client works.
        self._numbered_unit = re.compile(
            rf"(?<![\w])(?i:{units})[ \t]+(?:[A-Z]{{0,2}}\d{{1,4}}[A-Za-z]?|[A-Z](?![\w']))(?![\w])"
        )
        self._not_jobs = low["not_jobs"]
        self._clinical = low["clinical_roles"]
        self._to_verbs = low["to_verbs"]
        self._signature_labels = low["signature_labels"]
        self._post_nouns = low["post_nouns"]
        self._not_as_cues = low["not_as_cues"]
        self._unit_nouns = low["unit_nouns"]
        self._work_verbs = low["work_verbs"]
        self._work_objects = low["work_objects"]
        sep = r"[ \t]*(?:\([^)\n]{0,30}\))?[ \t]*(?::|\||\t|[ \t]{2,}|[\-\u2013][ \t])"
        # A table flattened to text ("Occupation Deckhand", the cells joined by one space): the
        # value opens with a capital and the line is no sentence (see ``_labelled``).
        flat = rf"(?P<flat>(?<=[^ \t])[ \t](?={_CAPITAL}))"
        self._label = re.compile(
            rf"^[ \t>*|\-\u2022]*(?:(?:client|patient|employee|service[ \t]+user)(?:'s)?[ \t]+)?"
            rf"(?P<label>{_alternation(rules.labels)})(?:{sep}|{flat})[ \t|]*(?P<value>[^\n|]*)",
            re.IGNORECASE | re.MULTILINE,
        )
        # An employer's field alone ("Employer: <Employer> - night-shift depot supervisor, <site>"):
        # a later part naming an occupation is the job.
        self._employer_field = (
            re.compile(
                rf"^[ \t>*|\-\u2022]*(?:(?:client|patient|employee)(?:'s)?[ \t]+)?"
                rf"(?:{_alternation(rules.employer_labels)})(?:{sep}|{flat})[ \t|]*(?P<value>[^\n|]*)",
                re.IGNORECASE | re.MULTILINE,
            )
            if rules.employer_labels
            else None
        )
        self._paired = None
        if rules.employer_labels and rules.paired_role_labels:
            emp, role = _alternation(rules.employer_labels), _alternation(rules.paired_role_labels)
            join = r"[ \t]*(?:/|&|\+|\band\b)[ \t]*"
            self._paired = re.compile(
                rf"^[ \t>*|\-\u2022]*(?:(?P<first>{emp}){join}(?:{role})|(?:{role}){join}(?:{emp}))"
                rf"(?:{sep}|[ \t]+)[ \t|]*(?P<value>[^\n|]*)",
                re.IGNORECASE | re.MULTILINE,
            )
        self._closing = (
            re.compile(rf"^[ \t>]*(?:{_alternation(rules.closings)})[ \t]*[,.!]?[ \t]*$", re.IGNORECASE | re.MULTILINE)
            if rules.closings
            else None
        )
        # A greeting opening a line ("Dear Plumm team,", "Hello,"): a further letter starts there.
        self._greeting = (
            re.compile(
                rf"^[ \t>]*(?:{_alternation(rules.greetings)})(?=[ \t,!:.\-\u2013]|$)", re.IGNORECASE | re.MULTILINE
            )
            if rules.greetings
            else None
        )
        particles = _alternation(rules.title_particles) or "(?!x)x"
        self._complement = re.compile(rf"[ \t]+(?i:{particles})(?:[ \t]+|(?<=')(?=\w))(?P<w>[^\W\d_]+)")
        super().__init__([ENTITY, "EMPLOYER"], "JobTitleRecognizer", vocab)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        signed = self._signatures(text)
        out = self._labelled(text, signed) + self._paired_fields(text, signed) + self._line_titles(text, signed)
        out += self._org_brackets(text, signed)
        out += [
            result(ENTITY, m.start(), m.end(), self._rules.score, slot="unit")
            for m in self._numbered_unit.finditer(text)
            if not self._signed(m.start(), signed)
        ]
        doc = doc_of(nlp_artifacts)
        if doc is not None:
            out += self._in_sentences(doc, signed)
        return out

    def _signatures(self, text: str) -> list[tuple[int, int]]:
        """Where the therapist signs: after the last closing line of each letter, the block of lines
        under it, to the first blank line after them or the end of that letter. A letter ends where a
        greeting line opens the next one (the therapist's own earlier letter quoted under a reply) or
        at the end of the text; what follows the signature's block after a blank line (a document
        attached to the mail, a form without a greeting or a closing of its own) is read as letter."""
        closings = [m.end() for m in self._closing.finditer(text)] if self._closing else []
        starts = [m.start() for m in self._greeting.finditer(text)] if self._greeting else []
        bounds = sorted({0, *starts, len(text)})
        spans = []
        for a, b in zip(bounds, bounds[1:], strict=False):
            inside = [c for c in closings if a <= c < b]
            if inside:
                block = _SIGNATURE_BLOCK.match(text, inside[-1], b)
                spans.append((inside[-1], block.end() if block else b))
        return spans

    # ------------------------------------------------------------------ sentences

    def _in_sentences(self, doc: Doc, signed: list[tuple[int, int]]) -> list[RecognizerResult]:
        out: list[RecognizerResult] = []
        for tok in doc:
            if self._signed(tok.idx, signed):
                continue
            worked = self._worked(tok)
            if worked is not None:
                out.append(result(ENTITY, worked[0], worked[1], self._rules.score, slot="work"))
                continue
            head = self._slot(tok)
            if head is None:
                span = self._scanned(tok) or self._apposed(tok)
                if span is not None:
                    span = self._with_complement(doc.text, span)
                    out.append(result(ENTITY, span[0], span[1], self._rules.score, slot="scan"))
                    out += self._gloss(doc.text, span[1])  # "a train driver (its local word)"
                continue
            # "a cleaner and a carer": a second job joined to the first ("her rituals" is not one).
            more = (c for c in head.children if c.dep_ == "conj" and c.pos_ in _NOUNS and self._person_job(c))
            for noun in (head, *more):
                span = self._phrase(noun)
                if span is not None:
                    bracket = doc.text.find("(", span[0], span[1])
                    if bracket > span[0]:  # "a dispatcher (Disponent)": the gloss is read on its own
                        span = (span[0], len(doc.text[:bracket].rstrip()))
                    span = self._with_complement(doc.text, span)
                    out.append(result(ENTITY, span[0], span[1], self._rules.score, slot=tok.dep_))
                    out += self._gloss(doc.text, span[1])
        return out

    def _worked(self, verb: Token) -> tuple[int, int] | None:
        """ "drives a milk tanker", "works the checkouts": a work verb whose object is a work object,
        said of someone other than the therapist; the verb to the end of the object's phrase."""
        if verb.pos_ != "VERB" or verb.lemma_.casefold() not in self._work_verbs:
            return None
        obj = next((c for c in verb.children if c.dep_ == "dobj" and c.pos_ in _NOUNS), None)
        if obj is None:
            return None
        end = self._compound_end(obj)
        head = verb.doc[end]
        phrase = " ".join(t.lower_ for t in verb.doc[obj.i : end + 1])
        if not {head.lemma_.casefold(), head.lower_, phrase} & self._work_objects:
            return None
        subject = self._subject(verb) or (self._subject(verb.head) if verb.dep_ == "conj" else None)
        if subject is None or subject.lower_ in self._therapist or subject.lower_ in _NOT_PEOPLE:
            return None
        return verb.idx, head.idx + len(head.text)

    def _gloss(self, text: str, end: int) -> list[RecognizerResult]:
        """A short gloss in brackets right after a title: its translation or abbreviation ("a
        dispatcher (Disponent)", "charge nurse (RN)") names the same job."""
        code = _CODE_GLOSS.match(text, end)
        if code is not None:
            return [result(ENTITY, code.start(1), code.end(1), self._rules.score, slot="gloss")]
        m = _GLOSS.match(text, end) or _DASH_GLOSS.match(text, end)
        if m is None or len(m.group(1).split()) > 3:
            return []
        words = m.group(1).split()
        if m.re is _DASH_GLOSS and any(w.casefold() in _english_words() for w in words):
            return []  # "a driver - now retired -": a remark between dashes, not the job's own word
        named = words[-1].casefold() in self._job_heads  # "(lead dispatcher)", "(shift foreman)"
        if not named and any(w[:1].islower() and w.casefold() in common_words() for w in words):
            return []  # "(part-time)", "(see below)": a remark, not the job's name
        return [result(ENTITY, m.start(1), m.end(1), self._rules.score, slot="gloss")]

    def _slot(self, tok: Token) -> Token | None:
        """The head noun of a job in the slot ``tok`` opens, if the slot is the client's."""
        if tok.lower_ == "as" and tok.pos_ in ("ADP", "SCONJ"):
            cue = tok.head
            if cue.pos_ == "NOUN" and cue.dep_ in ("dobj", "npadvmod") and cue.i + 1 == tok.i:
                # "works nights as", "worked weekends as": the verb before the time is the cue.
                cue = cue.head
            cued = (cue.pos_ in ("VERB", "AUX") and cue.lemma_.casefold() in self._as_verbs) or (
                cue.pos_ in _NOUNS and (cue.lower_ in self._as_nouns or cue.lemma_.casefold() in self._as_nouns)
            )
            noun = next((c for c in tok.children if c.dep_ == "pobj" and c.pos_ in _NOUNS), None)
            if not cued or noun is None or self._by_therapist(cue) or not self._any_job(noun):
                return None
            return noun
        if tok.pos_ == "NUM" and tok.lower_ == "one" and tok.dep_ == "attr":
            # "he is one of only two process engineers on nights": the job is the "of" phrase's object.
            of = next((c for c in tok.children if c.dep_ == "prep" and c.lower_ == "of"), None)
            obj = next((c for c in of.children if c.dep_ == "pobj"), None) if of is not None else None
            if obj is None or obj.pos_ not in _NOUNS or not self._listed(obj) or not self._copular(tok):
                return None
            subject = self._subject(tok.head)
            if subject is None or subject.lower_ in self._therapist or subject.lower_ in _NOT_PEOPLE:
                return None
            return obj
        if tok.pos_ not in _NOUNS and not (tok.pos_ == "NUM" and self._listed(tok)):
            return None  # a listed post the tagger takes for a number ("is 2IC on the farm") counts
        if not (self._person_job(tok) or self._compound_end(tok) > tok.i):
            return None
        if self._copular(tok):
            # "<Name> is 36, team leader in ..." (the title joined to an age) is a complement too.
            subject = self._subject(tok.head)
            if subject is None or subject.lower_ in self._therapist or subject.lower_ in _NOT_PEOPLE:
                return None
            if self._bare_definite(tok) and not self._at_named(tok):
                return None  # "he was the driver" (of the car in the collision): a part, not a post
            return tok if self._named_job(tok) or self._listed(tok.doc[self._compound_end(tok)]) else None
        if tok.dep_ == "appos" and tok.head.pos_ in _NOUNS + ("PRON",) and tok.head.lower_ not in self._therapist:
            return tok if self._named_job(tok) else None
        if tok.dep_ == "compound" and self._listed(tok) and self._of_post(tok.head):
            return tok
        return None

    def _copular(self, tok: Token) -> bool:
        """A complement of a linking verb: "is a registrar", and "she’s a registrar" too, where the
        typographic apostrophe makes the parse read "’s" as a verb of its own with an object."""
        head = tok.head
        if head.lower_ in _CURLY_COPULAS and tok.dep_ in ("attr", "dobj"):
            return True
        copular = tok.dep_ == "attr" or (tok.dep_ == "conj" and head.pos_ == "AUX")
        return copular and head.lemma_.casefold() in self._copulas

    def _subject(self, copula: Token) -> Token | None:
        """The subject of a linking verb; where the parse lost it ("Dear Sir or Madam, Ms <Name> is a ...",
        the name taken for an apposition), the name just before the verb."""
        subject = next((c for c in copula.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if (
            subject is None
            and copula.dep_ == "conj"
            and copula.head.pos_ in ("VERB", "AUX")
            and copula.head is not copula
        ):
            # "who lives in <town> and is the assistant <job> at ...": a verb joined to another shares its subject.
            subject = next((c for c in copula.head.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subject is not None or copula.i == 0:
            return subject
        doc, i = copula.doc, copula.i - 1
        if doc[i].text == ")":
            # "<Name> (goes by <Short>) is a line supervisor": the aside in brackets taken for the
            # subject; the name is the word before the bracket.
            opening = next((j for j in range(i - 1, max(i - 12, -1), -1) if doc[j].text == "("), None)
            if opening is None or opening == 0:
                return None
            before = doc[opening - 1]
            return before if before.pos_ in _NOUNS and self.name_like(before) else None
        before = doc[i]
        return before if before.pos_ == "PROPN" and self.name_like(before) else None

    def _of_post(self, noun: Token) -> bool:
        """A post ("desk", "role", "position") that is not the therapist's own ("my supervisor role")."""
        if noun.lemma_.casefold() not in self._post_nouns and noun.lower_ not in self._post_nouns:
            return False
        owner = next((c for c in noun.children if c.dep_ == "poss"), None)
        if owner is not None and owner.lower_ in self._therapist:
            return False
        words = [t.lower_ for t in noun.subtree if t.i < noun.i and t.is_alpha and not self._lead(t)]
        return not all(w in self._clinical for w in words)

    def _scanned(self, tok: Token) -> tuple[int, int] | None:
        """A cue the parse did not attach ("promoted to shift leader" with "shift" taken for a verb,
        "her job as lead hydrographer" with "as" taken for a conjunction): the words after it up to a
        preposition, read as one noun phrase."""
        if tok.i == 0 or tok.lower_ not in ("as", "to", "a", "an"):
            return None
        cue = tok.doc[tok.i - 1]
        words = {cue.lower_, cue.lemma_.casefold()}
        listed_only = tok.lower_ in ("a", "an")
        if listed_only:
            # "he is a union steward" with "steward" parsed as an adverb: a listed occupation only.
            subject = next((c for c in cue.children if c.dep_ in ("nsubj", "nsubjpass")), None)
            if not words & self._copulas or subject is None or subject.lower_ in _NOT_PEOPLE:
                return None
        elif tok.lower_ == "to":
            if not words & self._to_verbs:
                return None
        elif not (words & self._as_verbs and cue.pos_ in ("VERB", "AUX")) and not words & self._as_nouns:
            # "now as relief signaller" with no job cue before "as": a listed occupation only.
            governor = {tok.head.lower_, tok.head.lemma_.casefold()}
            if tok.lower_ != "as" or (words | governor) & self._not_as_cues:
                return None
            listed_only = True
        doc = tok.doc
        j = _after_cue(doc, tok.i + 1)
        first, last = j, None
        while j < len(doc) and j - tok.i <= _MAX_WORDS and (doc[j].is_alpha or doc[j].text == "-" or doc[j].like_num):
            stop = doc[j].pos_ in ("ADP", "CCONJ", "SCONJ", "PRON", "AUX", "ADV") and not self._listed(doc[j])
            if doc[j].lower_ in self._particles and last is not None:
                break  # "encarregado de turno": the complement is read by _with_complement
            if doc[j].lower_ in self._preps or stop:
                break
            last = doc[j]
            j += 1
            if j + 1 < len(doc) and doc[j].is_space and doc[j].text.count("\n") == 1:
                j += 1  # a title wrapped onto the next line ("a control-room\noperator")
        if last is None or self._by_therapist(cue):
            return None
        if not self._scan_named(tok, last, listed_only=listed_only, alone=first == last.i):
            return None
        while first < last.i and _not_title(doc, first):
            first += 1
        return doc[first].idx, last.idx + len(last.text)

    def _scan_named(self, cue: Token, last: Token, *, listed_only: bool, alone: bool) -> bool:
        """Whether the scanned words end in a job: a listed occupation where only one counts, else a
        person noun, or after "promoted to" a single word of the client's language ("encarregado")."""
        if listed_only:
            return self._listed(last)
        if last.pos_ in _NOUNS and self._person_job(last):
            return True
        return cue.lower_ == "to" and alone and self._foreign(last.text)

    @staticmethod
    def _foreign(word: str) -> bool:
        """A word of no English (the lemmatizer's tables), as a job of the client's language is."""
        return word.isalpha() and len(word) >= 4 and word.casefold() not in _english_words()

    def _with_complement(self, text: str, span: tuple[int, int]) -> tuple[int, int]:
        """A title of the client's language with its complement ("encarregado de turno", "supervisora de
        enfermería", "supervisor de almacén"): a listed small word after the title and the word after it,
        when that word is no English word, belong to the title."""
        m = self._complement.match(text, span[1])
        if m is None or not self._foreign(m.group("w")):
            return span
        return span[0], m.end("w")

    def _apposed(self, tok: Token) -> tuple[int, int] | None:
        """ "<Name>'s a porter at <Employer>", "my client <Name> (...), a buyer at <Employer>", "<Name> is
        <a title of the client's language> in the <Employer>": a title after a cue (a linking verb or the
        comma of an apposition) and before "at", "for", "with" or "in" and a named or definite
        workplace, whatever the parse made of it. The title is a listed occupation or a person noun,
        not the therapist's ("I'm a counsellor at ...")."""
        doc = tok.doc
        if tok.i == 0 or tok.lower_ not in ("a", "an", "is", "was"):
            return None
        cue = doc[tok.i - 1].lower_
        if tok.lower_ in ("a", "an") and cue not in self._cue_words:
            return None
        before = {t.lower_ for t in doc[max(0, tok.i - 3) : tok.i]}
        if before & self._therapist or "i" in before:
            return None
        j = tok.i + 1
        if tok.lower_ in ("is", "was") and j < len(doc) and doc[j].lower_ in ("a", "an"):
            return None  # "is a ...": read by the parse's own slots
        first, last = j, None
        while j < len(doc) and j - tok.i <= _MAX_WORDS and (doc[j].is_alpha or doc[j].text == "-"):
            if doc[j].lower_ in self._preps:
                break
            if doc[j].is_alpha and (self._listed(doc[j]) or self._person_job(doc[j])):
                last = doc[j]
            elif last is not None and doc[j].lower_ not in self._particles and not self._foreign(doc[j].text):
                return None  # words after the title that are not its complement
            j += 1
        if last is None or j >= len(doc) or doc[j].lower_ not in self._preps or j + 1 >= len(doc):
            return None
        place = doc[j + 1]
        if not (place.lower_ == "the" or self.name_like(place) or place.text.startswith("[")):
            return None
        words = [t.lower_ for t in doc[first : last.i + 1] if t.is_alpha]
        if all(w in self._clinical for w in words) or last.lower_ in self._not_jobs:
            return None
        if tok.lower_ in ("is", "was") and not self._foreign(last.text):
            return None  # "is manager at": left to the parse; only a title of the client's language here
        while first < last.i and _not_title(doc, first):
            first += 1
        return doc[first].idx, last.idx + len(last.text)

    def _by_therapist(self, cue: Token) -> bool:
        """Whether the subject (or possessor) governing a cue is the therapist writing: "I work as",
        "in my role as", "we have worked as"."""
        t = cue
        for _ in range(6):
            who = next((c for c in t.children if c.dep_ in _SUBJECTS), None)
            if who is not None:
                return who.lower_ in self._therapist
            if t.head is t:
                return False
            t = t.head
        return False

    def _any_job(self, noun: Token) -> bool:
        """After a strong cue ("works as"), any noun but the few that are not a job ("as a team")."""
        if noun.like_num or not any(c.isalpha() for c in noun.text):
            return False
        return noun.lower_ not in self._not_jobs and noun.lemma_.casefold() not in self._not_jobs

    def _person_job(self, noun: Token) -> bool:
        """A noun naming someone's work: an occupation listed in the rules, or a person noun ("-er",
        "-ist", "-ian") that is not in the list of non-jobs. Another person's ("her manager") is not."""
        if any(c.dep_ == "poss" for c in noun.children):
            return False
        if noun.lemma_.casefold() == "member" and any(
            c.dep_ == "compound" and (c.lower_ in self._unit_nouns or self._listed(c)) for c in noun.children
        ):
            return True  # "a cabin crew member", "a ward team member": a member of a unit is a post
        if not self._any_job(noun):
            return False
        return self._listed(noun) or bool(ROLE_NOUN.search(noun.lower_))

    def _listed(self, noun: Token) -> bool:
        return noun.lemma_.casefold() in self._job_heads or self._listed_word(noun.lower_)

    def _listed_word(self, word: str) -> bool:
        """A listed occupation; a compound job word of the client's language, a stem of three letters or
        more before a listed ending ("Schichtleiter", "ploegbaas"); or a listed occupation with a
        gender ending of the client's language ("supervisora", "directora" of "supervisor", "director")."""
        if word in self._job_heads:
            return True
        if any(word.endswith(e) and len(word) >= len(e) + 3 and word.isalpha() for e in self._job_endings):
            return True
        return any(
            word.endswith(e) and len(word) - len(e) >= 5 and word[: -len(e)] in self._job_heads
            for e in self._gender_endings
        )

    def _named_job(self, noun: Token) -> bool:
        """A listed occupation, or a person noun tied to a named employer ("a brewer at Hollow Oak")."""
        return self._listed(noun) or self._at_named(noun)

    @staticmethod
    def _bare_definite(noun: Token) -> bool:
        """The driver ("he was the driver") with nothing more: no modifier tells a post from a part someone played."""
        left = list(noun.lefts)
        return len(left) == 1 and left[0].dep_ == "det" and left[0].lower_ == "the"

    def _at_named(self, noun: Token) -> bool:
        for prep in noun.children:
            if prep.dep_ == "prep" and prep.lower_ in self._preps:
                for obj in prep.children:
                    if obj.dep_ == "pobj" and any(self.name_like(t) for t in obj.subtree):
                        return True
        return False

    @staticmethod
    def _lead(tok: Token) -> bool:
        return tok.dep_ in _LEAD_DEPS and tok.text not in ("-", "\u2010")

    def _compound_end(self, noun: Token) -> int:
        """The last word of a title the parse cut short: nouns straight after the head that end in an
        occupation ("as a night-shift tram dispatcher" with "tram" taken for the head and "dispatcher"
        for an apposition) belong to it."""
        doc, end = noun.doc, noun.i
        j = noun.i + 1
        # A listed occupation counts whatever its tag ("the shop steward there", "steward" read as an adverb).
        while (
            j < len(doc)
            and j - noun.left_edge.i < _MAX_WORDS
            and doc[j].is_alpha
            and (doc[j].pos_ == "NOUN" or self._listed(doc[j]))
        ):
            if self._person_job(doc[j]):
                end = j
            j += 1
        return end

    def _unit_end(self, noun: Token, end: int) -> int:
        """The end of the unit or ward a title is placed in ("a nurse on the stroke ward", "team leader
        in the returns unit"): "in" or "on" and a short noun phrase ending in a unit noun."""
        for prep in noun.children:
            if prep.dep_ != "prep" or prep.lower_ not in ("in", "on") or prep.i != end + 1:
                continue
            obj = next((c for c in prep.children if c.dep_ == "pobj"), None)
            if obj is None or obj.i - prep.i > 4:
                continue
            if obj.lower_ in self._unit_nouns or obj.lemma_.casefold() in self._unit_nouns:
                return obj.i
        return end

    def _phrase(self, noun: Token) -> tuple[int, int] | None:
        """Character span of the job's noun phrase: its modifiers ("night-shift depot") up to the head,
        and "of" with its object after a head such as "head" or "director"."""
        doc = noun.doc
        start = noun.left_edge.i
        for c in noun.children:
            if c.dep_ == "poss":  # "Dr Patel's receptionist": the possessor is not the title
                start = max(start, c.right_edge.i + 1)
        while start < noun.i and (_not_title(doc, start) or self._lead(doc[start])):
            start += 1
        end = self._compound_end(noun)
        noun = doc[end]
        if noun.lower_ in self._of_heads:
            of = next((c for c in noun.children if c.dep_ == "prep" and c.lower_ == "of"), None)
            obj = next((c for c in of.children if c.dep_ == "pobj"), None) if of is not None else None
            if obj is not None and obj.i - noun.i <= 4:
                end = obj.i
        if end - start + 1 > _MAX_WORDS:
            return None
        end = self._unit_end(doc[end], end)
        first, last = doc[start], doc[end]
        return first.idx, last.idx + len(last.text)
