"""The redaction benchmark on a few fixtures: its result shape, and ours beating plain Presidio.

Fails when our redaction regresses (a leak or a gendered word left on these letters), when plain
Presidio stops being plain (one of our recognizers slipping into its registry), or when anything
tries the network (tldextract's public suffix list).
"""

from __future__ import annotations

import socket

import pytest

from bench import redaction as bench
from pipeline.compliance.replay import survives

STEMS = [
    "all-caps-heading-apostrophe-name",
    "client-named-will-turner-word-names",
    "mx-client-neopronouns-xe-xem",
]


@pytest.fixture()
def no_network(monkeypatch):
    attempts: list[str] = []

    def deny(name):
        def refuse(*args, **kwargs):
            attempts.append(name)
            raise OSError("network disabled in this test")

        return refuse

    monkeypatch.setattr(socket, "getaddrinfo", deny("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", deny("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", deny("connect"))
    return attempts


@pytest.fixture(scope="module")
def cases():
    return bench.load_cases(STEMS)


def test_measure_structure_and_ours_beats_plain_presidio(cases, no_network):
    results = bench.measure(cases, passes=1, trace_memory=False)

    assert no_network == []
    assert results["fixtures"] == STEMS
    assert set(results["columns"]) == {"ours", "presidio"}
    for col in results["columns"].values():
        assert col["letters"] == len(STEMS)
        ids = col["identifiers"]
        assert {"strings", "present_in_letter", "leaked", "leak_rate", "by_type"} <= set(ids)
        assert ids["strings"] == sum(v["strings"] for v in ids["by_type"].values()) > 0
        assert ids["leaked"] == sum(v["leaked"] for v in ids["by_type"].values())
        assert set(col["gendered_left"]) >= {"pronouns", "titles", "total"}
        assert 0 <= col["must_keep"]["kept"] <= col["must_keep"]["phrases"]
        assert col["speed"]["letters_per_second"] > 0
        assert col["deterministic"] is True
        assert "vm_hwm_mib" in col["memory"]

    ours, plain = results["columns"]["ours"], results["columns"]["presidio"]
    assert set(ours["catch_all"]) == {"id_removals", "not_asked_for", "words", "letters"}
    assert "catch_all" not in plain
    assert ours["identifiers"]["leaked"] == 0
    assert ours["identifiers"]["leaked"] < plain["identifiers"]["leaked"]
    assert ours["gendered_left"]["total"] == 0 < plain["gendered_left"]["total"]
    assert ours["must_keep"]["kept_rate"] >= 0.98

    rendered = bench.render({**results, "total_seconds": 0.0, "vm_hwm_process_mib": None})
    assert "plain Presidio" in rendered
    # Types and counts only: no ground-truth value appears in the printed table.
    for case in cases:
        for values in case.must_not_survive.values():
            for value in values:
                assert not survives(value, rendered)


def test_plain_presidio_is_presidio_only_and_offline(no_network):
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    import pipeline.stages.redaction.recognizers  # noqa: F401  (defines same-named classes Presidio's loader could pick)

    analyzer = bench.plain_presidio_analyzer()
    modules = {type(r).__module__.split(".")[0] for r in analyzer.registry.recognizers}
    assert modules <= {"presidio_analyzer", "bench"}
    emails = [r for r in analyzer.registry.recognizers if isinstance(r, EmailRecognizer)]
    assert emails and all(type(r).__module__ == "bench.redaction" for r in emails)
    found = analyzer.analyze(
        text="Write to jo@clinic.co.uk or sam@wellbeing.clinic.", language="en", entities=["EMAIL_ADDRESS"]
    )
    assert len(found) == 2
    assert no_network == []


@pytest.mark.parametrize(
    ("text", "pronouns", "titles"),
    [
        ("[they] said [their] plan suits [them]", 0, 0),
        ("He said her plan suits him; HIS too", 4, 0),
        ("xe and zir and hir", 3, 0),
        ("<PERSON> told <PERSON> the date", 0, 0),
        ("Mr <PERSON> and Mrs. [PERSON_1], Mx Lee, RE: MRS [PERSON_2]", 0, 4),
        ("Miss Hope attends; she will miss sessions if Miss is unwell; MS symptoms", 1, 1),
        ("the theme, where, there, hershey, shed", 0, 0),
    ],
)
def test_gendered_left(text, pronouns, titles):
    assert bench.gendered_left(text) == {"pronouns": pronouns, "titles": titles}


def test_catch_all_over_redaction_counts_only_removals_nobody_asked_for():
    from pipeline.models import Letter, ParsedMail

    def case(stem: str, text: str, must_not_survive: dict[str, list[str]]) -> bench.Case:
        letter = Letter(text=text, sources=("golden",))
        return bench.Case(stem, text, "golden", ParsedMail(), letter, must_not_survive, [])

    text = "Her member code ZKM3911 and the form U-558213 were both on file. PHQ-9 was 17 in 2024."
    asked = case("asked", text, {"EMPLOYEE_ID": ["ZKM3911"]})
    nobody = case("nobody", text, {})
    cost = bench.catch_all_over_redaction([asked, nobody])
    assert cost == {"id_removals": 4, "not_asked_for": 3, "words": 3, "letters": 2}
