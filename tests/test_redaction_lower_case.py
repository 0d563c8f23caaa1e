"""The fail-closed catch-all for a message typed in lower case (invented people and places)."""

from __future__ import annotations

from pipeline.models import KnownIdentifiers

NONE = KnownIdentifiers(names=(), emails=(), other=())

LOWER_NOTE = (
    "hi team, could we have 6 more sessions for tob (tobrielle vantrosk) pls. "
    "she lives in quellmarsh and works at grey orchard freight. her brother lance was hurt in march. "
    "we're doing imaginal exposure and a dual process model (stroebe & schut), i think she needs it.\nta, ollie"
)


def test_lower_case_note_loses_unknown_names_places_and_cued_runs(redactor) -> None:
    out = redactor.redact(LOWER_NOTE, NONE).text
    for value in ("tobrielle", "vantrosk", "quellmarsh", "grey orchard freight", "lance", "tob ("):
        assert value not in out
    # ordinary, clinical and informal words stay, and the authors of a named model
    for kept in ("6 more sessions", "pls", "imaginal exposure", "dual process model (stroebe & schut)", "march"):
        assert kept in out


def test_a_capitalised_letter_is_not_touched_by_the_lower_case_rule(redactor) -> None:
    from pipeline.stages.redaction.recognizers.lower_case import LowerCaseRecognizer

    rec = next(r for r in redactor.analyzer.registry.recognizers if isinstance(r, LowerCaseRecognizer))
    letter = (
        "Dear team,\n\nI am writing about my client. She has made progress with sleep.\n"
        "- sleeping 5 hrs\n- quellmarsh walks daily\n\nI recommend six more sessions.\n\nKind regards,\nOllie"
    )
    assert not rec.lower_case_written(letter)
    assert rec.analyze(letter, []) == []
    assert rec.lower_case_written(LOWER_NOTE)
