"""Section verdicts and the ask's extraction on the shapes round 8's misses showed, in sentences written
here (never a blind letter's wording): "ended up" is where someone landed, not an ending of therapy; an
ending the writer looks forward to in the sentence that asks is where the asked-for work leads; a
notifier's "you are receiving this because" is small print, not a reason; a form's rows read as one
sentence by the parser keep their own count and frequency; a setback said as a verb and a SUDs rating
are needs."""

from __future__ import annotations

import pytest

from pipeline.stages.sections import assess_sections
from tests.test_sections import flags

VERDICTS = {
    # "ended up in hospital" tells where the client landed; it closes nothing
    # (a letter of reasons that leaves the number to a later letter: no closing frame withholds its needs)
    "ended-up-is-no-ending": (
        "Dear team,\n\n[PERSON_1] had a panic attack on the platform in [DATE_1] and ended up in hospital "
        "overnight. [they] now avoids the station and has been signed off work since.\n\n"
        "I will write again with the number of sessions once we have reviewed.\n\nBest wishes,\n[PERSON_2]",
        True,
        False,
    ),
    # the ending the writer hopes for after the asked-for sessions, in the same sentence as the ask
    "ask-then-hoped-for-discharge": (
        "Hi,\n\n[PERSON_1]'s nightmares are back since the court date was set and [their] PCL-5 is 47.\n\n"
        "So - 5 more please, fortnightly if you can, and I'd hope to be able to discharge [them] after that.\n\n"
        "Thanks,\n[PERSON_2]",
        True,
        True,
    ),
    # an ending the writer plans with no ask in the sentence stays an ending: a closing letter
    "planned-ending-without-an-ask-is-a-closing": (
        "Dear team,\n\n[PERSON_1] has done well and [their] GAD-7 is now 4. I expect to discharge [them] at our "
        "next appointment and no further sessions are needed.\n\nKind regards,\n[PERSON_2]",
        False,
        False,
    ),
    # a notifier's small print gives no reason; the reason field only points elsewhere
    "form-reason-points-elsewhere-small-print": (
        "REQUEST FOR SESSIONS\nClient: [PERSON_1]\nSessions requested: 6\nFrequency: Weekly\n"
        "Reason: As agreed on our call last week.\n\n"
        "You are receiving this because your address was entered as the payer contact.",
        False,
        True,
    ),
    # a setback said as a verb, a SUDs rating: the client's need, in a one-line note
    "setback-as-a-verb-and-suds": (
        "6 more please, weekly. the fire alarm at work knocked [them] right back (SUDs 8 again).\n\n[PERSON_1]",
        True,
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_round8_shapes_are_judged_as_a_reader_would(section_rules, name):
    text, needs, recommendation = VERDICTS[name]
    assert flags(text, section_rules) == {"needs": needs, "recommendation": recommendation}


ASKS = {
    # the parser hangs the count and the frequency on a word of the next row; each row keeps its own
    "form-rows-read-as-one-sentence": (
        "Client: [PERSON_1]\nDiagnosis: Recurrent depressive disorder\n"
        "Reason for additional sessions: relapse of low mood since the move to night shifts; [they] stopped "
        "seeing friends.\nSessions requested: 6\nFrequency: twice a month\nObjective: relapse prevention\n",
        6,
        "fortnightly",
    ),
    "ask-then-hoped-for-discharge": (VERDICTS["ask-then-hoped-for-discharge"][0], 5, "fortnightly"),
}


@pytest.mark.parametrize("name", sorted(ASKS))
def test_round8_asks_give_their_count_and_period(section_rules, name):
    text, sessions, period = ASKS[name]
    report = assess_sections(text, rules=section_rules)
    assert (report.sessions_requested, report.period) == (sessions, period)
