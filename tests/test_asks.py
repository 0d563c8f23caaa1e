"""The ask extraction against a table nobody here wrote: ``rules/sections-training/asks.jsonl``.

250 sentences by an outside writer who never saw the code (see that folder's README): the number of
additional sessions asked for the client (null for scores, dates, sessions used, past grants and asks
for other people) and the frequency of the ask (weekly / fortnightly / monthly, null when none is
stated). Each sentence is assessed as the one line of a letter that says nothing else about
sessions (a greeting and "I am writing about my client."). The rows the extraction still gets
wrong are strict xfails, so fixing one turns its test red until its entry is removed.
"""

from __future__ import annotations

import json

import pytest

from pipeline.rules import DEFAULT_RULES_DIR
from pipeline.stages.sections import SectionRules, assess_sections, load_section_rules

ROWS = [
    json.loads(line)
    for line in (DEFAULT_RULES_DIR / "sections-training" / "asks.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]

# line -> why it is still missed
KNOWN_MISSES = {
    33: "'half a dozen more' alone is no ask: the classifier gives it less than `alone`",
    70: "'Three more.' alone is no ask: the classifier gives it less than `alone`",
    123: "'two final sessions a month apart' reads as an ending, not an ask",
    157: "'three more weekly ones should do it' is no ask to the classifier",
    227: "'3 more monthly check-ins would help' is no ask to the classifier",
}


@pytest.fixture(scope="module")
def rules() -> SectionRules:
    return load_section_rules(DEFAULT_RULES_DIR)


def _rows():
    for line, row in enumerate(ROWS, 1):
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[line])] if line in KNOWN_MISSES else []
        yield pytest.param(row, marks=marks, id=f"line-{line}")


def test_the_table_is_the_outside_writers():
    assert len(ROWS) == 250
    assert {r["period"] for r in ROWS} == {None, "weekly", "fortnightly", "monthly"}


@pytest.mark.parametrize("row", list(_rows()))
def test_sessions_and_period_of_an_ask(rules, row):
    report = assess_sections(f"Dear Plumm team,\n\nI am writing about my client.\n\n{row['text']}", rules=rules)
    assert (report.sessions_requested, report.period) == (row["sessions"], row["period"])
