"""A case's vault: the originals behind its placeholders, encrypted at rest, and the check that none
of them shows in a text about to leave (a digest, an employer request).

Only the recording (to seal), the CSM service (to reveal, to notify the client) and the checks here
open a vault; nothing logs a value from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from cryptography.fernet import MultiFernet

from pipeline import store
from pipeline.patterns import vault_key_type

# Vault types whose originals are not identifying on their own (neutralised words); they are not
# used by the outgoing-mail leak check, which would otherwise trip over ordinary words.
NON_IDENTIFYING_TYPES = {"PRONOUN", "TITLE", "GENDER"}


def seal(cipher: MultiFernet, vault: Mapping[str, str]) -> bytes:
    return cipher.encrypt(json.dumps(dict(vault), sort_keys=True).encode())


def case_vault(cipher: MultiFernet, case: store.Case) -> dict[str, str]:
    if not case.vault_encrypted:
        return {}
    return dict(json.loads(cipher.decrypt(case.vault_encrypted)))


def leaked_types(vault: Mapping[str, str], *texts: str) -> list[str]:
    """Entity types of vault originals that appear (as whole words) in any of ``texts``."""
    found: set[str] = set()
    for placeholder, original in vault.items():
        kind = vault_key_type(placeholder) or "UNKNOWN"
        value = original.strip()
        if kind in NON_IDENTIFYING_TYPES or len(value) < 3:
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(value) + r"(?!\w)", re.IGNORECASE)
        if any(pattern.search(t) for t in texts):
            found.add(kind)
    return sorted(found)
