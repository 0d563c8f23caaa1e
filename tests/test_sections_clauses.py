"""Clause-level evidence: who asks, for whom, and what turns an ask round, each with its plain-words
reason (issue 14's list of what went wrong on unseen letters). The letters are written here, in both
forms of redaction, as a careful reader would judge them; the reasons are fixed phrases."""

from __future__ import annotations

import pytest

from pipeline.models import LetterMissing
from pipeline.rules import DEFAULT_RULES_DIR
from pipeline.stages.sections import SectionRules, assess_sections, load_section_rules

NEEDS = "[CLIENT] still has panic attacks most days and their GAD-7 is 15. "
OLD_NEEDS = "[PERSON_1] still has panic attacks most days and [their] GAD-7 is 15. "


@pytest.fixture(scope="module")
def rules() -> SectionRules:
    return load_section_rules(DEFAULT_RULES_DIR)


def _reasons(text: str, rules: SectionRules) -> tuple[str, str]:
    needs, rec = assess_sections(text, rules=rules).verdicts
    return needs.reason, rec.reason


NOT_ASKS = [
    (
        "partner-only",
        NEEDS + "I would recommend that [CLIENT'S PARTNER] has six sessions of counselling of their own.",
        "no needs: the letter asks only for someone other than the client",
        "no recommendation: the only request is for someone other than the client, such as a partner",
    ),
    (
        "partner-only-old-form",
        OLD_NEEDS + "[their] husband, [PERSON_2], would benefit from six sessions of counselling.",
        "no needs: the letter asks only for someone other than the client",
        "no recommendation: the only request is for someone other than the client, such as a partner",
    ),
    (
        "discharge",
        "[CLIENT] has completed treatment and no further sessions are needed. Their PHQ-9 is now 4.",
        "no needs: the letter says treatment is complete, so it does not explain a need for more sessions",
        "no recommendation: the letter says treatment is complete or no further sessions are needed",
    ),
    (
        "update-after-a-past-grant",
        "Thank you for approving six additional sessions in March. " + NEEDS,
        "no needs: the letter reports on sessions already granted and asks for no more",
        "no recommendation: the letter mentions sessions already granted but asks for no new ones",
    ),
    (
        "leaves-it-to-us",
        NEEDS + "I leave it to you to decide whether more sessions are appropriate.",
        "needs found: the letter explains the client's current difficulties and why more sessions are needed",
        "no recommendation: the letter leaves the decision to us without asking for sessions",
    ),
    (
        "hedge",
        NEEDS + "More sessions might help, but I am not requesting them at this time.",
        "needs found: the letter explains the client's current difficulties and why more sessions are needed",
        "no recommendation: the therapist says they are not recommending more sessions",
    ),
    (
        "client-wish",
        NEEDS + "[CLIENT] has asked for more sessions.",
        "needs found: the letter explains the client's current difficulties and why more sessions are needed",
        "no recommendation: the client's wish for more sessions is reported without the therapist's support",
    ),
    (
        "gp-recommends",
        NEEDS + "Their GP recommended further counselling.",
        "needs found: the letter explains the client's current difficulties and why more sessions are needed",
        "no recommendation: the only recommendation is someone else's, not the therapist's",
    ),
    (
        "needs-field-on-file-only",
        "Clinical needs: details are on file.\nSessions requested: 6",
        "no needs: the letter only points to details held elsewhere (on file, as discussed)",
        "recommendation found: the therapist requests 6 further sessions",
    ),
]


@pytest.mark.parametrize(("text", "needs", "rec"), [p[1:] for p in NOT_ASKS], ids=[p[0] for p in NOT_ASKS])
def test_what_turns_an_ask_round_is_named(text: str, needs: str, rec: str, rules: SectionRules) -> None:
    assert _reasons(text, rules) == (needs, rec)


ASKS = [
    ("I request six further sessions of EMDR.", "the therapist requests 6 further sessions of EMDR"),
    ("I motivate for a further block of 8 sessions.", "the therapist motivates for 8 further sessions"),
    ("Please could you authorise another 4?", "the therapist asks us to authorise 4 further sessions"),
    (
        "[CLIENT] has asked for more sessions and I fully support this.",
        "the therapist supports a request for further sessions",
    ),
    (
        "I'll leave the exact number up to you, but I am recommending further sessions.",
        "the therapist recommends further sessions",
    ),
    ("Plumm approved 6 sessions in March; I now request a further 6.", "the therapist requests 6 further sessions"),
    ("I would not recommend ending therapy at this point.", "the therapist recommends further therapy"),
]


@pytest.mark.parametrize(("text", "found"), ASKS, ids=[a[1] for a in ASKS])
def test_an_ask_is_found_with_who_asks_and_what_for(text: str, found: str, rules: SectionRules) -> None:
    report = assess_sections(NEEDS + text, rules=rules)
    assert report.complete
    assert report.verdicts[1].reason == f"recommendation found: {found}"
    assert report.verdicts[1].evidence == text


def test_a_letter_that_negates_the_ask_but_describes_current_difficulties_keeps_its_needs(rules) -> None:
    needs, rec = assess_sections(NEEDS + "I do not recommend further sessions at this time.", rules=rules).verdicts
    assert (needs.present, rec.present) == (True, False)
    assert rec.reason == "no recommendation: the therapist says they are not recommending more sessions"


NOT_LETTERS = {
    "isp-apology": (
        "Dear customer,\n\nWe are sorry for the broadband outage in your area on Tuesday. Our engineers restored "
        "the service by 6pm and a credit of £5 will appear on your next bill.\n\nThe Fibrenet team"
    ),
    "out-of-office": "I am out of the office until Monday 3 November with limited access to email.\n\n[PERSON_1]",
}


@pytest.mark.parametrize("text", NOT_LETTERS.values(), ids=NOT_LETTERS.keys())
def test_a_message_about_no_client_and_no_sessions_is_no_letter(text: str, rules: SectionRules) -> None:
    with pytest.raises(LetterMissing) as outcome:
        assess_sections(text, rules=rules)
    assert outcome.value.reason == "no-letter-found"


def test_a_process_question_is_a_letter_with_both_sections_missing(rules: SectionRules) -> None:
    report = assess_sections("Hello,\n\nwhat is the process for requesting more sessions?\n\nThanks", rules=rules)
    assert report.as_flags() == {"needs": False, "recommendation": False}
