"""Section verdicts and the ask's extraction on the shapes round 9's letters showed, in letters
invented here (never a blind letter's wording): an ask taken back later in the same message, a
client's "need" that is no wish of theirs, a numbered list under the writer's "I propose the
following:", sessions in compound forms ("two more blocks of four"), a form answered with tick
boxes, a message that only asks about the process before writing, and an ask only in the subject
line. Each case failed before the change that added it."""

from __future__ import annotations

import pytest

from pipeline.stages.sections import SectionRules, assess_sections

# id -> (letter, needs, recommendation, sessions, period)
CASES = {
    # the writer takes the ask back after making it: the need stays, the ask and its count go
    "ask-withdrawn-after": (
        "Dear Plumm,\n\n[CLIENT] has had panic attacks on the bus since the spring and [their] PDSS is 15.\n\n"
        "I had meant to ask for five more fortnightly sessions. However, [CLIENT] has now found a place with a "
        "local NHS service, so please treat this request as withdrawn.\n\nBest wishes,\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # a top note withdraws the forwarded letter below it, which asks firmly
    "ask-withdrawn-before": (
        "Hello,\n\nForwarding the letter below for your records only: please do not action it, as [CLIENT] has "
        "decided to pause therapy.\n\nThanks,\n[THERAPIST]\n\nDear Plumm,\n\nI request 8 further weekly sessions "
        "for [CLIENT], whose low mood has deepened since [their] redundancy; [their] PHQ-9 is 18.\n\n"
        "Kind regards,\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # an ask that replaces the one taken back stands
    "ask-withdrawn-and-replaced": (
        "Dear Plumm,\n\n[CLIENT] still has nightmares most nights and [their] PCL-5 is 47. Please disregard the "
        "figure in my first paragraph. Instead, I recommend 10 further sessions, weekly.\n\n[THERAPIST]",
        True,
        True,
        10,
        "weekly",
    ),
    # a pointer to another message is no withdrawal of this one's ask
    "disregard-previous-email": (
        "Hi,\n\nPlease disregard my previous email, which went out unfinished. [CLIENT] has severe health anxiety "
        "and checks [their] pulse for hours each evening. I recommend 6 more sessions every other week.\n\n"
        "[THERAPIST]",
        True,
        True,
        6,
        "fortnightly",
    ),
    # the client's need, in the writer's view, is no wish of the client's: "continue" names the work
    "client-needs-more-to-continue": (
        "Dear Plumm,\n\n[CLIENT] has had intrusive memories and broken sleep since the warehouse fire; [their] "
        "IES-R is 49.\n\nRecommendation\nIn my opinion [they] needs up to six further sessions, monthly, to "
        "continue the trauma-focused work.\n\n[THERAPIST]",
        True,
        True,
        6,
        "monthly",
    ),
    # "[they] continues to struggle" is a need, and wishes for nothing
    "client-continues-to-struggle": (
        "Hello,\n\n[CLIENT] continues to struggle with panic at junctions and would benefit from 4 more "
        "sessions, weekly.\n\n[THERAPIST]",
        True,
        True,
        4,
        "weekly",
    ),
    # the writer's act ends in a colon; the ask is the numbered list under it (a list's number is no
    # sentence of its own)
    "propose-the-following-list": (
        "Dear colleagues,\n\n[CLIENT] has obsessional checking that now delays [their] shifts; [their] Y-BOCS "
        "is 26.\n\nWe would propose the following, which [their] GP also supports:\n1. Six more, every "
        "second week, for exposure work.\n2. A review of the Y-BOCS at the end.\n\n[THERAPIST]",
        True,
        True,
        6,
        "fortnightly",
    ),
    # blocks of sessions: the count of blocks times the count in each
    "blocks-of-sessions-multiplied": (
        "Hello,\n\n[CLIENT] still has flashbacks of the collision several times a week.\n\nI recommend two more "
        "blocks of four sessions, fortnightly.\n\n[THERAPIST]",
        True,
        True,
        8,
        "fortnightly",
    ),
    "blocks-of-sessions-digits": (
        "Hi,\n\n[CLIENT] continues to experience panic attacks at work.\n\nI request 3 further courses of 2 "
        "sessions each, weekly.\n\n[THERAPIST]",
        True,
        True,
        6,
        "weekly",
    ),
    # a form answered with tick boxes: only the ticked option is the answer
    "form-ticked-yes-and-fortnightly": (
        "ADDITIONAL SESSIONS FORM\nClient [CLIENT]\nReason for extension: Health anxiety with constant body "
        "checking; [their] HAI is 31 and [they] has missed four shifts this month.\nExtension requested ☒ Yes   "
        "☐ No\nNumber of additional sessions 6\nFrequency ☐ Weekly   ☒ Fortnightly   ☐ Monthly\nTherapist "
        "[THERAPIST]",
        True,
        True,
        6,
        "fortnightly",
    ),
    "form-ticked-no": (
        "ADDITIONAL SESSIONS FORM\nClient [CLIENT]\nReason for extension: Health anxiety with constant body "
        "checking; [their] HAI is 31.\nExtension requested [ ] Yes   [x] No\nTherapist [THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    "form-frequency-last-box-ticked": (
        "Dear Plumm,\n\n[CLIENT] has complicated grief since [their] sister's death and cannot return to the "
        "shop floor yet. I recommend 5 more sessions.\n\nFrequency: [ ] Weekly  [ ] Fortnightly  [x] Monthly\n\n"
        "[THERAPIST]",
        True,
        True,
        5,
        "monthly",
    ),
}


@pytest.mark.parametrize("letter", sorted(CASES))
def test_round9_shapes(letter: str, section_rules: SectionRules) -> None:
    text, needs, recommendation, sessions, period = CASES[letter]
    report = assess_sections(text, rules=section_rules)
    assert report.as_flags() == {"needs": needs, "recommendation": recommendation}
    assert (report.sessions_requested, report.period) == (sessions, period)


# the client asks for something that is not sessions: no client's wish, so nothing turns an ask down
def test_client_asks_for_something_else_is_no_wish(section_rules: SectionRules) -> None:
    text = (
        "Dear Plumm,\n\n[CLIENT], as [they] asks to be called, began therapy with me in March after panic attacks "
        "at work; [their] PDSS is 16.\n\n[THERAPIST]"
    )
    verdict = assess_sections(text, rules=section_rules).verdicts[1]
    assert not verdict.present and "client's wish" not in verdict.reason


# subject line -> (body, needs, recommendation, sessions, period)
SUBJECTS = {
    "Recommend 3 additional sessions (monthly) - [CLIENT]": (
        "Hello,\n\n[CLIENT] has had low mood and early waking since [their] divorce; [their] PHQ-9 is 17.\n\n"
        "[THERAPIST]",
        True,
        True,
        3,
        "monthly",
    ),
    "Please approve 5 more sessions - [CLIENT] - every 2 wks": (
        "See subject, thanks.\n[THERAPIST]",
        False,
        True,
        5,
        "fortnightly",
    ),
    "Extension request - 7x weekly sessions - [CLIENT]": (
        "Dear Plumm,\n\nPlease find my summary attached. [CLIENT] still has nightmares about the robbery at the "
        "branch and [their] PCL-5 is 50.\n\n[THERAPIST]",
        True,
        True,
        7,
        "weekly",
    ),
    # the body takes the ask back: the subject's ask is withdrawn with it
    "Request: 6 additional sessions (weekly) - [CLIENT]": (
        "Hi,\n\n[CLIENT] has panic attacks on the train and [their] PDSS is 14. [CLIENT] has since moved to an NHS "
        "service, so please do not action this.\n\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
    # a title that asks for nothing is no ask
    "Letter for [CLIENT] - sessions used": (
        "Hello,\n\n[CLIENT] has had low mood since [their] redundancy; [their] PHQ-9 is 16.\n\n[THERAPIST]",
        True,
        False,
        None,
        None,
    ),
}


@pytest.mark.parametrize("subject", sorted(SUBJECTS))
def test_ask_in_the_subject_line(subject: str, section_rules: SectionRules) -> None:
    body, needs, recommendation, sessions, period = SUBJECTS[subject]
    report = assess_sections(body, rules=section_rules, subject=subject)
    assert report.as_flags() == {"needs": needs, "recommendation": recommendation}
    assert (report.sessions_requested, report.period) == (sessions, period)
    if recommendation:
        assert report.verdicts[1].evidence in subject


# a list's number before a polite request: "1. Can [they] have 7 more sessions?" still asks
def test_numbered_polite_request_is_an_ask(section_rules: SectionRules) -> None:
    text = (
        "Hello,\n\n[CLIENT] still has contamination fears and [their] Y-BOCS score is 25 (severe).\n\n"
        "1. Can [they] have 7 more sessions?\n2. We would then review at the end.\n\n[THERAPIST]"
    )
    report = assess_sections(text, rules=section_rules)
    assert report.as_flags() == {"needs": True, "recommendation": True}
    assert report.sessions_requested == 7
