"""Loading ``rules/*.yaml`` into typed, validated models.

Each stage defines its own pydantic model for its rule file and loads it with
:func:`load_rules`. A missing file, bad YAML or a value of the wrong shape raises
:class:`RulesError` whose message names the file and the key, so start-up fails fast
and clearly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)

DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


class RulesError(Exception):
    """A rules file is missing, not YAML, or does not validate. The message names file and key."""


class RuleModel(BaseModel):
    """Base for rule models: frozen, unknown keys are an error (catches typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def load_rules(path: Path, model: type[M]) -> M:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RulesError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise RulesError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"key '{'.'.join(str(p) for p in err['loc']) or '<root>'}': {err['msg']}" for err in exc.errors()
        )
        raise RulesError(f"{path}: {problems}") from exc
