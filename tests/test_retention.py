"""Retention: raw messages, vaults and sent mail of long-closed cases go; the redacted case stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from pipeline import store
from pipeline.cases import lifecycle as cases
from pipeline.compliance.retention import purge
from pipeline.runtime import Runtime
from pipeline.worker import Worker
from tests.test_worker import drain, enqueue, letter_bytes


def close(rt: Runtime, case_id: int, *, days_ago: float) -> None:
    with store.session(rt.engine) as db:
        case = db.get(store.Case, case_id)
        cases.transition(db, case, "declined", actor="csm-test")
        cases.transition(db, case, "closed", actor="csm-test")
        db.commit()
        db.execute(
            update(store.CaseEvent)
            .where(store.CaseEvent.case_id == case_id, store.CaseEvent.to_status == "closed")
            .values(at=store.utcnow() - timedelta(days=days_ago))
        )
        db.commit()


def snapshot(rt: Runtime, case_id: int):
    with store.session(rt.engine) as db:
        case = db.get(store.Case, case_id)
        raws = (
            db.execute(select(store.InboundMessage.raw_encrypted).where(store.InboundMessage.case_id == case_id))
            .scalars()
            .all()
        )
        events = (
            db.execute(
                select(store.CaseEvent.kind).where(store.CaseEvent.case_id == case_id).order_by(store.CaseEvent.id)
            )
            .scalars()
            .all()
        )
        sent = (
            db.execute(select(store.OutboundMessage.payload_encrypted).where(store.OutboundMessage.case_id == case_id))
            .scalars()
            .all()
        )
    return case, raws, events, sent


def test_retention_purges_long_closed_cases_only_and_keeps_the_redacted_case(settings):
    rt = Runtime(settings)
    for n in range(3):
        enqueue(rt, letter_bytes(10 + n))
    assert drain(Worker(rt)) == 3
    with store.session(rt.engine) as db:
        old, recent, open_ = db.execute(select(store.Case.id).order_by(store.Case.id)).scalars().all()
    close(rt, old, days_ago=400)
    close(rt, recent, days_ago=10)
    before = snapshot(rt, old)

    dry = purge(rt.engine, days=365, dry_run=True)
    assert dry.cases == (before[0].reference,) and dry.messages == 1 and dry.vaults == 1
    assert snapshot(rt, old)[1] == before[1]  # a dry run changes nothing

    report = purge(rt.engine, days=365)
    assert report.cases == dry.cases and report.messages == 1 and report.vaults == 1
    case, raws, events, sent = snapshot(rt, old)
    assert raws == [b""] and case.vault_encrypted is None
    assert all(p == b"" for p in sent) and report.outbound == len(sent)  # acknowledgements were sent
    assert case.letter_redacted == before[0].letter_redacted and case.letter_redacted  # redacted case stays
    assert case.status == "closed" and case.entity_counts == before[0].entity_counts
    assert events[: len(before[2])] == before[2] and events[-1] == "retention-purged"  # audit trail kept
    for other in (recent, open_):  # closed recently / still open: untouched
        c, r, _e, _s = snapshot(rt, other)
        assert c.vault_encrypted and all(r)
    assert purge(rt.engine, days=365).cases == ()  # a second run finds nothing
    assert purge(rt.engine, days=5).cases == (snapshot(rt, recent)[0].reference,)


def test_retention_command_dry_run_lists_references_only(settings, monkeypatch):
    from pipeline.cli import app

    rt = Runtime(settings)
    enqueue(rt, letter_bytes(20))
    drain(Worker(rt))
    with store.session(rt.engine) as db:
        case_id = db.execute(select(store.Case.id)).scalar_one()
    close(rt, case_id, days_ago=40)
    monkeypatch.setenv("PLUMM_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PLUMM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PLUMM_VAULT_KEY", settings.vault_key)
    monkeypatch.setenv("PLUMM_RETENTION_DAYS", "30")
    result = CliRunner().invoke(app, ["retention", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("PLM-") and "would purge 1 case(s)" in result.output
    assert "marigold" not in result.output.lower()
    result = CliRunner().invoke(app, ["retention", "--days", "60"])
    assert "purged 0 case(s)" in result.output
    result = CliRunner().invoke(app, ["retention"])
    assert "purged 1 case(s)" in result.output and "1 raw message(s), 1 vault(s)" in result.output
