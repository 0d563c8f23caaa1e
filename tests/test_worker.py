"""Worker: claiming, leases, retries and recording, on SQLite and on the local PostgreSQL.

These run the real stages (parse, extract, redact, sections) on real letters.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select, update

from pipeline import store
from pipeline.intake.rawstore import database_persister
from pipeline.runtime import Runtime
from pipeline.worker import Worker

CLIENT = "Marigold Featherstonehaugh"
CLIENT_EMAIL = "marigold.f@brightwater.example"


def mail_bytes(subject: str, body: str, message_id: str) -> bytes:
    """A plain message from the invented therapist to the intake address."""
    msg = EmailMessage()
    msg["From"] = "Dr Ada Lovegood <ada.lovegood@clinic.example>"
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}@clinic.example>"
    msg.set_content(body)
    return msg.as_bytes()


def letter_bytes(n: int = 0, *, recommendation: bool = True) -> bytes:
    body = (
        "Dear Plumm team,\n\n"
        f"I am writing about my client {CLIENT} ({CLIENT_EMAIL}). She has attended weekly CBT sessions "
        "and her GAD-7 score remains 15, because her panic attacks continue to affect her work.\n\n"
    )
    if recommendation:
        body += "I recommend six additional sessions, weekly, to consolidate her progress.\n\n"
    body += "Kind regards,\nDr Ada Lovegood\nCounselling Psychologist\n"
    return mail_bytes(f"Request for additional sessions ({n})", body, f"worker-test-{n}")


@pytest.fixture
def rt(settings):
    return Runtime(settings)


def enqueue(rt: Runtime, raw: bytes, sender: str = "ada.lovegood@clinic.example") -> int:
    return database_persister(rt.engine, rt.cipher, rt.hash_key)(raw, 1, "127.0.0.1", sender)


def drain(worker: Worker, limit: int = 100) -> int:
    n = 0
    while n < limit and worker.run_once():
        n += 1
    return n


def count(rt: Runtime, model) -> int:
    with store.session(rt.engine) as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


def test_message_becomes_a_redacted_ready_case_and_is_marked_done(rt):
    message_id = enqueue(rt, letter_bytes())
    assert drain(Worker(rt)) == 1
    with store.session(rt.engine) as db:
        row = db.get(store.InboundMessage, message_id)
        case = db.get(store.Case, row.case_id)
        events = (
            db.execute(
                select(store.CaseEvent.to_status).where(store.CaseEvent.case_id == case.id).order_by(store.CaseEvent.id)
            )
            .scalars()
            .all()
        )
    assert row.status == store.MessageStatus.DONE
    assert case.reference.startswith("PLM-") and len(case.reference) == len("PLM-2026-000001")
    assert case.status == "ready_for_assessment"
    for value in ("Marigold", "Featherstonehaugh", CLIENT_EMAIL, "Lovegood"):
        assert value.lower() not in case.letter_redacted.lower()
    assert "GAD-7" in case.letter_redacted and "six additional sessions" in case.letter_redacted
    assert case.sections["needs"]["present"] and case.sections["recommendation"]["present"]
    assert case.vault_encrypted and b"Marigold" not in case.vault_encrypted
    assert [s for s in events if s] == ["received", "ready_for_assessment"]


def test_letter_without_recommendation_awaits_information(rt):
    enqueue(rt, letter_bytes(recommendation=False))
    drain(Worker(rt))
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
    assert case.status == "awaiting_information"
    assert case.reason == "missing-sections:recommendation"


def test_lease_expiry_lets_another_worker_finish_exactly_once(rt):
    message_id = enqueue(rt, letter_bytes())
    dead = Worker(rt, worker_id="dead-worker")
    assert dead.claim() == message_id  # claimed, then the process "dies" before recording
    alive = Worker(rt, worker_id="alive-worker")
    assert alive.claim() is None  # the lease still holds
    with store.session(rt.engine) as db:
        db.execute(update(store.InboundMessage).values(lease_until=store.utcnow() - timedelta(seconds=1)))
        db.commit()
    assert drain(alive) == 1
    dead.handle(message_id)  # the "dead" worker wakes up late: its lease is gone, nothing is recorded
    assert count(rt, store.Case) == 1
    assert count(rt, store.CaseLetter) == 1


def test_a_stage_that_keeps_failing_quarantines_the_message_with_its_stage(rt, monkeypatch):
    import pipeline.worker as worker_module

    def broken_extract(*_a, **_k):
        raise RuntimeError("bug")

    monkeypatch.setattr(worker_module, "extract", broken_extract)
    message_id = enqueue(rt, letter_bytes())
    worker = Worker(rt)
    for _ in range(rt.settings.max_attempts):
        _make_claimable(rt, message_id)
        assert worker.claim() == message_id
        worker.handle(message_id)
    with store.session(rt.engine) as db:
        row = db.get(store.InboundMessage, message_id)
        case = db.get(store.Case, row.case_id)
    assert row.status == store.MessageStatus.QUARANTINED
    assert row.attempts == rt.settings.max_attempts
    assert case.status == "quarantined" and case.reason_stage == "extract"
    assert case.reason == "internal-error:RuntimeError"
    assert rt.cipher.decrypt(row.raw_encrypted) == letter_bytes()  # raw bytes kept for reprocessing
    assert case.letter_redacted == ""


def _make_claimable(rt: Runtime, message_id: int) -> None:
    """Skip the retry back-off in tests."""
    with store.session(rt.engine) as db:
        db.execute(update(store.InboundMessage).where(store.InboundMessage.id == message_id).values(not_before=None))
        db.commit()


def test_two_racing_workers_never_produce_a_duplicate_case(rt):
    ids = [enqueue(rt, letter_bytes(n)) for n in range(12)]
    workers = [Worker(rt, worker_id=f"racer-{i}") for i in range(2)]
    done = [0, 0]

    def run(i: int) -> None:
        done[i] = drain(workers[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert sum(done) == len(ids)
    assert count(rt, store.Case) == len(ids)
    assert count(rt, store.CaseLetter) == len(ids)
    with store.session(rt.engine) as db:
        case_ids = db.execute(select(store.InboundMessage.case_id)).scalars().all()
    assert len(set(case_ids)) == len(ids)


def test_resend_of_the_same_message_does_not_open_a_second_case(rt):
    enqueue(rt, letter_bytes(7))
    enqueue(rt, letter_bytes(7))  # the client got no reply and sent it again
    assert drain(Worker(rt)) == 2
    assert count(rt, store.Case) == 1


def test_recording_a_letter_writes_its_message_row_once_with_its_message_id_hash(rt):
    from sqlalchemy import event

    message_id = enqueue(rt, letter_bytes(8))
    worker = Worker(rt)
    assert worker.claim() == message_id
    updates: list[str] = []

    def seen(_conn, _cursor, statement, _params, _context, _many) -> None:
        if statement.lstrip().upper().startswith("UPDATE INBOUND_MESSAGE"):
            updates.append(statement)

    event.listen(rt.engine, "before_cursor_execute", seen)
    try:
        worker.handle(message_id)
    finally:
        event.remove(rt.engine, "before_cursor_execute", seen)
    # The lease's guard (which hands the row back), then the outcome with the Message-ID hash: no more.
    assert len(updates) == 2
    assert "message_id_hash" in updates[1].lower() and "status" in updates[1].lower()
    with store.session(rt.engine) as db:
        row = db.get(store.InboundMessage, message_id)
        assert row is not None and row.status == store.MessageStatus.DONE and row.case_id is not None
        assert row.message_id_hash == store.keyed_hash(rt.hash_key, "<worker-test-8@clinic.example>")


def test_logs_of_a_full_run_hold_no_value_from_the_letter(rt, caplog):
    caplog.set_level(logging.DEBUG)
    enqueue(rt, letter_bytes(3))
    enqueue(rt, letter_bytes(4, recommendation=False))
    drain(Worker(rt))
    text = caplog.text.lower()
    assert caplog.records  # the run did log
    for value in ("marigold", "featherstonehaugh", "brightwater", "lovegood", "ada.lovegood", "panic"):
        assert value not in text


def test_hostile_messages_get_their_reasons_and_the_worker_keeps_serving(rt):
    from tests.conftest import FIXTURES, expected, fixture_stems

    # Unreadable or letterless mail (a missing section is a letter, not a hostile message).
    hostile = [
        s
        for s in fixture_stems()
        if (expected(s)["outcome"]["reason"] or "missing-sections:").split(":")[0] != "missing-sections"
    ]
    assert len(hostile) >= 12
    ids = {stem: enqueue(rt, (FIXTURES / f"{stem}.eml").read_bytes()) for stem in hostile}
    good = enqueue(rt, letter_bytes(99))  # queued behind every hostile message
    assert drain(Worker(rt), limit=200) == len(hostile) + 1
    with store.session(rt.engine) as db:
        for stem, message_id in ids.items():
            row = db.get(store.InboundMessage, message_id)
            case = db.get(store.Case, row.case_id)
            assert (case.status, case.reason) == (
                expected(stem)["outcome"]["status"],
                expected(stem)["outcome"]["reason"],
            ), stem
            assert rt.cipher.decrypt(row.raw_encrypted)  # raw bytes kept
        assert db.get(store.Case, db.get(store.InboundMessage, good).case_id).status == "ready_for_assessment"


def _parse_only(monkeypatch, pause: float = 0.0) -> None:
    """The real claim, lease and recording with only the parse stage (the NLP is not the point)."""
    import time

    from pipeline.models import LetterMissing, Processed
    from pipeline.stages.parse import parse
    from tests.conftest import replace_processing

    def parse_only(rt, raw):
        time.sleep(pause)
        return Processed(mail=parse(raw), outcome=LetterMissing("worker-test-parse-only"))

    replace_processing(monkeypatch, parse_only)


def test_a_batch_is_claimed_in_one_round_trip_and_each_message_recorded(rt, monkeypatch):
    _parse_only(monkeypatch)
    ids = [enqueue(rt, letter_bytes(n)) for n in range(6)]
    worker = Worker(rt, worker_id="batcher")
    assert worker.run_batch(4)
    with store.session(rt.engine) as db:
        statuses = dict(db.execute(select(store.InboundMessage.id, store.InboundMessage.status)).all())
    assert [statuses[i] for i in ids] == ["done"] * 4 + ["pending"] * 2
    assert worker.run_batch(4) and not worker.run_batch(4)
    assert count(rt, store.Case) == 6


@pytest.mark.slow
def test_letters_processed_together_come_out_as_one_by_one(settings):
    """The model's batched parses (nlp.pipe) give every fixture the outcome, redacted text, counts
    and sections it gets alone; no value compared here is printed on failure (booleans only)."""
    from pathlib import Path

    from pipeline.worker import StageFailed, process, process_many

    rt = Runtime(settings.model_copy(update={"max_message_bytes": 26214400}))
    fixtures = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "emails").glob("*.eml"))
    raws = [f.read_bytes() for f in fixtures[:24]] + [letter_bytes(n, recommendation=n % 2 == 0) for n in range(4)]

    def summary(result) -> tuple:
        if isinstance(result, StageFailed):
            return ("failed", result.stage)
        if result.outcome is not None:
            return ("outcome", result.outcome.reason)
        return (result.redaction.text, dict(result.redaction.counts), result.sections)

    alone = []
    for raw in raws:
        try:
            alone.append(summary(process(rt, raw)))
        except StageFailed as failure:
            alone.append(summary(failure))
    together = []
    for start in range(0, len(raws), 7):
        together += [summary(r) for r in process_many(rt, raws[start : start + 7])]
    same = [a == b for a, b in zip(alone, together, strict=True)]
    assert all(same), f"{same.count(False)} of {len(same)} differ"


def test_a_long_letter_in_a_batch_never_holds_up_the_others(settings, monkeypatch):
    from pipeline.stages import long_letters
    from pipeline.worker import process_many
    from tests.test_long_letters import long_letter_bytes

    monkeypatch.setattr("pipeline.worker.PIECE_CHARS", 3000)
    monkeypatch.setattr(long_letters, "PIECE_CHARS", 3000)
    order: list[int] = []
    results = process_many(
        Runtime(settings),
        [long_letter_bytes(40), letter_bytes(1), letter_bytes(2)],
        on_result=lambda index, _result: order.append(index),
    )
    assert order == [1, 2, 0]  # the short ones are done (and recorded by the worker) first
    assert all(r.outcome is None and r.sections is not None for r in results)


def test_only_the_lease_holder_renews_its_lease(rt):
    from pipeline import queue

    message_id = enqueue(rt, letter_bytes())
    assert Worker(rt, worker_id="holder").claim() == message_id
    later = store.utcnow() + timedelta(seconds=600)
    assert queue.renew(rt.engine, queue.INBOUND, message_id, "holder", now=later, lease_seconds=30)
    assert not queue.renew(rt.engine, queue.INBOUND, message_id, "someone-else", now=later, lease_seconds=999)
    with store.session(rt.engine) as db:
        lease_until = store.aware(db.get(store.InboundMessage, message_id).lease_until)
    assert abs((lease_until - later).total_seconds() - 30) < 1


def test_a_letter_verification_cannot_clear_is_quarantined_naming_the_types_it_found(rt, monkeypatch):
    """The operator reads on the case which entity types failed verification (types, no values)."""
    from pipeline.models import Processed, RedactionUnverified
    from pipeline.stages.parse import parse
    from tests.conftest import replace_processing

    def unverified(rt, raw):
        return Processed(mail=parse(raw), outcome=RedactionUnverified(entity_types=("PERSON", "PHONE")))

    replace_processing(monkeypatch, unverified)
    enqueue(rt, letter_bytes(1))
    assert Worker(rt).run_once()
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
        notes = db.execute(select(store.CaseEvent.note).where(store.CaseEvent.to_status == "quarantined")).all()
    assert (case.status, case.reason) == ("quarantined", "redaction-unverified")
    assert [n for (n,) in notes] == ["redaction-unverified: PERSON, PHONE"]


def test_a_residue_verification_removes_is_recorded_on_the_case_by_type(rt, monkeypatch):
    """A name the first pass missed in a P.S. (the model's blind spot) but verification knows (the
    client is named in the subject) is removed, the case goes on, and its timeline says which types
    verification removed."""
    from pipeline.models import Redaction

    real_redact = rt.redactor.redact

    def first_pass_misses_the_ps(text, known, **kwargs):
        head, sep, tail = text.partition("P.S.")
        done = real_redact(head, known, **kwargs)
        return Redaction(text=done.text + sep + tail, counts=done.counts, vault=done.vault)

    message = mail_bytes(
        "Client: Tamsin Okonkwo-Reyes",
        "Dear Plumm team,\n\nMy client Tamsin Okonkwo-Reyes has panic attacks; GAD-7 is 15.\n"
        "I recommend six additional sessions, weekly.\n\nKind regards,\nDr Ada Lovegood\n\n"
        "P.S. Tamsin Okonkwo-Reyes asked me to add her mobile, 07700 900123.\n",
        "cleaned-1",
    )
    monkeypatch.setattr(rt.redactor, "redact", first_pass_misses_the_ps)  # the model is shared: undone after
    enqueue(rt, message)
    assert Worker(rt).run_once()
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
        [note] = db.execute(select(store.CaseEvent.note).where(store.CaseEvent.kind == "verification-cleaned")).one()
    assert case.status == "ready_for_assessment"
    assert "Okonkwo" not in case.letter_redacted and "900123" not in case.letter_redacted
    assert "PERSON" in note.split(", ") and "PHONE" in note.split(", ")


def test_a_letters_name_patterns_do_not_outlive_its_batch(rt):
    """The known-identifier recognizer keeps a letter's compiled name patterns and short forms while
    its batch is read (it is built several times per letter); afterwards nothing of them is kept."""
    from pipeline.models import Processed
    from pipeline.stages.redaction.recognizers import known
    from pipeline.worker import process_many

    results = process_many(rt, [letter_bytes(5)])
    assert isinstance(results[0], Processed) and results[0].redaction is not None
    assert known._regex.cache_info().currsize == 0
    assert rt.redactor.vocab.memo == {}


def test_a_question_that_is_no_letter_keeps_its_redacted_text_for_the_csm(rt):
    question = mail_bytes(
        "A question about your process",
        "Hello,\n\nWho at Plumm reads the letters we send, and how long do you keep them? My practice "
        "manager, Quentin Ashbourne-Pike, would like to know for our records.\n\n"
        "Best wishes,\nDr Ada Lovegood\n",
        "worker-question",
    )
    enqueue(rt, question)
    drain(Worker(rt))
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
        letters = db.execute(select(store.CaseLetter)).scalars().all()
    assert (case.status, case.reason) == ("awaiting_information", "no-letter-found")
    assert "how long do you keep them" in case.letter_redacted
    for value in ("Quentin", "Ashbourne", "Lovegood"):
        assert value not in case.letter_redacted
    assert [letter.redacted_text for letter in letters] == [case.letter_redacted]


def auto_reply_bytes(message_id: str) -> bytes:
    """An invented out-of-office reply naming a colleague and a mobile, with a crisis line."""
    msg = EmailMessage()
    msg["From"] = "Dr Ada Lovegood <ada.lovegood@clinic.example>"
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = "Automatic reply: your case"
    msg["Message-ID"] = f"<{message_id}@clinic.example>"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(
        "Thank you for your email. I am out of the office until Monday. For anything urgent please contact "
        "my colleague Quentin Ashbourne-Pike on 07700 900461. If you are in crisis, call the Samaritans "
        "on 116 123 or go to your nearest emergency department.\n\nDr Ada Lovegood\n"
    )
    return msg.as_bytes()


def test_an_automatic_reply_keeps_its_redacted_text_and_its_outcome(rt):
    """A machine report is redacted and verified like a letter so the CSM can read what came in; it is
    still no letter: no sections, no acknowledgement, the same outcome as before."""
    enqueue(rt, auto_reply_bytes("ooo-1"))
    drain(Worker(rt))
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
        letters = db.execute(select(store.CaseLetter)).scalars().all()
        event = store.CaseEvent
        skipped = db.execute(select(event.note).where(event.kind == "acknowledgement-skipped")).all()
    assert (case.status, case.reason, case.reason_stage) == ("awaiting_information", "no-letter-found", "extract")
    assert case.sections == {} and case.sessions_requested is None
    assert "out of the office until Monday" in case.letter_redacted
    assert "nearest emergency department" in case.letter_redacted
    for value in ("Quentin", "Ashbourne", "Lovegood", "900461"):
        assert value not in case.letter_redacted
    assert [letter.redacted_text for letter in letters] == [case.letter_redacted]
    assert case.entity_counts.get("PHONE") == 1
    assert skipped and count(rt, store.OutboundMessage) == 0


@pytest.mark.parametrize("failure", ["unverified", "bug"])
def test_an_automatic_reply_whose_redaction_fails_keeps_no_text_and_its_outcome(rt, monkeypatch, failure):
    """Fail closed: the text of a machine report that cannot be redacted and verified is not kept, and
    the report is neither quarantined nor retried: it keeps the outcome every machine report has."""
    from pipeline.models import RedactionUnverified

    def broken_clean(redaction, known):
        if failure == "unverified":
            raise RedactionUnverified(entity_types=("PERSON",))
        raise RuntimeError("a bug in verification")

    monkeypatch.setattr(rt.redactor, "clean", broken_clean)  # the redactor is shared: undone after
    enqueue(rt, auto_reply_bytes(f"ooo-{failure}"))
    drain(Worker(rt))
    with store.session(rt.engine) as db:
        case = db.execute(select(store.Case)).scalar_one()
        row = db.execute(select(store.InboundMessage)).scalar_one()
    assert (case.status, case.reason) == ("awaiting_information", "no-letter-found")
    assert case.letter_redacted == "" and case.entity_counts == {}
    assert (row.status, row.attempts) == ("done", 1)
    assert count(rt, store.CaseLetter) == 0
