"""Irish and Gaelic particles go with the surname into its placeholder. Letters invented for these tests."""

from __future__ import annotations

import pytest

from pipeline.models import KnownIdentifiers


@pytest.mark.parametrize(
    ("text", "particle"),
    [
        ("I am writing about my client Siobhán Ní Chonaill. Ms Ní Chonaill reports low mood.", "Ní"),
        ("Her cousin Pádraig Mac Giolla Phádraig visits on Sundays.", "Giolla"),
        ("My client Deirdre Ó Súilleabháin attends weekly.", "Ó"),
    ],
)
def test_gaelic_particle_is_removed_with_the_surname(redactor, text, particle):
    out = redactor.redact(text, KnownIdentifiers()).text
    assert particle not in out.split()
    assert "[PERSON_1]" in out


def test_particle_word_without_a_name_after_it_stays(redactor):
    out = redactor.redact("O Lord, she said when she heard the news.", KnownIdentifiers()).text
    assert out.startswith("O Lord,")
