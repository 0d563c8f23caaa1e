"""A broken rules YAML fails start-up with a message naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.rules import DEFAULT_RULES_DIR, RulesError
from pipeline.stages.redaction import load_redaction_rules

BROKEN = Path(__file__).parent / "data" / "broken-rules"


def test_broken_yaml_names_file_and_key():
    with pytest.raises(RulesError) as err:
        load_redaction_rules(BROKEN)
    message = str(err.value)
    assert str(BROKEN / "redaction.yaml") in message
    assert "dob.year_min" in message


def test_unknown_key_is_an_error(tmp_path):
    text = (DEFAULT_RULES_DIR / "redaction.yaml").read_text(encoding="utf-8")
    (tmp_path / "redaction.yaml").write_text(text + "\nemial: {score: 1.0}\n", encoding="utf-8")
    (tmp_path / "allow.yaml").write_text((DEFAULT_RULES_DIR / "allow.yaml").read_text(encoding="utf-8"))
    with pytest.raises(RulesError, match="emial"):
        load_redaction_rules(tmp_path)


def test_missing_allow_list_is_an_error(tmp_path):
    (tmp_path / "redaction.yaml").write_text((DEFAULT_RULES_DIR / "redaction.yaml").read_text(encoding="utf-8"))
    with pytest.raises(RulesError, match="allow.yaml"):
        load_redaction_rules(tmp_path)


def test_shipped_rules_load():
    rules = load_redaction_rules(DEFAULT_RULES_DIR)
    assert "GAD-7" in rules.allow.terms
    assert rules.dob.year_min < rules.dob.year_max
