"""The sentence classifier: trained from the labelled sentences under rules/, deterministic, offline,
and blind to the style of redaction (old "[they] has" / [PERSON_1] and new "they have" / [CLIENT])."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.rules import DEFAULT_RULES_DIR, RulesError
from pipeline.stages.sections import load_section_rules
from pipeline.stages.sections.classifier import _train, read_rows, train
from pipeline.stages.sections.normalize import canonical
from tests.test_sections import flags

TRAINING = DEFAULT_RULES_DIR / "sections-training" / "sentences.jsonl"
ROOT = Path(__file__).resolve().parent.parent

SENTENCES = [
    "I recommend a further six sessions of CBT, fortnightly.",
    "[CLIENT'S PARTNER] may benefit from 6 sessions of counselling through their own employer.",
    "Plumm kindly approved six additional sessions in March.",
    "They continue to have panic attacks most days and their GAD-7 is 15.",
    "Kind regards,",
]


def _digest_of_scores() -> str:
    rules = load_section_rules(DEFAULT_RULES_DIR)
    scores = rules.sentence_classifier().scores(SENTENCES)
    return hashlib.sha256(json.dumps(scores, sort_keys=True).encode()).hexdigest()


def test_two_trainings_give_identical_coefficients_and_scores():
    first = train([TRAINING], c=16)
    _train.cache_clear()
    second = train([TRAINING], c=16)
    assert first is not second
    assert first.digest == second.digest
    for label in first.models:
        a = first.models[label].coef_
        b = second.models[label].coef_
        assert (a == b).all()
    assert first.scores(SENTENCES) == second.scores(SENTENCES)


@pytest.mark.slow
def test_another_process_gives_the_same_scores_and_verdicts():
    code = (
        "from tests.test_sections_classifier import _digest_of_scores, _verdicts;"
        "print(_digest_of_scores(), _verdicts())"
    )
    runs = {
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(runs) == 1
    assert runs == {f"{_digest_of_scores()} {_verdicts()}\n"}


def _verdicts() -> str:
    rules = load_section_rules(DEFAULT_RULES_DIR)
    verdicts = [flags(s, rules) for s in SENTENCES]
    return hashlib.sha256(json.dumps(verdicts, sort_keys=True).encode()).hexdigest()


def test_the_classifier_reads_what_the_labels_say():
    scores = load_section_rules(DEFAULT_RULES_DIR).sentence_classifier().scores(SENTENCES)
    rec, needs = scores["recommendation"], scores["needs"]
    assert rec[0] > 0.85 and rec[1] < 0.5 and rec[2] < 0.5 and rec[4] < 0.5
    assert needs[3] > 0.85 and needs[4] < 0.5


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "[they] has had flashbacks and [they] is not sleeping.",
            "they have had flashbacks and they are not sleeping.",
        ),
        ("[PERSON_1] continues to struggle at [EMPLOYER_1].", "[CLIENT] continues to struggle at [EMPLOYER]."),
        ("[TITLE] [PERSON_1] still feels low.", "[CLIENT] still feels low."),
        ("[they] now watches [their] mood closely.", "they now watch their mood closely."),
        ("[their] NHS number is [NHS_1].", "their NHS number is [NHS]."),
    ],
)
def test_both_forms_of_redaction_read_the_same(old: str, new: str):
    assert canonical(old) == canonical(new)


def test_a_partner_placeholder_is_not_the_client():
    assert "xpartner" in canonical("[CLIENT'S PARTNER] would benefit too.")
    assert "xpartner" not in canonical("[CLIENT] would benefit too.")


def test_a_malformed_training_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine", "needs": true, "recommendation": false}\n{"text": "x", "needs": "yes"}\n')
    with pytest.raises(RulesError, match=r"bad.jsonl: line 2"):
        read_rows(path)


def test_a_missing_training_file_fails_start_up_naming_it(tmp_path):
    for name in ("sections.yaml",):
        (tmp_path / name).write_text((DEFAULT_RULES_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(RulesError, match="sentences.jsonl: file not found"):
        load_section_rules(tmp_path)


def test_features_side_by_side_are_the_unions_own():
    """The n-gram matrix made without the union's joblib round trip is the union's, entry for entry."""
    from pipeline.stages.sections.classifier import features_of

    union = load_section_rules(DEFAULT_RULES_DIR).sentence_classifier().features
    texts = [
        canonical(s)
        for s in (
            "I recommend a further 6 sessions of CBT for [CLIENT].",
            "[they] has made good progress but still avoids the tube.",
            "Kind regards,",
            "",
        )
    ]
    ours, theirs = features_of(union, texts), union.transform(texts)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert (ours != theirs).nnz == 0
