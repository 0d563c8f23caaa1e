"""The rules of redaction (``rules/redaction.yaml`` with ``rules/allow.yaml`` as its allow-list and
``rules/structured.yaml`` for phones, postcodes, ID numbers and the digit-run catch-all), loaded into
validated models; a broken file raises ``RulesError`` naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import phonenumbers
from presidio_analyzer import PatternRecognizer, predefined_recognizers
from pydantic import Field, field_validator, model_validator

from pipeline.rules import RuleModel, load_rules


class EmailRules(RuleModel):
    score: float = Field(1.0, ge=0, le=1)


class UrlRules(RuleModel):
    score: float = Field(0.8, ge=0, le=1)
    tlds: list[str]


class ContextRules(RuleModel):
    score: float = Field(0.85, ge=0, le=1)
    context: list[str] = []


class DobRules(RuleModel):
    context: list[str]
    context_window: int = Field(40, ge=1)
    year_min: int = Field(1920, ge=1800, le=2100)
    year_max: int = Field(2012, ge=1800, le=2100)
    score_with_context: float = Field(0.95, ge=0, le=1)
    score_without_context: float = Field(0.8, ge=0, le=1)


class RegistrationRules(RuleModel):
    bodies: list[str]
    context: list[str]
    window: int = Field(40, ge=1)
    score: float = Field(0.85, ge=0, le=1)


class EmployeeIdRules(RuleModel):
    context: list[str]
    score: float = Field(0.9, ge=0, le=1)


class AddressRules(RuleModel):
    street_suffixes: list[str]
    bare_suffixes: list[str]
    unit_words: list[str]
    building_words: list[str]
    street_endings: list[str] = []
    street_ending_exceptions: list[str] = []
    street_words: list[str] = []
    interior_words: list[str] = []
    street_prefixes: list[str] = []
    number_first_prefixes: list[str] = []
    name_particles: list[str] = []
    flat_words: list[str] = []
    not_after_number: list[str] = []
    # Labels of a form field or table cell whose whole value is where the client lives.
    labels: list[str] = []
    score: float = Field(0.85, ge=0, le=1)


class EmployerRules(RuleModel):
    context: list[str]
    company_suffixes: list[str]
    org_tail_words: list[str] = []
    # "the only paediatric audiologist at ...": a role held by one person names that person.
    unique_role_cues: list[str] = []
    # "Local 1199", "IBEW Local 5": a union's numbered branch (capitalised word before its number).
    union_branch_words: list[str] = []
    score: float = Field(0.85, ge=0, le=1)
    org_score: float = Field(0.7, ge=0, le=1)


class JobTitleRules(RuleModel):
    """The client's job title in an occupation slot (``job_title`` in redaction.yaml)."""

    as_verbs: list[str]
    as_nouns: list[str]
    copulas: list[str]
    org_preps: list[str]
    therapist_subjects: list[str]
    of_heads: list[str] = []
    labels: list[str]
    # Labels a therapist's own signature carries ("Role: ..."): read only before the closing; the
    # others ("Occupation:") are the client's wherever they stand (a report attached under a cover note).
    signature_labels: list[str] = []
    job_heads: list[str]
    # Occupations in the client's language ("Krankenpfleger", "enfermera", "ploegleider"), read as the
    # listed ones are; and the last parts of compound job words in German, Dutch and the Nordic
    # languages ("Schicht|leiter", "ploeg|baas", "lager|arbetare"): a longer word ending in one is a job.
    foreign_job_heads: list[str] = []
    foreign_job_endings: list[str] = []
    # Gender endings of the client's language on a listed occupation ("supervisor|a"), and the small
    # words joining a title in that language to its complement ("encargado de turno", "chef de rayon").
    gender_endings: list[str] = []
    title_particles: list[str] = []
    # Words right before "a/an <title> at <Name>" that make it the client's post: a linking verb's short
    # form or a comma or bracket of an apposition ("<Name>'s a porter at <Employer>", ", a buyer at").
    apposition_cues: list[str] = []
    # Units numbered within a workplace ("Ward 118", "Bay 4"): where the client works.
    numbered_units: list[str] = []
    not_jobs: list[str] = []
    clinical_roles: list[str] = []
    closings: list[str] = []
    # Greetings that open a letter: a signature ends at the next one (a further letter quoted below).
    greetings: list[str] = []
    to_verbs: list[str] = []
    # "Employer / role: <Employer> - <title>": a field holding the employer and the job together.
    employer_labels: list[str] = []
    paired_role_labels: list[str] = []
    # "the night porter desk", "a shift supervisor post": nouns of a post a job title may qualify.
    post_nouns: list[str] = []
    # Words before "as" that make it no job slot ("such as", "known as").
    not_as_cues: list[str] = []
    # Units and wards of a workplace that place a job ("Staff nurse, haemodialysis unit", "a nurse on
    # the stroke ward"): with the title they single the client out.
    unit_nouns: list[str] = []
    # A job said by its verb and the thing worked ("drives a milk tanker", "works the checkouts"):
    # lemmas of the verbs, and the work objects (lemmas) that make the phrase a job.
    work_verbs: list[str] = []
    work_objects: list[str] = []
    score: float = Field(0.8, ge=0, le=1)
    label_score: float = Field(0.9, ge=0, le=1)

    @field_validator("as_verbs", "as_nouns", "copulas", "org_preps", "therapist_subjects", "labels", "job_heads")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must list at least one word")
        return value


class LocationRules(RuleModel):
    labels: list[str]
    score: float = Field(0.6, ge=0, le=1)
    # Nouns of a workplace that a capitalised place name before them locates ("the <Town> depot").
    workplaces: list[str] = []
    # Parts of a building ("floor", "wing", "ward"): "on the <Name> floor" names where the client works.
    workplace_parts: list[str] = []
    # Legal forms that end a company's name ("GmbH", "NV", "Ltd"): "<Company> GmbH in <Place>" names the
    # place the client works, though a line wrap parts it from "in".
    legal_forms: list[str] = []
    # Where the client lives ("lives in", "based in"): "<verb> <preposition>", an adverb or two may stand
    # between ("lives over in"), then perhaps "the". A capitalised name after it is a place even when
    # it is also a word ("the <Waterfront>"); so is a word typed in lower case that is no word of English.
    residence_cues: list[str] = []
    # Where a message was written ("sent from", "writing from"): only a lower-case word that is no word
    # of English is a place here ("Sent from Outlook" names a program).
    sender_cues: list[str] = []
    # Adverbs that may stand between a cue's verb and its preposition ("lives over in", "based up in").
    cue_adverbs: list[str] = []


class PersonRules(RuleModel):
    entity_score: float = Field(0.85, ge=0, le=1)
    trigger_score: float = Field(0.9, ge=0, le=1)
    propn_score: float = Field(0.65, ge=0, le=1)
    triggers: list[list[str]]
    ambiguous_names: list[str]
    name_verbs: list[str]
    human_verbs: list[str] = []
    # Modal verbs: a seeded ordinary-word name in lower case before one, or before a human verb, is
    # the subject ("will can do tuesdays"): the name, not the word.
    subject_modals: list[str] = []
    # Particles of a surname that go into its placeholder ("Ní", "Mac Giolla"); case-sensitive.
    surname_particles: list[str] = []
    # Slots where a first name typed in lower case is still a name ("can <name> have 4 more"): regexes
    # (case-insensitive) with a group ``name`` (and an optional ``initial``); a word of English is not one.
    lowercase_slots: list[str] = []
    # Short forms people make of a known name: cut after at least ``short_form_min`` letters ("Facu"),
    # with one of ``short_form_endings`` ("Gracie", "Eszti"), or a name of at least
    # ``tail_form_min_name`` letters cut to its last ``short_form_min`` letters or more ("Seun").
    short_form_min: int = Field(4, ge=3)
    short_form_endings: list[str] = []
    tail_form_min_name: int = Field(7, ge=5)
    # Long vowels of a romanised name, written with a macron, doubled or with a mark letter
    # ("Satō", "Satou", "Satoo", "Satoh"): vowel -> the letters that may follow it.
    long_vowel_marks: dict[str, list[str]] = {}


class RelativeRules(RuleModel):
    nouns: list[str]
    score: float = Field(0.9, ge=0, le=1)


class LowerCaseRules(RuleModel):
    """The fail-closed catch-all for a message typed in lower case (``lower_case`` in redaction.yaml)."""

    entity: str = "PERSON"
    place_entity: str = "LOCATION"
    org_entity: str = "EMPLOYER"
    score: float = Field(0.5, ge=0, le=1)
    # lower-case sentence starts needed, and how many times the capitalised ones they must outnumber
    min_lower_starts: int = Field(1, ge=1)
    ratio: float = Field(2.0, ge=1)
    # informal spellings and chat short forms of English words ("thru", "pls", "wks"): ordinary
    informal: list[str] = []
    # an unknown word right after one of these is typed as a place ("in <x>", "from <x>")
    place_before: list[str] = []
    # the last word of a place's or an organisation's name typed in lower case ("... county", "... freight")
    place_tails: list[str] = []
    org_tails: list[str] = []
    # the words before such a name ("works at", "at", "for", "in", "(")
    name_tail_cues: list[str] = []
    # months and days, never a name after a slot
    calendar: list[str] = []


class RoleReplacement(RuleModel):
    possessive: str
    other: str


class PronounRules(RuleModel):
    fixed: dict[str, str]
    by_role: dict[str, RoleReplacement]
    needs_pronoun_position: list[str] = []
    # The client's pronouns in another language inside English text (see ``pronouns.foreign``).
    foreign: dict[str, str] = {}
    foreign_languages: list[str] = []
    pronoun_nouns: list[str] = []


class ClinicalPhraseRules(RuleModel):
    """Named clinical things kept for the CSM (see ``clinical_phrases`` in ``rules/allow.yaml``)."""

    heads: list[str] = []
    named_heads: list[str] = []
    author_heads: list[str] = []
    joiners: list[str] = []
    qualifiers: list[str] = []
    max_authors: int = Field(default=2, ge=0, le=4)
    acronym: str = r"(?!x)x"
    score_acronym: str = r"(?!x)x"
    score_cue: str = r"(?!x)x"
    crisis_numbers: list[str] = []
    # Last words of a law's or an agreement's name ("<...> Protection Act", "<...> Associate
    # Agreement"): kept when every word before them is capitalised ordinary English.
    legal_heads: list[str] = []
    # Heads a possessive author opens with a clinical word between ("<Name>'s cognitive model of ...").
    possessive_heads: list[str] = []
    # Heads only a known clinical eponym opens in the possessive ("<Eponym>'s schema therapy").
    eponym_heads: list[str] = []
    # Surnames and places clinical things are named after (instruments, models, protocols); one
    # word each, capitalised. Kept only in a clinical context and never where they recur as a person.
    eponyms: list[str] = []
    # Words that name who takes part in a therapy ("couples", "family"): names in brackets after it
    # are likelier the clients than its authors, so they are never kept as authors.
    participant_words: list[str] = []
    # Named holidays and religious festivals ("Eid", "Diwali", "Hanukkah"): kept with the capitalised
    # words after them only before a ``holiday_heads`` noun ("the <Holiday> <Word> holiday").
    holidays: list[str] = []
    holiday_heads: list[str] = []
    # A medicine's dose: a formulation or timing abbreviation ("XL", "HS") next to a number and a unit.
    dose_units: list[str] = []
    dose_abbreviations: list[str] = []

    @field_validator("dose_abbreviations")
    @classmethod
    def _abbreviations(cls, value: list[str]) -> list[str]:
        for abbr in value:
            if not re.fullmatch(r"[A-Z]{1,3}", abbr):
                raise ValueError(f"dose_abbreviations: {abbr!r} is not one to three capitals")
        return value

    @field_validator("eponyms")
    @classmethod
    def _eponyms(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[A-Z][A-Za-z]*[a-z](?:-[A-Z][a-z]+)?", name):
                raise ValueError(f"eponyms: {name!r} is not one capitalised word")
        folded = [n.casefold() for n in value]
        duplicates = sorted({n for n in folded if folded.count(n) > 1})
        if duplicates:
            raise ValueError(f"eponyms: listed twice: {', '.join(duplicates)}")
        return value

    @field_validator("acronym", "score_acronym", "score_cue")
    @classmethod
    def _compiles(cls, value: str) -> str:
        _compile(value, "pattern")
        return value

    @field_validator("crisis_numbers")
    @classmethod
    def _numbers(cls, value: list[str]) -> list[str]:
        return _compile_each(value, "crisis_numbers")

    @model_validator(mode="after")
    def _subsets(self) -> ClinicalPhraseRules:
        heads = {h.casefold() for h in self.heads}
        for key, sub in (("named_heads", self.named_heads), ("author_heads", self.author_heads)):
            unknown = sorted({h.casefold() for h in sub} - heads)
            if unknown:
                raise ValueError(f"{key}: not in heads: {', '.join(unknown)}")
        return self


class AllowRules(RuleModel):
    terms: list[str] = []
    words: list[str] = []
    clinical_phrases: ClinicalPhraseRules = ClinicalPhraseRules()


# -- structured identifiers (rules/structured.yaml) ------------------------------------------------
class StructuredScores(RuleModel):
    validated: float = Field(0.95, ge=0, le=1)
    context: float = Field(0.9, ge=0, le=1)
    standalone: float = Field(0.85, ge=0, le=1)
    shape: float = Field(0.55, ge=0, le=1)
    context_window: int = Field(40, ge=1)


class PhoneRules(RuleModel):
    regions: list[str]
    default_hints: list[str] = []
    min_digits: int = Field(7, ge=4, le=15)
    score: float = Field(0.85, ge=0, le=1)
    score_elsewhere: float = Field(0.6, ge=0, le=1)
    context: list[str] = []
    tld_regions: dict[str, str] = {}

    @field_validator("regions", "default_hints")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - phonenumbers.SUPPORTED_REGIONS)
        if unknown:
            raise ValueError(f"not a phonenumbers region: {', '.join(unknown)}")
        return value

    @field_validator("tld_regions")
    @classmethod
    def _known_tld_regions(cls, value: dict[str, str]) -> dict[str, str]:
        cls._known_regions(list(value.values()))
        return value


class IdFormat(RuleModel):
    """One kind of structured identifier: Presidio's predefined recognizer and/or our own patterns."""

    name: str
    entity: str
    # The type when only the shape matched (no checksum, no context, not standalone).
    shape_entity: str = "ID"
    presidio: str | None = None
    # Names of the Presidio recognizer's patterns not used (too slow or too broad; the catch-all
    # covers their shape).
    skip_patterns: list[str] = []
    patterns: list[str] = []
    ignore_case: bool = False
    context: list[str] = []
    ignore_context: list[str] = []
    # The shape alone names the kind (a UK postcode, an AHV number): no context needed, no exemptions.
    standalone: bool = False
    # Countries whose format this is: a standalone hit hints the letter's region (for phone numbers).
    regions: list[str] = []

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        return PhoneRules._known_regions(value)

    @field_validator("presidio")
    @classmethod
    def _presidio_class(cls, value: str | None) -> str | None:
        if value is not None:
            found = getattr(predefined_recognizers, value, None)
            if not (isinstance(found, type) and issubclass(found, PatternRecognizer)):
                raise ValueError(f"not a Presidio predefined pattern recognizer: {value}")
        return value

    @model_validator(mode="after")
    def _has_patterns(self) -> IdFormat:
        if not self.presidio and not self.patterns:
            raise ValueError(f"{self.name}: needs `presidio` or `patterns`")
        if self.skip_patterns:
            recognizer = getattr(predefined_recognizers, self.presidio or "", None)
            names = {p.name for p in getattr(recognizer, "PATTERNS", [])}
            unknown = sorted(set(self.skip_patterns) - names)
            if unknown:
                raise ValueError(f"{self.name}: not a pattern of {self.presidio}: {', '.join(unknown)}")
        return self


class CatchAllRules(RuleModel):
    entity: str = "ID"
    score: float = Field(0.5, ge=0, le=1)
    min_digits: int = Field(4, ge=2)
    mixed_min_length: int = Field(5, ge=2)
    mixed_min_digits: int = Field(2, ge=1)
    spaced_first_min: int = Field(2, ge=1)
    spaced_next_min: int = Field(3, ge=1)
    year: str = r"(?:19|20)\d{2}"
    exempt: list[str]
    units: list[str] = []
    before: list[str] = []
    currencies: list[str] = []

    @field_validator("exempt")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return _compile_each(value, "exempt")

    @field_validator("year")
    @classmethod
    def _year_compiles(cls, value: str) -> str:
        _compile(value, "year")
        return value


class StructuredRules(RuleModel):
    scores: StructuredScores
    phone: PhoneRules
    postcodes: list[IdFormat]
    ids: list[IdFormat]
    us_states: list[str] = []
    catch_all: CatchAllRules

    @model_validator(mode="after")
    def _patterns_compile(self) -> StructuredRules:
        for key, formats in (("postcodes", self.postcodes), ("ids", self.ids)):
            for fmt in formats:
                for i, pattern in enumerate(fmt.patterns):
                    _compile(self.expand(pattern), f"{key}.{fmt.name}.patterns[{i}]")
        return self

    def expand(self, pattern: str) -> str:
        """A pattern with its named lists filled in (``{us_states}``)."""
        states = "|".join(sorted((re.escape(s) for s in self.us_states), key=lambda s: (-len(s), s)))
        return pattern.replace("{us_states}", states or "(?!x)x")


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where}: not a valid regular expression ({exc.msg})") from exc


def _compile_each(patterns: list[str], key: str) -> list[str]:
    """Every pattern of a list compiles; an error names the list and the item (``exempt[2]``)."""
    for i, pattern in enumerate(patterns):
        _compile(pattern, f"{key}[{i}]")
    return patterns


class RedactionRules(RuleModel):
    score_threshold: float = Field(0.45, ge=0, le=1)
    entity_priority: list[str]
    verify_types: list[str]
    own_domains: list[str] = []
    email: EmailRules
    url: UrlRules
    handle: ContextRules
    dob: DobRules
    registration: RegistrationRules
    employee_id: EmployeeIdRules
    reference: EmployeeIdRules
    address: AddressRules
    employer: EmployerRules
    location: LocationRules
    job_title: JobTitleRules
    person: PersonRules
    relatives: RelativeRules
    lower_case: LowerCaseRules
    pronouns: PronounRules
    titles: list[str]
    ambiguous_titles: list[str] = []
    # Short forms also written in lower case with their full stop before a name ("sig. Rossi").
    abbreviated_titles: list[str] = []
    # Titles of a profession, degree or office before a name that say nothing of gender, so are not
    # neutralised ("Dr", "Prof", "Ing", "Lic"); with ``titles`` they are :attr:`name_titles`.
    professional_titles: list[str] = []
    allow: AllowRules = AllowRules()
    # Filled from structured.yaml by load_redaction_rules.
    structured: StructuredRules | None = None

    @field_validator("titles", "professional_titles")
    @classmethod
    def _one_word_each(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not re.fullmatch(r"[^\W\d_]+(?:\.[^\W\d_]+)?", t)]
        if bad:
            raise ValueError(f"not one word (a title is written without its full stop): {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _title_lists(self) -> RedactionRules:
        gendered = {t.casefold() for t in self.titles}
        both = sorted(gendered & {t.casefold() for t in self.professional_titles})
        if both:
            raise ValueError(f"professional_titles: also in titles (gendered): {', '.join(both)}")
        every = gendered | {t.casefold() for t in self.professional_titles}
        for key, sub, within, where in (
            ("ambiguous_titles", self.ambiguous_titles, every, "titles or professional_titles"),
            ("abbreviated_titles", self.abbreviated_titles, gendered, "titles"),
        ):
            unknown = sorted({t.casefold() for t in sub} - within)
            if unknown:
                raise ValueError(f"{key}: not in {where}: {', '.join(unknown)}")
        return self

    @property
    def name_titles(self) -> tuple[str, ...]:
        """Every title that stands before a name and is never part of it, gendered or not."""
        return (*self.titles, *self.professional_titles)


REDACTION_FILE = "redaction.yaml"
ALLOW_FILE = "allow.yaml"
STRUCTURED_FILE = "structured.yaml"


def load_redaction_rules(rules_dir: Path) -> RedactionRules:
    """``rules_dir/redaction.yaml`` with ``rules_dir/allow.yaml`` as its allow-list and
    ``rules_dir/structured.yaml`` for structured identifiers, validated."""
    rules = load_rules(Path(rules_dir) / REDACTION_FILE, RedactionRules)
    allow = load_rules(Path(rules_dir) / ALLOW_FILE, AllowRules)
    structured = load_rules(Path(rules_dir) / STRUCTURED_FILE, StructuredRules)
    return rules.model_copy(update={"allow": allow, "structured": structured})
