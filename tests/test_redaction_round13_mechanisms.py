"""Mechanisms added for round 13's over-redaction of a request's frequency, on invented people."""

from __future__ import annotations

from pipeline.models import KnownIdentifiers

NONE = KnownIdentifiers(names=(), emails=(), other=())

FORM = (
    "Client name                    Mr Tobias Fennimore\n\n"
    "Additional sessions requested  6 (six)\n\n"
    "Frequency                      {frequency}\n\n"
    "Review                         Repeat PHQ-9 at session 3\n"
)


def test_frequency_row_of_a_form_is_kept(redactor):
    for frequency in ("Weekly", "Bi-weekly", "Every other week"):
        out = redactor.redact(FORM.format(frequency=frequency), NONE).text
        assert f"Frequency                      {frequency}" in out
        assert "Fennimore" not in out and "Tobias" not in out


def test_part_of_an_allowed_hyphenated_word_is_no_name(redactor):
    out = redactor.redact("Sessions used 8 of 8\nFrequency Bi-weekly\nProposed start 3 March\n", NONE).text
    assert "Bi-weekly" in out
    # a hyphenated name whose whole is no word of ours is still a name
    out = redactor.redact("My client Anne-Liese Vorthaug has panic attacks.", NONE).text
    assert "Vorthaug" not in out and "Anne-Liese" not in out
