"""The queue discipline of both directions (pipeline/queue.py), on SQLite and the local PostgreSQL.

Time is a fake clock on the Runtime, so "two minutes" of relay outage or "four days" of refusals
take milliseconds. The relay is a real SMTP sink on loopback that accepts, refuses for now (451)
or refuses for good (550). Counts are Message-IDs; no value from a letter is printed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from pipeline import queue, store
from pipeline.cases import digest
from pipeline.intake.rawstore import database_persister
from pipeline.outbound import delivery
from pipeline.outbound.messages import compose
from pipeline.queue import INBOUND, OUTBOUND
from pipeline.runtime import Runtime
from tests.conftest import free_port, plumm_environment

PLUMM = str(Path(sys.executable).parent / "plumm")
REFUSE_FOR_NOW = "451 4.3.0 Try again later"
REFUSE_FOR_GOOD = "550 5.1.1 No such user here"


class FakeClock:
    """The queues' now, moved by the test."""

    def __init__(self) -> None:
        self.now = store.utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def relay(sink):
    handler, port = sink
    return handler, f"127.0.0.1:{port}"


@pytest.fixture
def rt(settings, relay):
    _handler, address = relay
    return Runtime(settings.model_copy(update={"outbound_smtp": address}), clock=FakeClock())


def queue_mail(rt: Runtime, n: int, *, kind: str = "test", dedupe_key: str | None = None) -> tuple[int, str]:
    """One outbound message, queued; its row id and Message-ID."""
    message = compose(
        sender="hello@heyplumm.com",
        message_id_domain="heyplumm.com",
        to=f"csm{n}@plumm-staff.example",
        subject=f"Queue test {n}",
        text="A test.\n",
        html="<p>A test.</p>\n",
    )
    with store.session(rt.engine) as db:
        row = delivery.enqueue(db, rt, message, kind=kind, case_id=None, to=message["To"], dedupe_key=dedupe_key)
        db.commit()
        assert row.id is not None
        return row.id, str(message["Message-ID"])


def outbound_rows(rt: Runtime) -> list[store.OutboundMessage]:
    return queue.rows(rt.engine, OUTBOUND)


def received_ids(handler) -> list[str]:
    return [str(message["Message-ID"]) for _sender, _rcpts, message in handler.received]


# -- the discipline ---------------------------------------------------------------------------------
def test_a_row_is_leased_to_one_worker_and_claimable_again_only_when_its_lease_runs_out(rt):
    row_id, _ = queue_mail(rt, 1)
    lease = rt.settings.lease_seconds
    assert queue.claim(rt.engine, OUTBOUND, worker_id="a", lease_seconds=lease, now=rt.clock()) == row_id
    assert queue.claim(rt.engine, OUTBOUND, worker_id="b", lease_seconds=lease, now=rt.clock()) is None
    rt.clock.advance(lease + 1)  # "a" died holding it
    assert queue.claim(rt.engine, OUTBOUND, worker_id="b", lease_seconds=lease, now=rt.clock()) == row_id
    with store.session(rt.engine) as db:
        assert queue.hold(db, OUTBOUND, row_id, "a") is None  # "a" wakes up late: its lease is gone
        statements: list[str] = []
        listen = lambda _c, _cur, statement, *_rest: statements.append(statement)  # noqa: E731
        event.listen(rt.engine, "before_cursor_execute", listen)
        try:
            held = queue.hold(db, OUTBOUND, row_id, "b")
        finally:
            event.remove(rt.engine, "before_cursor_execute", listen)
        assert held is not None and held.attempts == 2 and held.worker_id == "b"
        assert len(statements) == 1  # the guarded UPDATE hands the row back (RETURNING): one round trip


def test_backoff_doubles_from_its_base_to_its_cap(settings):
    minutes = [
        queue.backoff(n, base=settings.outbound_retry_seconds, cap=settings.outbound_retry_max_seconds).seconds // 60
        for n in range(1, 9)
    ]
    assert minutes == [1, 2, 4, 8, 16, 30, 30, 30]  # RFC 5321 4.5.4.1: retry for hours, not seconds
    assert [queue.backoff(n, base=2.0, cap=300.0).seconds for n in (1, 2, 3)] == [2, 4, 8]


def test_one_acknowledgement_per_inbound_message_is_a_database_rule(rt):
    queue_mail(rt, 1, kind="acknowledgement", dedupe_key="ack:7")
    with pytest.raises(IntegrityError):
        queue_mail(rt, 2, kind="acknowledgement", dedupe_key="ack:7")


def test_the_migrated_schema_is_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with store.make_engine(database_url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []


# -- the relay goes away ----------------------------------------------------------------------------
@pytest.mark.parametrize("outage", ["refusing", "unreachable"])
def test_a_relay_down_for_two_minutes_then_back_delivers_everything_exactly_once(rt, relay, outage):
    handler, _address = relay
    queued = dict(queue_mail(rt, n) for n in range(5))
    if outage == "refusing":
        handler.reply, down = REFUSE_FOR_NOW, rt
    else:  # nothing listens on the relay's port
        settings = rt.settings.model_copy(update={"outbound_smtp": f"127.0.0.1:{free_port()}"})
        down = Runtime(settings, engine=rt.engine, clock=rt.clock)
    for _ in range(24):  # a worker's rounds over two minutes
        assert delivery.deliver_pending(down) == 0
        rt.clock.advance(5)
    rows = outbound_rows(rt)
    assert [r.status for r in rows] == ["pending"] * 5  # nothing given up after minutes
    assert all(r.attempts >= 1 and r.last_error for r in rows)
    assert sum(r.attempts for r in rows) <= 15  # backed off: not 24 rounds x 5 messages
    assert handler.received == []

    handler.reply = "250 2.0.0 OK"
    for _ in range(60):  # the relay is back; the worker keeps polling
        delivery.deliver_pending(rt)
        if all(r.status == "sent" for r in outbound_rows(rt)):
            break
        rt.clock.advance(60)
    assert [r.status for r in outbound_rows(rt)] == ["sent"] * 5
    assert sorted(received_ids(handler)) == sorted(queued.values())  # each once, with its queued Message-ID
    print(f"QUEUE relay-{outage}[{rt.engine.dialect.name}]: queued=5 delivered=5 duplicates=0 failed=0")


def test_a_permanent_refusal_fails_at_once_and_an_operator_lists_and_requeues_it(rt, relay, cli):
    handler, _address = relay
    handler.reply = REFUSE_FOR_GOOD
    row_id, message_id = queue_mail(rt, 1)
    assert delivery.deliver_pending(rt) == 0
    (row,) = outbound_rows(rt)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "smtp-550")

    listing = cli("outbox", "list", "--status", "failed")
    assert listing.exit_code == 0 and listing.output.startswith(f"{row_id}  test  failed  1 ")
    assert "smtp-550" in listing.output and "@" not in listing.output  # codes, never an address
    handler.reply = "250 2.0.0 OK"
    retried = cli("outbox", "retry", "--all-failed")
    assert retried.exit_code == 0 and "1 failed message(s) re-queued; 1 sent now" in retried.output
    assert received_ids(handler) == [message_id]
    assert cli("outbox", "retry").exit_code == 2  # neither ids nor --all-failed


def test_mail_refused_for_now_is_given_up_only_after_four_days(rt, relay):
    handler, _address = relay
    handler.reply = REFUSE_FOR_NOW
    queue_mail(rt, 1)
    hours = 0.0
    while outbound_rows(rt)[0].status == "pending" and hours < 200:
        delivery.deliver_pending(rt)
        rt.clock.advance(1800)
        hours += 0.5
    (row,) = outbound_rows(rt)
    assert row.status == "failed" and row.last_error == "smtp-451"
    assert rt.settings.outbound_give_up_hours <= hours <= rt.settings.outbound_give_up_hours + 1
    assert 150 <= row.attempts <= 200  # every 30 minutes once backed off, for four days


# -- crashes between send and mark ------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["relay", "outbox-folder"])
def test_a_worker_killed_between_send_and_mark_loses_nothing_and_repeats_only_the_same_message(rt, relay, transport):
    """What we guarantee: the message is never lost, and every copy carries the Message-ID it was
    queued with. Through a relay the copy sent again after the lease runs out is a duplicate SMTP
    allows (at least once, RFC 5321 6.1) and a receiver drops by Message-ID; into the outbox folder
    it replaces the same file (exactly once)."""
    handler, _address = relay
    if transport == "outbox-folder":
        rt = Runtime(rt.settings.model_copy(update={"outbound_smtp": ""}), engine=rt.engine, clock=rt.clock)
    row_id, message_id = queue_mail(rt, 1)
    lease = rt.settings.lease_seconds
    assert queue.claim(rt.engine, OUTBOUND, worker_id="dying", lease_seconds=lease, now=rt.clock()) == row_id
    with store.session(rt.engine) as db:
        row = db.get(store.OutboundMessage, row_id)
        message = message_from_bytes(rt.cipher.decrypt(row.payload_encrypted), policy=policy.default)
        stamp = row.created_at
    delivery.deliver(message, relay=rt.settings.relay, outbox_dir=rt.settings.outbox_dir, stamp=stamp)
    # ... and the worker is killed before it marks the row sent.
    assert delivery.deliver_pending(rt, worker_id="survivor") == 0  # its lease still holds
    rt.clock.advance(lease + 1)
    assert delivery.deliver_pending(rt, worker_id="survivor") == 1
    with store.session(rt.engine) as db:
        assert queue.hold(db, OUTBOUND, row_id, "dying") is None  # a late mark by the dead worker is refused
    (row,) = outbound_rows(rt)
    assert (row.status, row.attempts) == ("sent", 2)
    if transport == "relay":
        assert received_ids(handler) == [message_id, message_id]  # the same message, never a new one
    else:
        files = list(rt.settings.outbox_dir.glob("*.eml"))
        assert len(files) == 1 and message_id.encode() in files[0].read_bytes()


# -- digests ----------------------------------------------------------------------------------------
def test_two_digest_runs_deciding_on_the_same_state_record_and_send_each_digest_once(rt, relay, monkeypatch):
    from tests.test_csm import make_case

    handler, _address = relay
    for account in ("brightwater", "northgate", "unassigned"):
        make_case(rt, account=account)
    decided = threading.Barrier(2, timeout=30)
    original = digest.collect

    def collect_then_wait(*args, **kwargs):
        found = original(*args, **kwargs)
        decided.wait()  # both runs have read the same state before either writes
        return found

    monkeypatch.setattr(digest, "collect", collect_then_wait)
    results = []
    runs = [threading.Thread(target=lambda: results.append(digest.send(rt))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert sum(r.emails for r in results) == 3  # one per recipient, whichever run recorded it
    assert sum(r.already_recorded for r in results) == 3
    senders = [threading.Thread(target=delivery.deliver_pending, args=(rt,)) for _ in range(3)]  # CLI and workers
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    ids = received_ids(handler)
    assert len(ids) == 3 and len(set(ids)) == 3
    assert sorted(r[1][0] for r in handler.received) == sorted(
        ["alex.rivers@plumm-staff.example", "jo.bramley@plumm-staff.example", "morgan.lead@plumm-staff.example"]
    )


# -- three workers and the CLI on one database ------------------------------------------------------
def letter(n: int) -> tuple[bytes, str]:
    """A letter from its own therapist (the per-sender rate limit stays out of the way), authenticated
    by the MTA in front of us, so it earns an acknowledgement whatever the stages make of it."""
    message = EmailMessage()
    message["Authentication-Results"] = f"mx.heyplumm.com; dkim=pass header.d=practice{n}.example"
    message["From"] = f"Dr Therapist {n} <therapist{n}@practice{n}.example>"
    message["To"] = "hello@heyplumm.com"
    message["Subject"] = f"Request for additional sessions ({n})"
    message["Message-ID"] = f"<queue-test-{n}@practice{n}.example>"
    message.set_content(
        "Dear Plumm team,\n\nMy client continues to experience panic attacks; GAD-7 is 15.\n"
        "I recommend six additional sessions, weekly.\n\nKind regards,\nDr Therapist\n"
    )
    return message.as_bytes(), f"therapist{n}@practice{n}.example"


def environment(settings, **more: str) -> dict[str, str]:
    return plumm_environment(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        vault_key=settings.vault_key,
        hash_key=settings.hash_key,
        PLUMM_OUTBOUND_SMTP=settings.outbound_smtp,
        PLUMM_WORKER_POLL_SECONDS="0.1",
        **more,
    )


def store_letters(rt: Runtime, count: int) -> dict[str, str]:
    """``count`` letters stored as the SMTP edge stores them; Message-ID -> sender."""
    persist = database_persister(rt.engine, rt.cipher, rt.hash_key)
    sent: dict[str, str] = {}
    for n in range(count):
        raw, sender = letter(n)
        persist(raw, 1, "127.0.0.1", sender)
        sent[f"<queue-test-{n}@practice{n}.example>"] = sender
    return sent


def count(rt: Runtime, model, *where) -> int:
    with store.session(rt.engine) as db:
        return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def all_settled(rt: Runtime, letters: int) -> bool:
    M, Out = store.InboundMessage, store.OutboundMessage
    return (
        count(rt, M, M.status.in_([INBOUND.done, INBOUND.failed])) == letters
        and count(rt, Out, Out.status != OUTBOUND.done) == 0
    )


def assert_each_once(rt: Runtime, handler, sent: dict[str, str]) -> dict[str, int]:
    """Every letter got exactly one acknowledgement, and every digest left exactly once."""
    acks = [m for _f, _r, m in handler.received if str(m["Subject"]).startswith("[PLM-")]
    digests = [m for _f, _r, m in handler.received if str(m["Subject"]).startswith("Plumm digest")]
    answered = sorted(str(m["In-Reply-To"]) for m in acks)
    assert answered == sorted(sent), "an acknowledgement missing or doubled"
    Out = store.OutboundMessage
    assert count(rt, Out, Out.kind == "acknowledgement") == len(sent)
    digest_rows = count(rt, Out, Out.kind == "digest")
    assert len({str(m["Message-ID"]) for m in digests}) == len(digests) == digest_rows >= 1
    return {"letters": len(sent), "acknowledgements": len(acks), "digests": len(digests)}


def test_three_workers_and_cli_digests_on_one_database_send_each_acknowledgement_and_digest_once(
    settings, relay, monkeypatch, tmp_path
):
    """Three workers race for 40 letters and for the mail they queue, while two `plumm digest`
    processes run at the same time and deliver what they queued themselves. The stages are cut to
    the parse stage here (the queue is under test, and threads must not share one spaCy model); the
    slow test below runs real `plumm worker` processes through every stage."""
    import pipeline.worker as worker_module
    from pipeline.models import LetterMissing, Processed
    from pipeline.stages.parse import parse
    from tests.conftest import replace_processing

    handler, address = relay
    settings = settings.model_copy(update={"outbound_smtp": address, "worker_poll_seconds": 0.05})
    replace_processing(monkeypatch, lambda rt, raw: Processed(mail=parse(raw), outcome=LetterMissing("queue-test")))
    rt = Runtime(settings)
    sent = store_letters(rt, 40)
    stop = threading.Event()
    runners = [worker_module.Worker(Runtime(settings), worker_id=f"worker-{i}") for i in range(3)]
    workers = [threading.Thread(target=w.run, kwargs={"stop": stop.is_set}) for w in runners]
    for worker in workers:
        worker.start()
    try:
        assert wait_until(lambda: count(rt, store.Case) >= 10, 60)
        env = environment(settings)
        with open(tmp_path / "digest.log", "ab") as log:
            digests = [subprocess.Popen([PLUMM, "digest"], env=env, stdout=log, stderr=log) for _ in range(2)]
            for run in digests:
                assert run.wait(timeout=120) == 0
        assert wait_until(lambda: all_settled(rt, 40), 120)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    counts = assert_each_once(rt, handler, sent)
    print(f"QUEUE three-workers[{rt.engine.dialect.name}]: " + " ".join(f"{k}={v}" for k, v in counts.items()))


@pytest.mark.slow
def test_three_real_worker_processes_and_a_cli_digest_send_each_acknowledgement_and_digest_once(
    settings, relay, tmp_path
):
    """The same with `plumm worker` processes running every stage on real letters."""
    handler, address = relay
    settings = settings.model_copy(update={"outbound_smtp": address})
    rt = Runtime(settings)
    sent = store_letters(rt, 12)
    procs = []
    try:
        for i in range(3):
            with open(tmp_path / f"worker-{i}.log", "ab") as log:
                env = environment(settings)
                procs.append(
                    subprocess.Popen(
                        [PLUMM, "worker", "--processes", "1"], env=env, stdout=subprocess.DEVNULL, stderr=log
                    )
                )
        assert wait_until(lambda: count(rt, store.Case) >= 4, 120)
        digest_run = subprocess.run([PLUMM, "digest"], env=environment(settings), capture_output=True, timeout=120)
        assert digest_run.returncode == 0
        assert wait_until(lambda: all_settled(rt, 12), 180)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    counts = assert_each_once(rt, handler, sent)
    print(f"QUEUE real-workers[{rt.engine.dialect.name}]: " + " ".join(f"{k}={v}" for k, v in counts.items()))


@pytest.fixture
def cli(rt, monkeypatch):
    from pipeline.cli import app

    settings = rt.settings
    for key, value in environment(settings).items():
        if key.startswith("PLUMM_"):
            monkeypatch.setenv(key, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))
