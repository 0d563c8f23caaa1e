"""Encryption at rest for raw messages and vaults (Fernet).

``PLUMM_VAULT_KEY`` holds one or more comma-separated Fernet keys: the first encrypts, all
decrypt (``MultiFernet``), which is what key rotation needs. With no key configured, one is
generated once into ``<data_dir>/vault.key`` (mode 0600) so ``make run`` works alone.
:func:`rotate` (``plumm keys rotate``) re-encrypts everything at rest with the newest key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Engine

from pipeline.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

__all__ = [
    "InvalidToken",
    "RotationReport",
    "key_file",
    "load_cipher",
    "load_hash_key",
    "load_web_secret",
    "new_key",
    "rotate",
]


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def key_file(settings: Settings) -> Path:
    return settings.data_dir / "vault.key"


def _secret_file(path: Path) -> str:
    """Read a secret file, creating it (0600, fsynced) with a new key on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it meanwhile
            return path.read_text()
        with os.fdopen(fd, "w") as handle:
            handle.write(new_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    return path.read_text()


def _configured_keys(settings: Settings) -> list[str]:
    text = settings.vault_key or _secret_file(key_file(settings))
    return [k.strip() for k in text.split(",") if k.strip()]


def load_hash_key(settings: Settings) -> bytes:
    """Secret for keyed hashes; kept apart from the vault key so key rotation keeps threading."""
    text = settings.hash_key or _secret_file(settings.data_dir / "hash.key")
    return text.strip().encode("utf-8")


def load_web_secret(settings: Settings) -> str:
    """Secret that signs the web console's session cookies; rotating it signs everyone out."""
    return (settings.web_secret or _secret_file(settings.data_dir / "web.key")).strip()


def load_cipher(settings: Settings) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode("ascii")) for k in _configured_keys(settings)])
    except (ValueError, TypeError) as exc:
        # Never echo the key itself.
        raise ValueError("PLUMM_VAULT_KEY: not a valid Fernet key (32 url-safe base64 bytes)") from exc


# -- rotation ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RotationReport:
    """Counts per table; never a value. ``unreadable``: no configured key opens the token."""

    rotated: dict[str, int]
    current: dict[str, int]
    changed_meanwhile: dict[str, int]
    unreadable: dict[str, int]

    @property
    def complete(self) -> bool:
        return not any(self.unreadable.values()) and not any(self.changed_meanwhile.values())


def _encrypted_columns() -> list[tuple[str, Any, Any]]:
    from pipeline import store

    M, C, Out = store.InboundMessage, store.Case, store.OutboundMessage
    return [
        ("inbound_message.raw_encrypted", M, M.raw_encrypted),
        ("case.vault_encrypted", C, C.vault_encrypted),
        ("outbound_message.payload_encrypted", Out, Out.payload_encrypted),
    ]


def rotate(engine: Engine, settings: Settings, *, batch: int = 200) -> RotationReport:
    """Re-encrypt every raw message, vault and outbound payload with the newest key.

    Procedure: put the new key first in ``PLUMM_VAULT_KEY`` (``new,old``) on every process and
    restart them, run this, then drop the old key. Each row is updated by compare-and-set on the
    old token, so a vault a worker rewrote meanwhile is left alone (and already uses the new key).
    Tokens the newest key already opens are skipped, so a second run is cheap and idempotent."""
    from sqlalchemy import select, update

    from pipeline import store

    keys = _configured_keys(settings)
    cipher = load_cipher(settings)
    newest = Fernet(keys[0].encode("ascii"))
    rotated: dict[str, int] = {}
    current: dict[str, int] = {}
    changed: dict[str, int] = {}
    unreadable: dict[str, int] = {}
    for name, model, column in _encrypted_columns():
        rotated[name] = current[name] = changed[name] = unreadable[name] = 0
        last_id = 0
        while True:
            with store.session(engine) as db:
                rows = db.execute(
                    select(model.id, column).where(model.id > last_id).order_by(model.id).limit(batch)
                ).all()
                if not rows:
                    break
                for row_id, token in rows:
                    last_id = row_id
                    if not token:  # purged by retention, or no vault
                        continue
                    try:
                        newest.decrypt(token)
                        current[name] += 1
                        continue
                    except InvalidToken:
                        pass
                    try:
                        fresh = cipher.rotate(token)
                    except InvalidToken:
                        unreadable[name] += 1
                        continue
                    # An UPDATE gives a CursorResult (it has rowcount); SQLModel types execute() as Result.
                    result = cast(
                        "CursorResult[Any]",
                        db.execute(
                            update(model).where(model.id == row_id, column == token).values({column.key: fresh})
                        ),
                    )
                    if result.rowcount == 1:
                        rotated[name] += 1
                    else:
                        changed[name] += 1
                db.commit()
    return RotationReport(rotated=rotated, current=current, changed_meanwhile=changed, unreadable=unreadable)
