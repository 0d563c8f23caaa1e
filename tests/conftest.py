"""Shared test fixtures. The spaCy model is loaded once per test session (pipeline.nlp caches it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"


def fixture_stems() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.eml"))


def expected(stem: str) -> dict:
    return json.loads((FIXTURES / f"{stem}.expected.json").read_text(encoding="utf-8"))


def normalise(text: str) -> str:
    """Whitespace-insensitive form used to compare extracted letters with golden files."""
    return " ".join(text.split())


@pytest.fixture(scope="session")
def nlp():
    from pipeline.nlp import get_nlp

    return get_nlp()
