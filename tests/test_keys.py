"""Key rotation: everything at rest re-encrypted with the newest key, then the old key dropped."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import select
from typer.testing import CliRunner

from pipeline import store
from pipeline.compliance.keys import load_cipher, rotate
from pipeline.runtime import Runtime
from pipeline.worker import Worker
from tests.test_worker import drain, enqueue, letter_bytes


def tokens(rt: Runtime) -> list[bytes]:
    with store.session(rt.engine) as db:
        return [
            # ordered by id: PostgreSQL returns updated rows in another order without it
            *db.execute(select(store.InboundMessage.raw_encrypted).order_by(store.InboundMessage.id)).scalars(),
            *(t for t in db.execute(select(store.Case.vault_encrypted).order_by(store.Case.id)).scalars() if t),
            *db.execute(select(store.OutboundMessage.payload_encrypted).order_by(store.OutboundMessage.id)).scalars(),
        ]


def test_rotate_re_encrypts_raw_vault_and_outbound_so_the_old_key_can_go(settings):
    old, new = settings.vault_key, Fernet.generate_key().decode()
    rt = Runtime(settings)
    enqueue(rt, letter_bytes(1))
    enqueue(rt, letter_bytes(2))
    assert drain(Worker(rt)) == 2
    before = tokens(rt)
    assert len(before) >= 5  # 2 raw, 2 vaults, at least one acknowledgement
    plain = [load_cipher(settings).decrypt(t) for t in before]

    only_new = settings.model_copy(update={"vault_key": new})
    early = rotate(rt.engine, only_new)  # the old key is missing: nothing can be read, nothing changes
    assert sum(early.unreadable.values()) == len(before) and not early.complete
    assert tokens(rt) == before

    both = settings.model_copy(update={"vault_key": f"{new},{old}"})  # step 1: new key first
    report = rotate(rt.engine, both)  # step 2
    assert report.complete
    assert sum(report.rotated.values()) == len(before)
    assert report.rotated["inbound_message.raw_encrypted"] == 2
    assert report.rotated["case.vault_encrypted"] == 2
    after = tokens(rt)
    assert [load_cipher(only_new).decrypt(t) for t in after] == plain  # step 3: the old key can go

    again = rotate(rt.engine, both)  # idempotent: everything is current
    assert sum(again.rotated.values()) == 0 and sum(again.current.values()) == len(before)

    rt_new = Runtime(only_new, engine=rt.engine)  # the pipeline runs on with the new key alone
    enqueue(rt_new, letter_bytes(3))
    assert drain(Worker(rt_new)) == 1


def test_keys_rotate_command_reports_counts_only(settings, monkeypatch):
    from pipeline.cli import app

    rt = Runtime(settings)
    enqueue(rt, letter_bytes(4))
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("PLUMM_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PLUMM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PLUMM_VAULT_KEY", f"{new},{settings.vault_key}")
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "inbound_message.raw_encrypted: rotated 1" in result.output
    assert new not in result.output and settings.vault_key not in result.output
    monkeypatch.setenv("PLUMM_VAULT_KEY", new)
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0 and "already current 1" in result.output
