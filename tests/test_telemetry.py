"""Heartbeats and shared counters: what /healthz and /metrics read, written by every process."""

from __future__ import annotations

import smtplib
import time

import pytest

from pipeline import telemetry
from pipeline.intake.smtp import build_controller
from pipeline.runtime import Runtime
from pipeline.telemetry import Telemetry, counters, heartbeats, parse_labels
from pipeline.worker import Worker
from tests.test_worker import letter_bytes


@pytest.fixture
def rt(settings):
    return Runtime(settings)


def values(rt) -> dict[tuple[str, str], float]:
    return {(c.name, c.labels): c.value for c in counters(rt.engine)}


def test_counts_of_several_processes_add_up_and_each_flush_writes_a_heartbeat(rt):
    one, two = Telemetry(), Telemetry()
    one.count("smtp_refused", code="550")
    two.count("smtp_refused", code="550")
    two.count("smtp_refused", amount=3, code="452")
    assert one.flush(rt.engine, kind="listener", process="listener:a:1")
    assert two.flush(rt.engine, kind="listener", process="listener:b:2")
    one.count("smtp_refused", code="550")
    assert one.flush(rt.engine, kind="listener", process="listener:a:1")
    assert values(rt) == {("smtp_refused", "code=550"): 3.0, ("smtp_refused", "code=452"): 3.0}
    assert [(h.process, h.kind) for h in heartbeats(rt.engine)] == [
        ("listener:a:1", "listener"),
        ("listener:b:2", "listener"),
    ]


def test_a_flush_adds_all_its_counters_in_one_statement_new_rows_and_existing_alike(rt):
    from sqlalchemy import event

    t = Telemetry()
    t.count("smtp_refused", code="550")
    assert t.flush(rt.engine, kind="worker", process="worker:a:1")  # one row exists, the others are new
    for code in ("421", "450", "451", "452", "550", "552", "554"):
        t.count("smtp_refused", amount=2, code=code)
    statements: list[str] = []
    listen = lambda _c, _cur, statement, *_rest: statements.append(statement)  # noqa: E731
    event.listen(rt.engine, "before_cursor_execute", listen)
    try:
        assert t.flush(rt.engine, kind="worker", process="worker:a:1")
    finally:
        event.remove(rt.engine, "before_cursor_execute", listen)
    assert len([s for s in statements if "metric_counter" in s.lower()]) == 1
    got = values(rt)
    assert got[("smtp_refused", "code=550")] == 3.0 and got[("smtp_refused", "code=421")] == 2.0 and len(got) == 7


def test_latency_goes_into_cumulative_buckets_with_sum_and_count(rt):
    t = Telemetry()
    for seconds in (0.03, 0.3, 3.0):
        t.observe("stage_seconds", seconds, stage="redact")
    t.flush(rt.engine, kind="worker")
    found = values(rt)
    bucket = {parse_labels(labels)["le"]: v for (name, labels), v in found.items() if name == "stage_seconds_bucket"}
    # Cumulative: a bucket counts every duration at or under its bound (an empty one is never written).
    counts = [bucket.get(le, 0) for le in ("0.01", "0.05", "0.5", "5.0", "+Inf")]
    assert counts == [0, 1, 2, 3, 3]
    assert found[("stage_seconds_count", "stage=redact")] == 3
    assert found[("stage_seconds_sum", "stage=redact")] == pytest.approx(3.33)


def test_a_flush_that_cannot_reach_the_database_keeps_its_counts(rt, tmp_path):
    from pipeline import store

    t = Telemetry()
    t.count("smtp_refused", code="451")
    broken = store.make_engine(f"sqlite:///{tmp_path / 'missing' / 'nothing-here.db'}")  # no tables
    assert t.flush(broken, kind="listener") is False
    assert t.flush(rt.engine, kind="listener") is True
    assert values(rt) == {("smtp_refused", "code=451"): 1.0}


def test_the_listener_beats_and_counts_refusals_and_the_worker_beats(rt, monkeypatch):
    monkeypatch.setattr(telemetry, "FLUSH_SECONDS", 0.2)
    monkeypatch.setattr(telemetry.TELEMETRY, "_last_flush", {})  # this test's process state only
    controller = build_controller(rt.settings, rt.engine, rt.cipher, rt.hash_key)
    controller.start()
    try:
        with smtplib.SMTP(rt.settings.smtp_host, rt.settings.smtp_port, timeout=10) as client:
            refused = client.sendmail(
                "a@clinic.example", ["nobody@heyplumm.com", "hello@heyplumm.com"], letter_bytes(1)
            )
        assert list(refused) == ["nobody@heyplumm.com"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ("smtp_refused", "code=550") not in values(rt):
            time.sleep(0.1)
        telemetry.TELEMETRY.flush(rt.engine, kind="listener")  # the listener has just beaten too
    finally:
        controller.stop()
    assert values(rt)[("smtp_refused", "code=550")] == 1
    Worker(rt).run_once()  # the listener's beats do not hold back the worker's
    assert {h.kind for h in heartbeats(rt.engine)} == {"listener", "worker"}
