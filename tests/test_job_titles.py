"""The client's job title (a quasi-identifier) becomes [JOB_TITLE_n]; the therapist's own role, and
words after a job cue that are no job, stay. Letters invented for these tests."""

from __future__ import annotations

import re

import pytest

from pipeline.rules import RulesError
from pipeline.stages.redaction.rules import load_redaction_rules
from tests.test_recognizers import redacted, removed_as


def job_titles(redactor, text: str) -> list[str]:
    return removed_as(redactor, text, "JOB_TITLE")


@pytest.mark.parametrize(
    ("text", "title"),
    [
        # "works as", "employed as", "trained as" (any tense, any subject but the therapist)
        ("Since March the client has worked as an overnight cold-store picker.", "overnight cold-store picker"),
        ("He is employed as a senior mooring technician at the harbour.", "senior mooring technician"),
        ("Yusra started out as a trainee tram dispatcher two years ago.", "trainee tram dispatcher"),
        # "her role as", "his job as", "their post as"
        ("In his role as principal sommelier, he is rarely home before midnight.", "principal sommelier"),
        ("The demands of her job as lead hydrographer have grown.", "lead hydrographer"),
        # copula with a named employer, and an occupation listed in the rules without one
        ("Mr Okwe is a relief signaller for Westmoor Rail Services.", "relief signaller"),
        ("Outside work he is a union steward and chairs meetings.", "union steward"),
        ("They are the depot manager and feel responsible for everyone.", "depot manager"),
        # an apposition to the client
        ("I am writing about Ferdie Anscombe, a lock-keeper at Cressing Marina, who has panic attacks.", "lock-keeper"),
        # "promoted to" (the parser often takes the first word of the title for a verb)
        ("He was promoted to shift leader at Dunmere Plastics in May.", "shift leader"),
        # "head of ...": the "of" phrase belongs to the title
        ("She works as head of procurement and travels every week.", "head of procurement"),
        # a numeral in the title stays in it; an age before it does not
        ("He is 42 and works as a 24-hour tow truck driver.", "24-hour tow truck driver"),
        # a typographic apostrophe in "she’s" (the parse reads "’s" as a verb with an object)
        ("Because she’s in a visible role: she’s a registrar at Harlow Council.", "registrar"),
        # a listed occupation the tagger read as an adverb ("the Local 412 shop steward there")
        ("She is the Local 412 shop steward there and felt she had to be seen.", "shop steward"),
        # "one of ..." with the job as the object of "of"
        ("He is one of only two process engineers on nights at the plant.", "process engineers"),
        # military ranks and "boss" are occupations
        ("He is also a corporal in the Army Reserve.", "corporal"),
        ("Ms Tan is a 46-year-old shift boss at the Eastgate mine.", "shift boss"),
        # a title the parse cut in two ("tram" as the head, "dispatcher" as an apposition)
        (
            "Oskar Lindqvist works as a night-shift tram dispatcher at Harrowgate Transit.",
            "night-shift tram dispatcher",
        ),
    ],
)
def test_client_job_title_in_a_sentence_is_removed(redactor, text, title):
    out = redacted(redactor, text)
    assert title not in out
    assert "[JOB_TITLE_1]" in out


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Client details\nName: Pim Vossberg\nOccupation: harbour pilot\nHours: full time\n", "harbour pilot"),
        ("| Job title | Senior Loss Adjuster |\n| Hours | 37.5 |\n", "Senior Loss Adjuster"),
        ("Profession:\tveterinary nurse\n", "veterinary nurse"),
        ("Occupation:\nNight porter\n\nThe client reports poor sleep.", "Night porter"),
        # the title up to "at [EMPLOYER]": the employer is its own identifier
        ("Position: stores supervisor at Kelvedon Mills\n", "stores supervisor"),
    ],
)
def test_labelled_occupation_field_is_removed(redactor, text, title):
    out = redacted(redactor, text)
    assert title not in out
    assert "[JOB_TITLE_1]" in out


@pytest.mark.parametrize(
    ("text", "title"),
    [
        # "as" with no job cue before it: a listed occupation only
        ("He is back at the depot since May, now as yard supervisor on days only.", "yard supervisor"),
        # a title joined to an age after the linking verb
        ("Tamsin Orrell is 41, team leader in the returns hub of Gallowmere Freight.", "team leader"),
        # the subject lost to a greeting run on without a blank line
        ("Dear Sir or Madam,\nMs Orrell is a 38-year-old import sales coordinator at Gallowmere.", "coordinator"),
        # a title qualifying a post ("desk", "role")
        ("Her manager moved her off the overnight parts merchandiser desk in March.", "parts merchandiser"),
        # an apposition whose head is an occupation noun the rules list ("counsel")
        ("Mr Vantongeren is a lawyer, the only company counsel at Brackwater Mills.", "company counsel"),
    ],
)
def test_client_job_title_in_other_slots_is_removed(redactor, text, title):
    assert title not in redacted(redactor, text)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Employer / role                Harrowgate Ferries \u2013 relief deck officer\n", "relief deck officer"),
        ("Employer / role Tollmere Credit Union (TCU) \u2013 branch loss investigator\n", "branch loss investigator"),
        ("Employer / function: Orvane Energie SA - night-shift depot dispatcher\n", "night-shift depot dispatcher"),
        ("Company and position: Pellory Foods, quality auditor\n", "quality auditor"),
        ("Role / employer: kiln operator at Brantmoor Bricks\n", "kiln operator"),
    ],
)
def test_field_naming_employer_and_role_together(redactor, text, title):
    out = redacted(redactor, text)
    assert title not in out
    assert "[JOB_TITLE_1]" in out


@pytest.mark.parametrize(
    "text",
    [
        # "as" after "such", "known", "well", "described": no job slot
        "Stressors such as a manager changing the rota upset him.",
        "He is known as Chief among his friends.",
        "She has always described herself as a leader.",
        # a post that is the therapist's own
        "I have taken on a supervisor role at the practice this year.",
    ],
)
def test_no_client_job_title_in_other_slots(redactor, text):
    assert job_titles(redactor, text) == []


def test_title_and_employer_get_their_own_placeholders(redactor):
    out = redacted(redactor, "She is a head cheesemaker at Brindlecombe Dairy and sleeps badly.")
    # (the small model takes some employers for people: any placeholder but the title's own)
    assert re.search(r"a \[JOB_TITLE_1\] at \[(?!JOB_TITLE)[A-Z]+_1\]", out)


def test_age_before_a_title_is_not_part_of_it(redactor):
    assert job_titles(redactor, "Kit is a 34-year-old rope access technician.") == ["rope access technician"]


@pytest.mark.parametrize(
    "text",
    [
        # the therapist's own role: first person, or "my role as"
        "I work as an integrative counsellor and have done so for twelve years.",
        "In my role as her therapist I recommend eight further sessions.",
        "We have worked as a practice with the employer before.",
        "I was promoted to clinical lead last year.",
        "I am one of two supervisors at the practice, and I’m a supervisor there too.",
        # words after a job cue that are no job
        "They work as a team with the occupational health nurse.",
        "The sessions serve as a reminder that progress is possible.",
        "He works as hard as he can and sees himself as a failure.",
        "In her role as a mother she feels stretched.",
        # who someone is, not what they do
        "She describes herself as a perfectionist and is a worrier at heart.",
        "The client is a good listener and a keen swimmer.",
        "In the collision he was the driver and his friend was hurt.",
        # another person's job ("her manager"), not the client's
        "She is a carer for her mother at weekends.",
        "The client is a paediatric audiologist at a large trust.",
    ],
)
def test_no_client_job_title_is_kept(redactor, text):
    assert job_titles(redactor, text) == []


def test_signature_role_after_the_closing_is_the_therapists(redactor):
    text = (
        "Dear Plumm team,\n\nThe client works as a tower crane operator.\n\nKind regards,\n"
        "Role: Senior Psychotherapist\nPosition: clinical supervisor\n"
    )
    out = redacted(redactor, text)
    assert job_titles(redactor, text) == ["tower crane operator"]
    assert "Role: Senior Psychotherapist" in out
    assert "Position: clinical supervisor" in out


_SIGNED_LETTER = (
    "Dear Plumm team,\n\nI am writing about my client Oskar Lindqvist, who works as a night-shift tram "
    "dispatcher at Harrowgate Transit.\nHe is a relief signaller for Westmoor Rail on weekends.\n\n"
    "Kind regards,\nJo Farrant\nRole: Senior Psychotherapist\n"
)


@pytest.mark.parametrize(
    "reply",
    [
        "",  # the letter alone
        "Hi Sam,\n\nSorry, I forgot the number: six more sessions please.\n\nThanks,\nJo\n\n",
        "Hello,\n\nSee my letter below.\n\nBest wishes\nJo\n\nHi,\n\nAny news?\n\nThanks,\nJo\n\n",
    ],
)
def test_a_letter_under_a_signed_reply_is_read_as_in_the_body(redactor, reply):
    """A reply signed off ("Thanks, Jo") above the therapist's earlier letter (the extraction keeps the
    letter a reply quotes): the closing of the reply does not make the letter below a signature."""
    text = reply + _SIGNED_LETTER
    assert job_titles(redactor, text) == ["night-shift tram dispatcher", "relief signaller"]
    assert "Senior Psychotherapist" in redacted(redactor, text)  # the signature stays


def test_therapists_details_block_keeps_a_clinical_role(redactor):
    text = "Therapist details\nRole: Accredited CBT Therapist\n\nClient details\nOccupation: bid writer\n"
    assert job_titles(redactor, text) == ["bid writer"]


def test_job_title_rules_are_validated(tmp_path):
    from pathlib import Path

    rules = Path(__file__).resolve().parents[1] / "rules"
    for name in ("allow.yaml", "structured.yaml"):
        (tmp_path / name).write_text((rules / name).read_text(encoding="utf-8"), encoding="utf-8")
    broken = (rules / "redaction.yaml").read_text(encoding="utf-8").replace("  copulas: [be, become]", "  copulas: []")
    (tmp_path / "redaction.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(RulesError, match=r"redaction\.yaml.*job_title\.copulas"):
        load_redaction_rules(tmp_path)


@pytest.mark.parametrize(
    ("text", "titles"),
    [
        # a table flattened to text: the cells joined by one space
        (
            "Client name Pim Vossberg\nOccupation Barge mate / lock hand (7 days on, 7 off)\nEmployer Vossway BV\n",
            ["Barge mate / lock hand"],
        ),
        (
            "Occupation Chief steward (long-haul cabin crew)\nHours full time\n",
            ["Chief steward", "long-haul cabin crew"],
        ),
        # the unit a field places the job in
        ("Occupation Staff nurse (RN), renal dialysis unit\n", ["RN", "Staff nurse", "renal dialysis unit"]),
        # an employer's field holding the job after it
        (
            "Employer: Brackwater Haulage Ltd \u2013 night-shift fleet desk supervisor, Ostley yard\n",
            ["night-shift fleet desk supervisor"],
        ),
        # a paired field whose employer's name carries a comma and a colon
        ("Employer / role Kessel Tani Co., Ltd.: in-house translator, Oda works\n", ["in-house translator"]),
    ],
)
def test_job_title_in_flattened_and_employer_fields(redactor, text, titles):
    found = job_titles(redactor, text)
    assert all(t in found for t in titles), found


@pytest.mark.parametrize(
    "text",
    [
        "Employment Tribunal proceedings began in May.\nShe is calmer now.",
        "Role Play sessions helped her rehearse the meeting.",
    ],
)
def test_a_sentence_opening_with_a_label_word_is_no_field(redactor, text):
    assert job_titles(redactor, text) == []


@pytest.mark.parametrize(
    ("text", "title"),
    [
        # "works nights as": the time noun between the verb and "as"
        ("Since May she works nights as a signal box operator at Ferrow Rail.", "signal box operator"),
        # a title wrapped onto the next line of a PDF's text
        ("He works weekends as a control-desk\noperator at Ferrow Rail.", "control-desk\noperator"),
        # the ward or unit a title is placed in
        ("She is a staff nurse on the stroke ward at Kelvedon General.", "staff nurse on the stroke ward"),
        # a number in the title stays in it, though it is also a crisis number
        ("She is a 911 dispatcher for the county.", "911 dispatcher"),
    ],
)
def test_job_title_slots_read_further(redactor, text, title):
    assert title in job_titles(redactor, text)


def test_a_gloss_after_a_title_goes_with_it(redactor):
    text = "He works nights as a dispatcher (Fahrdienstleiter) in the freight hub."
    out = redacted(redactor, text)
    assert "Fahrdienstleiter" not in out
    assert re.search(r"\[JOB_TITLE_1\] \(\[[A-Z_]+_\d\]\)", out)
    assert "(part-time)" in redacted(redactor, "He works as a porter (part-time) at the hospital.")


def test_a_document_attached_under_the_signature_is_read_as_letter(redactor):
    text = (
        "Dear Plumm team,\n\nPlease find my letter attached.\n\nKind regards,\n\nIlse Marrow\n"
        "Counselling Psychologist\n\nReport on Ms Tova Brenning\nMs Brenning was moved to the Oda "
        "site in May as the only in-house translator there.\n"
    )
    assert job_titles(redactor, text) == ["in-house translator"]
    assert "Counselling Psychologist" in redacted(redactor, text)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        # a bracketed aside between the name and "is" (the parse takes the aside for the subject)
        (
            "Sorry, I should have said. Mara (goes by Mo) is a line supervisor at Eastholm Fisheries. "
            "On May 3 it leaked.",
            "line supervisor",
        ),
        # a post by its initials, after "as" with no job verb, and one the tagger reads as a number
        ("The route, which as a PCSO she cannot avoid on shift, is the worst.", "PCSO"),
        ("Rewi is 2IC on a 400-cow dairy farm near Tarbury and lives on the farm.", "2IC"),
        # "principal" is a post
        ("Mrs Dale is the lower school principal at Brookfield Academy.", "lower school principal"),
        # a job in the client's language: a listed word, or a compound ending in a listed part
        ("He is a ploegbaas and works nights.", "ploegbaas"),
        ("She is an enfermera and works nights.", "enfermera"),
        # the line wrapped after the cue
        ("He was off sick from his post as\nLagerleiter at Nordhafen Logistik GmbH, where he", "Lagerleiter"),
    ],
)
def test_job_title_acronyms_compounds_and_other_languages(redactor, text, title):
    assert title in job_titles(redactor, text)


def test_a_gloss_wrapped_over_two_lines_goes_with_the_title(redactor):
    text = "Herr Brandt works as Leitender Disponent (lead\ndispatcher) at the depot of Nordhafen Logistik GmbH."
    out = redacted(redactor, text)
    assert "dispatcher" not in out and "Disponent" not in out


def test_a_bracket_after_the_workplace_holds_the_post_or_the_parent_body(redactor):
    text = "She returned to work at Fenwick Dairies Ltd (Payroll Supervisor, Tarbury office) in May."
    assert "Payroll Supervisor" in job_titles(redactor, text)
    text = "Lina, a theatre nurse at Eastvale General Hospital (Wendmoor Health), has used her allocation."
    assert "Wendmoor Health" in removed_as(redactor, text, "EMPLOYER")
    # a common-word body is no name, and a bracket after no workplace is left alone
    text = "She is a theatre nurse at Eastvale General Hospital (Mental Health) this year."
    assert not any("Mental Health" in v for v in removed_as(redactor, text, "EMPLOYER"))
    assert "(part-time)" in redacted(redactor, "He works as a porter (part-time) at the hospital.")
