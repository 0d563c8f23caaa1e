"""Shared test fixtures. The spaCy model is loaded once per test session (pipeline.nlp caches it)."""

from __future__ import annotations

import json
import os
from email import message_from_bytes, policy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"


def fixture_stems() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.eml"))


def expected(stem: str) -> dict:
    return json.loads((FIXTURES / f"{stem}.expected.json").read_text(encoding="utf-8"))


def normalise(text: str) -> str:
    """Whitespace-insensitive form used to compare extracted letters with golden files."""
    return " ".join(text.split())


@pytest.fixture(scope="session")
def nlp():
    from pipeline.nlp import get_nlp

    return get_nlp()


def unavailable(why: str) -> None:
    """A service a test needs is missing: in CI (``CI`` set, where .ci/run provides PostgreSQL and
    Chromium) that is a failure, never a silent skip; on a developer's machine the test is skipped
    so the suite stays green on SQLite alone."""
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must provide it)", pytrace=False)
    pytest.skip(why)


# -- databases ------------------------------------------------------------------------------
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_available() -> bool:
    import psycopg

    try:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def fresh_database_url(kind: str, tmp_path: Path) -> str:
    """A migrated, empty database: SQLite in tmp_path, or a new schema on the local PostgreSQL."""
    from pipeline import store

    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'plumm.db'}"
    else:
        if not postgres_available():
            unavailable("local PostgreSQL not reachable on 127.0.0.1:5432")
        import uuid

        import psycopg

        schema = f"plumm_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    store.migrate(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    url = fresh_database_url(request.param, tmp_path)
    yield url
    if request.param == "postgresql":
        from pipeline import store

        store.make_engine(url).dispose()
        import psycopg

        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def settings(tmp_path, database_url):
    from cryptography.fernet import Fernet

    from pipeline.config import load_settings

    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        vault_key=Fernet.generate_key().decode(),
        hash_key="test-hash-key",
        smtp_port=free_port(),
        max_message_bytes=64 * 1024,
        lease_seconds=30,
    )


def plumm_environment(*, database_url: str, data_dir: Path, vault_key: str, hash_key: str, **more: str) -> dict:
    """The environment of a `plumm` process under test: ours, without any PLUMM_* of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUMM_")}
    env.update(
        {
            "PLUMM_DATABASE_URL": database_url,
            "PLUMM_DATA_DIR": str(data_dir),
            "PLUMM_VAULT_KEY": vault_key,
            "PLUMM_HASH_KEY": hash_key,
        }
    )
    env.update(more)
    return env


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redactor():
    """The process-wide Redactor (rules validated, spaCy model loaded once per session)."""
    from pipeline.stages.redaction import get_redactor

    return get_redactor()


@pytest.fixture(scope="session")
def section_rules():
    """The shipped section rules, validated once per session."""
    from pipeline.rules import DEFAULT_RULES_DIR
    from pipeline.stages.sections import load_section_rules

    return load_section_rules(DEFAULT_RULES_DIR)


# -- a local SMTP sink standing in for our outbound relay ----------------------------------
class Sink:
    """A collecting SMTP server: every message our relay hands over, with its envelope. Set ``reply``
    to a 4xx or 5xx line and it refuses every message instead (a relay that is down or says no)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], object]] = []
        self.reply = "250 2.0.0 OK"
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if not self.reply.startswith("250"):
            self.refused += 1
            return self.reply
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return self.reply

    def to(self, address: str) -> list[tuple[list[str], object]]:
        return [(rcpts, m) for _f, rcpts, m in self.received if address in rcpts]


@pytest.fixture
def sink():
    handler = Sink()
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


# -- driving the real listener and worker ---------------------------------------------------
def send_over_smtp(rt, raw: bytes, sender: str) -> None:
    """Send one message to the running listener of ``rt`` as a mail client would (CRLF lines)."""
    import smtplib

    with smtplib.SMTP(rt.settings.smtp_host, rt.settings.smtp_port, timeout=10) as client:
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert client.sendmail(sender, ["hello@heyplumm.com"], crlf) == {}


def drain_worker(rt, *, rounds: int = 200) -> None:
    """Run a real worker until it has nothing left to do."""
    from pipeline.worker import Worker

    worker = Worker(rt)
    for _ in range(rounds):
        if not worker.run_once():
            return
    raise AssertionError("worker did not become idle")


def replace_processing(monkeypatch, per_message) -> None:
    """Stand in for the worker's stages: ``per_message(rt, raw)`` returns a ``Processed`` (or raises
    ``StageFailed``) for each message the real worker claims, leases and records."""
    import pipeline.worker as worker_module

    def processing(rt, raws, *, on_result=lambda _i, _r: None, **_stages):
        results = []
        for index, raw in enumerate(raws):
            try:
                result = per_message(rt, raw)
            except worker_module.StageFailed as failure:
                result = failure
            on_result(index, result)
            results.append(result)
        return results

    monkeypatch.setattr(worker_module, "process_many", processing)
