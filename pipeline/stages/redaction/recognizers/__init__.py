"""Presidio recognizers for therapists' letters, one per concern and one per file, configured from
``rules/``.

Contract: each recognizer takes the letter text (and, where it needs one, the spaCy ``Doc`` carried
in Presidio's ``NlpArtifacts``, so the model runs once per letter) and returns
``RecognizerResult`` spans typed with our entity names (``PERSON``, ``EMAIL``, ``PHONE``, ``NHS``,
``NI``, ``POSTCODE``, ``ADDRESS``, ``DOB``, ``EMPLOYER``, ``ORG``, ``LOCATION``, ``URL``,
``REGISTRATION``, ``EMPLOYEE_ID``, plus ``PRONOUN`` and ``TITLE`` which are neutralised, not
vaulted). No recognizer logs or raises with a value from the text.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from pipeline.stages.redaction.recognizers.address import StreetAddressRecognizer, UkPostcodeRecognizer
from pipeline.stages.redaction.recognizers.dates import DateOfBirthRecognizer
from pipeline.stages.redaction.recognizers.email import EmailRecognizer
from pipeline.stages.redaction.recognizers.employer import EmployerRecognizer
from pipeline.stages.redaction.recognizers.location import LocationRecognizer
from pipeline.stages.redaction.recognizers.people import PersonRecognizer
from pipeline.stages.redaction.recognizers.phone import UkPhoneRecognizer
from pipeline.stages.redaction.recognizers.pronouns import PronounRecognizer
from pipeline.stages.redaction.recognizers.references import EmployeeIdRecognizer
from pipeline.stages.redaction.recognizers.registration import RegistrationNumberRecognizer
from pipeline.stages.redaction.recognizers.relatives import RelativeRecognizer
from pipeline.stages.redaction.recognizers.titles import TitleRecognizer
from pipeline.stages.redaction.recognizers.uk_ids import NhsNumberRecognizer, NiNumberRecognizer
from pipeline.stages.redaction.recognizers.urls import HandleRecognizer, UrlRecognizer
from pipeline.stages.redaction.rules import RedactionRules
from pipeline.stages.redaction.vocabulary import Vocabulary


def build_recognizers(rules: RedactionRules, vocab: Vocabulary) -> list[EntityRecognizer]:
    """The fixed recognizers of the process (known identifiers are added per letter)."""
    return [
        EmailRecognizer(rules.email, vocab),
        UrlRecognizer(rules.url, vocab),
        HandleRecognizer(rules.handle),
        UkPhoneRecognizer(rules.phone),
        NhsNumberRecognizer(rules.nhs),
        NiNumberRecognizer(rules.ni),
        UkPostcodeRecognizer(rules.postcode),
        DateOfBirthRecognizer(rules.dob),
        RegistrationNumberRecognizer(rules.registration),
        EmployeeIdRecognizer(rules.employee_id),
        EmployeeIdRecognizer(rules.reference, "REFERENCE"),
        StreetAddressRecognizer(rules.address, vocab),
        PersonRecognizer(rules.person, vocab),
        RelativeRecognizer(rules.relatives, vocab),
        EmployerRecognizer(rules.employer, vocab),
        LocationRecognizer(rules.location, vocab),
        PronounRecognizer(rules.pronouns),
        TitleRecognizer(rules.titles, rules.ambiguous_titles),
    ]
