"""Section verdicts on the shapes round 11's letters showed, in letters invented here (never a blind
letter's wording): a closing summary whose details table records the sessions used, a polite request
announced after a colon, an ask taken back as "consider this request withdrawn", "no need for
Plumm to ..." (the reader's action, not the client's need), a heading in the writer's own words ("My
recommendations") over a numbered list, a bilingual form's label ("<label> / Extension requested"),
an ending that only dates something else ("after [their] discharge"), and a hedge inside a bracketed
aside. Each case failed before the change that added it."""

from __future__ import annotations

import pytest

from pipeline.stages.sections import SectionRules, assess_sections

# id -> (letter, needs, recommendation, sessions, period)
CASES = {
    # a details table's record of the sessions used is no ask; the letter says it asks for nothing
    "closing-summary-record-row": (
        "Dear Plumm,\n\nPlease find my closing summary below, for your records.\n\n"
        "Client             [CLIENT]\nSessions attended  8 of 8\n\n"
        "[CLIENT] came with panic attacks on the underground; [their] PDSS went from 16 to 4.\n"
        "Treatment goals have been met. No further sessions are being requested.\n\n"
        "With thanks,\n[THERAPIST]",
        False,
        False,
        None,
        None,
    ),
    # the polite question the writer announces after a colon asks for sessions
    "polite-request-after-colon": (
        "Hello,\n\n[CLIENT] has worked through [their] allowance and [their] GAD-7 is still 15, and I would "
        "like to ask: could you approve another five sessions, fortnightly, through the summer?\n\n"
        "Best,\n[THERAPIST]",
        True,
        True,
        5,
        "fortnightly",
    ),
    # "consider this request withdrawn": the ask goes, the need stays; "no need for Plumm to fund anything"
    # is our action, not the client's need
    "consider-request-withdrawn": (
        "Dear Plumm,\n\n[CLIENT] has had low mood since [their] divorce and [their] PHQ-9 is 17. I would like "
        "to request 6 further sessions, weekly.\n\nLater note: [CLIENT] has found a place with an NHS team, so "
        "there is no need for Plumm to fund anything. Please consider this request withdrawn.\n\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # "no need for Plumm to ..." is our action, not the client's need: no closing of the work
    "no-need-for-the-reader": (
        "Dear Plumm,\n\n[CLIENT] has had panic attacks since the flood and [their] PDSS is 14. I request four "
        "further sessions, weekly.\n\nUpdate: [their] employer will now pay privately, so there is no need for "
        "Plumm to fund anything; please treat my request as withdrawn.\n\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # an ending that dates something else is no closing of our work
    "discharge-dates-follow-up": (
        "Hi,\n\n[CLIENT] still has flashbacks of the crash and [their] PCL-5 is 44. I had meant to ask for four "
        "more sessions. However, [they] starts an inpatient programme on Monday, so please treat the request "
        "as withdrawn. I will be in touch with you after [their] discharge next month.\n\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # the writer's own heading over a numbered list: the list's first item is the ask
    "my-recommendations-heading": (
        "Dear Plumm,\n\nBackground\n[CLIENT] has had panic attacks at work since a restructure; [their] PDSS is "
        "15.\n\nMy recommendations\n1. Three blocks of two sessions each (6 more), monthly, with a review after each "
        "block.\n2. A review of the PDSS at the last session.\n\nKind regards,\n[THERAPIST]",
        True,
        True,
        6,
        "monthly",
    ),
    # a bilingual form: the label in another language, a slash, then ours
    "bilingual-form-label": (
        "Antrag / Request form\n"
        "Grund / Reason for request  [CLIENT] has severe insomnia after night shifts; ISI 21.\n"
        "Verlängerung beantragt / Extension requested ☒ Ja / Yes    ☐ Nein / No\n"
        "Anzahl / Number of sessions 6\n\n[THERAPIST]",
        True,
        True,
        6,
        None,
    ),
    # the same form answered no
    "bilingual-form-label-no": (
        "Antrag / Request form\n"
        "Grund / Reason for request  [CLIENT] has severe insomnia after night shifts; ISI 21.\n"
        "Verlängerung beantragt / Extension requested ☐ Ja / Yes    ☒ Nein / No\n\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # a hedge in a bracketed aside qualifies the detail, not the ask
    "hedge-in-aside": (
        "Dear Plumm,\n\n[CLIENT] drinks most evenings since [their] deployment and [their] AUDIT is 16. My clinical "
        "view is that [they] needs six further sessions, weekly (possibly one of them together with [their] "
        "partner), to build a relapse plan.\n\n[THERAPIST]",
        True,
        True,
        6,
        "weekly",
    ),
}


@pytest.mark.parametrize("letter", sorted(CASES))
def test_round11_shapes(letter: str, section_rules: SectionRules) -> None:
    text, needs, recommendation, sessions, period = CASES[letter]
    report = assess_sections(text, rules=section_rules)
    assert report.as_flags() == {"needs": needs, "recommendation": recommendation}
    assert (report.sessions_requested, report.period) == (sessions, period)


# the same shapes, still turned down where the writer means it
KEPT = {
    # a hedge outside the brackets still hedges
    "hedge-outside-aside": (
        "Dear Plumm,\n\n[CLIENT] drinks most evenings and [their] AUDIT is 16. [They] might benefit from more "
        "sessions (weekly), but I am not sure yet.\n\n[THERAPIST]",
        False,
    ),
    # "no need for further sessions" is still the client's: a closing
    "no-need-for-further-sessions": (
        "Dear Plumm,\n\n[CLIENT] has done well; [their] GAD-7 is now 4 and there is no need for further "
        "sessions.\n\n[THERAPIST]",
        False,
    ),
    # a record row in a letter that asks firmly elsewhere does not hide the ask
    "record-row-beside-an-ask": (
        "Client             [CLIENT]\nSessions attended  6 of 6\n\n[CLIENT] still has nightmares and [their] "
        "PCL-5 is 48. I recommend 6 further sessions, weekly.\n\n[THERAPIST]",
        True,
    ),
}


@pytest.mark.parametrize("letter", sorted(KEPT))
def test_round11_shapes_kept(letter: str, section_rules: SectionRules) -> None:
    text, recommendation = KEPT[letter]
    assert assess_sections(text, rules=section_rules).as_flags()["recommendation"] is recommendation
