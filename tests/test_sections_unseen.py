"""Red-team set for the section checker: phrasing the rules were not written from.

Every expectation here was written first, as a careful human reader of the (redacted) letter
would judge it, and only then run. The texts imitate many writers: British and other English
registers, terse clinical notes, bullet lists, long formal letters, non-native English,
psychiatrists, EAP counsellors, art and couples therapists.

Decisions a reader could argue about, stated once:

* a *past* recommendation that has been used up ("I previously recommended six sessions, which
  have now been used") is not a current request, so it is not a recommendation;
* a *conditional or hedged* one ("If funding allows, I may recommend...") is not a recommendation;
* a recommendation made by someone else ("[their] GP recommended counselling") is not the
  therapist's recommendation;
* a redacted name alone ("[PERSON_2] recommends six additional sessions") is taken to be the
  writer, as in tests/test_sections.py, but one introduced by a role ("[their] psychiatrist,
  [PERSON_2], recommends...", "Dr [PERSON_2], [their] consultant, recommends...") is someone else;
* a grant already made ("Plumm approved 6 additional sessions in [DATE_1]") is not a request;
* a polite request phrased as a question ("Please could Plumm authorise another 8 sessions?") is
  a request, while a question about the process ("How does [PERSON_1] get more sessions?") is not;
* "would benefit from / requires further therapy" counts as a (thin) need, as in
  tests/test_sections.py.
"""

from __future__ import annotations

import pytest

from pipeline.rules import DEFAULT_RULES_DIR
from pipeline.stages.sections import SectionRules, assess_sections, load_section_rules
from tests.test_sections import flags


@pytest.fixture(scope="module")
def rules() -> SectionRules:
    return load_section_rules(DEFAULT_RULES_DIR)


def _p(id_: str, text: str, needs: bool, recommendation: bool, *, xfail: str = ""):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(text, needs, recommendation, id=id_, marks=marks)


# --- recommendation phrasings (one sentence or a short note) --------------------------------------

RECOMMENDATIONS = [
    _p(
        "strongly-support-n-further",
        "I would strongly support 8 further sessions for [PERSON_1].",
        False,
        True,
    ),
    _p(
        "clinical-opinion-indicated",
        "In my clinical opinion, a further block of 6 sessions is indicated.",
        False,
        True,
    ),
    _p("of-the-view-warranted", "I am of the view that continued therapy is warranted.", False, True),
    _p("extension-requested-label", "Extension requested: 6 sessions", False, True),
    _p("please-could-authorise", "Please could Plumm authorise another 8 sessions for [them].", False, True),
    _p(
        "please-could-authorise-question-mark",
        "Please could Plumm authorise another 8 sessions for [them]?",
        False,
        True,
    ),
    _p(
        "would-you-be-able-to-approve",
        "Would you be able to approve a further four sessions for [PERSON_1]?",
        False,
        True,
    ),
    _p("id-advise-extending", "I'd advise extending the treatment by four sessions.", False, True),
    _p(
        "my-recommendation-is-course",
        "My recommendation is an additional course of 10 sessions.",
        False,
        True,
    ),
    _p(
        "clinically-appropriate-to-offer",
        "It would be clinically appropriate to offer [PERSON_1] six further sessions.",
        False,
        True,
    ),
    _p("endorse-their-request", "I endorse [their] request for further sessions.", False, True),
    _p("continued-input-recommended", "Continued input is recommended.", False, True),
    _p("we-request-extension", "We request an extension of [their] therapy by 6 sessions.", False, True),
    _p("happy-to-support-extension", "I'm happy to support an extension to [their] sessions.", False, True),
    _p("continuation-indicated", "Continuation of therapy is clinically indicated.", False, True),
    _p("advocate-for-additional", "I would advocate for an additional 6 sessions.", False, True),
    _p("terse-requesting", "Requesting 6 more sessions pls.", False, True),
    _p(
        "grateful-if-plumm-could-fund",
        "I would be grateful if Plumm could fund a further 6 sessions of trauma-focused CBT.",
        False,
        True,
    ),
    _p(
        "further-sessions-of-benefit",
        "Further sessions would be of great benefit to [PERSON_1].",
        False,
        True,
    ),
    _p(
        "professional-opinion-requires",
        "It is my professional opinion that [they] requires further therapy.",
        True,
        True,
    ),
    _p("recommended-label", "Recommended: 6 further sessions (weekly).", False, True),
    _p("asking-for-extra", "I am asking for an extra 4 sessions fortnightly.", False, True),
    _p(
        "strongly-suggest",
        "I would strongly suggest that [they] is offered a further block of sessions.",
        False,
        True,
    ),
    _p("should-be-offered", "I believe [PERSON_1] should be offered additional sessions.", False, True),
    _p("american-register", "I am recommending an additional 6 visits for my patient.", False, True),
    _p("we-would-like-to-continue", "We would like to continue our work for another 6 sessions.", False, True),
    _p(
        "professional-opinion-would-allow",
        "In my professional opinion, a further eight sessions would allow us to consolidate these gains.",
        True,
        True,
    ),
]

# --- needs phrasings -------------------------------------------------------------------------------

NEEDS = [
    _p("not-yet-reached-recovery", "[they] has not yet reached recovery.", True, False),
    _p("remains-above-threshold", "[their] PHQ-9 remains above clinical threshold (16).", True, False),
    _p("premature-ending-relapse", "A premature ending would risk relapse.", True, False),
    _p(
        "signed-off-work",
        "[they] is currently signed off work with stress and finds it hard to concentrate in meetings.",
        True,
        False,
    ),
    _p(
        "life-event-bereavement",
        "Following the sudden death of [their] father in [DATE_1], [they] has found returning to work very difficult.",
        True,
        False,
    ),
    _p(
        "disclosure-abuse",
        "[they] disclosed historic abuse in our fourth session, which we have only begun to process.",
        True,
        False,
    ),
    _p(
        "terse-presents-with",
        "Client presents with moderate depression (PHQ-9 = 14) and work-related anxiety.",
        True,
        False,
    ),
    _p("terse-note-panic", "Panic attacks on the commute 3-4x/week.", True, False),
    _p(
        "sick-leave-restructure",
        "Since the restructure at [ORG_1], [they] has been having panic attacks "
        "before team meetings and has taken two weeks of sick leave.",
        True,
        False,
    ),
    _p("scores-line", "Scores: PHQ-9 19, GAD-7 16.", True, False),
    _p(
        "grieving-struggling",
        "[they] is still grieving the loss of [their] mother and is struggling to function at work.",
        True,
        False,
    ),
    _p("self-harm-episodes", "There have been two episodes of self-harm in the past month.", True, False),
    _p(
        "felt-safe-to-talk",
        "[they] has only recently felt safe enough to talk about the assault.",
        True,
        False,
    ),
    _p("alcohol-increase", "[their] alcohol use has increased to around 40 units a week.", True, False),
    _p("above-threshold-core", "[they] remains above clinical threshold on the CORE-10.", True, False),
    _p(
        "heading-clinical-need",
        "Clinical need:\n[they] reports passive suicidal ideation without plan or intent.",
        True,
        False,
    ),
    _p(
        "work-impact",
        "[their] anxiety is affecting [their] performance at work and [they] has had a formal warning.",
        True,
        False,
    ),
    _p(
        "couple-conflict",
        "Communication between the couple remains highly conflictual and trust has not been rebuilt.",
        True,
        False,
    ),
    _p(
        "non-native-needs",
        "[they] is suffering very much from the anxiety since [they] lost the job.",
        True,
        False,
    ),
]

# --- both in one sentence, and whole letters -------------------------------------------------------

LETTERS = [
    _p(
        "given-ongoing-recommend",
        "Given [their] ongoing panic attacks, I recommend six more sessions, fortnightly.",
        True,
        True,
    ),
    _p(
        "as-continues-advise",
        "As [PERSON_1] continues to struggle with intrusive memories, I would advise a further 6 sessions.",
        True,
        True,
    ),
    _p(
        "owing-to-complexity",
        "Owing to the complexity of [their] trauma history, I would advise a further block of 8 sessions.",
        True,
        True,
    ),
    _p(
        "formal-british-letter",
        "Dear Sir or Madam,\n\nRe: [PERSON_1], DOB [DOB_1]\n\nI am writing in my capacity as [PERSON_1]'s "
        "counselling psychologist. [they] was referred through the EAP in [DATE_1] with symptoms of "
        "generalised "
        "anxiety, which have been compounded by a redundancy consultation at [their] workplace. "
        "Although [they] "
        "has engaged well and [their] GAD-7 has reduced from 18 to 12, [they] remains above the clinical "
        "threshold and has not yet been able to return to full duties.\n\nIn my professional "
        "opinion, a further "
        "eight sessions would allow us to consolidate these gains and address the avoidance that remains.\n\n"
        "Yours faithfully,\n[PERSON_2]\nCounselling Psychologist",
        True,
        True,
    ),
    _p(
        "psychiatrist-letter",
        "Dear colleagues,\n\nI reviewed [PERSON_1] in clinic today. [they] has a diagnosis of recurrent "
        "depressive disorder, current episode moderate, and is taking sertraline 100mg. "
        "Psychological therapy is "
        "an essential part of [their] treatment and I would be grateful if [their] sessions could be "
        "extended by "
        "a further 10 sessions.\n\nDr [PERSON_2]\nConsultant Psychiatrist",
        True,
        True,
    ),
    _p(
        "eap-form-terse",
        "Client: [PERSON_1]\nSessions used: 6/6\nPresenting issue: work stress, low mood, sleep disturbance\n"
        "Request: 4 further sessions\nThanks, [PERSON_2]",
        True,
        True,
    ),
    _p(
        "art-therapist",
        "Hi Plumm team,\n\nI'm [PERSON_1]'s art therapist. Through our image-making [they] has "
        "started to express "
        "feelings about [their] miscarriage that [they] had not been able to put into words before. This is "
        "delicate work and stopping now would be unhelpful. I'd like to ask for six more sessions so "
        "we can work "
        "towards a good ending.\n\nBest,\n[PERSON_2]",
        True,
        True,
    ),
    _p(
        "couples-therapist",
        "I am seeing [PERSON_1] and [their] partner for couples therapy following the disclosure of "
        "an affair. "
        "The couple are in the middle of rebuilding trust and communication remains highly conflictual. I "
        "recommend that we continue with fortnightly sessions for a further three months.",
        True,
        True,
    ),
    _p(
        "non-native-letter",
        "Dear Sir, I am the therapist of [PERSON_1]. [they] is suffering very much from the anxiety "
        "since [they] "
        "lost the job. Still [they] is not able to sleep good. I ask you kindly to give more "
        "sessions to [them], "
        "minimum 6 sessions more. Thank you.",
        True,
        True,
    ),
    _p(
        "non-native-approve",
        "Please to approve additional 5 sessions for my client because the depression is not finish.",
        True,
        True,
    ),
    _p(
        "bullets-treatment-plan-rationale",
        "Treatment plan:\n- Continue CBT for health anxiety\n- 6 additional sessions\n- Fortnightly\n\n"
        "Rationale:\n- HADS anxiety 14\n- Reassurance seeking daily",
        True,
        True,
    ),
    _p(
        "summary-of-need-proposed-plan",
        "Summary of need\nOngoing trauma symptoms following the road traffic collision; nightmares 4 "
        "nights per "
        "week.\n\nProposed plan\nA further 8 sessions of EMDR.",
        True,
        True,
    ),
    _p(
        "outcome-measures-request",
        "Outcome measures\nCORE-10: 22 (first session), 19 (session 6)\n\nRequest\nWe request an "
        "extension of "
        "6 sessions.",
        True,
        True,
    ),
    _p("plan-heading-6x", "Plan: 6x weekly sessions of CBT.", False, True),
    _p(
        "eap-counsellor-short",
        "Hello,\n\n[PERSON_1] has used [their] 6 sessions. [they] is still having panic attacks at work and "
        "remains anxious about travelling. I would recommend a further 6 sessions to continue the exposure "
        "work.\n\nKind regards\n[PERSON_2]\nEAP Counsellor",
        True,
        True,
    ),
    _p(
        "rationale-heading-only-needs",
        "Rationale\n[they] has not yet reached recovery and a premature ending would risk relapse.",
        True,
        False,
    ),
    _p(
        "clinical-need-and-continued-input",
        "Clinical need: ongoing low mood with early-morning waking.\nPlan: continued input is recommended.",
        True,
        True,
    ),
    _p(
        "important-to-keep-coming",
        "[they] is still very low. I think it is important that [they] keeps coming to therapy for a while longer.",
        True,
        True,
        xfail="no act of asking and the classifier scores the sentence below `agree`: the phrase rule alone "
        "no longer counts (issue 14: two witnesses, so a bullet heading about why sessions are needed is no ask)",
    ),
]

# --- negatives and near misses ---------------------------------------------------------------------

NEGATIVES = [
    _p("do-not-feel-needed", "I do not feel further sessions are needed.", False, False),
    _p("end-as-planned", "Therapy can end as planned.", False, False),
    _p("no-recommendation-yet", "No recommendation at this stage.", False, False),
    _p(
        "client-asked-unsure",
        "[PERSON_1] asked me to write to you, though I am unsure more sessions would help.",
        False,
        False,
    ),
    _p(
        "completed-no-longer-require",
        "We have now completed our sessions and [they] no longer requires support.",
        False,
        False,
    ),
    _p("how-does-get-more", "How does [PERSON_1] get more sessions?", False, False),
    _p("what-do-you-need", "Could you tell me what you need from me?", False, False),
    _p(
        "gp-recommended-counselling",
        "[their] GP recommended counselling and [they] self-referred to Plumm.",
        False,
        False,
    ),
    _p(
        "employer-recommended",
        "[their] line manager has recommended that [they] continue with therapy.",
        False,
        False,
    ),
    _p(
        "past-recommendation-used",
        "I previously recommended six sessions, which have now been used.",
        False,
        False,
    ),
    _p(
        "conditional-may-recommend",
        "If funding allows, I may recommend further sessions in the new year.",
        False,
        False,
    ),
    _p(
        "unable-to-support",
        "Unfortunately I am unable to support a request for more sessions at this time.",
        False,
        False,
    ),
    _p(
        "not-indicated-goals-met",
        "Further sessions are not indicated; [they] has met [their] goals.",
        False,
        False,
    ),
    _p("natural-end", "Our sessions have come to a natural end and [they] is doing well.", False, False),
    _p(
        "what-to-send",
        "Hi, my client has used [their] 6 sessions for this month. What do I need to send you to get more?",
        False,
        False,
    ),
    _p(
        "process-no-question-mark",
        "Please can you let me know the process for requesting additional sessions for [PERSON_1].",
        False,
        False,
    ),
    _p(
        "client-would-like",
        "[PERSON_1] would like more sessions. I have told [them] I will write to you.",
        False,
        False,
    ),
    _p(
        "how-many-left",
        "The client is keen to continue. Could you let me know how many sessions [they] has left?",
        False,
        False,
    ),
    _p(
        "discharge-letter",
        "Dear Plumm,\n\n[PERSON_1] attended six sessions and has made a good recovery. [their] "
        "scores are now "
        "in the non-clinical range and we agreed to end therapy. No further sessions are required.\n\nBest "
        "wishes,\n[PERSON_2]",
        False,
        False,
    ),
    _p("who-do-i-send-letter", "Who should I send the letter of recommendation to?", False, False),
    _p("not-recommending-at-present", "I am not recommending further sessions at present.", False, False),
    _p(
        "will-send-letter-later",
        "I will send a letter recommending further sessions next week.",
        False,
        False,
    ),
]

# --- second round, written after the first fix and measured blind before any further change ----------

HOLDOUT = [
    _p(
        "ask-whether-could-have",
        "I'm writing to ask whether [PERSON_1] could have a few more sessions - [they] "
        "is making real headway with [their] OCD but we are not there yet.",
        True,
        True,
    ),
    _p("strongly-advised", "Further therapy is strongly advised.", False, True),
    _p(
        "welcome-approval",
        "In summary, I would welcome approval for an additional six sessions.",
        False,
        True,
    ),
    _p(
        "clinically-benefit-range",
        "Clinically, [they] would benefit from a further 6-8 sessions.",
        True,
        True,
    ),
    _p("bdi-score-indicates", "The client's BDI-II score of 29 indicates severe depression.", True, False),
    _p("waking-weight-loss", "[they] is waking at 3am most nights and has lost 5kg.", True, False),
    _p("symptoms-persist", "Hypervigilance and startle responses persist.", True, False),
    _p(
        "cant-support-done-well",
        "I'm afraid I can't support a request for more sessions; [they] has done really well.",
        False,
        False,
    ),
    _p("decided-to-stop", "[PERSON_1] has decided to stop therapy.", False, False),
    _p("confirm-whether-extended", "Could you confirm whether the sessions can be extended?", False, False),
    _p("could-you-please-extend", "Could you please extend [their] allowance by 4 sessions?", False, True),
    _p("kindly-approve", "Kindly approve 6 additional sessions.", False, True),
    _p(
        "recommendation-continue-weekly",
        "Recommendation: continue weekly CBT for a further 8 weeks.",
        False,
        True,
    ),
    _p("assessment-note", "Assessment: moderate-severe depression, passive SI, no plan.", True, False),
    _p("lives-alone", "[they] lives alone and has little support outside of our sessions.", True, False),
    _p(
        "keen-to-offer-another",
        "Given the progress so far, I'd be keen to offer [them] another 6.",
        True,
        True,
    ),
    _p(
        "no-concerns",
        "I have no concerns about [PERSON_1] and do not think further sessions are necessary.",
        False,
        False,
    ),
    _p("letter-attached", "As discussed on the phone, please find my letter attached.", False, False),
    _p(
        "dx-sx-plan-note",
        "Therapist note - Dx: GAD. Sx: worry, muscle tension, poor sleep. Plan: +6 sessions.",
        True,
        True,
    ),
    _p(
        "keep-working-together",
        "We'd like to keep working together for another couple of months.",
        False,
        True,
    ),
    _p("mother-died", "[their] mother died in January and the anniversary is approaching.", True, False),
    _p("bullied-off-sick", "[they] has been bullied by a colleague and is now off sick.", True, False),
    _p("support-continued-therapy", "I support continued therapy.", False, True),
    _p(
        "not-in-favour",
        "Please note I would not be in favour of extending sessions at this time.",
        False,
        False,
    ),
    _p(
        "gp-also-and-i-agree",
        "The GP has also recommended that [they] continue counselling, and I agree that a "
        "further 6 sessions would be helpful.",
        False,
        True,
    ),
    _p(
        "none-required-thanks",
        "No further sessions required at this point - thanks for your help!",
        False,
        False,
    ),
    _p(
        "can-have-more-please",
        "Can [PERSON_1] have more sessions please? [they] still gets very anxious on the tube.",
        True,
        True,
    ),
    _p(
        "client-would-like-i-agree",
        "[PERSON_1] would like more sessions and I agree this would be beneficial.",
        False,
        True,
    ),
]

# --- third round, written after the second fix and measured blind: mostly everyday letter lines -------
# that must *not* count, since every added pattern is a chance of a false positive

HOLDOUT_3 = [
    _p(
        "sessions-helpful-so-far",
        "Thank you for the sessions so far; [PERSON_1] has found them really helpful.",
        False,
        False,
    ),
    _p("no-longer-anxious", "[they] is doing much better and is no longer anxious at work.", False, False),
    _p("happy-to-discuss", "I am happy to discuss this further if helpful.", False, False),
    _p("further-information-signoff", "Please let me know if you need any further information.", False, False),
    _p(
        "happy-to-provide-report",
        "I would be happy to provide further information or a report if required.",
        False,
        False,
    ),
    _p(
        "do-not-hesitate",
        "Should you require any further details, please do not hesitate to contact me.",
        False,
        False,
    ),
    _p("attended-six", "[PERSON_1] has attended 6 sessions since [DATE_1].", False, False),
    _p("worked-on-techniques", "We have worked on sleep hygiene and grounding techniques.", False, False),
    _p(
        "employer-asked-progress",
        "[their] employer, [ORG_1], has asked for an update on [their] progress.",
        False,
        False,
    ),
    _p("recommend-plumm", "I would recommend Plumm to other therapists.", False, False),
    _p(
        "confirm-allocation-used",
        "I confirm that [PERSON_1] has used [their] allocation of sessions for this month.",
        False,
        False,
    ),
    _p("asked-me-to-contact", "[PERSON_1] asked me to contact you regarding more sessions.", False, False),
    _p("client-has-requested", "The client has requested additional sessions.", False, False),
    _p("hr-suggested", "[their] HR department suggested [they] ask for more sessions.", False, False),
    _p("no-clinical-need", "There is no clinical need for further sessions.", False, False),
    _p("denies-suicidal", "[they] has no history of self-harm and denies suicidal thoughts.", False, False),
    _p("risk-none-identified", "Risk: none identified.", False, False),
    _p(
        "recommendation-none-review",
        "Recommendation: none at present; I will review after the next session.",
        False,
        False,
    ),
    _p("father-diagnosed", "[PERSON_1]'s father has recently been diagnosed with cancer.", True, False),
    _p(
        "requesting-to-consolidate",
        "With this in mind, I'm requesting a further six sessions to consolidate [their] progress.",
        True,
        True,
    ),
    _p("extension-x6", "Requesting extension x6 fortnightly.", False, True),
    _p("further-sessions-label-recommended", "Further sessions: recommended (6, weekly).", False, True),
    # written as needs=False, corrected to the convention in the module docstring
    # ("would benefit from further..." is a thin need)
    _p(
        "gain-a-great-deal",
        "I believe that [they] would gain a great deal from a few more sessions.",
        True,
        True,
    ),
    _p(
        "cmht-waiting-continue",
        "[they] has been referred to the community mental health team, and while [they] "
        "waits I would like to continue seeing [them].",
        True,
        True,
    ),
    _p("suggest-range", "I'd suggest a further 4-6 sessions.", False, True),
    _p("ies-risen", "[their] IES-R score has risen from 30 to 41.", True, False),
    _p(
        "ongoing-input-justified",
        "Ongoing input from me is clinically justified.",
        False,
        True,
        xfail="no act of asking and the classifier scores the sentence below `agree` (see important-to-keep-coming)",
    ),
    _p(
        "support-application",
        "I write to support [PERSON_1]'s application for additional therapy sessions.",
        False,
        True,
    ),
]


# --- fourth blind round: another writer (terse notes, supervisors/trainees, US English, heavy
# placeholders, needs shown only through scores and functional impact, negatives) ----------------

HOLDOUT_4 = [
    _p("terse-more-please-weekly", "6 more sessions please, weekly?", False, True),
    _p("us-recommend-continuing-care-visits", "I'd recommend continuing care for an additional 8 visits.", False, True),
    _p("scores-and-off-work", "PHQ-9 19, GAD-7 16; off work 3 weeks.", True, False),
    _p(
        "psychiatrist-recommends",
        "[PERSON_1]'s psychiatrist, [PERSON_2], recommends continued weekly therapy.",
        False,
        False,
    ),
    _p("dr-consultant-recommends", "Dr [PERSON_2], [their] consultant, recommends 6 further sessions.", False, False),
    _p("i-name-recommend", "I, [PERSON_2], recommend 6 further sessions for [PERSON_1].", False, True),
    _p(
        "supervisor-endorses",
        "As [PERSON_2]'s clinical supervisor, I endorse [their] recommendation that [PERSON_1] "
        "receive a further 6 sessions.",
        False,
        True,
    ),
    _p(
        "trainee-requesting",
        "I am a trainee counsellor and, with my supervisor's agreement, I am requesting 6 additional "
        "sessions for [PERSON_1].",
        False,
        True,
    ),
    _p(
        "discharged-none-required",
        "[PERSON_1] has completed treatment and is being discharged; no further sessions are required.",
        False,
        False,
    ),
    _p(
        "progress-phq-fallen",
        "Progress update: [PERSON_1] continues to attend weekly and [their] PHQ-9 has fallen from 18 to 9.",
        False,
        False,
    ),
    _p(
        "billing-question",
        "Could you tell me whether sessions are invoiced to Plumm or to [ORG_1] directly?",
        False,
        False,
    ),
    _p(
        "unable-to-drive",
        "[they] has been unable to drive since the accident and has stopped leaving the house.",
        True,
        False,
    ),
    _p(
        "presentation-panic-sleep",
        "Current presentation: panic attacks 3-4 times a week; sleeping around 4 hours a night.",
        True,
        False,
    ),
    _p("gad-severe-range", "GAD-7 remains in the severe range (17).", True, False),
    _p("request-authorization-us", "I am writing to request authorization for 10 additional sessions.", False, True),
    _p("extend-care-through-date", "I'm requesting we extend [their] care through [DATE_1].", False, True),
    _p(
        "plan-keep-seeing-if-agrees",
        "My plan is to keep seeing [them] weekly for another couple of months, if Plumm agrees.",
        False,
        True,
    ),
    _p("like-to-keep-working", "I'd like to keep working with [PERSON_1] for another 6 sessions.", False, True),
    _p("declined-offer", "[PERSON_1] declined my offer of further sessions.", False, False),
    _p("agreed-to-end", "We agreed to end therapy as [they] feels ready.", False, False),
    _p(
        "approved-now-completed",
        "Plumm approved 6 additional sessions in [DATE_1], which [they] has now completed.",
        False,
        False,
    ),
    _p(
        "may-request-in-future",
        "Should [their] symptoms return, I may request further sessions in future.",
        False,
        False,
    ),
    _p(
        "intrusive-memories",
        "[they] continues to experience intrusive memories and nightmares related to the assault.",
        True,
        False,
    ),
    _p(
        "signed-off-sick",
        "[they] was signed off sick by [their] GP on [DATE_1] with work-related stress.",
        True,
        False,
    ),
    _p("passive-si", "[they] reports passive suicidal ideation without plan or intent.", True, False),
    _p(
        "letter-redundancy",
        "Dear Plumm team,\n\n[PERSON_1] ([AGE_1]) was referred with low mood after a redundancy. "
        "[their] PHQ-9 is 21 and [they] is struggling to get out of bed most days.\n\n"
        "I recommend a further 8 sessions, fortnightly.\n\nKind regards,\n[PERSON_2]",
        True,
        True,
    ),
    _p(
        "headings-reason-request",
        "Reason for request:\nOngoing grief following a bereavement; [they] is not yet back at work.\n\n"
        "Request:\n6 sessions, weekly",
        True,
        True,
    ),
    _p(
        "professional-opinion-benefit",
        "In my professional opinion, [PERSON_1] would benefit from continued treatment.",
        True,
        True,
    ),
    _p(
        "employer-recommended",
        "[their] employer has recommended that [they] take more sessions.",
        False,
        False,
    ),
    _p("terse-req-sx", "Req: 4 sess, fortnightly. Sx: panic, avoidance.", True, True),
    _p("topped-up-by", "Could [PERSON_1]'s allocation be topped up by 4?", False, True),
    _p(
        "limit-question",
        "Is there a limit on how many extra sessions an employee can have?",
        False,
        False,
    ),
    _p(
        "returned-full-time",
        "[they] has returned to work full-time and reports [their] mood is stable.",
        False,
        False,
    ),
    _p("treating-team-passive", "Continuing therapy is recommended by the treating team.", False, True),
    _p("not-recommending", "I'm not recommending further sessions at this stage.", False, False),
    _p("pcl5-score", "[their] PCL-5 score is 52.", True, False),
    _p(
        "work-sleep-mood-labels",
        "Work: on reduced hours since [DATE_1]; Sleep: 3-4 hours; Mood: low most days.",
        True,
        False,
    ),
    _p("invoice-attached", "Please find attached my invoice for [DATE_1]'s sessions.", False, False),
    _p(
        "would-like-to-continue-range",
        "We would like to continue, ideally another 6-8 sessions over the summer.",
        False,
        True,
    ),
    _p("discussed-in-supervision", "I have discussed [PERSON_1]'s case in supervision.", False, False),
    # written after the round-four fixes, to hold them (not blind)
    _p("gp-dr-named-recommends", "[their] GP, Dr [PERSON_3], recommends more sessions.", False, False),
    _p("request-a-further-n", "Plumm previously approved 6 sessions; I now request a further 6.", False, True),
    _p("mood-stable-sleep-good", "Mood: stable. Sleep: good.", False, False),
    _p(
        "greeting-then-polite-request",
        "Hi - can [PERSON_1] have 6 more sessions please, weekly? Panic attacks back since [their] dad's "
        "funeral last month.",
        True,
        True,
    ),
]

ALL = RECOMMENDATIONS + NEEDS + LETTERS + NEGATIVES + HOLDOUT + HOLDOUT_3 + HOLDOUT_4


@pytest.mark.parametrize(("text", "needs", "recommendation"), ALL)
def test_unseen_sections(text: str, needs: bool, recommendation: bool, rules: SectionRules) -> None:
    verdicts = flags(text, rules)  # a fragment that is no letter at all has neither section
    assert (verdicts["needs"], verdicts["recommendation"]) == (needs, recommendation)


# --- sessions requested and period -----------------------------------------------------------------
# The period is the frequency of the request as one of weekly / fortnightly / monthly (the schema of
# the blind manifest and of rules/sections-training/asks.jsonl), or its words as written when it is
# none of them ("twice-weekly", "every three weeks"); a duration is not a period (issue 14).


def _x(text: str, sessions: int | None, period: str | None, *, xfail: str = ""):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(text, sessions, period, marks=marks)


EXTRACTION = [
    _x("I recommend a further 6.", 6, None),
    _x("I recommend 6x weekly sessions.", 6, "weekly"),
    _x("I recommend six (6) further sessions.", 6, None),
    _x("I recommend up to eight more sessions.", 8, None),
    _x("I am asking for an extra 4 sessions fortnightly.", 4, "fortnightly"),
    _x("I recommend 12 sessions over 3 months.", 12, None),
    _x("I recommend another block of 6.", 6, None),
    _x("Extension requested: 6 sessions", 6, None),
    _x("I recommend 8 sessions every other week.", 8, "fortnightly"),
    _x(
        "I recommend a further 10 sessions, to be held weekly for the next 10 weeks.",
        10,
        "weekly",
    ),
    _x("[they] has had 6 sessions this month. I would support 6 further sessions.", 6, None),
    _x("I would strongly support 8 further sessions.", 8, None),
    _x("I recommend weekly sessions for the next two months.", None, "weekly"),
    _x("We request an extension of 6 sessions.", 6, None),
    _x(
        "I recommend that we continue with fortnightly sessions for a further three months.",
        None,
        "fortnightly",
    ),
    _x("My recommendation is an additional course of 10 sessions.", 10, None),
    _x("I'd advise extending the treatment by four sessions.", 4, None),
    _x("Please could Plumm authorise another 8 sessions?", 8, None),
    _x("I ask you kindly to give more sessions, minimum 6 sessions more.", 6, None),
    _x("Recommended: 6 further sessions (weekly).", 6, "weekly"),
    _x("Treatment plan:\n- 6 additional sessions\n- Fortnightly", 6, "fortnightly"),
    _x("I recommend a further six sessions on a weekly basis.", 6, "weekly"),
    _x("I recommend four more sessions, once a fortnight.", 4, "fortnightly"),
    _x("[their] monthly allowance of 4 sessions is used. I recommend 4 more.", 4, None),
    # second round, measured blind
    _x("Plan: +6 sessions.", 6, None),
    _x("I recommend a further eight weekly sessions.", 8, "weekly"),
    _x("I would recommend another 4 sessions, every two weeks.", 4, "fortnightly"),
    _x("I recommend ten additional sessions over the next 3 months.", 10, None),
    _x("Recommendation: 6 sessions fortnightly for 12 weeks.", 6, "fortnightly"),
    _x("Kindly approve 6 additional sessions.", 6, None),
    _x("I recommend extending therapy by 5 sessions, twice a month.", 5, "fortnightly"),
    _x("Could you please extend [their] allowance by 4 sessions?", 4, None),
    _x("I recommend sessions continue weekly until the end of [DATE_1].", None, "weekly"),
    # third round, measured blind
    _x("Requesting extension x6 fortnightly.", 6, "fortnightly"),
    _x("I recommend a further 6 sessions (fortnightly).", 6, "fortnightly"),
    _x("I recommend 6 more sessions, one per week.", 6, "weekly"),
    _x("I recommend six sessions at weekly intervals.", 6, "weekly"),
    _x("I recommend 10 further sessions over 12 weeks.", 10, None),
]


EXTRACTION_4 = [
    _x("6 more sessions please, weekly?", 6, "weekly"),
    _x("I'd recommend continuing care for an additional 8 visits.", 8, None),
    _x("I recommend a further 8 sessions, fortnightly.", 8, "fortnightly"),
    _x("Request:\n6 sessions, weekly", 6, "weekly"),
    _x("I am writing to request authorization for 10 additional sessions.", 10, None),
    _x("I recommend biweekly sessions for another 3 months.", None, "fortnightly"),
    _x("Req: 4 sess, fortnightly.", 4, "fortnightly"),
    _x("I recommend a further twelve sessions.", 12, None),
    _x("I recommend 6 sessions, monthly.", 6, "monthly"),
    _x("I recommend 8 sessions across the next 16 weeks.", 8, None),
    _x("I recommend 6 further sessions every three weeks.", 6, "every three weeks"),
    _x("I recommend twice-weekly sessions for 4 weeks.", None, "twice-weekly"),
    _x("[they] has used 8 of [their] 8 sessions; I recommend 6 more, weekly.", 6, "weekly"),
    _x("Could [PERSON_1]'s allocation be topped up by 4?", 4, None),
    # written after the fixes
    _x("Hi - can [PERSON_1] have 6 more sessions please, weekly?", 6, "weekly"),
    _x("I recommend 6 sessions; [they] has had 10 so far.", 6, None),
]


@pytest.mark.parametrize(("text", "sessions", "period"), EXTRACTION + EXTRACTION_4)
def test_unseen_sessions_and_period(text: str, sessions: int | None, period: str | None, rules) -> None:
    report = assess_sections(text, rules=rules)
    assert (report.sessions_requested, report.period) == (sessions, period)
