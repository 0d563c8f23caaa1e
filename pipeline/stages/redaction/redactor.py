"""Redaction stage: letter text + known identifiers -> redacted text, vault and counts; then verify.

Contract:
- :func:`get_redactor` builds one :class:`Redactor` per process (rules validated at start-up; a broken
  ``rules/*.yaml`` raises :class:`~pipeline.rules.RulesError` naming file and key) with a Presidio
  ``AnalyzerEngine`` holding only our recognizers, on the shared spaCy model (never downloaded).
- :meth:`Redactor.redact` analyses the text once (one spaCy run, reused by every recognizer), then
  substitutes: identifiers become stable placeholders (``[PERSON_1]``, ``[EMAIL_1]``...; the same
  value, case-insensitively, and every variant of one known person, get the same placeholder; an
  existing case ``vault`` continues the numbering), pronouns become ``[they]``/``[them]``/``[their]``/
  ``[theirs]``/``[themself]`` and gendered titles ``[TITLE]``. Output is deterministic.
- :meth:`Redactor.verify` fails closed with :class:`RedactionUnverified` (entity types only) when a
  known identifier, a vault original, or a high-confidence pattern identifier survives.
- The vault (placeholder -> original) is encrypted with Fernet by :func:`encrypt_vault`.

Nothing here logs, prints or raises with a value from a letter.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from cryptography.fernet import Fernet
from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.models import KnownIdentifiers, Redaction, RedactionUnverified, add_counts
from pipeline.nlp import presidio_nlp_engine
from pipeline.patterns import CASE_REFERENCE_RE, PLACEHOLDER_RE, vault_key_number, vault_key_type
from pipeline.patterns import placeholder as make_placeholder
from pipeline.rules import DEFAULT_RULES_DIR
from pipeline.stages.redaction.recognizers import STRUCTURED, build_recognizers
from pipeline.stages.redaction.recognizers.known import KnownIdentifierRecognizer
from pipeline.stages.redaction.rules import RedactionRules, load_redaction_rules
from pipeline.stages.redaction.vocabulary import Vocabulary, _english_words, analysis_casing, common_words, fold

NEUTRAL_TYPES = ("PRONOUN", "TITLE")
NAME_TYPES = frozenset({"PERSON", "ORG", "EMPLOYER", "LOCATION", "ADDRESS"})
_BRACKETED_TAIL = re.compile(r"(?<=\S)[ \t]*\([ \t]*(?P<form>[A-Z][A-Z0-9&]{1,9})[ \t]*\)$")


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    entity: str
    score: float
    canonical: str
    known: bool


def _form_occurrences(form: str, text: str) -> Iterator[re.Match[str]]:
    """Where an organisation's short form stands on its own; never as the prefix of a reference
    ("ABC-40213" is an ID, not the organisation)."""
    return re.finditer(rf"(?<![\w&]){re.escape(form)}(?![\w&]|-\d)", text)


class Redactor:
    """Analyse once, then substitute; one instance per process (see :func:`get_redactor`)."""

    def __init__(self, rules: RedactionRules) -> None:
        self.rules = rules
        self.vocab = Vocabulary(rules)
        recognizers = build_recognizers(rules, self.vocab)
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        self.analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=presidio_nlp_engine(),
            supported_languages=["en"],
            default_score_threshold=rules.score_threshold,
        )
        verify_types = set(rules.verify_types)
        self._verify_recognizers = [
            r
            for r in recognizers
            if isinstance(r, (PatternRecognizer, *STRUCTURED)) and set(r.supported_entities) & verify_types
        ]
        self._as_written = [r for r in recognizers if isinstance(r, STRUCTURED)]
        self._priority = {t: i for i, t in enumerate(rules.entity_priority)}
        particles = "|".join(re.escape(p) for p in sorted(rules.person.surname_particles, key=len, reverse=True))
        # One or more particles right before a name ("Mac Giolla", "Bean Uí"), each a word of its own.
        self._particles = re.compile(rf"(?<![\w\u2019'])(?:(?:{particles})[ \t]+)+$") if particles else None
        suffixes = "|".join(re.escape(s) for s in sorted(rules.employer.company_suffixes, key=len, reverse=True))
        # An organisation's short form in capitals in brackets right after its name, past a company
        # suffix the detection left out: "Harbourline Freight Services (HFS)", "Acme Widgets, Inc. (AW)".
        self._short_form = re.compile(
            rf"[ \t]*(?:,?[ \t]*(?:{suffixes})\.?[ \t]*)?\([ \t]*(?P<form>[A-Z][A-Z0-9&]{{1,9}})[ \t]*\)"
        )

    # ------------------------------------------------------------------ redact

    def analysis_text(self, text: str) -> str:
        """The text the model reads for ``text`` (NFC; lines typed in capitals re-cased): parse it
        ahead, several letters at once, and hand the result to :meth:`redact` as ``artifacts``."""
        return analysis_casing(unicodedata.normalize("NFC", text), self.vocab)

    def redact(
        self,
        text: str,
        known: KnownIdentifiers,
        *,
        vault: Mapping[str, str] | None = None,
        artifacts: NlpArtifacts | None = None,
    ) -> Redaction:
        text = unicodedata.normalize("NFC", text)
        vault = dict(vault or {})
        # Lines typed in capitals are re-cased for the model only; offsets are the same, so every
        # detection applies to the text as written.
        analysed = analysis_casing(text, self.vocab)
        if artifacts is None:  # else parsed ahead, from analysis_text(text) (the worker's batches)
            artifacts = self.analyzer.nlp_engine.process_text(analysed, "en")
        results = self.analyzer.analyze(
            analysed, "en", nlp_artifacts=artifacts, score_threshold=self.rules.score_threshold
        )
        if analysed != text:
            # Formats (a postcode, an IBAN, a code in a capitals line) are matched as written.
            results += [r for rec in self._as_written for r in rec.analyze(text, rec.supported_entities, artifacts)]
        # Known identifiers are matched outside Presidio's de-duplication, which treats results with
        # equal spans as one and would drop the "known" mark that decides the placeholder. People the
        # model found with confidence are matched again everywhere they recur ("Robin" alone after
        # "Robin Achterberg"), capitalised only.
        known_rec = KnownIdentifierRecognizer(
            known, self.vocab, typed_extra=_vault_typed(vault), discovered=self._discovered(text, results)
        )
        results = results + known_rec.analyze(text, [], artifacts)
        spans, neutral = self._select(text, results)
        return self._substitute(text, self._with_short_forms(text, spans), neutral, vault)

    def _discovered(self, text: str, results: list[RecognizerResult]) -> list[str]:
        protected = self.vocab.protected_ranges(text)
        names = []
        for r in results:
            if r.entity_type != "PERSON" or r.score < self.rules.person.entity_score:
                continue
            if any(a < r.end and r.start < b for a, b in protected):
                continue
            value = text[r.start : r.end].strip()
            if re.fullmatch(r"(?:[A-Z]\.[ \t]?){2,3}", value):
                # A client introduced by initials ("Client J.K.") recurs as "JK" too; initials the
                # model merely guessed at stay where they are.
                if (r.recognition_metadata or {}).get("trigger"):
                    names.append(value)
                continue
            words = [w for w in re.findall(r"[^\W\d_][\w'\-]*", value) if len(w) >= 2]
            # A name after a trigger is one even if it is also an ordinary word ("his brother Per").
            trigger = bool((r.recognition_metadata or {}).get("trigger"))
            words = [w for w in words if w[0].isupper() and (trigger or not self.vocab.not_a_name(w))]
            if words:
                names.append(" ".join(words))
        return sorted(set(names))

    def _select(self, text: str, results: list[RecognizerResult]) -> tuple[list[_Span], list[RecognizerResult]]:
        entity_spans: list[_Span] = []
        neutral: list[RecognizerResult] = []
        fills: list[RecognizerResult] = []
        for r in results:
            meta = r.recognition_metadata or {}
            if r.entity_type in NEUTRAL_TYPES:
                neutral.append(r)
                continue
            if meta.get("fill"):
                fills.append(r)
                continue
            value = text[r.start : r.end]
            is_known = bool(meta.get("known"))
            if is_known and (meta.get("initials") or meta.get("listed")) and self._in_protected(text, r.start, r.end):
                # Initials made from a known full name are no surer than the short form the letter
                # spells out where they stand ("Inventory of Complicated Grief (ICG)"); nor is a
                # listed nickname than a named clinical thing ("Beck Depression Inventory").
                is_known = False
            # A name after a trigger ("his brother Per") is one although it is also an ordinary word.
            allowed = not meta.get("trigger") and self.vocab.is_allowed_span(value)
            if not is_known and r.entity_type in NAME_TYPES and allowed:
                continue
            if not is_known and r.entity_type in NAME_TYPES and self._a_word_of_its_phrase(text, r.start, r.end):
                continue
            if not is_known and " ".join(fold(value).casefold().split()) in self.vocab.allow_terms:
                continue
            canonical = meta.get("canonical") or _canonical(value)
            entity_spans.append(_Span(r.start, r.end, r.entity_type, r.score, canonical, is_known))
        merged = self._with_particles(text, self._with_hyphen_parts(text, self._merge(text, entity_spans)))
        merged = self._filled(text, merged, fills)
        kept_neutral: list[RecognizerResult] = []
        for r in sorted(neutral, key=lambda r: (r.start, r.end, r.entity_type)):
            if any(s.start < r.end and r.start < s.end for s in merged):
                continue
            if kept_neutral and kept_neutral[-1].end > r.start:
                continue
            kept_neutral.append(r)
        return merged, kept_neutral

    def _a_word_of_its_phrase(self, text: str, start: int, end: int) -> bool:
        """A capitalised adjective, verb or adverb of English that opens a line's clinical item
        ("Individual CBT", "Repeat EPDS": right before an allow-listed term in capitals), or the first
        part of a hyphenated English word ("Bi-weekly"): a word of the letter, not a name. A guess
        that runs from a form's labels into such a word ("Modality Individual" before "CBT",
        "Frequency  Weekly / Review  Repeat" before "EPDS") is words of the letter too when every
        word before it is capitalised English."""
        value = text[start:end]
        words = value.split()
        if len(words) > 1:
            head, last = words[:-1], words[-1]
            if not all(re.fullmatch(r"[A-Z][a-z]+", w) and self.vocab.is_ordinary(w) for w in head):
                return False
            value, start = last, end - len(last)
        if not re.fullmatch(r"[A-Z][a-z]+", value):
            return False
        after = re.match(r"-([a-z]+)(?![\w\-])", text[end:])
        if after and self.vocab.is_modifier(value + after.group(1)):
            return True
        term = re.match(r"[ \t]+([A-Z][A-Z0-9\-]+)(?![\w\-])", text[end:])
        return bool(term and fold(term.group(1)) in self.vocab.allow_terms_upper and self.vocab.is_modifier(value))

    def _with_short_forms(self, text: str, spans: list[_Span]) -> list[_Span]:
        """An organisation's short form given in brackets right after its name ("Harbourline Freight
        Services (HFS)") is the same organisation wherever it recurs: the same placeholder. Only a
        form whose letters are initials of the name's words in order, has two letters or more and is no allow-listed
        term in capitals (NHS, CBT) or protected term (a clinical short form such as "(CPT)" stays)."""
        forms: dict[str, _Span] = {}
        for s in spans:
            if s.entity not in ("EMPLOYER", "ORG"):
                continue
            # The bracket may stand after the name or inside a detection that took it in.
            m = self._short_form.match(text, s.end) or _BRACKETED_TAIL.search(text, s.start, s.end)
            if m is None:
                continue
            form = m.group("form")
            if (
                sum(c.isalpha() for c in form) < 2
                or not _spells(form, text[s.start : s.end])
                or fold(form) in self.vocab.allow_terms_upper
                or self._in_protected(text, m.start("form"), m.end("form"))
            ):
                continue
            forms.setdefault(form, s)
        self._add_bare_initials(text, spans, forms)
        if not forms:
            return spans
        out = list(spans)
        for form, org in forms.items():
            for m in _form_occurrences(form, text):
                a, b = m.span()
                # A detection of just the form (the model's guess at a person, a name seeded from
                # the brackets) gives way; a guess that runs past it ("AVP&L depot" as a place)
                # keeps only its rest; a known identifier across it stays as it is.
                over = [o for o in out if o.start < b and a < o.end]
                if any(o.known and (o.start, o.end) != (a, b) for o in over):
                    continue
                out = [o for o in out if o not in over]
                for o in over:
                    for pa, pb in _subtract((o.start, o.end), [(a, b)]):
                        pa, pb = _trimmed(text, pa, pb)
                        piece = text[pa:pb]
                        # what is left of a name-like guess is one only if it is still capitalised
                        named = o.entity not in NAME_TYPES or any(c.isupper() for c in piece)
                        if pb - pa >= 2 and named and not self.vocab.is_allowed_span(piece):
                            out.append(_Span(pa, pb, o.entity, o.score, _canonical(piece), False))
                out.append(_Span(a, b, org.entity, org.score, org.canonical, org.known))
        return sorted(out, key=lambda s: (s.start, s.end))

    def _add_bare_initials(self, text: str, spans: list[_Span], forms: dict[str, _Span]) -> None:
        """The initials of every word of an organisation's name of three words or more, in capitals
        elsewhere without the brackets ("... Valley Credit Union" then "VCU"): the same organisation."""
        for s in spans:
            if s.entity not in ("EMPLOYER", "ORG"):
                continue
            words = re.findall(r"[^\W\d_][\w'\-]*", fold(text[s.start : s.end]))
            if len(words) < 3 or not all(w[0].isupper() for w in words):
                continue
            form = "".join(w[0] for w in words)
            if form in forms or form in self.vocab.allow_terms_upper:
                continue
            for m in _form_occurrences(form, text):
                if not self._in_protected(text, m.start(), m.end()):
                    forms.setdefault(form, s)
                    break

    def _in_protected(self, text: str, start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b in self.vocab.protected_ranges(text))

    def _filled(self, text: str, spans: list[_Span], fills: list[RecognizerResult]) -> list[_Span]:
        """What a whole-value detection (an address field's value) holds beyond the other detections:
        each remaining piece with a letter or digit that is not allow-listed, under one placeholder
        per value ("[PERSON_2], [ADDRESS_1]" for a town the model named and an outward code)."""
        pieces: list[_Span] = []
        taken = [(s.start, s.end) for s in spans]
        for r in sorted(fills, key=lambda r: (r.start, r.end)):
            canonical = _canonical(text[r.start : r.end])
            for a, b in _subtract((r.start, r.end), taken):
                a, b = _trimmed(text, a, b)
                if b <= a or self.vocab.is_allowed_span(text[a:b]):
                    continue
                pieces.append(_Span(a, b, r.entity_type, r.score, canonical, False))
                taken.append((a, b))
        return sorted(spans + pieces, key=lambda s: (s.start, s.end))

    def _with_hyphen_parts(self, text: str, spans: list[_Span]) -> list[_Span]:
        """A name's placeholder takes the rest of a hyphenated given name ("Min-jun", "Ji-eun") that
        no detection covered: a part that is no word of English or of the allow-list."""
        out: list[_Span] = []
        for i, s in enumerate(spans):
            start, end = s.start, s.end
            if s.entity == "PERSON":
                nxt = spans[i + 1].start if i + 1 < len(spans) else len(text)
                while (m := _HYPHEN_AFTER.match(text, end)) and m.end() <= nxt and self._name_part(m.group(1)):
                    end = m.end()
                prev = out[-1].end if out else 0
                while (m := _HYPHEN_BEFORE.search(text, prev, start)) and self._name_part(m.group(1)):
                    start = m.start()
            out.append(_Span(start, end, s.entity, s.score, s.canonical, s.known))
        return out

    def _name_part(self, word: str) -> bool:
        w = fold(word).casefold()
        return not (w in _english_words() or self.vocab.not_a_name(w) or w in self.vocab.allow_terms)

    def _with_particles(self, text: str, spans: list[_Span]) -> list[_Span]:
        """A surname's particle goes with it ("Ní Chonaill", "Mac Giolla Bhríde", "Ó Dálaigh"): the
        name's placeholder takes the particle before it, which alone still says whose name it was."""
        if self._particles is None:
            return spans
        out: list[_Span] = []
        for s in spans:
            m = self._particles.search(text, max(0, s.start - 40), s.start) if s.entity == "PERSON" else None
            start = m.start() if m is not None else s.start
            if out and start < out[-1].end:
                start = s.start
            out.append(_Span(start, s.end, s.entity, s.score, s.canonical, s.known))
        return out

    def _rank(self, s: _Span) -> tuple:
        return (
            0 if s.known else 1,
            -s.score,
            self._priority.get(s.entity, 99),
            -(s.end - s.start),
            s.canonical,
        )

    def _merge(self, text: str, spans: list[_Span]) -> list[_Span]:
        """One span per identifier: known identifiers first; other detections lose the parts a known
        identifier covers (a model entity running across "Acme Ltd. Sarah" must not swallow a known
        name into another placeholder); the rest are unioned when they overlap."""
        known = self._union(text, [s for s in spans if s.known])
        # Authors in brackets are people named: with a known identifier among them ("(<Client> &
        # <Name>)"), none of them is kept by the brackets' shape; the recognizers judge the others.
        authors = self.vocab.author_ranges(text)
        protected = [
            (a, b)
            for a, b in self.vocab.protected_ranges(text)
            if (a, b) not in authors or not any(k.start < b and a < k.end for k in known)
        ]
        shaped = self.vocab.shaped_ranges(text)
        # A job title read across the employer it names ("the Local 412 shop steward") leaves the
        # employer to its own placeholder, so both stay readable as what they are.
        employers = [(e.start, e.end) for e in spans if not e.known and e.entity == "EMPLOYER"]
        rest: list[_Span] = []
        for s in spans:
            if s.known:
                continue
            # A protected term inside an organisation's name ("Marlowe Vale NHS Trust", "Acme EAP
            # Services") does not split it; at its edge it stays outside. An employer named where
            # the letter says so ("works at ... Health Plan") outranks a phrase kept by its shape.
            interior = [(a, b) for a, b in protected if s.entity in ("ORG", "EMPLOYER") and s.start < a and b < s.end]
            # A number inside a job title is part of it ("a 911 dispatcher"), whatever else it may be.
            interior += [
                (a, b)
                for a, b in protected
                if s.entity == "JOB_TITLE" and s.start <= a and b < s.end and text[a:b].isdigit()
            ]
            overruled = shaped if s.entity == "EMPLOYER" else frozenset()
            blocked = [(k.start, k.end) for k in known] + [
                r for r in protected if r not in interior and r not in overruled
            ]
            if s.entity == "JOB_TITLE":
                blocked += employers
            for a, b in _subtract((s.start, s.end), blocked):
                a, b = _trimmed(text, a, b)
                if b <= a:
                    continue
                if (a, b) != (s.start, s.end):
                    piece = text[a:b]
                    if self.vocab.is_allowed_span(piece) or piece.casefold() in ("s", "ltd", "plc"):
                        continue
                    if s.entity in NAME_TYPES and len(piece) < 2:
                        continue
                rest.append(_Span(a, b, s.entity, s.score, _canonical(text[a:b]), False))
        return sorted(known + self._union(text, rest), key=lambda s: (s.start, s.end))

    def _union(self, text: str, spans: list[_Span]) -> list[_Span]:
        spans = sorted(spans, key=lambda s: (s.start, -s.end, self._rank(s)))
        groups: list[list[_Span]] = []
        end = -1
        for s in spans:
            if groups and (s.start < end or self._joinable(text, groups[-1], s, end)):
                groups[-1].append(s)
                end = max(end, s.end)
            else:
                groups.append([s])
                end = s.end
        merged = []
        for g in groups:
            start, stop = min(s.start for s in g), max(s.end for s in g)
            best = min(g, key=self._rank)
            known = [s for s in g if s.known and s.entity == best.entity]
            if known:
                # The canonical of the longest known member names the person (or value).
                canonical = max(known, key=lambda s: (s.end - s.start, s.canonical)).canonical
            else:
                canonical = _canonical(text[start:stop])
            merged.append(_Span(start, stop, best.entity, best.score, canonical, bool(known)))
        return merged

    @staticmethod
    def _joinable(text: str, group: list[_Span], s: _Span, end: int) -> bool:
        gap = text[end : s.start]
        if s.start < end or len(gap) > 2 or gap.strip(" -"):
            return False
        return any(g.entity == "PERSON" for g in group) and s.entity == "PERSON"

    def _substitute(
        self, text: str, spans: list[_Span], neutral: list[RecognizerResult], vault: dict[str, str]
    ) -> Redaction:
        by_value: dict[str, str] = {}
        counters: dict[str, int] = {}
        for placeholder, original in sorted(vault.items()):
            typ, n = vault_key_type(placeholder), vault_key_number(placeholder)
            if typ is None or n is None:
                continue
            counters[typ] = max(counters.get(typ, 0), n)
            by_value.setdefault(_canonical(original), placeholder)
        new_vault = dict(vault)
        counts: dict[str, int] = {}
        pieces: list[tuple[int, int, str]] = []
        for s in spans:
            known = by_value.get(s.canonical)
            if known is None:
                counters[s.entity] = counters.get(s.entity, 0) + 1
                known = by_value[s.canonical] = make_placeholder(s.entity, counters[s.entity])
            placeholder = known
            original = text[s.start : s.end]
            previous = new_vault.get(placeholder)
            if previous is None or (placeholder not in vault and len(original) > len(previous)):
                new_vault[placeholder] = original
            typ = vault_key_type(placeholder)
            assert typ is not None  # every placeholder here is numbered: from the vault or made above
            counts[typ] = counts.get(typ, 0) + 1
            pieces.append((s.start, s.end, placeholder))
        for r in neutral:
            if r.entity_type == "PRONOUN":
                pieces.append((r.start, r.end, f"[{r.recognition_metadata['neutral']}]"))
            else:
                pieces.append((r.start, r.end, "[TITLE]"))
            counts[r.entity_type] = counts.get(r.entity_type, 0) + 1
        pieces.sort()
        out, pos = [], 0
        for start, end, replacement in pieces:
            out.append(text[pos:start])
            out.append(replacement)
            pos = end
        out.append(text[pos:])
        return Redaction(
            text="".join(out),
            counts=MappingProxyType(dict(sorted(counts.items()))),
            vault=MappingProxyType(dict(sorted(new_vault.items()))),
        )

    # ------------------------------------------------------------------ verify

    def residue(self, redaction: Redaction, known: KnownIdentifiers) -> list[RecognizerResult]:
        """What the verifying detectors still find in the redacted text, outside its placeholders:
        every known identifier (seeded or in the vault) and every structured format."""
        masked = PLACEHOLDER_RE.sub(lambda m: " " * len(m.group(0)), redaction.text)
        checker = KnownIdentifierRecognizer(known, self.vocab, typed_extra=_vault_typed(redaction.vault), min_length=3)
        # A listed nickname inside a named clinical thing is that thing, as in redaction.
        found = [
            r
            for r in checker.analyze(masked, [])
            if not ((r.recognition_metadata or {}).get("listed") and self._in_protected(masked, r.start, r.end))
        ]
        threshold = self.rules.score_threshold
        for rec in self._verify_recognizers:
            found += [r for r in rec.analyze(masked, rec.supported_entities, None) if r.score >= threshold]
        return found

    def verify(self, redaction: Redaction, known: KnownIdentifiers) -> None:
        """Raise :class:`RedactionUnverified` if anything identifying survives (types only, no values)."""
        found = self.residue(redaction, known)
        if found:
            raise RedactionUnverified(entity_types=tuple(sorted({r.entity_type for r in found})))

    def unexplained_words(self, text: str) -> int:
        """How many words of a redacted line no vocabulary explains (Philter's fail-closed rule), outside
        its placeholders, case references and protected terms: a capitalised word that is no word of
        English or of the clinical and process vocabulary ("Anselm"), or an initial standing alone or
        hyphenated ("R P-L", "N T L", "A. [PERSON_2]"; not the words "I" and "A"). A subject line gives
        the model too little context to tell a name from a heading, so the worker withholds one that
        has any."""
        masked = CASE_REFERENCE_RE.sub(_blank, PLACEHOLDER_RE.sub(_blank, text))
        for a, b in self.vocab.protected_ranges(masked):
            masked = masked[:a] + " " * (b - a) + masked[b:]
        people = [m.span() for m in PLACEHOLDER_RE.finditer(text) if m.group("type") in _PEOPLE]
        found = 0
        for match in _LINE_WORD.finditer(masked):
            # Beside a person's placeholder only a word that is never a name is safe ("Anselm [PERSON_3]").
            start, end = match.span()
            beside = any(b <= start and not text[b:start].strip(" ") for _a, b in people) or any(
                a >= end and not text[end:a].strip(" ") for a, _b in people
            )
            for part in match.group(0).split("-"):
                part = re.sub(r"['\u2019]s$", "", part)
                if len(part) == 1:  # an initial; "I" and "A" are words, unless dotted or beside a name
                    word = part in ("I", "A") and not beside and masked[end : end + 1] != "."
                    found += part.isupper() and not word
                elif part[:1].isupper() and not self._explained(part, beside=beside):
                    found += 1
        return found

    def _explained(self, word: str, *, beside: bool) -> bool:
        """Beside a person's placeholder, only a word that is never a name (the allow-list, stop words,
        titles: "Will [PERSON_1]" and "[PERSON_1] March" may be a name); elsewhere any word of English
        or of the clinical vocabulary."""
        vocab = self.vocab
        if vocab.not_a_name(word) or vocab.is_allowed_word(word):
            return True
        return not beside and (word.casefold() in common_words() or vocab.is_ordinary(word))

    def clean(self, redaction: Redaction, known: KnownIdentifiers) -> Redaction:
        """Verify, removing what verification finds: each residue becomes a placeholder of its type
        (numbered on from the vault), and the result is verified again. Fails closed: anything the
        second pass still finds raises :class:`RedactionUnverified` with its entity types."""
        found = self.residue(redaction, known)
        if not found:
            return redaction
        text = redaction.text
        placeholders = [(m.start(), m.end()) for m in PLACEHOLDER_RE.finditer(text)]
        spans = []
        for r in found:
            meta = r.recognition_metadata or {}
            for a, b in _subtract((r.start, r.end), placeholders):
                a, b = _trimmed(text, a, b)
                if b > a:
                    canonical = meta.get("canonical") or _canonical(text[a:b])
                    spans.append(_Span(a, b, r.entity_type, r.score, canonical, bool(meta.get("known"))))
        again = self._substitute(text, self._union(text, spans), [], dict(redaction.vault))
        cleaned = Redaction(
            text=again.text,
            counts=MappingProxyType(add_counts(redaction.counts, again.counts)),
            vault=again.vault,
            cleaned=tuple(sorted({*redaction.cleaned, *(r.entity_type for r in found)})),
        )
        self.verify(cleaned, known)
        return cleaned


# A word of a line: letters, joined by apostrophes or hyphens ("O'Neil", "P-L").
_LINE_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")


# The placeholder types of a person, whose name a word beside them may finish.
_PEOPLE = frozenset({"PERSON", "CLIENT", "THERAPIST", "RELATIVE"})


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


# A hyphenated part right after or before a span ("[Min]-jun", "Ji-[Eun]"), letters only.
_HYPHEN_AFTER = re.compile(r"[\-\u2010\u2011]([^\W\d_]+)(?![\w\-\u2010\u2011])")
_HYPHEN_BEFORE = re.compile(r"(?<![\w\-\u2010\u2011])([^\W\d_]+)[\-\u2010\u2011]$")


def _spells(form: str, name: str) -> bool:
    """Whether the letters of a short form are initials of the name's words, in order ("AVP&L" of
    "Employer: Allegheny Valley Power & Light", "HFS" of "Harbourline Freight Services")."""
    initials = iter(w[0].upper() for w in re.findall(r"[^\W\d_][\w'\-]*", fold(name)))
    return all(any(c == i for i in initials) for c in form if c.isalpha())


def _subtract(span: tuple[int, int], blocked: list[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [span]
    for ka, kb in blocked:
        nxt = []
        for a, b in pieces:
            if kb <= a or ka >= b:
                nxt.append((a, b))
                continue
            if a < ka:
                nxt.append((a, ka))
            if kb < b:
                nxt.append((kb, b))
        pieces = nxt
    return pieces


def _trimmed(text: str, a: int, b: int) -> tuple[int, int]:
    """``text[a:b]`` without the punctuation and spaces at either end."""
    while a < b and not text[a].isalnum():
        a += 1
    while b > a and not text[b - 1].isalnum():
        b -= 1
    return a, b


def _canonical(value: str) -> str:
    v = " ".join(fold(value).casefold().split())
    if v.endswith("'s"):
        v = v[:-2]
    return v.strip(" .,:;")


def _vault_typed(vault: Mapping[str, str]) -> list[tuple[str, str]]:
    typed = []
    for placeholder, original in sorted(vault.items()):
        entity_type = vault_key_type(placeholder)
        if entity_type:
            typed.append((entity_type, original))
    return typed


@lru_cache(maxsize=4)
def get_redactor(rules_dir: Path | None = None) -> Redactor:
    return Redactor(load_redaction_rules(Path(rules_dir) if rules_dir else DEFAULT_RULES_DIR))


def encrypt_vault(vault: Mapping[str, str], key: bytes) -> bytes:
    """Fernet token of the vault as JSON with sorted keys."""
    payload = json.dumps(dict(vault), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return Fernet(key).encrypt(payload)


def decrypt_vault(token: bytes, key: bytes) -> dict[str, str]:
    """The vault back; raises ``cryptography.fernet.InvalidToken`` for a wrong key or a tampered token."""
    return dict(json.loads(Fernet(key).decrypt(token).decode("utf-8")))
