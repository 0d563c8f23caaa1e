"""Section verdicts and the ask's extraction on the shapes round 7's letters showed, in sentences
written here (never a blind letter's wording): a one-line ask as a question without "please", a
greeting that names its addressee, the writer's act as a heading over bullets, the frequency on the
ask's next line or in a table row that lost its colon, a closing letter that says no more is needed
in the writer's own view, thanks for sessions already arranged, and a recommendation for nothing of
ours ("I've advised [them] to come back if...")."""

from __future__ import annotations

import pytest

from pipeline.stages.sections import SectionRules, assess_sections
from tests.test_sections import flags

VERDICTS = {
    # a modal question asking for a count of more is a request, with or without "please"
    "question-count-more-no-please": (
        "Good afternoon, could [PERSON_1] get 5 more sessions every other week? [they] still has nightmares most "
        "nights and [their] PCL-5 is 44.",
        True,
        True,
    ),
    # the greeting names whom it greets before its comma
    "greeting-with-addressee": (
        "Morning Plumm intake team, can [PERSON_1] have 3 more sessions? [their] panic attacks have returned "
        "since the office move.",
        True,
        True,
    ),
    # a count of more asked for by the writer, in shorthand the classifier doubts
    "writer-count-more-shorthand": (
        "Hi,\n\nMay I get 8x more for [PERSON_1] plz - [their] low mood has returned since the divorce.\n\n"
        "Thanks\n[PERSON_2]",
        True,
        True,
    ),
    # a one-line ask whose need is an event in the client's life, named through a placeholder's possessive
    "one-liner-need-is-a-bereavement": (
        "hiya, can [PERSON_1] have 6 more sessions? [they] has only just started opening up about [their] "
        "brother's suicide. thanks [PERSON_2]",
        True,
        True,
    ),
    # the writer's act as a heading, the ask in the bullets under it
    "heading-what-i-propose": (
        "Dear team,\n\n[PERSON_1] has severe low mood and [their] PHQ-9 is 19.\n\nWhat I am proposing:\n"
        " - 8 more sessions of behavioural activation\n - every two weeks, to fit around childcare\n\n"
        "Kind regards,\n[PERSON_2]",
        True,
        True,
    ),
    # a verbless bullet asking for a further course
    "bullet-further-course-of-n": (
        "Dear team,\n\n[PERSON_1] continues to have flashbacks and poor sleep; [their] PCL-5 is 50.\n\n"
        "Plan\n- Another course of 10 sessions of EMDR\n\nRegards,\n[PERSON_2]",
        True,
        True,
    ),
    # a closing letter: the writer's own view that no more is needed
    "closing-writer-view-no-more-needed": (
        "Dear Plumm,\n\nI saw [PERSON_1] for [their] sixth appointment on Monday. [their] GAD-7 has fallen to 4 and "
        "[they] still has some worry about [their] health. I don't feel [they] needs any more sessions for now.\n\n"
        "Best wishes,\n[PERSON_2]",
        False,
        False,
    ),
    # thanks for sessions already arranged, and no new ask
    "thanks-for-arranging-nothing-further": (
        "Thanks very much for arranging this so quickly. [PERSON_1] was anxious that [they] would have to "
        "stop just as [they] was beginning to open up. We do not expect to need anything further.\n\n"
        "All the best,\n[PERSON_2]",
        False,
        False,
    ),
}


@pytest.mark.parametrize(("text", "needs", "recommendation"), VERDICTS.values(), ids=VERDICTS.keys())
def test_round7_shapes_verdicts(text: str, needs: bool, recommendation: bool, section_rules: SectionRules) -> None:
    assert flags(text, section_rules) == {"needs": needs, "recommendation": recommendation}


def test_a_recommendation_for_nothing_of_ours_is_no_ask(section_rules: SectionRules) -> None:
    # the writer's own act, but for a step that is not a session, therapy or block of ours
    text = (
        "Dear team,\n\nOur work together has now finished. I have recommended [they] contact [their] GP "
        "if the low mood returns over the winter.\n\nKind regards,\n[PERSON_2]"
    )
    assert flags(text, section_rules)["recommendation"] is False


EXTRACTION = {
    "question-count-more-period-inline": (VERDICTS["question-count-more-no-please"][0], 5, "fortnightly"),
    "heading-bullets-period-on-next-bullet": (VERDICTS["heading-what-i-propose"][0], 8, "fortnightly"),
    # the frequency opens the sentence after the ask
    "period-fragment-after-ask": (
        "Hi, could we have another 4 sessions for [PERSON_1] please? Weekly, ideally on Mondays. "
        "[their] low mood has deepened since the bereavement.",
        4,
        "weekly",
    ),
    # a table whose cells lost their borders: label, spaces, value
    "table-row-without-colon": (
        "SESSION EXTENSION FORM\nClient     [PERSON_1]\nSessions used so far     6\n"
        "Further sessions recommended     7\nSpacing     Fortnightly\n"
        "Reason     Ongoing panic attacks, PDSS 17, avoiding the commute.",
        7,
        "fortnightly",
    ),
    # the frequency as a field's value on the ask's next bullet
    "field-value-on-next-bullet": (
        "Dear team,\n\n[PERSON_1] still meets criteria for OCD (Y-BOCS 26).\n\nRecommendation:\n"
        "- A further block of 9 sessions of ERP\n- Cadence: weekly\n\nThanks,\n[PERSON_2]",
        9,
        "weekly",
    ),
}


@pytest.mark.parametrize(("text", "sessions", "period"), EXTRACTION.values(), ids=EXTRACTION.keys())
def test_round7_shapes_extraction(text: str, sessions: int, period: str, section_rules: SectionRules) -> None:
    report = assess_sections(text, rules=section_rules)
    assert (report.sessions_requested, report.period) == (sessions, period)


def test_a_count_in_a_row_that_was_used_is_not_the_request(section_rules: SectionRules) -> None:
    # the row form reads only labels that ask ("requested", "recommended"), never "used" or "completed"
    text = "Client     [PERSON_1]\nSessions completed     6\nReason     Ongoing low mood, PHQ-9 16."
    assert assess_sections(text, rules=section_rules).sessions_requested is None
