"""Identifiers seeded from the message itself (headers, greeting, signature), matched wherever they
recur in any spelling: initials, capitals, spaced phone digits; and the entity type of a seeded
value."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import cast

from nicknames import NickNamer
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from pipeline.models import KnownIdentifiers
from pipeline.stages.redaction.recognizers.base import result
from pipeline.stages.redaction.recognizers.dates import DateOfBirthRecognizer
from pipeline.stages.redaction.recognizers.email import EmailRecognizer
from pipeline.stages.redaction.recognizers.formats import is_uk_postcode, nhs_checksum_ok
from pipeline.stages.redaction.recognizers.phone import PHONE_EXTENSION
from pipeline.stages.redaction.recognizers.urls import HandleRecognizer
from pipeline.stages.redaction.vocabulary import Vocabulary, _english_words, common_words, fold, word_alternation

# The patterns of one letter's identifiers are compiled once for the several builds of its recognizer
# (the re module's own cache of 512 overflows with them); dropped by :func:`forget_letters`.
_regex = lru_cache(maxsize=4096)(re.compile)
_MEMO_SIZE = 4096  # short-form entries kept on the vocabulary, then dropped all at once


def forget_letters(vocab: Vocabulary) -> None:
    """Drop what the recognizer kept of the letters just read (their name patterns and short forms):
    a letter's identifiers stay in a worker's memory only while its batch is being read."""
    _regex.cache_clear()
    vocab.memo.clear()


def _flex(value: str) -> str:
    """Regex for a value that tolerates spacing, hyphen and apostrophe variants (on folded text)."""
    parts: list[str] = []
    for ch in fold(value).strip():
        if ch.isspace():
            if not parts or parts[-1] != r"[\s\-]+":
                parts.append(r"[\s\-]+")
        elif ch == "-":
            # "Adebayo-Lindqvist" broken over two lines keeps its hyphen at the end of the first.
            parts.append(r"(?:[ \t]*-[ \t]*\n?[ \t]*|\s)?")
        elif ch == "'":
            parts.append(r"['\s]?")
        elif ch == ".":
            parts.append(r"\.?")
        else:
            parts.append(re.escape(ch))
    return "".join(parts)


def _phone_flex(value: str) -> str | None:
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return None
    # A leading "+" belongs to the number ("+44 ..."), as does a written extension.
    return r"\+?" + r"[\s\-().+]*".join(re.escape(d) for d in digits) + PHONE_EXTENSION


class KnownIdentifierRecognizer(EntityRecognizer):
    """Identifiers seeded from the message itself, removed wherever they recur.

    Names match as the full name, first name or surname alone, possessive ("Sarah's" leaves "'s"),
    any case (ordinary-word names such as "Will" only when capitalised), with accent, hyphen and
    apostrophe variants, and as initials ("S.O.", "S. O.", "SO") of a known full name. Each match
    carries ``recognition_metadata["canonical"]`` so variants of one person share a placeholder.
    Built per letter (it depends on the letter's own identifiers), so it is passed to Presidio as an
    ad-hoc recognizer.
    """

    def __init__(
        self,
        known: KnownIdentifiers,
        vocab: Vocabulary,
        *,
        typed_extra: Sequence[tuple[str, str]] = (),
        discovered: Sequence[str] = (),
        min_length: int = 1,
    ) -> None:
        self._vocab = vocab
        verbs = [*vocab.person.subject_modals, *vocab.person.human_verbs]
        self._subject_verbs = word_alternation(fold(v).casefold() for v in verbs) if verbs else ""
        # (regex, entity, canonical, mode): mode "ci" any case, "cs" exact, "word" Title or ALL CAPS
        # Seeded names match in any case; names from a case vault or found in this letter by the
        # model ("discovered") only capitalised, so a mislabelled word cannot spread in lower case.
        persons = [(n, "seeded") for n in known.names]
        persons += [(v, "vault") for t, v in typed_extra if t == "PERSON"]
        persons += [(v, "discovered") for v in discovered]
        # Short forms of seeded names ("Facu", "Gracie", "Seun") are looked up word by word: a letter
        # has hundreds, and an alternation of them cost more to compile than the rest together.
        self._short_forms: dict[str, list[tuple[str, bool, bool]]] = {}
        entries = self._person_entries(persons, _canonical_names(persons), min_length)
        for email in known.emails:
            if email and not vocab.is_own_address(email):
                entries.append((_flex(email), "EMAIL", fold(email).casefold(), "ci"))
        others = [("", o) for o in known.other] + [(t, v) for t, v in typed_extra if t != "PERSON"]
        entries += _other_entries(others, vocab, min_length)
        self._entries = entries
        self._compiled = self._compile(entries)
        super().__init__(
            supported_entities=sorted({e[1] for e in entries} | {"PERSON"}), name="KnownIdentifierRecognizer"
        )

    def _person_entries(
        self, persons: Sequence[tuple[str, str]], canon_of: dict[str, str], min_length: int
    ) -> list[tuple[str, str, str, str]]:
        entries: list[tuple[str, str, str, str]] = []
        # The words of every other name the letter gives (a model's guess is no other person).
        taken = {
            fold(w).casefold() for name, origin in persons if origin != "discovered" for w in re.split(r"[\s\-]+", name)
        }
        for name, origin in persons:
            if _INITIALS_ONLY.fullmatch(fold(name).strip()):
                # "J.K.": the same letters with or without dots and spaces, upper case only.
                letters = re.sub(r"[^A-Z]", "", fold(name).upper())
                key = fold(name).casefold()
                if len(letters) >= max(2, min_length - 1):
                    entries.append((r"\.?[ \t]?".join(letters) + r"\.?", "PERSON", key, "cs"))
                continue
            organisation = origin != "seeded" and self._names_organisation(name)
            for variant in self._name_variants(name):
                if len(variant.replace(" ", "")) < min_length:
                    continue
                if organisation and " " not in variant and fold(variant).casefold() in _english_words():
                    # A person's placeholder may hold a practice named after them ("Keane
                    # Relationship Therapy"): its English words are no name of theirs on their own.
                    continue
                key = fold(variant).casefold()
                canonical = canon_of.get(key, key)
                if origin != "seeded" or self._is_ordinary_word(variant):
                    mode = "word" if origin != "discovered" else "word-discovered"
                    if origin == "discovered" and self._vocab.not_a_name(variant):
                        # Found after a trigger although an ordinary word ("his brother Per"): its
                        # recurrences carry the trigger's mark, which the allow-list does not undo.
                        mode = "word-triggered"
                    written = variant.lower()
                else:
                    mode, written = "ci", variant
                entries.append((_flex(written), "PERSON", canonical, mode))
                if origin == "seeded" and mode == "word" and " " not in variant and self._subject_verbs:
                    # "will can do tuesdays": the known name in lower case as the subject of a verb.
                    subject = rf"{_flex(written)}(?=[ \t]+{self._subject_verbs}(?![\w']))"
                    entries.append((subject, "PERSON", canonical, "ci"))
                loose = self._flex_name(written)
                if loose != _flex(written):
                    entries.append((loose, "PERSON", canonical, mode + _LOOSE))
            if origin == "seeded":
                key = canon_of.get(fold(" ".join(name.split())).casefold(), fold(name).casefold())
                for form, capitalised, listed in self._short_forms_of(name, taken):
                    self._short_forms.setdefault(form, []).append((key, capitalised, listed))
            words = [w for w in re.split(r"[\s\-]+", name.strip()) if w and w[0].isalpha()]
            if 2 <= len(words) <= 3 and min_length <= 2:
                initials = [fold(w)[0].upper() for w in words]
                key = canon_of.get(fold(" ".join(name.split())).casefold(), fold(name).casefold())
                dotted = r"\.[ \t]?".join(initials) + r"\."
                entries.append((dotted, "PERSON", key, "initials"))
                if "".join(initials).casefold() not in self._vocab.allow_terms:
                    # Undotted initials that spell a kept term are that term: "her GP" is no Grace P.
                    entries.append(("".join(initials), "PERSON", key, "initials"))
                # Initial and surname: "S. Okafor", "S Okafor".
                entries.append((rf"{initials[0]}\.?[ \t]+{_flex(words[-1])}", "PERSON", key, "ci"))
        return entries

    def _short_forms_of(self, name: str, taken: set[str]) -> tuple[tuple[str, bool, bool], ...]:
        """Short forms people make of a seeded name, folded and lower-cased, each with whether it
        counts only capitalised: cut ("Facu" of "Facundo", any case, as a careless note writes it),
        cut with a pet-name ending ("Gracie", "Eszti"), or the tail of a long name ("Seun" of
        "Oluwaseun", capitalised only). Never a word of English or of the allow-list, nor a word of
        another name of the letter.

        Each comes with whether it counts only capitalised and whether it is from the nickname list
        (which gives way to a named clinical thing: "Beck" of "Rebecca" in "Beck Depression Inventory").
        Kept on the vocabulary until :func:`forget_letters`: one letter builds this recognizer
        several times (redaction, verification, the subject line) from the same names."""
        memo_key = ("short-forms", name, frozenset(taken))
        if memo_key not in self._vocab.memo:
            if len(self._vocab.memo) >= _MEMO_SIZE:
                self._vocab.memo.clear()
            self._vocab.memo[memo_key] = self._make_short_forms(name, taken)
        return cast(tuple[tuple[str, bool, bool], ...], self._vocab.memo[memo_key])

    def _make_short_forms(self, name: str, taken: set[str]) -> tuple[tuple[str, bool, bool], ...]:
        rules = self._vocab.person
        least = rules.short_form_min
        endings = sorted({fold(e).casefold() for e in rules.short_form_endings})
        own = {fold(w).casefold() for w in re.split(r"[\s\-]+", name) if w}
        cut: set[str] = set()
        petted: set[str] = set()
        tails: set[str] = set()
        for word in own:
            if len(word) <= least or not word.isalpha() or word in _PARTICLES:
                continue
            if self._vocab.not_a_name(word) or (_english(word) and word not in self._vocab.ambiguous):
                continue  # a word seeded by mistake; "Grace" (an ordinary-word name) has "Gracie"
            for k in range(least, len(word)):
                cut.add(word[:k])
                petted.update(word[:k] + e for e in endings)
            if len(word) >= rules.tail_form_min_name:
                # From a consonant on: "Seun", "Topher", "Tina"; not "elle" or "anne" (other words).
                tails.update(word[k:] for k in range(1, len(word) - least + 1) if word[k] not in "aeiouy")
        # A bare cut or tail is no word of the dictionary ("robe"); a pet form ("gracie", which the
        # dictionary lists as a noun) no verb, adjective or adverb ("corny").
        forms = {f for f in cut | tails if not self._not_a_short_form(f, _english_words())}
        forms |= {f for f in petted if not self._not_a_short_form(f, common_words())}
        anycase = (forms - tails) - own - taken
        # A tail only capitalised, as a name is written ("Seun", "SEUN"), not a word's ending; so is a
        # nickname of the kept list ("Bill" of "William", "Peggy" of "Margaret") or the name it is one
        # of ("Margaret" of "Peggy"), never a common word ("Will", "Pat") nor shorter than three letters.
        listed = {f for f in listed_nicknames(own) if len(f) >= 3 and not self._not_a_short_form(f, common_words())}
        capitalised = ((forms & tails) - cut - petted | listed) - anycase - own - taken
        made = [(f, False, False) for f in anycase] + [(f, True, f in listed) for f in capitalised]
        return tuple(sorted(made))

    def _not_a_short_form(self, form: str, words: frozenset[str]) -> bool:
        return form in words or form in common_words() or form in self._vocab.ambiguous or self._vocab.not_a_name(form)

    def _flex_name(self, value: str) -> str:
        """:func:`_flex` for a name, each long vowel in any romanisation ("Satō", "Sato", "Satou",
        "Satoh"; "Yūki", "Yuuki"): the doubled or marked vowel is read as the plain one."""
        marks = {v.casefold(): [m.casefold() for m in ms] for v, ms in self._vocab.person.long_vowel_marks.items()}
        if not marks:
            return _flex(value)
        plain = fold(value)
        for vowel, letters in marks.items():
            alternatives = "|".join(re.escape(m) for m in letters)
            # "Satou" -> "Sato"; a mark letter before a vowel begins the next syllable ("Ohara").
            plain = re.sub(rf"({re.escape(vowel)})(?:{alternatives})(?![aeiouy])", r"\1", plain, flags=re.IGNORECASE)
        if any(len(w) < 3 for w in re.findall(r"[^\W\d_]+", plain)):
            return _flex(value)  # "Oh", "Oo": too short to read loosely
        rx = _flex(plain)
        out = []
        for ch in rx:
            out.append(ch)
            if ch.casefold() in marks:
                alternatives = "|".join(re.escape(m.upper() if ch.isupper() else m) for m in marks[ch.casefold()])
                out.append(f"(?:{alternatives})?")
        return "".join(out)

    def load(self) -> None:
        pass

    def _names_organisation(self, name: str) -> bool:
        """Whether a value ends in an organisation's generic word ("Therapy", "Services", "Trust")."""
        words = name.split()
        return len(words) > 1 and fold(words[-1]).casefold().strip(".,") in self._vocab.org_tails

    def _is_ordinary_word(self, variant: str) -> bool:
        w = fold(variant).casefold()
        return " " not in w and (w in self._vocab.ambiguous or w in self._vocab.stop or w in common_words())

    @staticmethod
    def _name_variants(name: str) -> list[str]:
        words = [w for w in re.split(r"\s+", name.strip()) if w]
        variants = {" ".join(words)} if words else set()
        for w in words:
            if len(words) > 1 and fold(w).casefold() in _PARTICLES:
                continue  # "van", "de", "an" alone are ordinary words, not the name
            variants.add(w)
            for part in re.split(r"[\-]", w):
                if len(part) >= 3:
                    variants.add(part)
        return sorted(variants, key=lambda v: (-len(v), v))

    @staticmethod
    def _compile(
        entries: list[tuple[str, str, str, str]],
    ) -> list[tuple[re.Pattern[str], str, str, dict[str, str], bool]]:
        """Each entry's pattern, type, canonical form, the marks its matches carry ("known": it
        outranks any other detection; "initials": made from a full name, see :meth:`analyze`;
        "trigger": found after a trigger word) and whether it is a loose reading of the name."""
        compiled = []
        for rx, entity, canonical, written in entries:
            mode, loose = written.removesuffix(_LOOSE), written.endswith(_LOOSE)
            marks = {"word-discovered": {}, "word-triggered": {"trigger": "1"}}.get(mode, {"known": "1"})
            if mode.startswith("word"):
                pattern = rf"(?<![\w])(?:{_title_variant(rx)}|{_upper_variant(rx)})(?![\w])"
                compiled.append((_regex(pattern), entity, canonical, marks, loose))
            elif mode in ("cs", "initials"):
                # Initials glued to a code ("KM-2231", "AB/1234") are part of a reference, not a name.
                pattern = rf"(?<![\w.])(?<![\w][\-/])(?:{rx})(?![\w])(?![\-/]\d)"
                compiled.append((_regex(pattern), entity, canonical, {**marks, mode: "1"}, loose))
            else:
                pattern = rf"(?<![\w])(?:{rx})(?![\w])"
                compiled.append((_regex(pattern, re.IGNORECASE), entity, canonical, marks, loose))
        return compiled

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        folded = fold(text)
        out = []
        for rx, entity, canonical, marks, loose in self._compiled:
            meta = {"canonical": canonical, **marks}
            for m in rx.finditer(folded):
                if loose and _english(m.group(0)):
                    continue  # "Brooke" read loosely is not "broke"; the name as written has its own entry
                if m.group(0).casefold() in self._vocab.calendar and _in_a_date(folded, m.start(), m.end()):
                    continue  # a client named March is not the month of "3 March", "March 2025"
                # A model-found name matched again elsewhere is no surer than the model was, so it
                # does not outrank a street address or another structured detection it overlaps.
                # Initials made from a full name ("ICG") give way to a short form the letter spells
                # out ("Inventory of Complicated Grief (ICG)"): the redactor's protected ranges.
                out.append(result(entity, m.start(), m.end(), 1.0 if "known" in marks else 0.85, **meta))
        if self._short_forms:
            out += self._short_form_results(folded)
        return out

    def _short_form_results(self, folded: str) -> list[RecognizerResult]:
        """Each whole word of ``folded`` that is a short form of a seeded name: not inside a handle,
        an address or a dotted name ("@thad.q.runs" is the handle's, whole); a capitalised-only form
        as a name is written ("Seun", "SEUN"), and then not glued to a code ("KM-2231")."""
        out = []
        for m in _WORD.finditer(folded):
            word, start, end = m.group(0), m.start(), m.end()
            hits = self._short_forms.get(word.casefold())
            if not hits or folded[start - 1 : start] in ("@", ".") or _GLUED_AFTER.match(folded, end):
                continue
            for canonical, capitalised, listed in hits:
                if not capitalised:
                    out.append(result("PERSON", start, end, 1.0, canonical=canonical, known="1"))
                elif word in (word.capitalize(), word.upper()) and not _glued_to_code(folded, start, end):
                    marks = {"cs": "1", "listed": "1"} if listed else {"cs": "1"}
                    out.append(result("PERSON", start, end, 1.0, canonical=canonical, known="1", **marks))
        return out


_WORD = re.compile(r"\w+")
# A number beside a month or day makes it a date: "3 March", "3rd of March", "March 2025", "Friday 14".
_NUMBER_BEFORE = re.compile(r"\d(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?$", re.IGNORECASE)
_NUMBER_AFTER = re.compile(r"[ \t]+\d")


def _in_a_date(text: str, start: int, end: int) -> bool:
    return bool(_NUMBER_BEFORE.search(text[max(0, start - 12) : start]) or _NUMBER_AFTER.match(text, end))


_GLUED_AFTER = re.compile(r"[.@_]\w")


def _glued_to_code(text: str, start: int, end: int) -> bool:
    """A word glued to a code ("KM-2231", "AB/1234", "x.KM"): part of a reference, not a name."""
    before = text[max(0, start - 2) : start]
    return bool(re.fullmatch(r"\w[\-/]", before) or re.match(r"[\-/]\d", text[end : end + 2]))


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()  # the kept list of English given names and their nicknames (package data)


def listed_nicknames(words: set[str]) -> set[str]:
    """Folded, lower-case nicknames of ``words`` and the given names they are nicknames of."""
    table = _nicknamer()
    out: set[str] = set()
    for word in words:
        if word.isalpha():
            out |= table.nicknames_of(word) | table.canonicals_of(word)
    return {fold(n).casefold() for n in out if n.isalpha()}


# The mode of an entry read loosely (a romanised long vowel): a match that is a word of English is not it.
_LOOSE = "+loose"


def _english(word: str) -> bool:
    w = word.casefold()
    return w in _english_words() or w in common_words()


_PARTICLES = frozenset(
    "van von der den de da di du del della dos das le la bin ibn al el ter ten mac ap ni nic o an mhic ui ua".split()
)
_INITIALS_ONLY = re.compile(r"(?:[A-Z]\.?[ \t]?){2,3}")


def _title_variant(rx: str) -> str:
    # rx is an escaped lower/any-case word regex; build Title-case form from its first literal letter
    for i, ch in enumerate(rx):
        if ch.isalpha():
            return rx[:i] + ch.upper() + rx[i + 1 :]
    return rx


def _upper_variant(rx: str) -> str:
    out = []
    escaped = False
    for ch in rx:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        else:
            out.append(ch.upper() if ch.isalpha() else ch)
    return "".join(out)


_EMAIL_RX = re.compile(EmailRecognizer.PATTERN)
# An attachment's file name: no path, a document's or an image's extension.
_FILENAME_RX = re.compile(
    r"[^/\\\n]+\.(?:pdf|docx?|odt|rtf|txt|pages|jpe?g|png|heic|gif|tiff?|xlsx?|csv|eml|msg|zip)", re.IGNORECASE
)
_OBFUSCATED_EMAIL_RX = re.compile(EmailRecognizer.OBFUSCATED, re.IGNORECASE)
# Compiled here: the re module's own cache overflows with a letter's name patterns, and these are
# tried for every seeded value.
_FULL_DATES_RX = tuple(re.compile(p, re.IGNORECASE) for p in DateOfBirthRecognizer.FULL_DATES)


def classify_value(value: str) -> str:
    """Entity type of a seeded non-name identifier (phone, email, postcode, NHS...)."""
    v = re.sub(PHONE_EXTENSION + "$", "", value.strip()) or value.strip()
    if _EMAIL_RX.fullmatch(v) or _OBFUSCATED_EMAIL_RX.fullmatch(v):
        return "EMAIL"
    if _FILENAME_RX.fullmatch(v):
        return "FILENAME"
    if re.fullmatch(HandleRecognizer.PATTERN, v):
        return "HANDLE"
    digits = re.sub(r"\D", "", v)
    if is_uk_postcode(v):
        return "POSTCODE"
    if len(digits) == 10 and re.fullmatch(r"[\d \-]+", v) and nhs_checksum_ok(v):
        return "NHS"
    if re.fullmatch(r"[+()\d \-.]+", v) and 10 <= len(digits) <= 13 and re.match(r"\(?(?:0|\+)", v):
        return "PHONE"
    if re.fullmatch(r"[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]", v, re.IGNORECASE):
        return "NI"
    if any(rx.fullmatch(v) for rx in _FULL_DATES_RX):
        return "DOB"
    if digits and re.search(r"[A-Za-z]", v) and re.search(r"\d", v) and len(v.split()) > 2:
        return "ADDRESS"
    if digits:
        return "REGISTRATION"
    return "ORG"


def _canonical_names(persons: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Folded name -> the folded full name whose placeholder it shares."""
    canon_of: dict[str, str] = {}
    # A first name seeded alone ("Dear Hope") shares the placeholder of the one full name it
    # opens ("Hope Nwachukwu"), wherever that full name was seeded; a lone surname joins a full
    # name only if seeded after it, as relatives share surnames ("Mrs Dlamini", "Sipho Dlamini").
    fulls = [fold(" ".join(n.split())).casefold() for n, _ in persons if len(n.split()) > 1]
    openers: dict[str, set[str]] = {}
    for full in fulls:
        openers.setdefault(full.split()[0], set()).add(full)
    for name, _ in persons:
        words = [w for w in re.split(r"\s+", name.strip()) if w]
        full = " ".join(words)
        key = fold(full).casefold()
        if len(words) > 1:
            for w in words:
                canon_of.setdefault(fold(w).casefold(), key)
            canon_of[key] = key
        elif len(openers.get(key, ())) == 1:
            canon_of[key] = next(iter(openers[key]))
        else:
            canon_of[key] = canon_of.get(key, key)
    return canon_of


def _other_entries(
    others: Sequence[tuple[str, str]], vocab: Vocabulary, min_length: int
) -> list[tuple[str, str, str, str]]:
    """Phones, numbers, addresses, employers...: typed (from a vault) or classified by their shape."""
    entries: list[tuple[str, str, str, str]] = []
    for typ, value in others:
        value = value.strip()
        if len(value) < max(min_length, 2) or vocab.is_allowed_span(value):
            continue
        entity = typ or classify_value(value)
        if entity == "PHONE" or (entity in ("NHS", "NI", "REGISTRATION", "EMPLOYEE_ID") and _phone_flex(value)):
            rx = _phone_flex(value) if entity in ("PHONE", "NHS") else None
            entries.append((rx or _flex(value), entity, re.sub(r"\W", "", value).casefold(), "ci"))
        else:
            entries.append((_flex(value), entity, " ".join(fold(value).casefold().split()), "ci"))
    return entries
