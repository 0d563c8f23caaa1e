"""One case from SMTP receipt to closed, through the real listener, worker and a local SMTP sink.

The therapist's letter is the ``plain-text-letter-with-headings`` fixture with one sentence added
that gives the client's work address (the fixtures name no client address, and the notification
must find one in the vault). Every outbound email is captured by an aiosmtpd sink configured as
the relay; the digest and the employer request must hold none of the letter's identifiers and the
notification must go to the client's address only.
"""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from pipeline import store
from pipeline.cases import digest
from pipeline.cases import lifecycle as cases
from pipeline.cases import service as csm
from pipeline.intake.smtp import build_controller
from pipeline.models import CaseStatus
from pipeline.outbound import delivery
from pipeline.runtime import Runtime
from pipeline.worker import StageFailed
from tests.conftest import FIXTURES, drain_worker, expected, replace_processing, send_over_smtp

pytestmark = pytest.mark.slow
S = CaseStatus
STEM = "plain-text-letter-with-headings"
THERAPIST = "helen.marsh@calmwater.example"
CLIENT = "sarah.okafor@brightwater-logistics.example"
HR = "people@brightwater-logistics.example"
CSM = "alex.rivers@plumm-staff.example"


@pytest.fixture
def rt(settings, sink):
    _, port = sink
    return Runtime(
        settings.model_copy(update={"outbound_smtp": f"127.0.0.1:{port}", "revealers": ["morgan"], "max_attempts": 1})
    )


@pytest.fixture
def listener(rt):
    controller = build_controller(rt.settings, rt.engine, rt.cipher, rt.hash_key)
    controller.start()
    yield controller
    controller.stop()


def letter_with_client_address() -> bytes:
    raw = (FIXTURES / f"{STEM}.eml").read_bytes()
    extra = f"Sarah's work email address is {CLIENT} should you need it.\n\nClinical rationale".encode()
    assert raw.count(b"Clinical rationale") == 1
    return raw.replace(b"Clinical rationale", extra)


send = send_over_smtp


def drain(rt: Runtime) -> None:
    drain_worker(rt, rounds=20)


def identifiers() -> list[str]:
    return [v for values in expected(STEM)["must_not_survive"].values() for v in values] + [CLIENT]


def text_of(message) -> str:
    parts = [str(v) for _k, v in message.items()]
    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


def assert_no_identifier(text: str, what: str) -> None:
    for value in identifiers():
        found = re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", text, re.IGNORECASE)
        assert found is None, f"the {what} holds an identifier from the letter"


def the_case(rt: Runtime) -> store.Case:
    with store.session(rt.engine) as db:
        return db.execute(select(store.Case)).scalar_one()


def test_one_case_walks_from_smtp_receipt_to_closed(rt, listener, sink, caplog):
    caplog.set_level(logging.INFO)
    captured, _port = sink

    # The therapist's letter arrives over SMTP; the worker records, routes and acknowledges it.
    send(rt, letter_with_client_address(), THERAPIST)
    drain(rt)
    case = the_case(rt)
    assert case.status == S.READY_FOR_ASSESSMENT, case.reason
    assert case.account == "brightwater"
    [(rcpts, ack)] = captured.to(THERAPIST)
    assert rcpts == [THERAPIST] and case.reference in ack["Subject"]

    # The CSM's digest.
    assert digest.send(rt).emails == 1
    delivery.deliver_pending(rt)
    [(rcpts, digest_mail)] = captured.to(CSM)
    assert rcpts == [CSM]
    digest_text = text_of(digest_mail)
    assert case.reference in digest_text and "Sessions requested: 6" in digest_text
    assert_no_identifier(digest_text, "digest")

    # Assessment and the anonymous employer request.
    csm.approve(rt, case.reference, actor="alex", note="clear clinical rationale")
    csm.request_employer(rt, case.reference, actor="alex")
    delivery.deliver_pending(rt)
    [(rcpts, request)] = captured.to(HR)
    assert rcpts == [HR]
    request_text = text_of(request)
    assert case.reference in request_text and "6" in request_text
    assert_no_identifier(request_text, "employer request")

    # HR replies to the request; the reply threads onto the case by In-Reply-To.
    reply = (
        f"From: People Team <{HR}>\r\nTo: hello@heyplumm.com\r\nSubject: Re: additional sessions\r\n"
        f"Message-ID: <hr-reply-1@brightwater-logistics.example>\r\nIn-Reply-To: {request['Message-ID']}\r\n"
        f"Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n\r\nApproved, thank you.\r\n"
    ).encode()
    send(rt, reply, HR)
    drain(rt)
    with store.session(rt.engine) as db:
        assert db.execute(select(func.count()).select_from(store.Case)).scalar_one() == 1
        kinds = [
            e.kind for e in db.execute(select(store.CaseEvent).where(store.CaseEvent.case_id == case.id)).scalars()
        ]
    assert "letter-added" in kinds
    assert the_case(rt).status == S.EMPLOYER_CONTACTED  # recording the answer stays the CSM's command

    csm.record_employer(rt, case.reference, "approved", actor="alex", note="HR replied by email")
    csm.notify_client(rt, case.reference, actor="alex")
    delivery.deliver_pending(rt)
    [(rcpts, notification)] = captured.to(CLIENT)
    assert rcpts == [CLIENT]  # the envelope: only the client
    assert notification.get_all("To") == [CLIENT]
    assert notification["Cc"] is None and notification["Bcc"] is None
    assert "approved" in notification.get_body(("plain",)).get_content()

    csm.close(rt, case.reference, actor="alex")
    assert the_case(rt).status == S.CLOSED
    with store.session(rt.engine) as db:
        rows = db.execute(
            select(store.CaseEvent).where(store.CaseEvent.case_id == case.id).order_by(store.CaseEvent.id)
        ).scalars()
        trail = [(e.kind, e.to_status) for e in rows]
    assert [t for t in trail if t[1]] == [
        ("received", S.RECEIVED),
        ("status", S.READY_FOR_ASSESSMENT),
        ("approved", S.APPROVED),
        ("employer-requested", S.EMPLOYER_CONTACTED),
        ("employer-recorded", S.EMPLOYER_APPROVED),
        ("client-notified", S.CLIENT_NOTIFIED),
        ("closed", S.CLOSED),
    ]
    # Every outbound mail went through the sink: acknowledgements, digest, request, notification.
    assert {m["Subject"] for _f, _r, m in captured.received} >= {digest_mail["Subject"], request["Subject"]}
    # Our own loggers (aiosmtpd's "mail.log" echoes envelopes at INFO; `plumm` sets it to WARNING).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("plumm"))
    assert "PLM-" in ours
    assert_no_identifier(ours, "log of the run")


def test_a_reprocessed_quarantined_message_updates_its_own_case(rt, listener, monkeypatch):
    def broken(*_args, **_kwargs):
        raise StageFailed("redact", KeyError("boom"))

    replace_processing(monkeypatch, broken)
    send(rt, letter_with_client_address(), THERAPIST)
    drain(rt)
    case = the_case(rt)
    assert case.status == S.QUARANTINED and case.reason == "internal-error:KeyError"

    monkeypatch.undo()
    assert csm.reprocess(rt, case.reference, actor="morgan") == 1
    drain(rt)
    with store.session(rt.engine) as db:
        assert db.execute(select(func.count()).select_from(store.Case)).scalar_one() == 1
        fresh = cases.by_reference(db, case.reference)
        kinds = [
            e.kind for e in db.execute(select(store.CaseEvent).where(store.CaseEvent.case_id == case.id)).scalars()
        ]
    assert fresh.status == S.READY_FOR_ASSESSMENT and fresh.account == "brightwater"
    assert "reprocess-requested" in kinds and "reprocessed" in kinds
    assert "[PERSON_1]" in fresh.letter_redacted


def test_a_reprocessed_message_that_fails_again_stays_with_its_case(rt, listener, monkeypatch):
    def broken(*_args, **_kwargs):
        raise StageFailed("redact", KeyError("boom"))

    replace_processing(monkeypatch, broken)
    send(rt, letter_with_client_address(), THERAPIST)
    drain(rt)
    case = the_case(rt)
    csm.reprocess(rt, case.reference, actor="morgan")
    drain(rt)
    with store.session(rt.engine) as db:
        assert db.execute(select(func.count()).select_from(store.Case)).scalar_one() == 1
        kinds = [
            e.kind for e in db.execute(select(store.CaseEvent).where(store.CaseEvent.case_id == case.id)).scalars()
        ]
    assert the_case(rt).status == S.QUARANTINED and "reprocess-failed" in kinds
