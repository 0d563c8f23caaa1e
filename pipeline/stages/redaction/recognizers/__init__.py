"""Presidio recognizers for therapists' letters, one per concern and one per file, configured from
``rules/``.

Contract: each recognizer takes the letter text (and, where it needs one, the spaCy ``Doc`` carried
in Presidio's ``NlpArtifacts``, so the model runs once per letter) and returns
``RecognizerResult`` spans typed with our entity names (``PERSON``, ``EMAIL``, ``PHONE``, ``NHS``,
``NI``, ``ID``, ``IP``, ``CARD``, ``BANK_ACCOUNT``, ``POSTCODE``, ``ADDRESS``, ``DOB``, ``EMPLOYER``,
``ORG``, ``LOCATION``, ``JOB_TITLE``, ``URL``, ``REGISTRATION``, ``EMPLOYEE_ID``, plus ``PRONOUN`` and ``TITLE``
which are neutralised, not vaulted). No recognizer logs or raises with a value from the text.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from pipeline.stages.redaction.recognizers.address import StreetAddressRecognizer
from pipeline.stages.redaction.recognizers.catch_all import DigitRunRecognizer
from pipeline.stages.redaction.recognizers.dates import DateOfBirthRecognizer
from pipeline.stages.redaction.recognizers.digits import DigitShapes
from pipeline.stages.redaction.recognizers.email import EmailRecognizer
from pipeline.stages.redaction.recognizers.employer import EmployerRecognizer
from pipeline.stages.redaction.recognizers.formats import FormatRecognizer
from pipeline.stages.redaction.recognizers.jobs import JobTitleRecognizer
from pipeline.stages.redaction.recognizers.location import LocationRecognizer
from pipeline.stages.redaction.recognizers.lower_case import LowerCaseRecognizer
from pipeline.stages.redaction.recognizers.people import PersonRecognizer
from pipeline.stages.redaction.recognizers.phone import PhoneRecognizer
from pipeline.stages.redaction.recognizers.pronouns import PronounRecognizer
from pipeline.stages.redaction.recognizers.references import EmployeeIdRecognizer
from pipeline.stages.redaction.recognizers.registration import RegistrationNumberRecognizer
from pipeline.stages.redaction.recognizers.relatives import RelativeRecognizer
from pipeline.stages.redaction.recognizers.script import ScriptRecognizer
from pipeline.stages.redaction.recognizers.titles import TitleRecognizer
from pipeline.stages.redaction.recognizers.urls import HandleRecognizer, UrlRecognizer
from pipeline.stages.redaction.rules import RedactionRules
from pipeline.stages.redaction.vocabulary import Vocabulary


def build_recognizers(rules: RedactionRules, vocab: Vocabulary) -> list[EntityRecognizer]:
    """The fixed recognizers of the process (known identifiers are added per letter)."""
    return [
        EmailRecognizer(rules.email, vocab),
        UrlRecognizer(rules.url, vocab),
        HandleRecognizer(rules.handle),
        *structured_recognizers(rules, vocab),
        DateOfBirthRecognizer(rules.dob),
        RegistrationNumberRecognizer(rules.registration),
        EmployeeIdRecognizer(rules.employee_id),
        EmployeeIdRecognizer(rules.reference, "REFERENCE"),
        StreetAddressRecognizer(rules.address, vocab),
        PersonRecognizer(rules.person, vocab),
        ScriptRecognizer(),
        RelativeRecognizer(rules.relatives, vocab),
        LowerCaseRecognizer(
            rules.lower_case, rules.relatives, vocab, author_heads=rules.allow.clinical_phrases.author_heads
        ),
        EmployerRecognizer(rules.employer, vocab),
        LocationRecognizer(rules.location, vocab),
        JobTitleRecognizer(rules.job_title, vocab),
        PronounRecognizer(rules.pronouns),
        # Only gendered titles are neutralised; an ambiguous professional one ("Pr") stays as written.
        TitleRecognizer(
            rules.titles, [t for t in rules.ambiguous_titles if t in rules.titles], rules.abbreviated_titles
        ),
    ]


# Recognizers of formats, matched on the text as written (not on capitals lines re-cased for the model).
STRUCTURED = (PhoneRecognizer, FormatRecognizer, DigitRunRecognizer)


def structured_recognizers(rules: RedactionRules, vocab: Vocabulary) -> list[EntityRecognizer]:
    """Phones, postcodes, ID numbers and the digit-run catch-all (``rules/structured.yaml``)."""
    structured = rules.structured
    if structured is None:
        raise ValueError("redaction rules loaded without structured.yaml (use load_redaction_rules)")
    shapes = DigitShapes(structured.catch_all, vocab)
    postcodes = FormatRecognizer("PostcodeRecognizer", structured.postcodes, structured, shapes)
    return [
        PhoneRecognizer(
            structured.phone, shapes, context_window=structured.scores.context_window, region_hints=postcodes.regions_in
        ),
        postcodes,
        FormatRecognizer("IdNumberRecognizer", structured.ids, structured, shapes),
        DigitRunRecognizer(shapes),
    ]
