"""Nicknames from the kept list (the ``nicknames`` package: English given names and their
nicknames): a known client's nickname, or the given name behind the nickname the letter uses, is the
same person and shares the placeholder; a nickname that is a common word stays a word, and a listed
nickname gives way to a named clinical thing. Invented people only."""

from __future__ import annotations

import pytest

from pipeline.models import KnownIdentifiers


def _out(redactor, text: str, *names: str) -> str:
    known = KnownIdentifiers(names=names)
    return redactor.clean(redactor.redact(text, known), known).text


@pytest.mark.parametrize(
    ("full", "nickname"),
    [
        ("Margaret Quillfeather", "Peggy"),  # no cut or ending of the name makes it
        ("Rebecca Thornwaite", "Becky"),
        ("Elizabeth Marrowby", "Liz"),
        ("Richard Penhallow", "Dickie"),
    ],
)
def test_a_listed_nickname_of_the_client_is_removed_as_the_client(redactor, full, nickname):
    first, last = full.split()
    out = _out(redactor, f"My client {full} is struggling. {nickname} told me the shifts are worse.", full, first, last)
    assert nickname not in out
    assert out.count("[PERSON_1]") == 2


def test_the_given_name_behind_a_nickname_is_the_same_person(redactor):
    out = _out(redactor, "Client: Peggy Quillfeather.\nFull name on the form: Margaret.", "Peggy Quillfeather", "Peggy")
    assert "Margaret" not in out
    assert out.count("[PERSON_1]") == 2


def test_a_listed_nickname_that_is_a_common_word_stays_a_word(redactor):
    out = _out(
        redactor, "My client William Hartcombe is low. Will the panel allow six more sessions?", "William Hartcombe"
    )
    assert "Will the panel" in out


def test_a_listed_nickname_gives_way_to_a_named_instrument(redactor):
    text = "Rebecca Thornwaite scored 31 on the Beck Depression Inventory. Becky agrees to go on."
    out = _out(redactor, text, "Rebecca Thornwaite", "Rebecca", "Thornwaite")
    assert "Beck Depression Inventory" in out
    assert "Becky" not in out
