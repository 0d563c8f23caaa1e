"""Job titles in forms, tables and lines of a details block: the value of a field labelled
"Occupation:", "Job title:", "Role:" (with a gloss, a grade code and the unit after it), a field that
holds the employer and the job together, a bracket after the named workplace, and a title opening a
line. The base of :class:`~pipeline.stages.redaction.recognizers.jobs.JobTitleRecognizer`, which adds
the slots read from the parse; the patterns it builds from ``job_title`` in ``rules/redaction.yaml``
are set by that class.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from pipeline.stages.redaction.recognizers.base import DocRecognizer, result
from pipeline.stages.redaction.recognizers.location import ROLE_NOUN
from pipeline.stages.redaction.rules import JobTitleRules
from pipeline.stages.redaction.vocabulary import common_words

ENTITY = "JOB_TITLE"

_EMPTY_VALUES = frozenset({"n/a", "na", "none", "-", "unknown", "not stated", "not known", "tbc", "nil"})

_VALUE_END = re.compile(r"[ \t]+(?:at|for|with|in)[ \t]+|[,;(]|[ \t]{2,}|\t")

_MAX_WORDS = 7

# A line opened by a short noun phrase, then a comma or the line's end.
_LINE_TITLE = re.compile(
    r"^[ \t>*|\-\u2022]*(?P<title>[A-Z][\w'\-]*(?:[ \t]+[A-Za-z][\w'\-]*){0,4})[ \t]*(?:,|$)", re.MULTILINE
)

# A capital letter, whatever the flags around it: a flattened table's value opens with one.
_CAPITAL = r"(?-i:[A-Z\u00c0-\u00de])"

# A line that reads as a sentence: a full stop, question or exclamation mark ending it or inside it.
_SENTENCE = re.compile(r"[.!?](?:[ \t]+\S|[ \t]*$)")

# A short parenthesis after a title, without digits: its gloss or abbreviation ("(Disponent)", "(RPN)").
_GLOSS = re.compile(r"[ \t]*\([ \t]*(?P<gloss>[^\W\d_](?:[^()\d\n]|\n(?![ \t]*\n)){0,40}?)[ \t]*\)")

# A grade's code in brackets after a title ("(CNM2)", "(Band 6)", "(B7)"): it names the post as the title does.
_CODE_GLOSS = re.compile(r"[ \t]*\([ \t]*(?P<gloss>[A-Z][A-Za-z]{0,5}[ \-]?\d{1,2}[A-Za-z]?)[ \t]*\)")

# Between the parts of a field holding two things: a spaced dash, a comma, a semicolon or a slash.
_PART_SEP = re.compile(r"[ \t]+[\-\u2013\u2014][ \t]+|[ \t]*[,;/:][ \t]*")

# A bracket right after a workplace named by "at", "for", "with" or "from" ("works at <Org> (<post>, <site>)",
# "a nurse at <Hospital> (<Health service>)"): it holds the client's post or the body the workplace is part of.
_ORG_BRACKET = re.compile(
    r"\b(?:at|for|with|from)[ \t]+(?:the[ \t]+)?(?:[A-Z][\w&'.\-]*[ \t]+){0,5}[A-Z][\w&'.\-]*"
    r"[ \t]*\((?P<inner>[^()\n]{1,60})\)"
)


def _parts(value: str) -> list[tuple[int, int]]:
    """Spans of the non-empty parts of ``value`` between separators."""
    bounds = [0, *(x for m in _PART_SEP.finditer(value) for x in m.span()), len(value)]
    return [(a, b) for a, b in zip(bounds[::2], bounds[1::2], strict=True) if value[a:b].strip()]


def _alternation(words: list[str]) -> str:
    escaped = (re.escape(w).replace(r"\ ", r"[ \t]+") for w in sorted(set(words), key=len, reverse=True))
    return "|".join(escaped)


class FieldTitles(DocRecognizer):
    """Job titles found without the parse: fields, tables, brackets and line titles (see the module
    docstring). The attributes are set by the subclass from the rules."""

    _rules: JobTitleRules
    _label: re.Pattern[str]
    _employer_field: re.Pattern[str] | None
    _paired: re.Pattern[str] | None
    _numbered_unit: re.Pattern[str]
    _signature_labels: set[str]
    _unit_nouns: set[str]
    _job_heads: set[str]
    _clinical: set[str]
    _not_jobs: set[str]
    _of_heads: set[str]

    @staticmethod
    def _signed(pos: int, signed: list[tuple[int, int]]) -> bool:
        return any(a <= pos < b for a, b in signed)

    # ------------------------------------------------------------------ form fields and tables

    def _labelled(self, text: str, signed: list[tuple[int, int]]) -> list[RecognizerResult]:
        out = []
        for m in self._label.finditer(text):
            label = " ".join(m.group("label").casefold().split())
            if label in self._signature_labels and self._signed(m.start(), signed):
                continue
            if m.group("flat") is not None and _SENTENCE.search(m.group("value")):
                continue  # "Employment Tribunal proceedings began in May.": a sentence, no form's row
            start, value = m.start("value"), m.group("value")
            if not value.strip() and text[m.end() : m.end() + 1] == "\n":
                # "Occupation:" with its value on the next line.
                nxt = re.match(r"\n[ \t|]*([^\n|]*)", text[m.end() :])
                if nxt is None or ":" in nxt.group(1):
                    continue
                start, value = m.end() + nxt.start(1), nxt.group(1)
            out += self._field_results(start, value)
        return out

    def _field_results(self, start: int, value: str, *, title_end: int | None = None) -> list[RecognizerResult]:
        """The job title in a field's value (from offset ``start`` of the text), with a short gloss
        after it ("Senior purser (cabin crew)"), and the unit or ward the field places it in, a later
        part of the value ("Staff nurse (RPN), haemodialysis unit"): together they single the client
        out."""
        span = self._field_value(value[:title_end])
        if span is None:
            return []
        out = [result(ENTITY, start + span[0], start + span[1], self._rules.label_score, slot="label")]
        end = span[1]
        gloss = _GLOSS.match(value, end) or _CODE_GLOSS.match(value, end)
        if gloss is not None:
            a, b = start + gloss.start(1), start + gloss.end(1)
            out.append(result(ENTITY, a, b, self._rules.label_score, slot="gloss"))
            end = gloss.end()
        for a, b in _parts(value):
            if a >= end and self._names_unit(value[a:b]):
                out.append(result(ENTITY, start + a, start + b, self._rules.label_score, slot="unit"))
        return out

    def _names_unit(self, part: str) -> bool:
        """A workplace unit ("haemodialysis unit", "the stroke ward", "night-shift crew"): a few words
        ending in a unit noun, not all of them clinical."""
        if self._numbered_unit.fullmatch(part.strip()):
            return True  # "Ward 118"
        words = re.findall(r"[^\W\d_][\w'\-]*", part.casefold())
        if not 2 <= len(words) <= 4 or words[-1] not in self._unit_nouns:
            return False
        return any(w not in self._vocab.stop for w in words[:-1])

    def _org_brackets(self, text: str, signed: list[tuple[int, int]]) -> list[RecognizerResult]:
        """A bracket after the named workplace (``_ORG_BRACKET``): its first part ending in an occupation
        is the client's job title ("(HR Executive, <site> office)"), with a unit after it; a name
        ending in an organisation's word ("(<Place> Health)", "(<X> Health Service)") is the employer
        the workplace belongs to. Not in the therapist's signature."""
        out = []
        for m in _ORG_BRACKET.finditer(text):
            if self._signed(m.start(), signed):
                continue
            start, inner = m.start("inner"), m.group("inner")
            parts = _parts(inner)
            a, b = parts[0]
            words = re.findall(r"[^\W\d_][\w'\-]*", inner[a:b].casefold())
            clinical = all(w in self._clinical for w in words)
            if words and len(words) <= 4 and words[-1] in self._job_heads and not clinical:
                out += self._field_results(start, inner)
            elif self._names_body(inner):
                out.append(result("EMPLOYER", start, start + len(inner), self._rules.label_score, slot="bracket"))
        return out

    def _names_body(self, value: str) -> bool:
        """An organisation's name: two to five capitalised words ending in an organisation's word, one
        of the others no common word ("<Place> Health"; not "Mental Health")."""
        words = value.split()
        if not 2 <= len(words) <= 5 or not all(w[:1].isupper() or w.casefold() in ("of", "and") for w in words):
            return False
        if words[-1].casefold() not in self._vocab.org_tails:
            return False
        return any(w[:1].isupper() and w.casefold() not in common_words() for w in words[:-1])

    def _paired_fields(self, text: str, signed: list[tuple[int, int]]) -> list[RecognizerResult]:
        """A field naming the employer and the job together ("Employer / role  <Employer> - night porter"):
        the job is the first part after the employer that names an occupation, else the part after the
        employer (before it when the label names the role first); with one part only, the job up to "at
        [EMPLOYER]" as in any field. An employer's field alone gives a job only from a later part that
        names an occupation ("Employer: <Employer> - night-shift depot supervisor")."""
        out = []
        fields = [(m, True) for m in self._paired.finditer(text)] if self._paired else []
        fields += [(m, False) for m in self._employer_field.finditer(text)] if self._employer_field else []
        for m, paired in fields:
            if self._signed(m.start(), signed):
                continue
            if paired and m.group("first") is None:
                # The role first: "Role / employer  night porter, <Employer>".
                parts = _parts(m.group("value"))
                if len(parts) > 1:
                    out += self._job_and_employer(m.start("value"), m.group("value"), parts[0], parts[-1])
                    continue
                out += self._field_results(m.start("value"), m.group("value"))
                continue
            out += self._after_employer(m.start("value"), m.group("value"), paired=paired)
        return out

    def _after_employer(self, start: int, value: str, *, paired: bool) -> list[RecognizerResult]:
        parts = _parts(value)
        if len(parts) < 2:
            return self._field_results(start, value) if paired else []
        named = [p for p in parts[1:] if self._names_job(value[p[0] : p[1]])]
        if named:
            return self._job_and_employer(start, value, named[0], parts[0])
        return self._job_and_employer(start, value, parts[-1], parts[0]) if paired else []

    def _job_and_employer(
        self, start: int, value: str, job: tuple[int, int], employer: tuple[int, int]
    ) -> list[RecognizerResult]:
        # The other part is the employer, whatever the model made of it.
        out = [result("EMPLOYER", start + employer[0], start + employer[1], self._rules.label_score, slot="label")]
        found = self._field_results(start + job[0], value[job[0] :], title_end=job[1] - job[0])
        return out + [r for r in found if not (start + employer[0] <= r.start < start + employer[1])]

    def _names_job(self, part: str) -> bool:
        """A part of a field that ends in an occupation noun ("night-shift control room supervisor")."""
        words = re.findall(r"[^\W\d_][\w'\-]*", part.casefold())
        if not words or len(words) > _MAX_WORDS or words[-1] in self._not_jobs:
            return False
        return words[-1] in self._job_heads or bool(ROLE_NOUN.search(words[-1]))

    def _line_titles(self, text: str, signed: list[tuple[int, int]]) -> list[RecognizerResult]:
        """A title opening a line of a details block ("Night-shift loading supervisor, <Employer>"):
        up to five words ending in an occupation noun, then a comma or the line's end, before the
        closing (in no signature); none of the words a determiner, pronoun or possessive ("Her
        manager, ...", "<Name>'s line manager, ..." is someone else)."""
        out = []
        for m in _LINE_TITLE.finditer(text):
            if self._signed(m.start("title"), signed):
                continue
            words = m.group("title").casefold().split()
            if words[-1] not in self._job_heads and words[-1] not in self._of_heads:
                continue
            if any(w in self._vocab.stop or w in self._vocab.pronouns or re.search(r"['\u2019]s?$", w) for w in words):
                continue
            if all(w in self._clinical or w in self._of_heads for w in words):
                continue
            out.append(result(ENTITY, m.start("title"), m.end("title"), self._rules.label_score, slot="line"))
        return out

    def _field_value(self, value: str) -> tuple[int, int] | None:
        """The job title in a field's value: up to "at [EMPLOYER]", a comma or the cell's end; None for
        an empty value or a therapist's own clinical role ("Role: Senior Counsellor")."""
        end = _VALUE_END.search(value)
        piece = value[: end.start()] if end else value
        lead = len(piece) - len(piece.lstrip())
        piece = piece.strip().rstrip(".:")
        words = re.findall(r"[^\W\d_][\w'\-]*", piece.casefold())
        if not words or len(words) > _MAX_WORDS or piece.casefold() in _EMPTY_VALUES:
            return None
        if all(w in self._clinical for w in words) or all(w in self._not_jobs for w in words):
            return None
        return lead, lead + len(piece)
