"""Mechanisms added for round 14's client identifiers and pronouns, on invented people."""

from __future__ import annotations

import pytest

from pipeline.models import KnownIdentifiers

NONE = KnownIdentifiers(names=(), emails=(), other=())


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        # a title after an apposition's comma and before "at <Employer>", whatever the parse made of it
        (
            "I am writing about my client Farida Qorbani (she prefers Fari), a merchandiser at Tellwick "
            "Garments Ltd., who has used her sessions.",
            "merchandiser",
        ),
        ("Ruaraidh's a porter at Dunmore General and he is struggling.", "porter"),
        # a listed occupation with a gender ending of the client's language, with its complement
        ("Pilar is supervisora de enfermería in the Unidad Norte at Hospital Vesta.", "supervisora de enfermería"),
        # "promoted to" a job word of no English, its complement and its English gloss
        ("She was promoted to encarregado de turno (shift\nsupervisor) at Transportes Vardo.", "encarregado de turno"),
        ("She was promoted to encarregado de turno (shift\nsupervisor) at Transportes Vardo.", "shift\nsupervisor"),
        # a grade's code in brackets after the title
        ("Orla is a clinical nurse manager (CNM2) in the ED at Glenmore Hospital.", "CNM2"),
        # the title's own word in the client's language between dashes
        ("Tane is a milk tanker driver – kaiwhakaeke – with Pukerua Dairy.", "kaiwhakaeke"),
        # a numbered ward, in a field and in a sentence
        ("Employer / role  NHS Fenmoor - Staff nurse, Ward 214, Fenmoor Royal Infirmary", "Ward 214"),
        ("She works nights on Ward 7B.", "Ward 7B"),
    ],
)
def test_job_title_slots(redactor, text, gone):
    assert gone not in redactor.redact(text, NONE).text


@pytest.mark.parametrize(
    "text",
    [
        "I am a counsellor at Brookfield Therapy and I see her weekly.",  # the therapist's own post
        "She moved to a new flat in May.",  # "moved to" a word of English is no post
        "The driver - a friend - was not hurt.",  # an English remark between dashes is no gloss
        "We discussed Section 3 of the workbook.",  # no numbered unit of a workplace
    ],
)
def test_what_is_no_client_job_stays(redactor, text):
    out = redactor.redact(text, NONE).text
    for word in ("counsellor", "new flat", "a friend", "Section 3"):
        if word in text:
            assert word in out


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("We continued desensitisation. Elle est très motivée et n'a manqué aucune séance.", "Elle"),
        ("Elle m'a demandé de ne pas envoyer son nom pour l'instant.", " son "),
        ("Alex uses they/them in English (hen in Swedish), and asked me to write.", "hen"),
    ],
)
def test_pronouns_of_the_clients_language(redactor, text, gone):
    out = redactor.redact(text, NONE).text
    assert gone not in out
    assert "[they]" in out or "[their]" in out


@pytest.mark.parametrize(
    "text",
    [
        "Her son is four and her son Tom starts school soon.",
        "My son, a student, visits. The hen party was loud.",
    ],
)
def test_english_son_and_hen_stay(redactor, text):
    out = redactor.redact(text, NONE).text
    assert out.count(" son") == text.count(" son")
    assert ("hen party" in out) == ("hen party" in text)
