"""Mechanisms added for round 11's identifier misses, on invented people and places."""

from __future__ import annotations

from pipeline.models import Address, KnownIdentifiers, Letter, ParsedMail
from pipeline.stages.identifiers import seed_identifiers

NONE = KnownIdentifiers(names=(), emails=(), other=())


def _seeded(text: str) -> set[str]:
    mail = ParsedMail(
        subject="Request",
        sender=Address(name="", email="office@clinic.example"),
        to=(Address(name="Plumm", email="hello@heyplumm.com"),),
    )
    return set(seed_identifiers(mail, Letter(text=text)).names)


def test_nickname_for_a_circle_of_people_and_the_name_before_it():
    names = _seeded('Thibaud ("Bo-Tibo" to everyone at the yard) is back at work.\n')
    assert {"Thibaud", "Bo-Tibo"} <= names
    assert "Zuri Okonkwo" in _seeded("My client Amaka Okonkwo (Zuri Okonkwo for friends) is well.\n")
    assert "Bibi" in _seeded('I see Marguerite Vellacott ("Bibi" to\nher family) weekly.\n')


def test_ordinary_bracket_is_no_nickname():
    assert "Cover" not in _seeded("She is off work (Cover for colleagues is arranged) this week.\n")


def test_given_name_before_title_and_surname_in_brackets():
    assert "Oisin Tregarthen" in _seeded("2. Oisin (Mr Tregarthen, DOB 01/02/1990) is a joiner.\n")


def test_accented_short_name_is_no_pronoun(redactor):
    known = seed_identifiers(
        ParsedMail(subject="Request", sender=Address(name="", email="office@clinic.example")),
        Letter(text="My client Joaquim Venturelli (Zé Venturelli for friends) is well.\n"),
    )
    assert "Zé" in known.names
    out = redactor.redact("Zé says the week went well.", known).text
    assert "Zé" not in out
    # The neo-pronoun itself is still neutralised, never taken for a name.
    assert "[they]" in redactor.redact("Ze says ze is tired.", NONE).text


def test_unbracketed_initials_of_an_organisation(redactor):
    text = "She works at Quillmoor Valley Savings Union as a clerk. She returned to QVSU in May."
    out = redactor.redact(text, NONE).text
    assert "QVSU" not in out and "Quillmoor" not in out
    # A kept clinical short form is not an organisation's initials.
    assert "PHQ" in redactor.redact("Her PHQ-9 fell. She works at Quillmoor Valley Savings Union.", NONE).text


def test_bilingual_address_label_and_name_number_postcode_town(redactor):
    out = redactor.redact("Bydliště / Home address Vrbová 17, 140 00 Praha 4\nPHQ-9 12\n", NONE).text
    assert "Vrbová" not in out and "17" not in out
    out = redactor.redact("She lives at Kwiatowa 9, 00-238 Warszawa with her sister.", NONE).text
    assert "Kwiatowa" not in out
    kept = redactor.redact("We met on March 31, 2024 at the clinic.", NONE).text
    assert "March 31, 2024" in kept


def test_job_gloss_and_unit_member(redactor):
    out = redactor.redact("Marek is a train driver (lokomotivfører) with Tarnhollow Rail.", NONE).text
    assert "lokomotivfører" not in out and "train driver" not in out
    out = redactor.redact("Aiko is a senior cabin crew member with Skyward Air.", NONE).text
    assert "cabin crew" not in out
    assert "member of the choir" in redactor.redact("Her son is a member of the choir.", NONE).text
