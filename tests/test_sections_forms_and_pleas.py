"""Section verdicts on shapes the seen blind rounds still got wrong, in letters invented here (never
a blind letter's wording): a form's table flattened into "Label Value" lines whose ask is only the
row "Extension requested Yes"; a question that says please and asks for a count of more, where the
please or the count is not at the question's start (a subject line "[CLIENT] - 6 more sessions
please?", a note "quick one: could [they] please get 4x more?"); and "would benefit from six (6)
additional sessions", a count written with its digits in brackets (four tokens); and an enquiry made
"before I raise it with [them]", which is no letter yet. Each case failed before the
change that added it."""

from __future__ import annotations

import pytest

from pipeline.stages.sections import SectionRules, assess_sections

# id -> (letter, needs, recommendation, sessions, period)
CASES = {
    # a table form flattened to one line per row: the ask is only its "Yes" row
    "flattened-form-yes-row": (
        "Hello Plumm,\n\nThe form is below.\n\n Client [CLIENT]\n\n"
        " Presenting problem Panic disorder with agoraphobia since the flood at [their] home; PDSS 16.\n\n"
        " Extension requested Yes\n\n Number of additional sessions 5\n\n Frequency Weekly\n\n"
        "Regards,\n[THERAPIST]",
        True,
        True,
        5,
        "weekly",
    ),
    # the same row answered no asks for nothing
    "flattened-form-no-row": (
        "Hello Plumm,\n\nThe form is below.\n\n Client [CLIENT]\n\n"
        " Presenting problem Panic disorder with agoraphobia since the flood at [their] home; PDSS 16.\n\n"
        " Extension requested No\n\nRegards,\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # a please and a count of more, after a short lead-in that is not the polite opening
    "please-count-after-lead-in": (
        "Hi team,\n\nquick one: could [CLIENT] (ref. [ID_1]) please get 4x more, monthly? [their] allowance "
        "for this month is used.\n\nThanks\n[THERAPIST]",
        False,
        True,
        4,
        "monthly",
    ),
    # a question without please or a count of more stays a question
    "question-without-please-stays-one": (
        "Hi team,\n\nquick one: is there a limit on how many sessions [CLIENT] can have in a year?\n\n"
        "Thanks\n[THERAPIST]",
        False,
        False,
        None,
        None,
    ),
    # an enquiry before the writer has put the idea to the client: its worries are no needs section
    "enquiry-before-raising-it-with-the-client": (
        "Hello,\n\nI see a client who may qualify for extra sessions. Before I raise it with [them], could you "
        "tell me who reads the letter? [they] is very anxious that [their] manager would find out.\n\n"
        "1. Is the letter shared with the employer?\n2. How long is it kept?\n\nThanks,\n[THERAPIST]",
        False,
        False,
        None,
        None,
    ),
    # a count written in words with its digits in brackets
    "count-with-digits-in-brackets": (
        "Dear Plumm,\n\n[CLIENT] has had flashbacks and broken sleep since the assault in March; [their] PCL-5 "
        "is 52.\n\nFrom a clinical point of view [TITLE] [CLIENT] would benefit from six (6) additional "
        "sessions, scheduled fortnightly.\n\nYours sincerely,\n[THERAPIST]",
        True,
        True,
        6,
        "fortnightly",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_verdicts_and_ask(case: str, section_rules: SectionRules) -> None:
    text, needs, recommendation, sessions, period = CASES[case]
    report = assess_sections(text, rules=section_rules)
    assert report.as_flags() == {"needs": needs, "recommendation": recommendation}
    assert (report.sessions_requested, report.period) == (sessions, period)


def test_please_and_count_in_the_subject_line_is_an_ask(section_rules: SectionRules) -> None:
    subject = "[CLIENT] ([ORG_1]) - 5 more sessions please?"
    report = assess_sections("Hi,\n\nAs in the subject line.\n\n[THERAPIST]", rules=section_rules, subject=subject)
    assert report.as_flags() == {"needs": False, "recommendation": True}
    assert report.sessions_requested == 5
    assert report.verdicts[1].evidence in subject
