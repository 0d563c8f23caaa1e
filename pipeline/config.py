"""Settings: ``PLUMM_*`` environment variables (and a ``.env`` file), read once, typed.

A bad value fails start-up with a message naming the variable; nothing here ever holds a
value from a letter.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.addresses import mail_domains, mailbox
from pipeline.rules import DEFAULT_RULES_DIR


class ConfigError(Exception):
    """A configuration value is invalid; the message names the variable."""


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLUMM_", env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    data_dir: Path = Path("var")
    database_url: str = ""  # default: sqlite under data_dir
    rules_dir: Path = DEFAULT_RULES_DIR

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(8025, ge=1, le=65535)
    intake_addresses: Annotated[list[str], NoDecode] = ["hello@heyplumm.com"]
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    max_recipients: int = Field(10, ge=1)
    # Abuse limits at the SMTP edge. Behind one relay (Postfix) every connection comes from the
    # relay's address; Postfix's default per-destination concurrency is 20.
    smtp_max_connections: int = Field(100, ge=1)
    smtp_max_connections_per_ip: int = Field(20, ge=1)
    smtp_read_timeout_seconds: float = Field(60.0, gt=0)  # one command or DATA line
    smtp_data_seconds: float = Field(120.0, gt=0)  # the whole DATA transfer
    smtp_session_seconds: float = Field(900.0, gt=0)  # the whole connection
    smtp_error_limit: int = Field(10, ge=1)  # 5xx replies per session before 421 and close
    tls_cert: Path | None = None  # PEM certificate chain; with tls_key, STARTTLS is offered
    tls_key: Path | None = None

    vault_key: str = ""  # Fernet key(s), comma-separated, newest first; empty = data_dir/vault.key
    hash_key: str = ""  # secret for pseudonymous hashes of addresses/Message-IDs; empty = data_dir/hash.key
    outbound_smtp: str = ""  # relay "host:port"; empty = write to data_dir/outbox
    sender_address: str = "hello@heyplumm.com"
    message_id_domain: str = ""  # right-hand side of our Message-IDs; empty = the sender address's domain
    ack_limit_per_hour: int = Field(5, ge=0)

    worker_poll_seconds: float = Field(0.5, gt=0)
    worker_processes: int = Field(0, ge=0)  # per `plumm serve` / `plumm worker`; 0 = one per core
    worker_claim_batch: int = Field(8, ge=1)  # messages a worker claims in one round trip
    lease_seconds: float = Field(300.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    # Outbound mail retries like an MTA (RFC 5321 section 4.5.4.1): a refused or unreachable relay
    # is tried again after 1 minute, then doubling up to every 30 minutes, for 4 days; a permanent
    # (5xx) refusal fails at once. A failed message waits for `plumm outbox retry`.
    outbound_retry_seconds: float = Field(60.0, gt=0)
    outbound_retry_max_seconds: float = Field(1800.0, gt=0)
    outbound_give_up_hours: float = Field(96.0, gt=0)
    message_time_budget_seconds: float = Field(60.0, gt=0)
    # Long letters: the text the product reads at most (about 300 pages; a letter is a few pages),
    # and the time its NLP may take per million characters (in pieces, see
    # pipeline.stages.long_letters; measured 100-300 s on 2 busy cores). Over either, the sender is
    # asked for a shorter letter (awaiting_information, letter-too-long).
    max_letter_chars: int = Field(1_000_000, ge=10_000)
    letter_seconds_per_million_chars: float = Field(300.0, gt=0)

    retention_days: int = Field(365, ge=1)  # raw messages and vaults of cases closed longer are deleted

    # The web console (`plumm web`, and `plumm serve` unless --no-web).
    web_host: str = "127.0.0.1"
    web_port: int = Field(8000, ge=1, le=65535)
    web_base_url: str = ""  # how people reach the console (digest links); empty = http://<web_host>:<web_port>
    web_secret: str = ""  # signs session cookies; empty = generated into data_dir/web.key
    web_session_hours: float = Field(12.0, gt=0)  # a sign-in lasts this long at most
    web_secure_cookies: bool = False  # set behind HTTPS: the session cookie is then sent over HTTPS only
    sign_in_attempts: int = Field(5, ge=1)  # failed sign-ins per user (or client) per 15 minutes, then refused
    # Authentication-Results are trusted only from these authserv-ids (RFC 8601 section 5, comma-separated;
    # empty = the topmost header, as added by the MTA in front of the listener).
    authserv_ids: Annotated[list[str], NoDecode] = []

    @field_validator("intake_addresses", "authserv_ids", mode="before")
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("intake_addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one intake address is required")
        return [mailbox(a).lower() for a in value]

    @field_validator("sender_address")
    @classmethod
    def _sender(cls, value: str) -> str:
        return mailbox(value)

    @field_validator("message_id_domain")
    @classmethod
    def _message_id_domain(cls, value: str) -> str:
        return mail_domains([value])[0] if value else value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @field_validator("outbound_smtp")
    @classmethod
    def _relay(cls, value: str) -> str:
        if value:
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("must be host:port")
        return value

    @field_validator("web_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("tls_key")
    @classmethod
    def _tls_pair(cls, value: Path | None, info: Any) -> Path | None:
        if (value is None) != (info.data.get("tls_cert") is None):
            raise ValueError("PLUMM_TLS_CERT and PLUMM_TLS_KEY must be set together")
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'plumm.db').resolve()}"

    @property
    def effective_message_id_domain(self) -> str:
        return self.message_id_domain or self.sender_address.rpartition("@")[2].lower()

    @property
    def effective_web_base_url(self) -> str:
        return (self.web_base_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def relay(self) -> tuple[str, int] | None:
        if not self.outbound_smtp:
            return None
        host, _, port = self.outbound_smtp.rpartition(":")
        return host, int(port)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus explicit overrides (CLI flags)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"PLUMM_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
