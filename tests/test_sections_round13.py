"""Section verdicts and the request's count and period on the shapes round 13's letters showed, in letters
invented here (never a blind letter's wording): an ask withdrawn later in the message because the client
"won't need" more (the needs stay: the reasons were stated), a polite request after a greeting in another
language, a polite request after a spaced dash with no please ("could we have another five?"), a list's
number before the count ("1. Eight sessions"), a frequency after the count that the parser hangs on a
heading label ("Recommendation: ..., held weekly"), and a frequency asked for on its own in a reply
("Sorry - fortnightly, please."). Each case failed before the change that added it."""

from __future__ import annotations

import pytest

from pipeline.stages.sections import SectionRules, assess_sections

# id -> (letter, needs, recommendation, sessions, period)
CASES = {
    # the ask is taken back because the client "won't need" more: a withdrawal, not a closing of the work
    "withdrawn-wont-need": (
        "Dear Plumm,\n\n[CLIENT] has had panic attacks since the storm and [their] PDSS is 15; [they] has not "
        "driven since.\n\nI would be grateful if a further block of 8 sessions, weekly, could be considered.\n\n"
        "Later: [CLIENT] rang to say [their] new job comes with its own cover. So please disregard the request "
        "above; [they] won't need further Plumm sessions after all.\n\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # a greeting in another language before a polite request: the request, not a question
    "greeting-in-another-language": (
        "Hallo Plumm, could you approve another 4 sessions for [CLIENT]? fortnightly, through to june. "
        "thanks! [THERAPIST]",
        False,
        True,
        4,
        "fortnightly",
    ),
    # a polite request after a spaced dash, a count of more and no please
    "polite-request-after-dash": (
        "Hi [PERSON_1],\n\nSorry, I should have said - could we have another five sessions, monthly?\n\n[THERAPIST]\n\n"
        "Dear Plumm,\n\n[CLIENT]'s BDI is still 24. In my view [they] would benefit from continuing treatment."
        "\n\n[THERAPIST]",
        True,
        True,
        5,
        "monthly",
    ),
    # a list's number is no count of sessions
    "numbered-recommendation": (
        "Dear Plumm team,\n\n[CLIENT] has panic attacks most days and has not travelled to work since March.\n\n"
        "My recommendations\n1. Eight sessions at fortnightly intervals\n2. A review with [their] GP after the "
        "fourth session\n\nKind regards,\n[THERAPIST]",
        True,
        True,
        8,
        "fortnightly",
    ),
    # a participle after the count that the parser hangs on the heading's label is no past
    "held-weekly-after-label": (
        "Dear Plumm,\n\n[CLIENT] has severe health anxiety and [their] SHAI is 31.\n\nRecommendation: my "
        "recommendation would be ten (10) additional 50-minute sessions (CPT\n90837), held weekly, with a "
        "repeat of the SHAI at session five.\n\n[THERAPIST]",
        True,
        True,
        10,
        "weekly",
    ),
    # a reply on top of the letter gives the frequency on its own
    "frequency-in-a-reply": (
        "Hi,\n\nSorry about that - fortnightly, please. [They] works shifts.\n\n[THERAPIST]\n\n"
        "Dear Plumm,\n\n[CLIENT] has low mood since [their] redundancy and [their] PHQ-9 is 18. I'm hoping you "
        "can approve another six sessions for [them].\n\n[THERAPIST]",
        True,
        True,
        6,
        "fortnightly",
    ),
}


@pytest.mark.parametrize("letter", sorted(CASES))
def test_round13_shapes(letter: str, section_rules: SectionRules) -> None:
    text, needs, recommendation, sessions, period = CASES[letter]
    report = assess_sections(text, rules=section_rules)
    assert report.as_flags() == {"needs": needs, "recommendation": recommendation}
    assert (report.sessions_requested, report.period) == (sessions, period)


# the same shapes, still turned down where the writer means it
KEPT = {
    # a letter that closes the work and never asked still gives no needs
    "discharge-without-an-ask": (
        "Dear Plumm,\n\n[CLIENT] had panic attacks in the spring; [their] PDSS is now 3 and [they] won't need "
        "further sessions.\n\n[THERAPIST]",
        False,
        False,
    ),
    # a question after a dash about the process is still a question
    "process-question-after-dash": (
        "Hi,\n\nQuick one - could we have the form you use for extensions? [CLIENT] has used the allowance.\n\n"
        "[THERAPIST]",
        False,
        False,
    ),
}


@pytest.mark.parametrize("letter", sorted(KEPT))
def test_round13_shapes_kept(letter: str, section_rules: SectionRules) -> None:
    text, needs, recommendation = KEPT[letter]
    assert assess_sections(text, rules=section_rules).as_flags() == {"needs": needs, "recommendation": recommendation}


def test_list_number_then_count_in_words(section_rules: SectionRules) -> None:
    """A count on a numbered line still counts: "2) 6 more sessions"."""
    text = (
        "Dear Plumm,\n\n[CLIENT] still has nightmares; PCL-5 48. I recommend:\n2) 6 more sessions, weekly\n\n"
        "[THERAPIST]"
    )
    assert assess_sections(text, rules=section_rules).sessions_requested == 6
