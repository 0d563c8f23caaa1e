"""General mechanisms for identifiers said around a cue or an aside, tested on invented people and places:
a place after a residence cue ("lives over in the <Place>"), capitalised even when it is a word of English;
a lower-case word of no English after a residence or sender cue ("sent from <place>"); a name in a
heading typed in capitals after a title ("SESSIONS: MISS <NAME>"), read as a name though it is a word
too; a name parted from its verb by an aside ("<Name> – <nickname>, as she prefers – has ..."); and a
job said after "and is" in a clause whose subject is the client ("who lives in <town> and is the <job>
at <Employer>")."""

from __future__ import annotations

import pytest

from pipeline.models import KnownIdentifiers


def _out(redactor, text: str) -> str:
    return redactor.redact(text, KnownIdentifiers()).text


# -- a place after a cue --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        # a place's name that is also a word of English, capitalised after the cue
        ("Orla is a clerk at the council and lives over in the Heath. She came in May.", "Heath"),
        ("He is based in Quenby Vale these days.", "Quenby"),
        # a lower-case word of no English in a letter written with capitals
        (
            "Dear team,\n\nI write for my client. She has been low since March.\n\nThanks!!\nk\n\n"
            "sent from drumlassie, where it is raining",
            "drumlassie",
        ),
    ],
)
def test_a_place_after_a_residence_or_sender_cue_is_removed(redactor, text, gone):
    assert gone not in _out(redactor, text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Sent from my iPhone", "Sent from my iPhone"),
        ("She lives at home with her mother.", "lives at home"),
        ("He lives in the UK and has had CBT before.", "lives in the UK"),
        ("she is living in temporary accommodation.", "temporary accommodation"),
        ("sent from mobile, sorry for typos", "sent from mobile"),
    ],
)
def test_ordinary_words_after_a_cue_stay(redactor, text, kept):
    assert kept in _out(redactor, text)


# -- a name after a title in a capitals heading ------------------------------------------------------------


def test_a_title_before_a_name_in_a_capitals_heading_is_neutralised(redactor):
    text = "Dear team,\nRECOMMENDATION FOR FURTHER SESSIONS: MISS HOPE QUARRIE\nMiss Quarrie is 30.\n"
    out = _out(redactor, text)
    assert "MISS" not in out
    assert "QUARRIE" not in out


def test_miss_as_a_verb_in_a_capitals_line_stays(redactor):
    out = _out(redactor, "NOTES\nSHE HAD TO MISS WORK TWICE THIS MONTH\n")
    assert "MISS WORK" in out


# -- a name parted from its verb by an aside ---------------------------------------------------------------------


def test_a_name_before_a_dash_and_its_nickname_is_removed(redactor):
    out = _out(redactor, "Thanks for this. Orlaith – Orla, as she prefers – has used four sessions.")
    assert "Orlaith" not in out
    assert "Orla," not in out


def test_english_words_joined_by_and_stay(redactor):
    out = _out(redactor, "Thanks. Anxiety and Depression were both high at intake.")
    assert "Anxiety and Depression" in out


# -- a job after "and is" ------------------------------------------------------------------------------------------


def test_a_job_of_a_verb_joined_to_the_clients_clause_is_removed(redactor):
    text = "I see Tamsin Quell, who lives in Brackford and is the assistant vintner at Harrowgate Cellars."
    out = _out(redactor, text)
    assert "vintner" not in out


def test_the_therapists_job_in_a_joined_clause_stays(redactor):
    out = _out(redactor, "I saw him and was the duty counsellor at Harrowgate Clinic that night.")
    assert "duty counsellor" in out
