"""One case from SMTP receipt to closed, through the real listener, worker and a local SMTP sink.

The therapist's letter is the ``plain-text-letter-with-headings`` fixture (it names the client's
employer, Brightwater Logistics Ltd) with two sentences added: the client's work and personal
addresses, and the employer's name once more exactly as accounts.yaml spells it. Every outbound
email is captured by an aiosmtpd sink configured as the relay: the digest and the employer request
hold none of the client's identifiers, HR's reply lands on the case as the employer's answer (never
acknowledged), and the client is told at the personal address, under a reference HR never saw.
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
from pipeline.cases.permissions import Actor, Role
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
WORK = "sarah.okafor@brightwater-logistics.example"
CLIENT = "sarah.okafor@homemail.example"
HR = "people@brightwater-logistics.example"
CSM = "alex.rivers@plumm-staff.example"
ALEX = Actor("alex", Role.CSM, frozenset({"brightwater"}))
MORGAN = Actor("morgan", Role.LEAD)


@pytest.fixture
def rt(settings, sink):
    _, port = sink
    return Runtime(settings.model_copy(update={"outbound_smtp": f"127.0.0.1:{port}", "max_attempts": 1}))


@pytest.fixture
def listener(rt):
    controller = build_controller(rt.settings, rt.engine, rt.cipher, rt.hash_key)
    controller.start()
    yield controller
    controller.stop()


def letter_with_client_address() -> bytes:
    raw = (FIXTURES / f"{STEM}.eml").read_bytes()
    extra = (
        f"Sarah's work email address is {WORK}; at home she reads {CLIENT}. Brightwater Logistics "
        "has supported her return to work.\n\nClinical rationale"
    ).encode()
    assert raw.count(b"Clinical rationale") == 1
    return raw.replace(b"Clinical rationale", extra)


send = send_over_smtp


def drain(rt: Runtime) -> None:
    drain_worker(rt, rounds=20)


def identifiers() -> list[str]:
    return [v for values in expected(STEM)["must_not_survive"].values() for v in values] + [CLIENT, WORK]


def client_identifiers() -> list[str]:
    """What may not reach the employer: everything but the employer's own name."""
    return [v for v in identifiers() if "Brightwater" not in v]


def text_of(message) -> str:
    parts = [str(v) for _k, v in message.items()]
    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


def assert_no_identifier(text: str, what: str, values: list[str] | None = None) -> None:
    for value in identifiers() if values is None else values:
        found = re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", text, re.IGNORECASE)
        assert found is None, f"the {what} holds an identifier from the letter"


def the_case(rt: Runtime) -> store.Case:
    with store.session(rt.engine) as db:
        return db.execute(select(store.Case)).scalar_one()


def case_letters(rt: Runtime) -> list[store.CaseLetter]:
    with store.session(rt.engine) as db:
        return list(db.execute(select(store.CaseLetter).order_by(store.CaseLetter.id)).scalars())


def event_kinds(rt: Runtime, case: store.Case) -> list[str]:
    with store.session(rt.engine) as db:
        rows = db.execute(
            select(store.CaseEvent).where(store.CaseEvent.case_id == case.id).order_by(store.CaseEvent.id)
        )
        return [e.kind for e in rows.scalars()]


def hr_mail(subject: str, body: str, *, sender: str = HR, in_reply_to: str = "", n: int = 1) -> bytes:
    thread = f"In-Reply-To: {in_reply_to}\r\n" if in_reply_to else ""
    return (
        f"From: People Team <{sender}>\r\nTo: hello@heyplumm.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <hr-{n}@brightwater-logistics.example>\r\n{thread}"
        f"Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    ).encode()


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

    # The CSM's digest: a summary with a link to the console.
    assert digest.send(rt).emails == 1
    delivery.deliver_pending(rt)
    [(rcpts, digest_mail)] = captured.to(CSM)
    assert rcpts == [CSM]
    digest_text = text_of(digest_mail)
    assert f"{rt.settings.effective_web_base_url}/cases/{case.reference}" in digest_text
    assert_no_identifier(digest_text, "digest")

    # Assessment and the anonymous employer request: the letter names the employer, so may the request.
    csm.approve(rt, case.reference, actor=ALEX, note="clear clinical rationale")
    csm.request_employer(rt, case.reference, actor=ALEX)
    delivery.deliver_pending(rt)
    [(rcpts, request)] = captured.to(HR)
    assert rcpts == [HR]
    request_text = text_of(request)
    assert case.reference in request_text and "6" in request_text and "Brightwater Logistics" in request_text
    assert_no_identifier(request_text, "employer request", client_identifiers())

    # HR replies to the request; the reply lands on the case as the employer's answer.
    reply = hr_mail(
        "Re: additional sessions", "Approved, thank you. Priya Nair, People Team", in_reply_to=request["Message-ID"]
    )
    send(rt, reply, HR)
    drain(rt)
    with store.session(rt.engine) as db:
        assert db.execute(select(func.count()).select_from(store.Case)).scalar_one() == 1
    assert "employer-replied" in event_kinds(rt, case) and "letter-added" not in event_kinds(rt, case)
    [_letter, answer] = case_letters(rt)
    assert answer.kind == "employer" and "Approved, thank you" in answer.redacted_text
    assert "Priya" not in answer.redacted_text
    assert [r for r, _m in captured.to(HR)] == [[HR]]  # HR got the request, and no acknowledgement
    assert "Approved" not in the_case(rt).letter_redacted  # the therapist's letter is unchanged
    assert the_case(rt).status == S.EMPLOYER_CONTACTED  # recording the answer stays the CSM's

    csm.record_employer(rt, case.reference, "approved", actor=ALEX, note="HR replied by email")
    csm.notify_client(rt, case.reference, actor=ALEX)
    delivery.deliver_pending(rt)
    assert captured.to(WORK) == []  # never the address on the employer's domain
    [(rcpts, notification)] = captured.to(CLIENT)
    assert rcpts == [CLIENT]  # the envelope: only the client, at home
    assert notification.get_all("To") == [CLIENT]
    assert notification["Cc"] is None and notification["Bcc"] is None
    assert "approved" in notification.get_body(("plain",)).get_content()
    client_reference = the_case(rt).client_reference
    assert client_reference and client_reference in notification["Subject"]
    assert case.reference not in text_of(notification)  # not the reference HR saw

    csm.close(rt, case.reference, actor=ALEX)
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


def test_hr_writing_about_the_case_by_its_reference_is_the_employers_answer(rt, listener, sink):
    captured, _port = sink
    send(rt, letter_with_client_address(), THERAPIST)
    drain(rt)
    case = the_case(rt)
    csm.approve(rt, case.reference, actor=ALEX)
    csm.request_employer(rt, case.reference, actor=ALEX)
    # A colleague of the HR contact writes a fresh mail naming the reference.
    finance = "finance@brightwater-logistics.example"
    send(
        rt, hr_mail(f"{case.reference} declined", "We cannot fund more sessions this quarter.", sender=finance), finance
    )
    drain(rt)
    assert [c.kind for c in case_letters(rt)] == ["letter", "employer"]
    assert captured.to(finance) == []


def test_an_hr_contact_writing_about_no_known_case_reaches_the_team_lead_unanswered(rt, listener, sink):
    captured, _port = sink
    send(rt, hr_mail("Your request", "Yes, approved."), HR)
    drain(rt)
    case = the_case(rt)
    assert (case.status, case.reason) == (S.QUARANTINED, "employer-reply-unmatched")
    assert captured.received == []  # no acknowledgement to HR


def test_a_reprocessed_quarantined_message_updates_its_own_case(rt, listener, monkeypatch):
    def broken(*_args, **_kwargs):
        raise StageFailed("redact", KeyError("boom"))

    replace_processing(monkeypatch, broken)
    send(rt, letter_with_client_address(), THERAPIST)
    drain(rt)
    case = the_case(rt)
    assert case.status == S.QUARANTINED and case.reason == "internal-error:KeyError"

    monkeypatch.undo()
    assert csm.reprocess(rt, case.reference, actor=MORGAN) == 1
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
    csm.reprocess(rt, case.reference, actor=MORGAN)
    drain(rt)
    with store.session(rt.engine) as db:
        assert db.execute(select(func.count()).select_from(store.Case)).scalar_one() == 1
        kinds = [
            e.kind for e in db.execute(select(store.CaseEvent).where(store.CaseEvent.case_id == case.id)).scalars()
        ]
    assert the_case(rt).status == S.QUARANTINED and "reprocess-failed" in kinds
