"""Limits against abuse at the SMTP edge, over a real listener on loopback and real clients.

Connections per client address and in total (421 at connect), a budget for the whole DATA
transfer and for the whole session, an error budget, per-command call limits, VRFY/EXPN
disabled, STARTTLS offered only when a certificate is configured. Loopback only; 127.0.0.2
and 127.0.0.3 stand in for other client addresses (Linux routes all of 127/8 to lo).
"""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
import ssl
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline import store
from pipeline.compliance.keys import load_cipher, load_hash_key
from pipeline.intake import smtp
from tests.conftest import free_port
from tests.test_worker import letter_bytes


def make_settings(tmp_path: Path, **limits):
    from cryptography.fernet import Fernet

    from pipeline.config import load_settings

    url = f"sqlite:///{tmp_path / 'plumm.db'}"
    store.migrate(url)
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=url,
        vault_key=Fernet.generate_key().decode(),
        hash_key="test-hash-key",
        smtp_port=free_port(),
        **limits,
    )


@contextmanager
def listening(settings):
    engine = store.make_engine(settings.effective_database_url)
    controller = smtp.build_controller(settings, engine, load_cipher(settings), load_hash_key(settings))
    controller.start()
    try:
        yield controller, engine
    finally:
        controller.stop()


def stored(engine) -> int:
    with store.session(engine) as db:
        return db.execute(select(func.count()).select_from(store.InboundMessage)).scalar_one()


class Raw:
    """A line-level SMTP client over a plain socket, for what smtplib will not do (trickling)."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
        self.file = self.sock.makefile("rb")

    def line(self) -> bytes:
        return self.file.readline()

    def reply(self) -> bytes:
        """A whole (possibly multi-line) reply; b"" when the server closed."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                return b"".join(lines)
            lines.append(line)
            if line[3:4] != b"-":
                return b"".join(lines)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, text: str) -> bytes:
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def closed_by_server(self, within: float = 5.0) -> bool:
        self.sock.settimeout(within)
        try:
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_connections_per_client_address_are_limited_and_released(tmp_path):
    settings = make_settings(tmp_path, smtp_max_connections_per_ip=2, smtp_max_connections=10)
    with listening(settings) as (controller, engine):
        held = [Raw(settings.smtp_port) for _ in range(2)]
        assert all(c.line().startswith(b"220") for c in held)
        third = Raw(settings.smtp_port)
        assert third.line().startswith(b"421 4.7.0")
        assert third.closed_by_server()
        third.close()
        other = Raw(settings.smtp_port, source="127.0.0.2")  # another client is not affected
        assert other.line().startswith(b"220")
        other.close()
        held.pop().close()
        assert wait_for(lambda: controller.gate.open.get("127.0.0.1", 0) == 1)
        with smtplib.SMTP("127.0.0.1", settings.smtp_port, timeout=10) as c:  # the freed slot is usable
            assert c.sendmail("ada.lovegood@clinic.example", ["hello@heyplumm.com"], letter_bytes(1)) == {}
        for c in held:
            c.close()
        assert wait_for(lambda: controller.gate.count == 0)
        assert stored(engine) == 1


def test_connections_in_total_are_limited(tmp_path):
    settings = make_settings(tmp_path, smtp_max_connections_per_ip=5, smtp_max_connections=3)
    with listening(settings) as (controller, _engine):
        held = [Raw(settings.smtp_port, source=s) for s in ("127.0.0.1", "127.0.0.1", "127.0.0.2")]
        assert all(c.line().startswith(b"220") for c in held)
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", settings.smtp_port, timeout=10, source_address=("127.0.0.3", 0))
        assert refused.value.smtp_code == 421
        for c in held:
            c.close()
        assert wait_for(lambda: controller.gate.count == 0)


def test_a_slow_data_transfer_is_cut_at_its_budget_and_nothing_is_stored(tmp_path):
    settings = make_settings(tmp_path, smtp_data_seconds=1.5, smtp_read_timeout_seconds=30)
    with listening(settings) as (_controller, engine):
        c = Raw(settings.smtp_port)
        assert c.line().startswith(b"220")
        assert c.cmd("EHLO client.example").startswith(b"250")
        assert c.cmd("MAIL FROM:<ada.lovegood@clinic.example>").startswith(b"250")
        assert c.cmd("RCPT TO:<hello@heyplumm.com>").startswith(b"250")
        assert c.cmd("DATA").startswith(b"354")
        started = time.monotonic()
        reply = b""
        for _ in range(40):  # every line arrives well within the read timeout; the whole does not
            try:
                c.send(b"Subject: slow\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            c.sock.settimeout(0.2)
            try:
                reply = c.sock.recv(4096)
                if reply:
                    break
            except TimeoutError:
                continue
        elapsed = time.monotonic() - started
        assert reply.startswith(b"421 4.4.2"), reply
        assert 1.0 <= elapsed < 6
        assert c.closed_by_server()
        c.close()
        assert stored(engine) == 0


def test_a_session_is_cut_at_its_budget(tmp_path):
    settings = make_settings(tmp_path, smtp_session_seconds=1.5)
    with listening(settings) as (controller, _engine):
        c = Raw(settings.smtp_port)
        assert c.line().startswith(b"220")
        started = time.monotonic()
        replies = []
        for _ in range(15):
            replies.append(c.cmd("NOOP"))
            if not replies[-1].startswith(b"250"):
                break
            time.sleep(0.25)
        assert replies[-1].startswith(b"421 4.4.2"), replies[-1]
        assert time.monotonic() - started < 6
        c.close()
        assert wait_for(lambda: controller.gate.count == 0)


def test_the_error_budget_closes_the_session_with_421(tmp_path):
    settings = make_settings(tmp_path, smtp_error_limit=3)
    with listening(settings) as _:
        c = Raw(settings.smtp_port)
        assert c.line().startswith(b"220")
        assert c.cmd("EHLO client.example").startswith(b"250")
        assert c.cmd("MAIL FROM:<probe@elsewhere.example>").startswith(b"250")
        assert c.cmd("RCPT TO:<a@elsewhere.example>").startswith(b"550")
        assert c.cmd("RCPT TO:<b@elsewhere.example>").startswith(b"550")
        last = c.cmd("RCPT TO:<c@elsewhere.example>")
        assert last.startswith(b"550")
        assert c.reply().startswith(b"421 4.7.0")
        assert c.closed_by_server()
        c.close()


def test_repeated_noop_hits_the_command_call_limit(tmp_path):
    settings = make_settings(tmp_path)
    with listening(settings) as _:
        c = Raw(settings.smtp_port)
        assert c.line().startswith(b"220")
        replies = [c.cmd("NOOP") for _ in range(smtp.COMMAND_CALL_LIMITS["NOOP"] + 1)]
        assert all(r.startswith(b"250") for r in replies[:-1])
        assert replies[-1].startswith(b"421 4.7.0")
        assert c.closed_by_server()
        c.close()


def test_vrfy_and_expn_reveal_nothing(tmp_path):
    settings = make_settings(tmp_path)
    with listening(settings) as _, smtplib.SMTP("127.0.0.1", settings.smtp_port, timeout=10) as c:
        assert c.verify("hello@heyplumm.com")[0] == 252
        assert c.verify("nobody@heyplumm.com")[0] == 252  # same answer: no address probing
        code, text = c.expn("hello@heyplumm.com")
        assert code == 502 and b"hello" not in text


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "heyplumm.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("heyplumm.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_starttls_is_offered_with_a_certificate_and_mail_flows_over_it(tmp_path):
    cert, key = self_signed(tmp_path)
    settings = make_settings(tmp_path, tls_cert=cert, tls_key=key)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # we connect to 127.0.0.1; the chain is still verified
    with listening(settings) as (controller, engine), smtplib.SMTP("127.0.0.1", settings.smtp_port, timeout=10) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        code, _ = c.starttls(context=context)
        assert code == 220
        c.ehlo()
        assert not c.has_extn("starttls")
        assert c.sendmail("ada.lovegood@clinic.example", ["hello@heyplumm.com"], letter_bytes(2)) == {}
    assert stored(engine) == 1
    assert wait_for(lambda: controller.gate.count == 0)  # one slot per connection, STARTTLS or not


def test_a_second_starttls_inside_tls_gets_503_and_no_traceback(tmp_path, caplog):
    cert, key = self_signed(tmp_path)
    settings = make_settings(tmp_path, tls_cert=cert, tls_key=key)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    caplog.set_level("DEBUG")
    with listening(settings) as (_controller, engine), smtplib.SMTP("127.0.0.1", settings.smtp_port, timeout=10) as c:
        c.ehlo()
        assert c.starttls(context=context)[0] == 220
        c.ehlo()
        assert not c.has_extn("auth")  # no authentication is configured, inside TLS either
        code, text = c.docmd("STARTTLS")
        assert code == 503 and text.startswith(b"5.5.1")
        assert c.noop()[0] == 250  # the TLS session goes on
        assert c.sendmail("ada.lovegood@clinic.example", ["hello@heyplumm.com"], letter_bytes(3)) == {}
    assert stored(engine) == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")]


def test_starttls_is_not_offered_without_a_certificate(tmp_path):
    settings = make_settings(tmp_path)
    with listening(settings) as _, smtplib.SMTP("127.0.0.1", settings.smtp_port, timeout=10) as c:
        c.ehlo()
        assert not c.has_extn("starttls")


def test_tls_settings_must_come_in_pairs(tmp_path):
    from pipeline.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="PLUMM_TLS_CERT and PLUMM_TLS_KEY"):
        load_settings(data_dir=tmp_path, tls_cert=tmp_path / "cert.pem")
