"""Section verdicts and the request's count and period on the shapes round 14's letters showed, in letters
invented here (never a blind letter's wording): an interleaved reply whose answer to our quoted "how many
sessions?" is a count alone ("Eight, weekly.", "Twelve (12)." then the frequency), a withdrawal cue that
describes the client ("describes [them] as withdrawn") or is what the client does, an ask set aside with
another verb ("please ignore the request above"), a thank-you for a past grant that needs "nothing beyond
these", a closing that tells the count of a past grant, and a note in two languages whose count stands
after a spaced slash ("6 Sitzungen / 6 more sessions"). Each case failed before the change that added it."""

from __future__ import annotations

import pytest

from pipeline.stages.sections import SectionRules, assess_sections

# id -> (letter, needs, recommendation, sessions, period)
CASES = {
    # the quoted question is set aside before the letter is read: the answer is a count alone
    "answer-count-and-frequency": (
        "Hi [PERSON_1],\n\nReplies below, between your questions.\n\nEight, weekly.\n\n[CLIENT] has had panic "
        "attacks on the bus since the assault and [their] PDSS is 16; [they] has not been back to work.\n\n"
        "Thanks,\n[THERAPIST]",
        True,
        True,
        8,
        "weekly",
    ),
    # the count answers one question and the frequency, in the next paragraph, the next
    "answer-count-then-frequency": (
        "Hello,\n\nAnswers inline.\n\n[CLIENT] still has nightmares most nights and [their] PCL-5 is 49.\n\n"
        "Twelve (12).\n\nFortnightly, because [they] works rotating shifts.\n\n[THERAPIST]",
        True,
        True,
        12,
        "fortnightly",
    ),
    # "withdrawn" describes the client: no withdrawal of the writer's ask
    "client-described-as-withdrawn": (
        "Dear Plumm,\n\n[CLIENT] has low mood since [their] redundancy; [their] partner describes [them] as "
        "withdrawn and flat, and [their] PHQ-9 is 18.\n\nI recommend 6 further sessions at weekly intervals."
        "\n\n[THERAPIST]",
        True,
        True,
        6,
        "weekly",
    ),
    # what the client did is no withdrawal either
    "client-withdrew-from-it": (
        "Dear Plumm,\n\n[CLIENT] stopped going to [their] choir after the bereavement and has withdrawn from it "
        "entirely; [their] PHQ-9 is 17.\n\nI am requesting 5 more sessions, fortnightly.\n\n[THERAPIST]",
        True,
        True,
        5,
        "fortnightly",
    ),
    # the ask set aside with another verb of setting aside: the reasons stay
    "ignore-the-request": (
        "Hi,\n\n[CLIENT] has had intrusive memories of the fire and [their] IES-R is 51. I had meant to request "
        "four more sessions, fortnightly.\n\nUpdate: [they] has been offered a place with [their] local trauma "
        "service, so please just ignore my request above.\n\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # a thank-you for a past grant that needs nothing beyond it asks for nothing and says why
    "nothing-beyond-these": (
        "Thanks [PERSON_1], that is really helpful. [CLIENT] was relieved and [their] GAD-7 is down to 8 already."
        " I don't think we will need anything beyond these five, but I will write if that changes.\n\n"
        "[THERAPIST]",
        False,
        False,
        None,
        None,
    ),
    # a closing that tells the count of a past grant requests no count
    "closing-tells-past-count": (
        "Hello,\n\nThank you for the three extra sessions in May; they helped a great deal. "
        "[CLIENT]'s PHQ-9 is now 4. No further sessions are needed and I have discharged [them] today.\n\n"
        "[THERAPIST]",
        False,
        False,
        None,
        None,
    ),
}


@pytest.mark.parametrize("letter", sorted(CASES))
def test_round14_shapes(letter: str, section_rules: SectionRules) -> None:
    text, needs, recommendation, sessions, period = CASES[letter]
    report = assess_sections(text, rules=section_rules)
    assert report.as_flags() == {"needs": needs, "recommendation": recommendation}
    assert (report.sessions_requested, report.period) == (sessions, period)


# the same shapes, still read as they were where the count is no answer
KEPT = {
    # a value under its label is no answer to a question
    "value-under-label": (
        "Closing summary\n\nSessions attended:\n\n8\n\n[CLIENT] has met [their] goals and treatment is complete."
        "\n\n[THERAPIST]",
        False,
        False,
    ),
    # a list's number on its own line is no answer
    "list-number-alone": (
        "Hi,\n\nA question about your process, before I write to you properly:\n\n1.\n\nWhat do you need from "
        "me?\n\n[THERAPIST]",
        False,
        False,
    ),
    # two different counts are scores, not an answer
    "two-counts": ("Hello,\n\nScores at intake and now:\n\n19 14\n\nThanks,\n[THERAPIST]", False, False),
}


@pytest.mark.parametrize("letter", sorted(KEPT))
def test_round14_shapes_kept(letter: str, section_rules: SectionRules) -> None:
    text, needs, recommendation = KEPT[letter]
    report = assess_sections(text, rules=section_rules)
    assert report.as_flags() == {"needs": needs, "recommendation": recommendation}
    assert report.sessions_requested is None


def test_count_after_a_spaced_slash_in_the_subject(section_rules: SectionRules) -> None:
    """A subject in two languages: the count after " / " is a count ("8/10" stays a score)."""
    report = assess_sections(
        "Hallo,\n\nsiehe Betreff / see subject. Danke!\n\n[THERAPIST]",
        rules=section_rules,
        subject="6 weitere Sitzungen / 6 more sessions for [CLIENT], weekly",
    )
    assert report.as_flags() == {"needs": False, "recommendation": True}
    assert (report.sessions_requested, report.period) == (6, "weekly")


def test_a_score_with_an_unspaced_slash_is_no_count(section_rules: SectionRules) -> None:
    text = (
        "Dear Plumm,\n\n[CLIENT] rates [their] sleep 3/10 and has attended 6/6 sessions. I recommend a further "
        "block of four sessions.\n\n[THERAPIST]"
    )
    assert assess_sections(text, rules=section_rules).sessions_requested == 4
