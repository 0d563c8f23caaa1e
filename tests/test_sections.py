"""Section checker: needs / recommendation verdicts, sessions and period, rules validation.

Texts are written as the redaction stage leaves them ([PERSON_1], [they], [their]...), plus a
few unredacted ones. The fixture test runs on the golden ``<stem>.letter.txt`` files, which are
*unredacted* (redaction is being merged separately); a placeholder-laden variant of each is
also checked so the rules are proven on redacted text too.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pipeline.models import LetterMissing
from pipeline.rules import DEFAULT_RULES_DIR, RulesError
from pipeline.stages.sections import SectionRules, assess_sections, load_section_rules
from pipeline.stages.sections.normalize import plural_verb
from tests.conftest import FIXTURES, expected, fixture_stems


@pytest.fixture(scope="module")
def rules() -> SectionRules:
    return load_section_rules(DEFAULT_RULES_DIR)


def flags(text: str, rules: SectionRules) -> dict[str, bool]:
    """The verdicts; a text that is no letter at all (it names no session, therapy, client or
    clinical word and no witness hears a section) has neither section, as the replay reports it."""
    try:
        return assess_sections(text, rules=rules).as_flags()
    except LetterMissing:
        return {"needs": False, "recommendation": False}


# --- recommendation ------------------------------------------------------------------------------

RECOMMENDATION_PRESENT = {
    "recommends": "Having reviewed [their] progress, [PERSON_2] recommends six additional sessions.",
    "recommending": "I am therefore recommending a further 6 sessions for [PERSON_1].",
    "would-recommend": "I would recommend that [PERSON_1] is offered eight more sessions.",
    "strongly-recommend": "I strongly recommend continued weekly therapy for [them].",
    "would-benefit-further": "[they] would benefit from a further block of six sessions.",
    "support-request": "[PERSON_1] asked for more sessions; I support the request for additional sessions.",
    "requesting-additional": "I am requesting an additional twelve sessions for my client.",
    "propose-with-gap": "I propose that [they] receives 8 more sessions on a fortnightly basis.",
    "like-to-request": "Hi,\nI'd like to request six more sessions for my client.\nThanks",
    "request-extension": "I am writing to request an extension of [PERSON_1]'s therapy.",
    "my-recommendation-is": "My recommendation is that [PERSON_1] is offered six additional sessions.",
    "no-hesitation": "I have no hesitation in recommending a further 6 sessions.",
    "not-hesitate": "I would not hesitate to recommend additional sessions for [PERSON_1].",
    "double-negative-ending": "I would not recommend ending therapy at this point.",
    "heading-own-line": "Recommendation\nSix further sessions, fortnightly, to complete the work.",
    "heading-colon-same-line": "Recommendations: 6 sessions fortnightly",
    "heading-caps-blank-line": "PROFESSIONAL RECOMMENDATION\n\nA further block of sessions, weekly.",
    "bullet-list": "Recommendation:\n* 6 more sessions\n* weekly",
    "sessions-indicated": "Additional sessions are clinically indicated.",
    "grateful-if-you-approve": "I would be grateful if you could approve a further six sessions.",
    "placeholder-subject": "[PERSON_1] [PERSON_2] recommended that [they] continue for another 4 sessions.",
    # the writer's own want, and a modal ask for a count of more, in any sentence (issue 14)
    "looking-for-another": "Hiya, we're looking for a further 4 sessions for [PERSON_1] if that's ok.",
    "would-like-more": "I'd really like three more appointments with [them] before the summer.",
    "hoping-for-half-dozen": "Just checking in - hoping for another half-dozen sessions for my client, weekly.",
    "modal-get-n-x-more": "Could we get 8x more for [PERSON_1] (ref [ID_1]) pls, grief work is ongoing.",
    "modal-get-count-question": "Please could [PERSON_1] (DOB [DOB_1]) get 5 more, every other week?",
}

RECOMMENDATION_ABSENT = {
    "do-not-recommend": "I do not recommend further sessions for [PERSON_1] at this time.",
    "would-not-recommend": "I would not recommend additional sessions as [PERSON_1] has met [their] goals.",
    "cannot-recommend": "I cannot recommend further sessions.",
    "cant-recommend": "I can't recommend more sessions.",
    "no-further-recommended": "No further sessions are recommended.",
    "recommend-no-further": "I recommend no further sessions for [PERSON_1].",
    "not-able-to": "I do not feel able to recommend more sessions at this point.",
    "not-in-position": "I am not in a position to recommend an increase.",
    "recommend-ending": "I would recommend ending therapy now.",
    "process-question": "What is the process for requesting more sessions?",
    "process-question-in-letter": "Dear Plumm,\n\nWhat is the process for requesting more sessions "
    "for my client?\n\nThanks,\n[PERSON_1]",
    "how-to-question": "Could you tell me how to request more sessions for [them]?",
    "client-asked": "[PERSON_1] has asked for more sessions. [they] finds them helpful.",
    "needs-only": "[PERSON_1] continues to experience panic attacks due to [their] workload.",
    "heading-negated": "Recommendation:\nNo further sessions are recommended.",
    "heading-none": "Recommendation: none at this time",
    "heading-then-signoff": "Recommendation:\n\nKind regards,\n[PERSON_1]",
    "heading-then-heading": "Recommendation\nClinical rationale\n[they] has ongoing panic attacks.",
    "not-clinically-indicated": "Further sessions are not clinically indicated.",
    "title-only": "Request for additional sessions",
    "recommended-by-gp": "[PERSON_1] was recommended to me by [their] GP.",
    "pointer-to-attachment": "The formal letter with my recommendation is attached.",
    "will-write-later": "I will write again shortly with my recommendation once we have met.",
    "client-wants-more": "[PERSON_1] would like more sessions but I think we can finish next week.",
    "looking-forward": "I am looking forward to more sessions with the team next year.",
}


@pytest.mark.parametrize("text", RECOMMENDATION_PRESENT.values(), ids=RECOMMENDATION_PRESENT.keys())
def test_recommendation_present(text: str, rules: SectionRules) -> None:
    assert flags(text, rules)["recommendation"] is True


@pytest.mark.parametrize("text", RECOMMENDATION_ABSENT.values(), ids=RECOMMENDATION_ABSENT.keys())
def test_recommendation_absent(text: str, rules: SectionRules) -> None:
    assert flags(text, rules)["recommendation"] is False


# --- needs ---------------------------------------------------------------------------------------

NEEDS_PRESENT = {
    "continues-to-experience": "[they] continues to experience low mood.",
    "due-to": "[their] sleep is disrupted due to nightmares.",
    "because": "I am asking because [their] work is not finished.",
    "score": "[their] PHQ-9 score is 17.",
    "scored": "At assessment [they] scored 24 on the CORE-10.",
    "risk": "There is a risk of relapse if therapy stops now.",
    "suicidal": "[they] has reported passive suicidal thoughts.",
    "would-benefit": "[PERSON_1] would benefit from continued support.",
    "progress": "[they] has made good progress but is not yet ready to end.",
    "experiencing-symptom": "[PERSON_1] has been struggling with anxiety since [their] divorce.",
    "heading-reason-for-referral": "Reason for referral\n[PERSON_1] was referred with generalised anxiety.",
    "heading-clinical-rationale": "CLINICAL RATIONALE:\n[they] still has panic attacks most days.",
    "heading-therapy-needs-bullets": "- Therapy needs: anxiety and panic attacks at work\n- Other: none",
    "heading-presenting-difficulties": "Presenting difficulties\n\nLow mood, poor sleep and withdrawal.",
    "heading-current-presentation": "Current presentation: [they] is tearful most days.",
    "bullets-no-heading": "- [they] still reports flashbacks\n- GAD-7 15",
}

NEEDS_ABSENT = {
    "recommendation-only": "I recommend six more sessions for my client.",
    "request-only": "I would like to request 6 more sessions for my client [PERSON_1].",
    "process-question": "What is the process for requesting more sessions?",
    "allowance-used": "[they] has used all of [their] sessions this month.",
    "momentum-only": "We are at an important point in the work and I would not want to lose momentum.",
    "heading-empty": "Reason for referral:\n\nKind regards,\n[PERSON_1]",
    "heading-na": "Clinical rationale: n/a",
    "symptom-in-question": "Does anxiety count as a reason for more sessions?",
    # a needs field that only points elsewhere is not an explanation (issue 14)
    "heading-pointer-only": "CLINICAL RATIONALE:\nSee above.",
    "details-on-file": "Clinical needs: details are on file.",
    # the mail's own small print is no sentence of the letter
    "form-footer-because": "Sessions requested: 6\n\nYou are receiving this email because you manage this form.",
    "disclaimer-because": "I recommend six more sessions.\n\nIf you are not the intended recipient because of "
    "a misdirection, please delete this message.",
    # a discharge said as a need turned round: no more sessions, so no reason for more
    "does-not-need-any-more": "Thank you for the sessions in May. [they] doesn't need any more sessions from "
    "me; [they] is sleeping again because the stress at work has eased.",
}


@pytest.mark.parametrize("text", NEEDS_PRESENT.values(), ids=NEEDS_PRESENT.keys())
def test_needs_present(text: str, rules: SectionRules) -> None:
    assert flags(text, rules)["needs"] is True


@pytest.mark.parametrize("text", NEEDS_ABSENT.values(), ids=NEEDS_ABSENT.keys())
def test_needs_absent(text: str, rules: SectionRules) -> None:
    assert flags(text, rules)["needs"] is False


def test_bare_process_question_is_neither_section(rules: SectionRules) -> None:
    text = "Hello,\n\nwhat is the process for requesting more sessions?\n\nThanks"
    assert flags(text, rules) == {"needs": False, "recommendation": False}


def test_evidence_is_the_sentence_that_fired_and_rule_is_named(rules: SectionRules) -> None:
    text = (
        "Dear Plumm,\n\n[PERSON_1] continues to experience low mood. [they] enjoys walking.\n\n"
        "I would strongly recommend six additional sessions, weekly for two months.\n\n"
        "Kind regards,\n[PERSON_2]"
    )
    report = assess_sections(text, rules=rules)
    needs, recommendation = report.verdicts
    assert (needs.id, needs.evidence, needs.rule) == (
        "needs",
        "[PERSON_1] continues to experience low mood.",
        "needs-continues-to",
    )
    assert recommendation.evidence == "I would strongly recommend six additional sessions, weekly for two months."
    assert recommendation.rule == "rec-recommend"
    assert report.complete


def test_heading_verdict_names_the_heading_rule_and_content_sentence(rules: SectionRules) -> None:
    report = assess_sections("Recommendation\nSix further sessions, fortnightly.\n", rules=rules)
    verdict = report.verdicts[1]
    assert (verdict.present, verdict.rule, verdict.evidence) == (
        True,
        "heading",
        "Six further sessions, fortnightly.",
    )


def test_absent_section_quotes_the_sentence_turned_down_and_says_why(rules: SectionRules) -> None:
    verdict = assess_sections("I do not recommend further sessions.", rules=rules).verdicts[1]
    assert (verdict.present, verdict.evidence, verdict.rule) == (False, "I do not recommend further sessions.", "")
    assert verdict.reason == "no recommendation: the therapist says they are not recommending more sessions"


def test_absent_section_with_nothing_turned_down_has_no_evidence(rules: SectionRules) -> None:
    verdict = assess_sections("Thank you for your help with my client.", rules=rules).verdicts[1]
    assert (verdict.present, verdict.evidence, verdict.reason) == (
        False,
        "",
        "no recommendation: no sentence asks for more sessions",
    )


# --- sessions and period -------------------------------------------------------------------------

EXTRACTION = [
    ("I recommend six additional sessions.", 6, None),
    ("I recommend 8 more sessions on a fortnightly basis.", 8, "fortnightly"),
    ("I propose a further 6 sessions, monthly.", 6, "monthly"),
    ("I am requesting an additional twelve sessions, weekly for two months.", 12, "weekly"),
    ("I recommend twenty more sessions, held weekly.", 20, "weekly"),
    ("[they] would benefit from a further block of 6 sessions.", 6, None),
    ("Additional sessions requested: 4", 4, None),
    ("Recommendation: 10 sessions, fortnightly", 10, "fortnightly"),
    ("I recommend that [PERSON_1] continues for a further 12 sessions, twice weekly.", 12, "twice weekly"),
    # an earlier count of sessions already used is not the request
    ("[they] has had 6 sessions so far. I recommend four more sessions.", 4, None),
    ("[they] has reached [their] monthly limit. I recommend further weekly sessions.", None, "weekly"),
    ("I recommend further sessions.", None, None),
]


@pytest.mark.parametrize(("text", "sessions", "period"), EXTRACTION, ids=[t for t, _, _ in EXTRACTION])
def test_sessions_and_period_extraction(text: str, sessions: int | None, period: str | None, rules) -> None:
    report = assess_sections(text, rules=rules)
    assert (report.sessions_requested, report.period) == (sessions, period)


def test_output_is_deterministic(rules: SectionRules) -> None:
    text = (
        (FIXTURES / "plain-text-letter-with-headings.letter.txt").read_text(encoding="utf-8")
        if (FIXTURES / "plain-text-letter-with-headings.letter.txt").exists()
        else "Recommendation\nI recommend six additional sessions, weekly.\n"
    )
    reports = {assess_sections(text, rules=rules) for _ in range(3)}
    reloaded = assess_sections(text, rules=load_section_rules(DEFAULT_RULES_DIR))
    assert len(reports) == 1 and reports == {reloaded}


# --- rules file ----------------------------------------------------------------------------------


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    shutil.copy(DEFAULT_RULES_DIR / "sections.yaml", tmp_path / "sections.yaml")
    path = tmp_path / "sections.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_unknown_key_in_sections_yaml_is_a_rules_error_naming_file_and_key(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "    guidance: >-", "    guidnace: >-")
    with pytest.raises(RulesError) as err:
        load_section_rules(tmp_path)
    message = str(err.value)
    assert str(path) in message and "sections.0.guidnace" in message and "sections.0.guidance" in message


def test_malformed_spacy_pattern_is_a_rules_error_naming_file_and_key(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "pattern: [{LOWER: because}]", "pattern: [{LOWR: because}]")
    with pytest.raises(RulesError) as err:
        load_section_rules(tmp_path)
    assert str(path) in str(err.value) and re.search(r"sections\.0\.patterns\.\d+\.pattern", str(err.value))


def test_invalid_yaml_is_a_rules_error_naming_file(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "sections:\n", "sections: [\n")
    with pytest.raises(RulesError, match=re.escape(str(path))):
        load_section_rules(tmp_path)


# --- fixtures ------------------------------------------------------------------------------------

LETTER_STEMS = [s for s in fixture_stems() if (FIXTURES / f"{s}.letter.txt").exists()]

_PRONOUNS = {
    "he": "they",
    "she": "they",
    "him": "them",
    "his": "their",
    "her": "their",
    "hers": "theirs",
    "himself": "themself",
    "herself": "themself",
}


def _simulated_redaction(text: str, exp: dict) -> str:
    """Stand-in for the redaction stage: known identifiers -> [TYPE_n], pronouns -> [they]..."""
    values = sorted(((v, t) for t, vs in exp.get("must_not_survive", {}).items() for v in vs), key=lambda p: -len(p[0]))
    for n, (value, kind) in enumerate(values, start=1):
        text = text.replace(value, f"[{kind}_{n}]")
    return re.sub(
        r"\b(he|she|him|his|her|hers|himself|herself)\b",
        lambda m: f"[{_PRONOUNS[m.group(0).lower()]}]",
        text,
        flags=re.IGNORECASE,
    )


# The role form of redaction (issue 13): the client is [CLIENT], other people [PERSON_n], the
# therapist [THERAPIST], the employer [EMPLOYER], numbers [ID_n]; pronouns are plain "they/them/
# their" and the verb agrees ("she has" -> "they have").
_ROLES = {"PERSON": "CLIENT", "THERAPIST": "THERAPIST", "EMPLOYER": "EMPLOYER"}
_ID_TYPES = {"UK_NHS", "UK_NINO", "EMPLOYEE_ID", "REGISTRATION_NUMBER"}


def _role_form_redaction(text: str, exp: dict) -> str:
    values = sorted(((v, t) for t, vs in exp.get("must_not_survive", {}).items() for v in vs), key=lambda p: -len(p[0]))
    for n, (value, kind) in enumerate(values, start=1):
        role = _ROLES.get(kind) or (f"ID_{n}" if kind in _ID_TYPES else f"PERSON_{n}")
        text = text.replace(value, f"[{role}]")
    text = re.sub(
        r"\b(he|she)((?:\s+(?:still|now|also|often|never|always|just|only|really|\w+ly))*)\s+([a-z']+)\b",
        lambda m: f"{'They' if m.group(1)[0].isupper() else 'they'}{m.group(2)} {plural_verb(m.group(3))}",
        text,
        flags=re.IGNORECASE,
    )
    return re.sub(
        r"\b(him|his|her|hers|himself|herself)\b",
        lambda m: _PRONOUNS[m.group(0).lower()].replace("themself", "themselves"),
        text,
        flags=re.IGNORECASE,
    )


def test_role_form_redaction_reads_as_the_new_redaction_writes() -> None:
    exp = {"must_not_survive": {"PERSON": ["Sam Lee"], "EMPLOYER": ["Acme"]}}
    assert _role_form_redaction("Sam Lee has left Acme. She still feels low and he watches TV.", exp) == (
        "[CLIENT] has left [EMPLOYER]. They still feel low and they watch TV."
    )


@pytest.mark.parametrize("form", ["golden-unredacted", "simulated-redaction", "role-form-redaction"])
@pytest.mark.parametrize("stem", LETTER_STEMS)
def test_fixture_letter_sections_match_expected(stem: str, form: str, rules: SectionRules) -> None:
    """Both forms of redaction, old ("[they] has", [PERSON_1]) and new ("they have", [CLIENT]), give
    the fixture's verdicts, sessions and period."""
    exp = expected(stem)
    text = (FIXTURES / f"{stem}.letter.txt").read_text(encoding="utf-8")
    if form == "simulated-redaction":
        text = _simulated_redaction(text, exp)
    elif form == "role-form-redaction":
        text = _role_form_redaction(text, exp)
    report = assess_sections(text, rules=rules)
    assert report.as_flags() == exp["sections"]
    assert report.sessions_requested == exp.get("sessions_requested")
    assert report.period == exp.get("period")
