"""General mechanisms for places, addresses and workplaces written the way hurried letters write them,
each tested on invented people and places: an all-lower-case numbered street ("<number> <name> <street
suffix>") whose name is no word of English is an address, and the words between its last comma and a
postcode are its town; a workplace noun before a number ("Terminal 4", "Depot 12") names a site; a
workplace noun after a word of no English in lower case ("<place> junction") locates the client."""

from __future__ import annotations

import pytest

from pipeline.models import KnownIdentifiers


def _out(redactor, text: str) -> str:
    return redactor.redact(text, KnownIdentifiers()).text


# -- a lower-case street address ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        (
            "writing re tam quarrie, 14 glenvarroch crescent, drumlassie kw7 3zq\n\nhes been low",
            ["glenvarroch", "drumlassie"],
        ),
        ("re ailsa brogue dob 3/4/91, 7 pellowmire view, north quenby yo62 8tt\n", ["pellowmire", "quenby"]),
    ],
)
def test_a_lower_case_numbered_street_and_its_town_before_a_postcode_are_an_address(redactor, text, gone):
    out = _out(redactor, text)
    for word in gone:
        assert word not in out
    assert "[ADDRESS_" in out


@pytest.mark.parametrize(
    "text",
    [
        "her phq9 was 17 at the first review, now 11 on the last view of it.",
        "we agreed 6 more weekly sessions at the green, then a review.",
        "he walked 3 miles along the park road most days.",
    ],
)
def test_numbers_before_english_words_and_a_street_suffix_are_no_address(redactor, text):
    assert "[ADDRESS_" not in _out(redactor, text)


# -- a workplace noun and its number -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Occupation: Forklift driver, Terminal 7 (UNITE branch 4)", "7"),
        ("She has worked at Depot 12 since the merger.", "12"),
        ("He has run Plant 3 for a decade.", "3"),
    ],
)
def test_a_workplace_noun_before_its_number_names_a_site(redactor, text, gone):
    out = _out(redactor, text)
    assert gone not in out.replace("[", " ").split()


# -- a workplace in lower case -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("hes a signaller, works the box at drumquhill junction on nights", "drumquhill"),
        ("she drives out of the pellowmire depot on earlies", "pellowmire"),
    ],
)
def test_a_workplace_noun_after_a_word_of_no_english_locates_the_client(redactor, text, gone):
    assert gone not in _out(redactor, text)


@pytest.mark.parametrize(
    "text",
    [
        "he waits at the bus depot every morning and feels panicky.",
        "they met at the railway junction near the old mill yard.",
    ],
)
def test_a_workplace_noun_after_english_words_in_lower_case_stays(redactor, text):
    out = _out(redactor, text)
    assert "[LOCATION_" not in out


# -- a guide is a job -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Please approve 6 more sessions for Tia Rangihuna (kayak guide, Blue Fjord Tours Ltd) - fortnightly.",
        "Tia Rangihuna is a mountain guide for Alpine Ways and has been low since the avalanche.",
    ],
)
def test_a_guide_in_a_job_slot_is_a_job_title(redactor, text):
    out = _out(redactor, text)
    assert "guide" not in out
    assert "[JOB_TITLE_" in out


def test_a_written_guide_stays(redactor):
    text = "I gave her a self-help guide on sleep; the guide to CBT was useful."
    assert _out(redactor, text).count("guide") == 2


# -- a job said by its verb and what it works ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Tia Rangihuna is 52 and drives a milk tanker for Blue Fjord Dairy, and farms with her husband.", "tanker"),
        ("Since the divorce Jo Bell works the checkouts at a supermarket on weekends.", "checkouts"),
        ("She runs the tills on Saturdays and has been anxious.", "tills"),
    ],
)
def test_a_job_said_by_its_verb_and_work_object_is_a_job_title(redactor, text, gone):
    out = _out(redactor, text)
    assert gone not in out
    assert "[JOB_TITLE_" in out


@pytest.mark.parametrize(
    "text",
    [
        "I drive a bus to work on Tuesdays.",
        "He drives a car and takes the bus to his sessions.",
        "He was afraid to drive a truck after the crash.",
    ],
)
def test_a_verb_and_object_that_is_no_job_of_the_client_stays(redactor, text):
    assert "[JOB_TITLE_" not in _out(redactor, text)
