"""Encryption at rest for raw messages and vaults (Fernet).

``PLUMM_VAULT_KEY`` holds one or more comma-separated Fernet keys: the first encrypts, all
decrypt (``MultiFernet``), which is what key rotation needs. With no key configured, one is
generated once into ``<data_dir>/vault.key`` (mode 0600) so ``make run`` works alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from pipeline.config import Settings

__all__ = ["InvalidToken", "key_file", "load_cipher", "load_hash_key", "new_key"]


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


def load_cipher(settings: Settings) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode("ascii")) for k in _configured_keys(settings)])
    except (ValueError, TypeError) as exc:
        # Never echo the key itself.
        raise ValueError("PLUMM_VAULT_KEY: not a valid Fernet key (32 url-safe base64 bytes)") from exc
