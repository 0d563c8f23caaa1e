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
    assert code == 552 and b"5.3.4" in text, text
    assert stored(engine) == 0


def test_a_declared_size_over_the_limit_is_refused_at_mail_from(settings, listener):
    _, engine = listener
    with client(settings) as c:
        c.ehlo()
        assert int(c.esmtp_features["size"]) == settings.max_message_bytes
        code, text = c.mail("ada@clinic.example", [f"SIZE={settings.max_message_bytes + 1}"])
        assert code == 552 and text.startswith(b"5.3.4"), text
        code, _ = c.mail("ada@clinic.example", [f"SIZE={settings.max_message_bytes}"])  # at the limit: fine
        assert code == 250
    assert stored(engine) == 0


def test_ehlo_advertises_pipelining_and_no_auth(settings, listener):
    with client(settings) as c:
        c.ehlo()
        assert c.has_extn("pipelining")
        assert not c.has_extn("auth")
        code, text = c.docmd("AUTH", "PLAIN AGFkYQBzZWNyZXQ=")
        assert code == 502 and text.startswith(b"5.5.1")


def test_pipelined_commands_are_answered_in_order_and_the_message_is_stored(settings, listener):
    import socket

    _, engine = listener
    body = letter(7).as_bytes(policy=SMTP_POLICY)
    with socket.create_connection((settings.smtp_host, settings.smtp_port), timeout=10) as sock:
        replies = sock.makefile("rb")

        def reply() -> bytes:
            lines = [replies.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(replies.readline())
            return lines[-1]

        assert reply().startswith(b"220")
        sock.sendall(b"EHLO client.example\r\n")
        assert reply().startswith(b"250 ")
        # RFC 2920: the client sends MAIL, RCPT and DATA in one go and reads the replies after.
        sock.sendall(b"MAIL FROM:<ada@clinic.example>\r\nRCPT TO:<hello@heyplumm.com>\r\nDATA\r\n")
        assert [reply()[:3] for _ in range(3)] == [b"250", b"250", b"354"]
        sock.sendall(body + b".\r\nQUIT\r\n")
        assert [reply()[:3] for _ in range(2)] == [b"250", b"221"]
    assert stored(engine) == 1


def test_storage_failure_answers_451_without_exception_text(settings, listener):
    controller, engine = listener

    async def broken(*_args):
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


def test_a_failed_group_commit_answers_451_to_every_message_in_it(settings, listener, monkeypatch):
    from pipeline.intake import rawstore

    _, engine = listener

    def refuse(_connection, rows):
        raise OSError("no space left")

    monkeypatch.setattr(rawstore, "insert_rows", refuse)

    def send(n: int) -> int:
        with client(settings) as c:
            c.ehlo()
            c.mail("ada@clinic.example")
            c.rcpt("hello@heyplumm.com")
            return c.data(letter(n).as_bytes(policy=SMTP_POLICY))[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(send, range(16)))
    assert codes == [451] * 16
    assert stored(engine) == 0


def test_the_group_commit_stores_concurrent_messages_in_shared_transactions(settings):
    from cryptography.fernet import Fernet, MultiFernet

    from pipeline.intake import rawstore

    engine = store.make_engine(settings.effective_database_url)
    commit = rawstore.GroupCommit(engine)
    cipher = MultiFernet([Fernet(Fernet.generate_key())])
    transactions = []
    original = rawstore.insert_rows

    def counted(connection, rows):
        transactions.append(len(rows))
        return original(connection, rows)

    rawstore.insert_rows = counted
    try:
        rows = [rawstore.message_row(cipher, b"k", b"message %d" % n, 1, "127.0.0.1", "a@b.example") for n in range(60)]
        futures = [commit.submit(row) for row in rows]  # queued before the writer starts: it batches them
        commit.start()
        ids = [f.result(timeout=30) for f in futures]
    finally:
        commit.stop()
        rawstore.insert_rows = original
    assert len(set(ids)) == 60 and stored(engine) == 60
    assert sum(transactions) == 60 and len(transactions) < 60
    with store.session(engine) as db:  # each id is the row of the message submitted with it
        by_id = dict(db.execute(select(store.InboundMessage.id, store.InboundMessage.raw_encrypted)).all())
    assert all(cipher.decrypt(by_id[i]) == b"message %d" % n for n, i in enumerate(ids))


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
