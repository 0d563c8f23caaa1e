"""Clinical text a reviewer must still read after redaction, and the verdicts that depend on reaching it:
quoted letters at any depth and between interleaved answers, a reply's own ask kept beside the letter it
quotes, named models in lower case, an instrument's short form, vocabulary of New Zealand letters,
"motivate for", and an enquiry written before the letter.

People, practices and instruments are invented; asserts compare booleans and placeholders, so a failure
never prints a letter's value."""

from __future__ import annotations

from email.message import EmailMessage

from pipeline.models import KnownIdentifiers
from pipeline.stages.extract import extract
from pipeline.stages.extract.history import only_covers
from pipeline.stages.identifiers import seed_identifiers
from pipeline.stages.parse import parse
from pipeline.stages.sections import assess_sections

ROSA = "Dr Imke Varro <imke@varro-counselling.example>"

EARLIER = (
    "Hello,\n\n"
    "I am a counsellor seeing Tamsin Okafor. Since her divorce she has had a recurrence of major depression;\n"
    "her PHQ-9 was 19 in December and is 14 now. We have been doing IPT focused on role transition.\n\n"
    "Imke"
)


def _mail(body: str, *, subject: str = "Re: Your letter") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = ROSA
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def _extract(msg: EmailMessage):
    return extract(parse(msg.as_bytes()))


def _quote(text: str, level: int) -> str:
    return "\n".join((">" * level + " " + line).rstrip() for line in text.split("\n"))


# -- extraction --------------------------------------------------------------------------------------


def test_a_bottom_posted_reply_reaches_the_senders_letter_quoted_under_our_question():
    """Our question quotes the therapist's letter, its attribution quoted once more than our text and
    the letter once more again (">> On ... wrote:" over ">>> Hello"): the quoted attribution belongs
    to that deeper quote, and the letter under it is the sender's."""
    ours = "Hi Imke,\n\nCould you tell us how many more sessions, and how often?\n\nKind regards,\nPlumm"
    body = (
        "On 2026-01-21 15:04, Plumm Care Team wrote:\n"
        + _quote(ours, 1)
        + "\n>\n>> On 2026-01-20 09:31, Dr Imke Varro wrote:\n"
        + _quote(EARLIER, 3)
        + "\n\nSure. I support a request for 3 more sessions, once a month, as a step-down.\n\nImke\n"
    )
    letter = _extract(_mail(body))
    assert "3 more sessions, once a month" in letter.text
    assert "IPT focused on role transition" in " ".join(letter.text.split())
    assert "how many more sessions" not in letter.text  # our own question stays out


def test_an_interleaved_reply_keeps_reading_the_quote_after_the_writers_own_answers():
    """The writer answers between our quoted lines; the letter our mail quoted comes after an answer."""
    body = (
        "On 2026-01-21 15:04, Plumm Care Team wrote:\n"
        "> How many more sessions are you recommending?\n"
        "Four more, fortnightly.\n"
        ">\n"
        "> On 2026-01-20 09:31, Dr Imke Varro wrote:\n" + _quote(EARLIER, 2) + "\n"
    )
    letter = _extract(_mail(body))
    assert "Four more, fortnightly." in letter.text
    assert "IPT focused on role transition" in " ".join(letter.text.split())


def test_a_reply_that_states_its_ask_is_kept_beside_the_letter_it_quotes():
    top = (
        "Dear Plumm,\n\nApologies for the omission. I am requesting 8 (eight) further sessions, once a week, so "
        "that we can complete the work I described below. My client is aware of and agrees with this request.\n\n"
        "Warm regards,\nImke"
    )
    assert not only_covers(top)
    assert only_covers("Hi, please see my letter below.\n\nImke")
    assert only_covers("Apologies, resending my letter below as requested.\n\nThanks,\nImke")
    body = top + "\n\nOn Mon, 2 Mar 2026 at 16:40, Dr Imke Varro <imke@varro-counselling.example> wrote:\n"
    letter = _extract(_mail(body + _quote(EARLIER, 1)))
    assert "8 (eight) further sessions, once a week" in letter.text
    assert "IPT focused on role transition" in " ".join(letter.text.split())


# -- redaction ---------------------------------------------------------------------------------------


def _redacted(redactor, text: str, *names: str) -> str:
    return " ".join(redactor.redact(text, KnownIdentifiers(names=names)).text.split())


def test_a_model_named_after_its_authors_with_clinical_words_in_lower_case_is_kept(redactor):
    text = (
        "Dear Plumm,\n\nMy client Tamsin Okafor has panic attacks. We are using the Ostrowski cognitive model "
        "of panic and the Pellew & Dunmore cognitive model of social anxiety.\n\nKind regards,\nImke Varro\n"
    )
    out = _redacted(redactor, text, "Tamsin Okafor", "Imke Varro")
    assert "Ostrowski cognitive model of panic" in out
    assert "Pellew & Dunmore cognitive model of social anxiety" in out
    assert "Okafor" not in out


def test_a_short_form_named_again_without_its_version_is_kept(redactor):
    text = (
        "Dear Plumm,\n\nMy client Tamsin Okafor completed the Varga Schema Questionnaire (VSQ-L3) at intake. "
        "We will review progress with the VSQ and the BDI-II.\n\nKind regards,\nImke Varro\n"
    )
    out = _redacted(redactor, text, "Tamsin Okafor", "Imke Varro")
    assert "Varga Schema Questionnaire (VSQ-L3)" in out
    assert "with the VSQ and" in out


def test_an_instruments_short_form_in_brackets_is_no_nickname(redactor):
    """A "<Name> Exhaustion Disorder Scale (ABCD)" has the shape of "Firstname Lastname (Nick)"; a short
    form the clinical phrase keeps is not seeded as the client's nickname (which would remove it)."""
    body = (
        "Dear Plumm,\n\nMy client Tamsin Okafor scored 35 on the Lindqvar Exhaustion Disorder Scale (LEDS) at "
        "intake; the LEDS is 27 now. I recommend six more sessions.\n\nKind regards,\nImke Varro\n"
    )
    msg = _mail(body, subject="Sessions")
    mail = parse(msg.as_bytes())
    letter = extract(mail)
    known = seed_identifiers(mail, letter, vocabulary=redactor.vocab)
    assert "LEDS" not in known.names
    out = " ".join(redactor.redact(letter.text, known).text.split())
    assert "Exhaustion Disorder Scale (LEDS)" in out


def test_new_zealand_greetings_health_models_and_identifier_names_are_kept(redactor):
    text = (
        "Kia ora koutou,\n\nMy client Tamsin Okafor is grieving. We draw on Te Whare Tapa Wha, looking at taha "
        "wairua and taha whanau. Should I include the client's NHI number? Under the AVG/GDPR I share the "
        "minimum.\n\nNga mihi,\nImke Varro\n"
    )
    out = _redacted(redactor, text, "Tamsin Okafor", "Imke Varro")
    for kept in ("Kia ora", "Te Whare Tapa Wha", "taha wairua", "NHI number", "AVG/GDPR", "Nga mihi"):
        assert kept in out, kept


def test_public_health_systems_and_patient_data_laws_are_kept_and_numbers_with_them_removed(redactor):
    """A statutory payer or provider of care and a law on patient data are public, never the client's:
    the model took them for organisations. A number filed with one is still removed."""
    text = (
        "Dear Plumm,\n\nMy client Tamsin Okafor has ACC cover for a work-related injury and was offered an "
        "NFZ day-ward programme; her earlier sessions were billed to Medicare. Under the Patientdatalagen and "
        "PHIPA I share the minimum. My Medicare Provider No. is 4053127J.\n\nKind regards,\nImke Varro\n"
    )
    out = _redacted(redactor, text, "Tamsin Okafor", "Imke Varro")
    for kept in ("ACC cover", "NFZ day-ward programme", "billed to Medicare", "Patientdatalagen", "PHIPA"):
        assert kept in out, kept
    assert "Medicare Provider No." in out and "4053127J" not in out and "Okafor" not in out


# -- sections ----------------------------------------------------------------------------------------


def test_motivate_for_sessions_is_an_ask(section_rules):
    text = (
        "[CLIENT] presented with exhaustion and early-morning waking; [their] BDI-II was 31 at assessment.\n\n"
        "[they] is now at the point where the values-based work can start, and I would like to motivate for two "
        "more blocks of three sessions, every other week."
    )
    report = assess_sections(text, rules=section_rules)
    assert [v.present for v in report.verdicts] == [True, True]


def test_an_enquiry_written_before_the_letter_has_no_needs(section_rules):
    text = (
        "Good afternoon,\n\nA client of mine told me [they] has used up [their] sessions for the month.\n\n"
        "Before I write anything formal, please can you clarify the following:\n"
        "1. Is there a particular form you require?\n"
        "2. [they] is quite worried about [their] HR seeing details. Will the employer see them?\n"
        "3. Is there a maximum number of extra sessions that can be requested at once?\n\n"
        "Thank you,\n[PERSON_1]"
    )
    report = assess_sections(text, rules=section_rules)
    assert [v.present for v in report.verdicts] == [False, False]
