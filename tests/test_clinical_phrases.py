"""Named clinical things a CSM must read survive redaction (instruments, therapy models, diagnoses,
care plans, support groups, crisis lines, short forms with scores), by their shape; and a known or
recurring name is removed all the same, even inside one of them (fail-closed).

The letters are invented: the instruments and models below do not exist, so that only the shape
can keep them."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from pipeline.models import KnownIdentifiers
from pipeline.patterns import PLACEHOLDER_RE
from pipeline.rules import DEFAULT_RULES_DIR, RulesError
from pipeline.stages.redaction.redactor import _Span
from pipeline.stages.redaction.rules import load_redaction_rules

INSTRUMENTS = """Dear Plumm team,

I am writing about my client Ilse Varga. At intake she completed the Ostrander Burnout Inventory (OBI)
and the Brannock Social Phobia Scale (BSPS-R). Her BSPS-R was 41 and her OBI fell to 22 by session six.
The Revised Grief Intensity Questionnaire was also elevated. Her PSS-10 score is 24, her DES-II is 34
and her GDS-15 total: 9.

Kind regards,
Dr Kwame Asante
"""

MODELS = """Dear Plumm team,

My client Tobias Renner has attended eight sessions. We have worked with the Ferrante & Oduya model of
health anxiety and elements of the Lindqvist Method. Earlier he tried CBT-T (Penrose) and the Carrick
model of Binge Eating Treatment for Older Adults (CABETOA). I recommend Narrative Exposure Therapy
(NET); NET would take about ten sessions. Imaginal Exposure (IE) is a second option.

Best wishes,
Maria Lopes
"""

CARE = """Dear Plumm team,

My client Ruth Akande meets criteria for a Hypomanic Episode and a Persistent Depressive Disorder.
She has a Wellbeing Recovery Plan with her GP and attends an Alcohol Peer Support group.
In a crisis she can call the National Suicide Prevention Lifeline, 999, 116 111 or NHS 111.

Kind regards,
Dr Owen Pryce
"""


def _redact(redactor, text: str, *names: str) -> str:
    """The redacted letter, its lines joined (a phrase may be wrapped)."""
    return " ".join(redactor.redact(text, KnownIdentifiers(names=names)).text.split())


def _outside_placeholders(text: str) -> str:
    return PLACEHOLDER_RE.sub(" ", text)


@pytest.mark.parametrize(
    "phrase",
    [
        "Ostrander Burnout Inventory (OBI)",
        "Brannock Social Phobia Scale (BSPS-R)",
        "BSPS-R was 41",
        "OBI fell",
        "Revised Grief Intensity Questionnaire",
        "PSS-10 score is 24",
        "DES-II is 34",
        "GDS-15 total: 9",
    ],
)
def test_named_instruments_and_their_short_forms_are_kept(redactor, phrase):
    out = _redact(redactor, INSTRUMENTS, "Ilse Varga", "Kwame Asante")
    assert phrase in out
    assert "Ilse" not in out and "Varga" not in out


@pytest.mark.parametrize(
    "phrase",
    [
        "Ferrante & Oduya model",
        "Lindqvist Method",
        "CBT-T (Penrose)",
        "Carrick model of Binge Eating Treatment for Older Adults (CABETOA)",
        "Narrative Exposure Therapy (NET); NET would",
        "Imaginal Exposure (IE)",
    ],
)
def test_therapy_models_named_after_authors_and_named_therapies_are_kept(redactor, phrase):
    out = _redact(redactor, MODELS, "Tobias Renner", "Maria Lopes")
    assert phrase in out
    assert "Tobias" not in out and "Renner" not in out


@pytest.mark.parametrize(
    "phrase",
    [
        "Hypomanic Episode",
        "Persistent Depressive Disorder",
        "Wellbeing Recovery Plan",
        "Alcohol Peer Support group",
        "National Suicide Prevention Lifeline, 999, 116 111 or NHS 111",
    ],
)
def test_diagnoses_plans_groups_and_crisis_lines_are_kept(redactor, phrase):
    out = _redact(redactor, CARE, "Ruth Akande", "Owen Pryce")
    assert phrase in out
    assert "Akande" not in out and "Pryce" not in out


# -- fail-closed ------------------------------------------------------------------------------------


def test_a_known_client_whose_surname_names_the_instrument_is_removed_everywhere(redactor):
    text = (
        "Dear team,\n\nRe: my client Ilse Brannock\n\nMs Brannock completed the Brannock Social Phobia "
        "Scale (BSPS) at intake; Brannock scored 41.\n\nKind regards,\nDr Kwame Asante\n"
    )
    out = _redact(redactor, text, "Ilse Brannock", "Kwame Asante")
    assert "brannock" not in out.casefold()
    assert "Social Phobia Scale (BSPS)" in out


def test_an_author_name_that_stands_elsewhere_in_the_letter_is_a_person_and_is_removed(redactor):
    text = (
        "Dear team,\n\nMr Lindqvist has attended eight sessions. We have used the Lindqvist Method with "
        "Mr Lindqvist and his partner, and the Ferrante & Oduya model.\n"
    )
    out = _redact(redactor, text)  # nothing seeded: the recurrence alone decides
    assert "Lindqvist" not in _outside_placeholders(out)
    assert "Ferrante & Oduya model" in out


@pytest.mark.parametrize(
    "text, kept",
    [
        ("Her Brannock Social Phobia Scale was 41.", "Brannock Social Phobia Scale"),
        ("His Lindqvist Method sessions went well.", "Lindqvist Method"),
    ],
)
def test_a_pronoun_opening_the_sentence_is_not_part_of_the_phrase(redactor, text, kept):
    assert [text[a:b] for a, b in redactor.vocab.protected_ranges(text)] == [kept]
    assert _redact(redactor, text).startswith("[their] " + kept)


@pytest.mark.parametrize(
    "text, kept",
    [
        ("Okonkwo Depressive Episode was noted.", "Depressive Episode"),  # not English at all
        ("Fletcher Compassion Therapy helped.", "Compassion Therapy"),  # an English noun, and a surname
    ],
)
def test_only_modifiers_open_a_therapy_or_diagnosis_name(redactor, text, kept):
    assert [text[a:b] for a, b in redactor.vocab.protected_ranges(text)] == [kept]


def test_an_employer_named_as_such_outranks_a_phrase_kept_by_its_shape(redactor):
    text = "My client is employed by Golden Recovery Group as a clerk."
    assert [text[a:b] for a, b in redactor.vocab.protected_ranges(text)] == ["Golden Recovery Group"]
    out = _redact(redactor, text)
    assert "Golden" not in _outside_placeholders(out)


@pytest.mark.parametrize(
    "text, outside",
    [
        ("My client works at Halvorsen Group in the city.", "Halvorsen"),  # a group with no clinical word
        ("She joined Northfield Rail (NR) in May.", "Northfield"),  # a short form of no clinical phrase
        ("He works for Brightwater Treatment Plan Ltd now.", "Brightwater"),  # names before a plain head
    ],
)
def test_employers_shaped_like_clinical_phrases_are_not_protected(redactor, text, outside):
    vocab = redactor.vocab
    assert not any(text[a:b].find(outside) >= 0 for a, b in vocab.protected_ranges(text))


@pytest.mark.parametrize(
    "text, digits",
    [
        ("Please call her on 01632 111 222 after six.", "111"),  # a crisis number inside a phone number
        ("Her reference is 116 123 4567.", "4567"),  # a helpline prefix of a longer number
        ("Client code ABC-48213 score is 12.", "48213"),  # a code shaped like an instrument's short form
    ],
)
def test_numbers_that_only_contain_a_crisis_number_or_a_score_shape_are_still_removed(redactor, text, digits):
    out = _redact(redactor, text)
    assert digits not in _outside_placeholders(out)


# -- the data ---------------------------------------------------------------------------------------


def _broken_copy(tmp_path, change):
    for name in ("redaction.yaml", "allow.yaml", "structured.yaml"):
        shutil.copy(DEFAULT_RULES_DIR / name, tmp_path / name)
    allow = yaml.safe_load((tmp_path / "allow.yaml").read_text(encoding="utf-8"))
    change(allow["clinical_phrases"])
    (tmp_path / "allow.yaml").write_text(yaml.safe_dump(allow), encoding="utf-8")


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c.update(named_heads=[*c["named_heads"], "Widget"]), "clinical_phrases"),
        (lambda c: c.update(score_cue="(unclosed"), "clinical_phrases.score_cue"),
        (lambda c: c.update(crisis_numbers=["11[1"]), "clinical_phrases.crisis_numbers"),
        (lambda c: c.update(heads="Scale"), "clinical_phrases.heads"),
    ],
)
def test_broken_clinical_phrase_rules_fail_naming_the_file_and_key(tmp_path, change, key):
    _broken_copy(tmp_path, change)
    with pytest.raises(RulesError) as err:
        load_redaction_rules(tmp_path)
    assert "allow.yaml" in str(err.value) and key in str(err.value)


def test_a_letter_digit_short_form_is_kept_by_the_catch_all_only_with_its_score(redactor):
    # "QRS-D17" alone is shaped like a code and goes; with a score after it, it is an instrument.
    assert "QRS-D17 is 19" in _redact(redactor, "At review her QRS-D17 is 19 and falling.")
    assert "QRS-D17" not in _redact(redactor, "At review her QRS-D17 was on file.")


@pytest.mark.parametrize(
    ("model", "values", "where"),
    [
        ("ClinicalPhraseRules", {"crisis_numbers": [r"\b111\b", r"(unclosed"]}, "crisis_numbers[1]"),
        ("CatchAllRules", {"exempt": [r"(?:PHQ|GAD)-\d+", r"[z-a]"]}, "exempt[1]"),
    ],
)
def test_a_broken_pattern_in_a_rule_list_is_refused_naming_its_item(model, values, where):
    from pydantic import ValidationError

    from pipeline.stages.redaction import rules as redaction_rules

    with pytest.raises(ValidationError) as err:
        getattr(redaction_rules, model)(**values)
    assert f"{where}: not a valid regular expression" in str(err.value)


# -- round 8: a head before its clinical words, an author's name in a list, initials ------------------

HEAD_FIRST = """Dear Plumm team,

My client Isla Corrin Gethin has attended six sessions. Her score on the Inventory of Prolonged Grief
(IPG) is 38 and on the Pellworth Burden Interview (short form) 22. I will repeat the PHQ-9, GAD-7 and
Pellworth at session 10.

Kind regards,
Dr Owen Pryce
"""


@pytest.mark.parametrize(
    "phrase",
    [
        # a head noun first, then "of" and clinical words (not the shape of a name)
        "Inventory of Prolonged Grief (IPG) is 38",
        # "burden" qualifies an instrument as "anxiety" does
        "Pellworth Burden Interview",
        # the author's name standing for the instrument in a list of kept things
        "PHQ-9, GAD-7 and Pellworth",
    ],
)
def test_head_first_instruments_and_listed_authors_are_kept(redactor, phrase):
    out = _redact(redactor, HEAD_FIRST, "Isla Corrin Gethin", "Owen Pryce")
    assert phrase in out
    assert "Gethin" not in out


def test_initials_of_a_known_name_give_way_to_a_short_form_the_letter_spells_out(redactor):
    text = (
        "My client Isla Corrin Gethin scored 41 on the Inventory of Complicated Grief (ICG).\n"
        "I.C.G. said she would attend."
    )
    out = _redact(redactor, text, "Isla Corrin Gethin")
    assert "Inventory of Complicated Grief (ICG)" in out
    assert "I.C.G." not in out  # written as initials, they are still the client's


def test_a_list_item_that_only_looks_like_an_author_is_still_a_person_elsewhere(redactor):
    text = (
        "Dear team,\n\nMr Pellworth has attended eight sessions. We used the Pellworth Burden Interview "
        "and Mr Pellworth agreed.\n"
    )
    out = _redact(redactor, text)
    assert "Pellworth" not in _outside_placeholders(out)


# -- an author's model in the possessive, and listed clinical eponyms --------------------------------

POSSESSIVES = """Dear Plumm team,

My client Nadia Petrov has attended ten sessions. We have worked with Ferrante's cognitive model of
health anxiety, Oduya and Lindqvist's interpersonal approach to grief, and Carrick' relapse prevention
model. Earlier we used Wolpe's graded hierarchy, the Wolpe eight-step protocol, a Shapiro-style
installation and compassion work (Gilbert). Her Kessler K10: 31.

Kind regards,
Dr Owen Pryce
"""


@pytest.mark.parametrize(
    "phrase",
    [
        "Ferrante's cognitive model of health anxiety",
        "Oduya and Lindqvist's interpersonal approach",
        "Carrick' relapse prevention model",
        "Wolpe's graded hierarchy",
        "Wolpe eight-step protocol",
        "Shapiro-style installation",
        "compassion work (Gilbert)",
        "Kessler K10: 31",
    ],
)
def test_a_possessive_author_and_a_listed_eponym_in_a_clinical_shape_are_kept(redactor, phrase):
    out = _redact(redactor, POSSESSIVES, "Nadia Petrov", "Owen Pryce")
    assert phrase in out
    assert "Nadia" not in out and "Petrov" not in out


@pytest.mark.parametrize(
    "text",
    [
        # a possessive before a plan or a therapy is a person's own, not an author's model
        "Her sister Marisol's care plan and Marisol's trauma therapy are separate.",
        # a name that also stands elsewhere as a person is left to the recognizers
        "We used Ferrante's cognitive model of panic. Ferrante called me on Monday.",
        # a listed eponym spoken of as a person elsewhere is removed, model or not
        "Dr Wolpe referred her. We used the Wolpe eight-step protocol.",
    ],
)
def test_a_possessive_or_eponym_that_is_a_person_is_not_kept(redactor, text):
    name = re.findall(r"(Marisol|Ferrante|Wolpe)", text)[0]
    assert name not in _outside_placeholders(_redact(redactor, text))


def test_a_known_client_named_like_an_eponym_is_removed_inside_the_model(redactor):
    text = "Dear team,\n\nRe: Tomas Wolpe\n\nWe worked with Wolpe's graded hierarchy.\n\nBest,\nAnn Oduya\n"
    assert "Wolpe" not in _redact(redactor, text, "Tomas Wolpe", "Ann Oduya")


@pytest.mark.parametrize("text", ["This approach works well.", "His model is sound.", "Our Method"])
def test_a_pronoun_before_a_models_head_is_no_phrase_and_no_error(redactor, text):
    assert redactor.vocab.protected_ranges(text) == []


WRAPPED = """Dear Plumm team,

My client Nadia Petrov has made progress with skills from Ferrante's
DBT-like work and the Oduya Lindqvist
Worry Questionnaire now 48. She takes Fluvoxamine 100 mg daily and Quetiapine 25 mg at night.
Returning to work under the Carrick Modell is planned.

Kind regards,
Dr Owen Pryce
"""


@pytest.mark.parametrize(
    "phrase",
    [
        "Oduya Lindqvist Worry Questionnaire now 48",  # a named instrument wrapped before its clinical word
        "Fluvoxamine 100 mg daily",  # a psychotropic medicine by its generic name
        "Quetiapine 25 mg",
        "Carrick Modell",  # a model's head in German
    ],
)
def test_wrapped_instruments_medicines_and_german_model_heads_are_kept(redactor, phrase):
    out = _redact(redactor, WRAPPED, "Nadia Petrov", "Owen Pryce")
    assert phrase in out
    assert "Nadia" not in out and "Petrov" not in out


def test_a_possessive_eponym_wrapped_before_an_allow_listed_therapy_is_kept(redactor):
    text = "We have used skills from Wolpe's\nDBT with her.\n"
    assert "Wolpe's\nDBT" in [text[a:b] for a, b in redactor.vocab.protected_ranges(text)]


@pytest.mark.parametrize(
    "line, word",
    [
        ("Repeat EPDS at sessions 4 and 8", "Repeat"),  # a verb opening an item before an allow-listed term
        ("Individual CBT, weekly", "Individual"),  # an adjective before an allow-listed term
    ],
)
def test_an_english_word_opening_a_clinical_item_is_no_name(redactor, line, word):
    assert redactor._a_word_of_its_phrase(line, 0, len(word))


@pytest.mark.parametrize(
    "line, word",
    [
        ("Harris CBT, weekly", "Harris"),  # a noun that is also a surname is left to the recognizers
        ("Marisol EPDS", "Marisol"),
        ("Jean-Pierre attended", "Jean"),  # a hyphenated first name is no English word
    ],
)
def test_a_name_before_a_clinical_term_or_a_hyphen_stays_a_name(redactor, line, word):
    assert not redactor._a_word_of_its_phrase(line, 0, len(word))


@pytest.mark.parametrize(
    "line, value",
    [
        ("Modality Individual CBT, weekly", "Modality Individual"),  # a form's label run into its value
        ("Frequency     Weekly\n\nReview     Repeat EPDS at session 6", "Frequency     Weekly\n\nReview     Repeat"),
    ],
)
def test_a_guess_from_a_forms_labels_into_a_clinical_item_is_no_name(redactor, line, value):
    assert redactor._a_word_of_its_phrase(line, 0, len(value))


@pytest.mark.parametrize(
    "line, value",
    [
        ("Modality Harris CBT, weekly", "Modality Harris"),  # the last word is a surname noun
        ("Marisol Individual CBT", "Marisol Individual"),  # a name before the clinical item
        ("Modality Individual sessions", "Modality Individual"),  # no allow-listed term after it
    ],
)
def test_a_guess_with_a_name_or_without_a_clinical_term_stays(redactor, line, value):
    assert not redactor._a_word_of_its_phrase(line, 0, len(value))


def test_a_known_name_before_a_clinical_item_is_removed_all_the_same(redactor):
    out = _redact(redactor, "Client: Tamsin Okonjo-Reyes\nModality Individual CBT, weekly\n", "Tamsin Okonjo-Reyes")
    assert "Individual CBT, weekly" in out
    assert "Tamsin" not in out and "Okonjo" not in out


def test_the_first_part_of_a_hyphenated_english_word_is_no_name(redactor):
    assert redactor._a_word_of_its_phrase("Bi-weekly sessions", 0, 2)


@pytest.mark.parametrize(
    "line, phrase",
    [
        ("Under the Personal Data Protection Act 2012 I must explain this.", "Personal Data Protection Act 2012"),
        ("Do you sign a Business Associate Agreement first?", "Business Associate Agreement"),
        ("in line with the revised Federal Act on Data Protection (FADP).", "Federal Act on Data Protection"),
    ],
)
def test_a_law_or_agreement_named_by_ordinary_words_is_kept(redactor, line, phrase):
    assert any(phrase in line[a:b] for a, b in redactor.vocab.protected_ranges(line))


@pytest.mark.parametrize(
    "line",
    [
        "She signed the Okonjo Harrow Agreement.",  # names are no ordinary words
        "This Act applies.",  # one word, and a sentence's opening word
    ],
)
def test_a_law_shape_with_a_name_or_one_word_is_not_kept(redactor, line):
    assert not any(line[a:b].endswith(("Agreement", "Act")) for a, b in redactor.vocab.protected_ranges(line))


def test_a_known_name_inside_a_law_shape_is_removed(redactor):
    out = _redact(redactor, "Re Tamsin. The Tamsin Data Protection Act applies.\n", "Tamsin Okonjo")
    assert "Tamsin" not in out


@pytest.mark.parametrize("number", ["3114", "1737", "13 11 14", "85258", "0800 111 0 111"])
def test_a_national_crisis_number_is_kept(redactor, number):
    line = f"If things get worse tonight she can call {number} at any hour.\n"
    out = redactor.redact(line, KnownIdentifiers(names=("Tamsin Okonjo",))).text
    assert number in out


# -- authors in brackets after what they wrote ------------------------------------------------------


@pytest.mark.parametrize(
    "line, kept",
    [
        # three authors, a comma list after a kept therapy
        ("We are midway through Narrative Grief Therapy (Penrose, Oduya & Carrick) now.", "(Penrose, Oduya & Carrick)"),
        # a clinical word and a head in lower case
        ("Treatment: motivational interviewing (Ferrante and Lindqvist), then CBT.", "(Ferrante and Lindqvist)"),
        # an initial before the surname
        ("We added elements of schema therapy (T. Brannock) this month.", "(T. Brannock)"),
        # ordinary words first
        ("We started EMDR (standard protocol, R. Ostrander) three weeks ago.", "(standard protocol, R. Ostrander)"),
        # the therapy's short form first
        ("Model: Interpersonal Psychotherapy (IPT, Ferrante & Oduya)\n", "(IPT, Ferrante & Oduya)"),
        # a given name and a surname
        ("We use compassion-focused therapy (Ilse Penrose) with her.", "(Ilse Penrose)"),
        # after a term and its clinical words after "for"
        ("We have started CBT for chronic pain (Carrick) with activation.", "(Carrick)"),
    ],
)
def test_authors_in_brackets_after_a_therapy_are_kept(redactor, line, kept):
    assert any(line[a:b].strip() == kept for a, b in redactor.vocab.author_ranges(line))
    assert kept in redactor.redact(line, KnownIdentifiers(names=("Tamsin Okonjo",))).text


@pytest.mark.parametrize(
    "line",
    [
        "We met her sister (Marisol Penrose) for coffee.",  # no clinical head before the brackets
        "She sees a counsellor for couples therapy (Dr Penrose) weekly.",  # a title: a person
        "We used schema therapy (Carrick). Carrick called me on Monday.",  # the name stands elsewhere
        "We used schema therapy (met Penrose) twice.",  # words before the names that are no list
        # after a therapy named by who takes part, names are likelier the clients than its authors
        "They attend couples therapy (Marisol & Brannock) fortnightly.",
        "We use Systemic Family Therapy (Penrose and Oduya) at home.",
    ],
)
def test_names_in_brackets_that_are_no_authors_are_not_kept(redactor, line):
    assert not redactor.vocab.author_ranges(line)


def test_a_known_identifier_among_authors_leaves_the_whole_bracket_to_the_recognizers(redactor):
    line = "We use schema therapy (Okonjo & Brannock) weekly.\n"
    guess = _span(line, "Brannock", known=False)
    # without a known name among them, the bracket keeps the authors from a model's guess ...
    assert redactor._merge(line, [guess]) == []
    # ... a known identifier in it is removed inside the protected range, as everywhere ...
    out = redactor.redact("Re: Tamsin Okonjo\n\n" + line, KnownIdentifiers(names=("Tamsin Okonjo",))).text
    assert "Okonjo" not in out
    # ... and the bracket's shape no longer keeps the name beside it from the recognizers
    merged = redactor._merge(line, [_span(line, "Okonjo", known=True), guess])
    assert [line[s.start : s.end] for s in merged] == ["Okonjo", "Brannock"]


def _span(text: str, word: str, *, known: bool) -> _Span:
    start = text.index(word)
    return _Span(start, start + len(word), "PERSON", 0.85, word, known)


# -- possessives, doses, therapies opened by an English word, laws by number, holidays --------------


@pytest.mark.parametrize(
    "line, phrase",
    [
        ("We used Rachman\u2019s Panic Control Treatment with him.", "Rachman\u2019s Panic Control Treatment"),
        ("doing grief work - wolpe's stages of recovery + a bit of CBT-I", "wolpe's stages of recovery"),
        # a word in lower case before "and" is no first author that hides the name after it
        ("We use motivational interviewing and Wolpe's relapse prevention model.", "Wolpe's relapse prevention model"),
    ],
)
def test_a_possessive_eponym_with_a_typographic_apostrophe_or_in_lower_case_is_kept(redactor, line, phrase):
    assert phrase in [line[a:b] for a, b in redactor.vocab.protected_ranges(line)]


def test_a_name_in_lower_case_before_a_models_head_is_no_eponym(redactor):
    line = "she said marisol's tasks of mourning were hard"
    assert not any("marisol" in line[a:b] for a, b in redactor.vocab.protected_ranges(line))


@pytest.mark.parametrize(
    "line, dose",
    [
        ("They started ostrazine XL 150 mg last week.", "XL 150 mg"),
        ("Her GP started ventaprine 2 mg HS in March.", "2 mg HS"),
        ("He takes Marisol XR 75 mg daily.", "XR 75 mg"),  # the word before is judged on its own
    ],
)
def test_a_dose_with_a_formulation_or_timing_abbreviation_is_kept(redactor, line, dose):
    assert dose in [line[a:b] for a, b in redactor.vocab.protected_ranges(line)]


@pytest.mark.parametrize("line", ["The XL team met.", "She works at HS 150 Ltd.", "take 2 HS"])
def test_an_abbreviation_without_a_dose_is_not_kept(redactor, line):
    assert not any(w in line[a:b] for a, b in redactor.vocab.protected_ranges(line) for w in ("XL", "HS"))


@pytest.mark.parametrize(
    "line, phrase",
    [
        ("Eight sessions of Prolonged Exposure at weekly intervals.", "Prolonged Exposure"),
        ("We use ACT alongside Motivational Interviewing for the alcohol.", "Motivational Interviewing"),
        ("PHQ-9 of 19, Pain Catastrophizing Scale 34 at intake.", "Pain Catastrophizing Scale"),
        ("I have questions about Ontario's Law 25 and consent.", "Law 25"),
        ("I am out of the office for the Eid Al Fitr holiday until Monday.", "Eid Al Fitr holiday"),
        ("OBDS (Ostrander Burnout Disorder Scale) is 31.", "OBDS"),
    ],
)
def test_clinical_names_laws_and_holidays_ordinary_words_open_are_kept(redactor, line, phrase):
    assert phrase in [line[a:b] for a, b in redactor.vocab.protected_ranges(line)]


@pytest.mark.parametrize(
    "line, word",
    [
        ("We saw Prolonged Marisol at weekly intervals.", "Marisol"),  # a name is no clinical word
        # clinical words inside a longer name are that name's ("<Place> Fear Behavioral Wellness")
        ("She sees the team at Marlowe Fear Behavioral Wellness, PLLC.", "Fear"),
        ("Marisol Law 25 years old attended.", "Law"),  # a surname before a number
        ("Mr Law 25 attended.", "Law"),
        ("I am away for the Marisol holiday.", "Marisol"),  # no listed holiday
        ("XYZ (Ostrander Burnout Disorder Scale) is 31.", "XYZ"),  # the letters spell no initials
    ],
)
def test_shapes_with_a_name_are_not_kept(redactor, line, word):
    assert not any(word in line[a:b] for a, b in redactor.vocab.protected_ranges(line))
