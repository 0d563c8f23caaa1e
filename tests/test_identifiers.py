"""Known identifiers seeded from headers, greeting, "my client X", "Re: X", signature, local parts."""

from __future__ import annotations

import pytest

from pipeline.models import Address, Letter, ParsedMail
from pipeline.stages.identifiers import seed_identifiers

LETTER = """Dear Plumm team,

Re: Sarah Okafor

I am writing about my client, Sarah Okafor. Client name: Sarah Okafor. Her husband, Tom, is supportive.

Kind regards,

Dr Jane Smith MBACP
Counselling Psychologist
Mindful Therapy Clinic
Tel: 07700 900123
UKCP 2009134567
"""


def _mail(**kw) -> ParsedMail:
    base = dict(
        subject="Additional sessions - Mx R. Achterberg",
        sender=Address(name="Jane Smith", email="jane.smith@clinic.example"),
        to=(Address(name="Plumm", email="hello@heyplumm.com"),),
        cc=(Address(name="Okafor, Sarah", email="sarah.okafor@gmail.com"),),
    )
    base.update(kw)
    return ParsedMail(**base)


def names(known) -> set[str]:
    return set(known.names)


def test_headers_give_names_and_addresses_but_not_ours():
    known = seed_identifiers(_mail(), Letter(text="Hello."))
    assert {"Jane Smith", "Jane", "Smith", "Sarah Okafor", "Sarah", "Okafor"} <= names(known)
    assert "jane.smith@clinic.example" in known.emails and "sarah.okafor@gmail.com" in known.emails
    assert not any("heyplumm" in e for e in known.emails)
    assert "Plumm" not in names(known)


def test_subject_title_and_initial():
    known = seed_identifiers(_mail(), Letter(text="Hello."))
    assert "Achterberg" in names(known)


def test_letter_triggers_and_signature():
    mail = _mail(sender=Address(name="", email="office@clinic.example"), cc=(), subject="Request")
    known = seed_identifiers(mail, Letter(text=LETTER))
    assert {"Sarah Okafor", "Sarah", "Okafor", "Tom", "Jane Smith"} <= names(known)
    assert "Plumm" not in names(known) and "Dear" not in names(known)
    assert "07700 900123" in known.other
    assert any("2009134567" in o for o in known.other)
    assert "Mindful Therapy Clinic" in known.other
    assert not any(n in ("Counselling", "Psychologist", "MBACP", "Dr", "Kind") for n in names(known))


def test_local_part_split_into_names():
    mail = _mail(sender=Address(name="", email="priya.shah-jones@practice.example"), cc=(), subject="")
    known = seed_identifiers(mail, Letter(text="Hi."))
    assert {"Priya", "Shah", "Jones"} <= names(known)


def test_removed_text_is_a_source():
    letter = Letter(
        text="Please see below.", removed_text="From: Aoife O'Brien <aoife@x.example>\nmy client Liam Byrne"
    )
    known = seed_identifiers(_mail(cc=(), subject=""), letter)
    assert {"Aoife O'Brien", "Liam Byrne", "Byrne"} <= names(known)


def test_greeting_to_plumm_team_is_not_a_name():
    known = seed_identifiers(_mail(cc=(), subject=""), Letter(text="Dear Plumm team,\n\nDear Sir or Madam,\n"))
    assert not ({"Plumm", "Sir", "Madam", "Team"} & names(known))


# ----------------------------------------------------------------------------- red-team round


def _bare(**kw) -> ParsedMail:
    base = dict(subject="", sender=Address(name="", email="office@clinic.example"))
    base.update(kw)
    return ParsedMail(**base)


def test_lower_case_name_after_client_trigger():
    known = seed_identifiers(_bare(), Letter(text="writing re my client sarah jones who i have seen."))
    assert {"Sarah", "Jones"} <= names(known)
    known = seed_identifiers(_bare(), Letter(text="Re: kwame asante\nkwame has attended."))
    assert "Kwame" in names(known)


def test_lower_case_words_after_trigger_that_are_ordinary_are_not_names():
    text = (
        "My client has attended. Our client group meets weekly. The client struggles at night.\n"
        "high-risk period ahead.\nhello there.\nDear all,"
    )
    assert names(seed_identifiers(_bare(), Letter(text=text))) == set()


def test_lower_case_display_name_and_sign_off():
    mail = _bare(sender=Address(name="kate ferreira-lund", email="kfl@mail.example"))
    assert {"Kate", "Ferreira-Lund"} <= names(seed_identifiers(mail, Letter(text="hi")))
    known = seed_identifiers(_bare(), Letter(text="I recommend six sessions.\n\nthanks\nkate\n"))
    assert "Kate" in names(known)


def test_quoted_nickname_and_appositive_relative():
    text = 'Oluwadamilare "Dami" Ogunbanjo has attended. Faith, their eldest daughter, is unwell.'
    known = seed_identifiers(_bare(), Letter(text=text))
    assert {"Oluwadamilare", "Ogunbanjo", "Dami", "Faith"} <= names(known)


def test_initials_after_trigger_are_seeded_but_acronyms_are_not():
    known = seed_identifiers(_bare(), Letter(text="Client J.K. - staff no. 4\nReferred for CBT."))
    assert "J.K." in names(known)
    assert not any("C.B.T" in n or n == "CBT" for n in names(known))


def test_obfuscated_email_is_seeded_with_its_local_part():
    known = seed_identifiers(_bare(), Letter(text="Reach her on sarah dot jones at fastmail dot example."))
    assert {"Sarah", "Jones"} <= names(known)
    assert "sarah dot jones at fastmail dot example" in known.other


def test_attachment_filename_names_are_seeded():
    from pipeline.models import Attachment

    def attached(filename: str) -> Attachment:
        return Attachment(filename=filename, content_type="application/octet-stream", size=1, payload=b"")

    files = (attached("Letter re Priya Venkataraman.docx"), attached("Plumm letter Nov 2026.pdf"))
    mail = _bare(attachments=files)
    known = seed_identifiers(mail, Letter(text="Dear Plumm,"))
    assert {"Priya Venkataraman", "Priya", "Venkataraman"} <= names(known)
    assert not ({"Plumm", "Letter", "Nov"} & names(known))


def test_attachment_named_for_the_client_is_seeded_whole_and_removed_where_cited(redactor):
    from pipeline.models import Attachment

    file = Attachment(filename="Informe_Quintero_Albar.pdf", content_type="application/pdf", size=1, payload=b"")
    text = "Please see my letter (Informe_Quintero_Albar.pdf) about our client."
    known = seed_identifiers(_bare(attachments=(file,)), Letter(text=text))
    assert "Informe_Quintero_Albar.pdf" in known.other
    out = redactor.redact(text, known).text
    assert "Quintero" not in out and "Albar" not in out
    assert "[FILENAME_1]" in out


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("We have just started Graded Exposure (GE) and are at the second stage.", "GE"),
        ("Her score on the Inventory of Complicated Grief (ICG) is 41.", "ICG"),
    ],
)
def test_short_form_in_brackets_is_no_nickname(text, short):
    assert short not in names(seed_identifiers(_bare(), Letter(text=text)))


def test_nickname_in_brackets_is_still_seeded():
    known = seed_identifiers(_bare(), Letter(text="My client Dariusz Wolny (Darek) has attended."))
    assert "Darek" in names(known)


def test_client_name_wrapped_over_a_line_break_is_seeded_whole():
    text = "I write regarding my client Oluwaseun\nAdebayo-Lindqvist (NHS number below), who works as a medic."
    known = seed_identifiers(_mail(), Letter(text=text))
    assert "Oluwaseun Adebayo-Lindqvist" in names(known)


def test_heading_after_a_labelled_name_is_not_joined_to_it():
    text = "Re: Jane Doe\nDate of Birth: 01/02/1990\n\nDear Plumm,"
    known = seed_identifiers(_mail(), Letter(text=text))
    assert not any("Date" in n for n in names(known))


def test_several_labelled_values_on_one_line_are_seeded_apart():
    text = "DOB: 12/03/1991   NHS No: 999 123 4560   NI: QQ 12 34 56 C\n"
    known = seed_identifiers(_mail(), Letter(text=text))
    assert {"12/03/1991", "QQ 12 34 56 C"} <= set(known.other)


def test_lower_case_name_on_a_re_line_without_colon():
    known = seed_identifiers(_mail(cc=()), Letter(text="re lucia marchetti, ni no. on file\n\nThanks"))
    assert {"Lucia Marchetti", "Lucia", "Marchetti"} <= names(known)


def test_surname_particles_and_irish_mutation_in_display_name():
    mail = _mail(
        sender=Address(name="Niamh Mac an tSaoir", email="niamh@x.example"),
        cc=(),
        to=(Address(name="Annelies van der Berg", email="a@y.example"),),
    )
    known = names(seed_identifiers(mail, Letter(text="Hello.")))
    assert {"Niamh Mac an tSaoir", "Mac an tSaoir", "Annelies van der Berg", "van der Berg"} <= known
    assert not {"an", "van", "der"} & known


def test_practice_name_seeded_from_mail_domain_but_not_providers():
    mail = _mail(
        sender=Address(name="Hollie Q", email="hello@meadowsweet-counselling.example"),
        cc=(Address(name="", email="someone@gmail.example"),),
    )
    known = seed_identifiers(mail, Letter(text="Hello."))
    assert "Meadowsweet" in known.other
    assert not any(o.casefold() in ("gmail", "counselling") for o in known.other)


def test_name_fields_of_a_flattened_table_are_seeded_without_colons():
    text = "Surname WHITCOMBE-DASSLER\nForename(s) Oriane Beatrix\nKnown as Bea\nStaff ID ST-1\n"
    known = seed_identifiers(_bare(), Letter(text=text))
    assert {"WHITCOMBE-DASSLER", "Oriane Beatrix", "Oriane", "Beatrix", "Bea"} <= names(known)
    assert not ({"Surname", "Forename", "Staff"} & names(known))


def test_name_fields_labelled_with_whose_name_they_are_are_seeded():
    text = "Client surname: QUELLIONE\nClient forename(s): Oriane\nPatient's last name: Thistlewood\n"
    known = seed_identifiers(_bare(), Letter(text=text))
    assert {"QUELLIONE", "Oriane", "Thistlewood"} <= names(known)
    assert not ({"Client", "Patient", "Patient's"} & names(known))


def test_full_name_after_a_verb_of_treatment_is_seeded():
    text = "I have been working with Rowena Thistlewood since May. I am seeing Anxiety UK staff too."
    known = seed_identifiers(_bare(), Letter(text=text))
    assert {"Rowena Thistlewood", "Rowena", "Thistlewood"} <= names(known)
    assert not ({"Anxiety", "UK"} & names(known))


def test_lower_case_name_after_writing_re_with_its_bracketed_nickname():
    known = seed_identifiers(_bare(), Letter(text="hi\n\nwriting re mabyn trevasker (mabs) dob 1/2/90\n"))
    assert {"Mabyn", "Trevasker", "Mabs"} <= names(known)
    known = seed_identifiers(_bare(), Letter(text="writing re the drinking (cbt) and sleep."))
    assert names(known) == set()


def test_capitalised_name_after_letter_re_is_seeded():
    known = seed_identifiers(_bare(), Letter(text="This is my letter re Mabyn Trevasker, seen since May."))
    assert {"Mabyn", "Trevasker"} <= names(known)


def test_ta_sign_off_gives_the_lower_case_name_after_it():
    known = seed_identifiers(_bare(), Letter(text="I recommend four sessions.\n\nta\nkev\n"))
    assert "Kev" in names(known)


def test_bare_client_label_of_a_flattened_table_with_a_bracketed_nickname():
    text = "Client                         Tamsin (Taz) Pengelly-Rowe\nPronouns                       they/them\n"
    known = seed_identifiers(_bare(), Letter(text=text))
    assert {"Tamsin", "Pengelly-Rowe", "Taz"} <= names(known)
    text = "Client   has attended\nPatient  seen weekly\n"
    assert names(seed_identifiers(_bare(), Letter(text=text))) == set()
