"""The SMTP edge, over a real aiosmtpd server on loopback with a real smtplib client."""

from __future__ import annotations

import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import pytest
from sqlalchemy import func, select

from pipeline import store
from pipeline.compliance.keys import load_cipher, load_hash_key
from pipeline.intake import smtp


def letter(n: int = 0) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Dr Ada Example <ada@clinic.example>"
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = f"Additional sessions request {n}"
    msg["Message-ID"] = f"<letter-{n}@clinic.example>"
    msg.set_content("Dear Plumm,\nI recommend six additional sessions.\nKind regards,\nAda\n")
    return msg


@pytest.fixture
def listener(settings):
    engine = store.make_engine(settings.effective_database_url)
    controller = smtp.build_controller(settings, engine, load_cipher(settings), load_hash_key(settings))
    controller.start()
    yield controller, engine
    controller.stop()


def stored(engine) -> int:
    with store.session(engine) as db:
        return db.execute(select(func.count()).select_from(store.InboundMessage)).scalar_one()


def client(settings) -> smtplib.SMTP:
    return smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10)


def test_intake_address_is_accepted_and_stored_encrypted(settings, listener):
    _, engine = listener
    msg = letter()
    with client(settings) as c:
        refused = c.send_message(msg)
    assert refused == {}
    with store.session(engine) as db:
        row = db.execute(select(store.InboundMessage)).scalar_one()
    assert b"six additional sessions" not in row.raw_encrypted  # encrypted at rest
    assert b"six additional sessions" in load_cipher(settings).decrypt(row.raw_encrypted)
    assert row.status == store.MessageStatus.PENDING


def test_unknown_recipient_gets_550_and_nothing_is_stored(settings, listener):
    _, engine = listener
    msg = letter()
    del msg["To"]
    msg["To"] = "someone@elsewhere.example"
    with client(settings) as c, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        c.send_message(msg)
    code, text = refused.value.recipients["someone@elsewhere.example"]
    assert code == 550 and b"5.1.1" in text
    assert stored(engine) == 0


def test_oversize_message_gets_552(settings, listener):
    _, engine = listener
    msg = letter()
    msg.set_content(("x" * 70 + "\n") * (settings.max_message_bytes // 70 + 10))
    with client(settings) as c:
        c.ehlo()
        c.mail("ada@clinic.example")
        c.rcpt("hello@heyplumm.com")
        code, text = c.data(msg.as_bytes(policy=SMTP_POLICY))
    assert code == 552, text
    assert stored(engine) == 0


def test_storage_failure_answers_451_without_exception_text(settings, listener):
    controller, engine = listener

    def broken(*_args):
        raise OSError("disk full: /secret/path Sarah Example")

    controller.intake.persist = broken
    with client(settings) as c:
        c.ehlo()
        c.mail("ada@clinic.example")
        c.rcpt("hello@heyplumm.com")
        code, text = c.data(letter().as_bytes(policy=SMTP_POLICY))
    assert code == 451 and b"4.3.0" in text
    assert b"Sarah" not in text and b"disk" not in text
    assert stored(engine) == 0


def test_too_many_recipients_are_refused(settings, listener):
    with client(settings) as c:
        c.ehlo()
        c.mail("ada@clinic.example")
        codes = [c.rcpt("hello@heyplumm.com")[0] for _ in range(settings.max_recipients + 1)]
    assert codes[: settings.max_recipients] == [250] * settings.max_recipients
    assert codes[-1] == 452


def test_vrfy_reveals_nothing(settings, listener):
    with client(settings) as c:
        code, _ = c.verify("hello@heyplumm.com")
    assert code == 252


def test_twenty_messages_from_four_concurrent_clients_are_all_stored(settings, listener):
    _, engine = listener

    def send(batch: int) -> int:
        with client(settings) as c:
            for i in range(5):
                c.send_message(letter(batch * 5 + i))
        return 5

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sum(pool.map(send, range(4))) == 20
    assert stored(engine) == 20
