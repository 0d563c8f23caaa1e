"""The shapes several modules recognise, each defined once: placeholders and case references.

Placeholders are what redaction writes into a letter: ``[PERSON_1]``, ``[EMAIL_2]`` (an entity type
and a number, also the keys of a vault), ``[TITLE]`` for a gendered title and ``[they]``,
``[them]``, ``[their]``, ``[theirs]``, ``[themself]`` for pronouns. A case reference is
``PLM-YYYY-NNNNNN`` (the year the case was opened and its id); it is what the therapist and the
employer see. The client sees another, ``PLC-XXXX-XXXX`` (random, so nothing links it to the first).
"""

from __future__ import annotations

import re
import secrets

# -- placeholders ---------------------------------------------------------------------------------
NEUTRAL_TITLE = "TITLE"
NEUTRAL_PRONOUNS = ("they", "them", "their", "theirs", "themself")

#: One placeholder: ``type`` and ``number`` for ``[PERSON_1]``, ``neutral`` for ``[TITLE]``/``[they]``.
_NEUTRAL = "|".join((NEUTRAL_TITLE, *NEUTRAL_PRONOUNS))
PLACEHOLDER_RE = re.compile(rf"\[(?:(?P<type>[A-Z][A-Z_]*?)_(?P<number>\d+)|(?P<neutral>{_NEUTRAL}))\]")


def placeholder(entity_type: str, number: int) -> str:
    return f"[{entity_type}_{number}]"


def placeholder_type(token: str) -> str | None:
    """``[PERSON_3]`` -> ``PERSON``, ``[TITLE]`` -> ``TITLE``; a pronoun or anything else -> None."""
    match = PLACEHOLDER_RE.fullmatch(token)
    if match is None:
        return None
    if match.group("type"):
        return match.group("type")
    return NEUTRAL_TITLE if match.group("neutral") == NEUTRAL_TITLE else None


def vault_key_type(key: str) -> str | None:
    """The entity type of a vault key (``[EMAIL_2]`` -> ``EMAIL``); None for anything else."""
    match = PLACEHOLDER_RE.fullmatch(key)
    return match.group("type") if match else None


def vault_key_number(key: str) -> int | None:
    match = PLACEHOLDER_RE.fullmatch(key)
    return int(match.group("number")) if match and match.group("number") else None


# -- case references ------------------------------------------------------------------------------
CASE_REFERENCE_RE = re.compile(r"\bPLM-\d{4}-\d{6}\b")


def case_reference(case_id: int, year: int) -> str:
    return f"PLM-{year}-{case_id:06d}"


def is_case_reference(value: str) -> bool:
    return CASE_REFERENCE_RE.fullmatch(value) is not None


# -- the client's reference -----------------------------------------------------------------------
# No 0/O, 1/I/L: read aloud or typed from a letter without mistakes.
_CLIENT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CLIENT_REFERENCE_RE = re.compile(rf"\bPLC-[{_CLIENT_ALPHABET}]{{4}}-[{_CLIENT_ALPHABET}]{{4}}\b")


def new_client_reference() -> str:
    pick = "".join(secrets.choice(_CLIENT_ALPHABET) for _ in range(8))
    return f"PLC-{pick[:4]}-{pick[4:]}"


# An ask for a count of more, in words any letter uses (sections read it; a subject line may carry it):
# "6 more", "another 4", "six more please", "another half-dozen": a count next to a word that asks for more
COUNT_MORE = re.compile(
    r"\b(?:(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s*x?\s+"
    r"(?:more|further|extra|additional)|(?:another|further|additional|extra)\s+(?:\d{1,2}|one|two|three|four|five|"
    r"six|seven|eight|nine|ten|eleven|twelve|half[- ](?:a[- ])?dozen|dozen|couple)"
    # "a further block of 10 sessions", "another course of eight"
    r"|(?:another|further|additional|extra)\s+(?:block|course|round|set)\s+of\s+(?:\d{1,2}|one|two|three|four|five|"
    r"six|seven|eight|nine|ten|eleven|twelve))\b",
    re.I,
)
