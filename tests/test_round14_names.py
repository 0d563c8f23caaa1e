"""Mechanisms added for the client names and places round 14 left, on invented people: a name in a
capitals sentence of a mixed line, a bracketed relation, a surname that is a month, a full given name
joined by a particle to a known short form, a hurried lower-case full name after "a client ...," and a
named part of the building where the client works."""

from __future__ import annotations

import pytest

from pipeline.models import Address, KnownIdentifiers, Letter, ParsedMail
from pipeline.stages.identifiers import seed_identifiers
from pipeline.stages.redaction.vocabulary import analysis_casing

NONE = KnownIdentifiers(names=(), emails=(), other=())


def _mail(subject: str = "Sessions") -> ParsedMail:
    return ParsedMail(
        subject=subject,
        sender=Address(name="", email="office@clinic.example"),
        to=(Address(name="Plumm", email="hello@heyplumm.com"),),
    )


def _names(text: str, subject: str = "Sessions") -> set[str]:
    return set(seed_identifiers(_mail(subject), Letter(text=text)).names)


# --- capitals re-cased by sentence -------------------------------------------------------------


def test_a_capitals_sentence_is_recased_on_a_mixed_line(redactor):
    line = "NO RISK TO THE BABY - SHE IS THRIVING AND FIACHRA IS VERY HANDS ON. she knows who to call.\n"
    recased = analysis_casing(line, redactor.vocab)
    assert "Fiachra" in recased and len(recased) == len(line)
    assert recased.endswith("she knows who to call.\n")  # the lower-case sentence as typed


@pytest.mark.parametrize(
    "text",
    [
        "She scored 14 on the PHQ-9 and 12 on the GAD-7. We use CBT and EMDR.\n",
        "Ideally starting the week of the 23rd. Thank you.\n",
    ],
)
def test_prose_with_acronyms_is_not_recased(redactor, text):
    assert analysis_casing(text, redactor.vocab) == text


def test_a_name_in_a_capitals_sentence_goes(redactor):
    text = "NO RISK TO THE BABY - SHE IS THRIVING AND FIACHRA (PARTNER) IS VERY HANDS ON. she knows who to call."
    assert "FIACHRA" not in redactor.redact(text, NONE).text


@pytest.mark.parametrize("text", ["AND FIACHRA (PARTNER) IS VERY HANDS ON.", "Fiachra (Husband) helps."])
def test_a_bracketed_relation_is_no_name_but_names_the_one_before(text):
    seeded = {n.casefold() for n in _names(text)}
    assert "fiachra" in seeded
    assert not seeded & {"partner", "husband"}


# --- a surname that is a month -------------------------------------------------------------------


def test_a_month_after_a_given_name_or_a_title_is_a_surname():
    assert {"Bram March", "March"} <= _names("Hello.", subject="Subject: Bram March - additional sessions")
    assert "March" in _names("Mr. March is a crane operator.")
    assert "August" in _names("I have seen Ms August twice.")


def test_a_month_alone_is_no_name():
    assert not {"March", "August"} & _names("In early March he fell. Re: March update. We met in August.")


def test_a_month_surname_goes_but_its_dates_stay(redactor):
    known = seed_identifiers(_mail("Re: Bram March"), Letter(text="Mr. March fell on 3 March and again in March 2025."))
    out = redactor.redact("Mr. March fell on 3 March and again in March 2025.", known).text
    assert "Mr. March" not in out and out.count("March") == 2


# --- a given name joined by a particle to a known name --------------------------------------------


@pytest.mark.parametrize(
    ("text", "given"),
    [
        ("My client Pili Rocío.\n\nPili Rocío (Pilar del Rocío Ortuño Vela) is a nurse.", "Pilar"),
        # "maria" is a word of English, "María" as written none
        ("My client Mari Rocío.\n\nMari Rocío (María del Rocío Ortuño Vela) is a nurse.", "María"),
    ],
)
def test_a_particle_run_with_a_known_name_names_its_other_words(text, given):
    assert {given, "Ortuño", "Vela"} <= _names(text)


def test_a_noun_of_english_before_the_particle_opens_a_place():
    assert "Hospital" not in _names("My client Rocío Vela.\n\nShe works at Hospital del Rocío.")


def test_a_particle_run_without_a_known_name_seeds_nothing():
    assert "Pilar" not in _names("We read Pilar del Rocío Ortuño Vela in supervision.")


def test_the_full_given_name_goes(redactor):
    text = "My client Pili Rocío.\n\nPili Rocío (Pilar del Rocío Ortuño Vela) is a nurse."
    known = seed_identifiers(_mail(), Letter(text=text))
    out = redactor.redact(text, known).text
    assert "Pilar" not in out and "Vela" not in out


# --- a hurried lower-case full name ---------------------------------------------------------------


def test_a_lower_case_full_name_after_a_client_and_a_comma_is_seeded():
    assert "Will Gathercole" in _names("ive got a client through yous, will gathercole, hes used his 4.")


def test_a_given_name_that_is_a_word_after_my_client_is_seeded_with_its_surname():
    assert "Bill Gathercole" in _names("just a quick update on my client bill gathercole (he works nights).")
    assert not {"Will", "Will Attend"} & _names("my client will attend on tuesdays.")


@pytest.mark.parametrize(
    "text",
    [
        "ive got a client through yous, really lovely, hes used his 4.",
        "a client of mine, lovely guy, needs more.",
    ],
)
def test_a_lower_case_remark_after_a_client_is_no_name(text):
    assert _names(text) == set()


def test_a_known_ordinary_word_name_as_the_subject_goes(redactor):
    known = KnownIdentifiers(names=("Will Gathercole", "Will", "Gathercole"), emails=(), other=())
    out = redactor.redact("i will send a letter. will can do tuesdays. will gathercole is ok.", known).text
    assert "i will send" in out
    assert "will can" not in out and "gathercole" not in out


# --- a named part of the workplace ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("He is a team leader at Ikhaya Connect, on the uMthatha floor.", "uMthatha"),
        ("She works in the Brannagh wing at the plant.", "Brannagh"),
    ],
)
def test_a_named_floor_or_wing_goes(redactor, text, gone):
    out = redactor.redact(text, NONE).text
    assert gone not in out
    assert ("floor" in out) == ("floor" in text) and ("wing" in out) == ("wing" in text)


def test_a_floor_of_plain_words_stays(redactor):
    assert "on the top floor" in redactor.redact("She works on the top floor.", NONE).text
