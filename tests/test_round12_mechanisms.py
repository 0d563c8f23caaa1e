"""General mechanisms behind round 12's remaining misses, each tested on invented people and
organisations: an organisation's short form in brackets is the same organisation wherever it recurs
(a clinical short form stays); the answer of a form field ("Yes") is no name; a practice's name in a
signature gives no English word of it to the names; titles before a name are one validated list in
``rules/redaction.yaml`` (with international forms), read by seeding and by the sections stage."""

from __future__ import annotations

import pytest

from pipeline.models import Address, KnownIdentifiers, Letter, ParsedMail
from pipeline.stages.identifiers import seed_identifiers


def _seeded(text: str) -> set[str]:
    mail = ParsedMail(
        subject="Additional sessions",
        sender=Address(name="Ines Albrecht", email="ines@larchwood-therapy.example"),
        to=(Address(name="Plumm", email="hello@heyplumm.com"),),
    )
    return set(seed_identifiers(mail, Letter(text=text)).names)


# -- an organisation's short form ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "form"),
    [
        (
            "Jo Bell works at Harbourline Freight Services (HFS) as a driver. HFS has offered a phased return.",
            "HFS",
        ),
        (
            "He is employed by Quillmoor Power & Light (QP&L). He drives a QP&L truck on nights.",
            "QP&L",
        ),
        (
            "She works for Tallowby Engineering Ltd (TEL) in the north. TEL has been supportive.",
            "TEL",
        ),
    ],
)
def test_an_organisations_short_form_is_the_same_organisation_wherever_it_recurs(redactor, text, form):
    out = redactor.redact(text, KnownIdentifiers()).text
    assert form not in out
    placeholders = {p for p in out.split() if p.strip("(),.").startswith("[EMPLOYER_")}
    assert {p.strip("(),.") for p in placeholders} == {"[EMPLOYER_1]"}
    assert out.count("[EMPLOYER_1]") == 3


def test_a_clinical_short_form_in_brackets_stays(redactor):
    text = "We began Cognitive Processing Therapy (CPT) in May; CPT has helped her a great deal."
    out = redactor.redact(text, KnownIdentifiers()).text
    assert "Cognitive Processing Therapy (CPT)" in out
    assert "CPT has helped" in out
