"""Outbox: RFC 3834 loop safety, acknowledgement content and headers, delivery.

Loop-safety inputs are real RFC 5322 messages run through the parse stage; delivery goes to a
temporary outbox folder and to a real SMTP sink (aiosmtpd) on loopback.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from pipeline.models import SectionReport
from pipeline.outbound.delivery import deliver
from pipeline.outbound.loop_safety import acknowledgement_allowed, reply_address
from pipeline.outbound.messages import build_acknowledgement, render
from pipeline.rules import DEFAULT_RULES_DIR
from pipeline.stages.parse import parse
from pipeline.stages.sections import assess_sections, load_section_rules

OWN = ["hello@heyplumm.com"]
CASE = "PLM-2026-000123"


def mail(headers: str, body: str = "Dear Plumm,\r\n\r\nPlease see my letter.\r\n", *, ctype: str = "") -> bytes:
    base = (
        "From: Dr Test <therapist@clinic.example>\r\nTo: hello@heyplumm.com\r\n"
        "Message-ID: <abc123@clinic.example>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
    )
    if "Subject:" not in headers:
        base += "Subject: Letter for my client\r\n"
    content = ctype or "Content-Type: text/plain; charset=utf-8\r\n"
    return (base + headers + "MIME-Version: 1.0\r\n" + content + "\r\n" + body).encode()


BOUNCE_BODY = (
    "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.clinic.example\r\n\r\n"
    "Final-Recipient: rfc822; x@clinic.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
)

LOOP_TABLE = [
    ("normal-mail-allowed", mail(""), True, "ok"),
    ("auto-submitted-no-allowed", mail("Auto-Submitted: no\r\n"), True, "ok"),
    ("auto-submitted-auto-replied", mail("Auto-Submitted: auto-replied\r\n"), False, "auto-submitted"),
    ("auto-submitted-auto-generated", mail("Auto-Submitted: auto-generated\r\n"), False, "auto-submitted"),
    ("x-autoreply", mail("X-Autoreply: yes\r\n"), False, "auto-reply-header"),
    ("x-autorespond", mail("X-Autorespond: yes\r\n"), False, "auto-reply-header"),
    ("x-auto-response-suppress-oof", mail("X-Auto-Response-Suppress: DR, OOF\r\n"), False, "auto-reply-header"),
    ("precedence-bulk", mail("Precedence: bulk\r\n"), False, "precedence"),
    ("precedence-auto-reply", mail("Precedence: auto_reply\r\n"), False, "precedence"),
    ("list-id", mail("List-Id: Therapists <therapists.lists.example>\r\n"), False, "list"),
    ("list-unsubscribe", mail("List-Unsubscribe: <mailto:leave@lists.example>\r\n"), False, "list"),
    (
        "bounce-multipart-report",
        mail("", BOUNCE_BODY, ctype='Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'),
        False,
        "bounce",
    ),
    ("null-return-path", mail("Return-Path: <>\r\n"), False, "bounce"),
    ("bounce-subject", mail("Subject: Undeliverable: Letter for my client\r\n"), False, "bounce"),
    (
        "mailer-daemon",
        mail("").replace(b"Dr Test <therapist@clinic.example>", b"MAILER-DAEMON@mx.clinic.example"),
        False,
        "system-sender",
    ),
    ("postmaster", mail("").replace(b"therapist@clinic.example", b"postmaster@clinic.example"), False, "system-sender"),
    ("noreply", mail("").replace(b"therapist@clinic.example", b"no-reply@clinic.example"), False, "system-sender"),
    ("no-sender", mail("").replace(b"From: Dr Test <therapist@clinic.example>\r\n", b""), False, "no-sender"),
    ("own-address", mail("").replace(b"therapist@clinic.example", b"Hello@HeyPlumm.com"), False, "own-address"),
    ("our-loop-header", mail("X-Plumm-Loop: hello@heyplumm.com\r\n"), False, "loop-header"),
    ("out-of-office-subject", mail("Subject: Out of Office: Letter for my client\r\n"), False, "out-of-office"),
    ("automatic-reply-subject", mail("Subject: Automatic reply: Letter\r\n"), False, "out-of-office"),
    ("auto-colon-subject", mail("Subject: Auto: Letter\r\n"), False, "out-of-office"),
    ("abwesend-subject", mail("Subject: Abwesend: Letter\r\n"), False, "out-of-office"),
    ("encoded-ooo-subject", mail("Subject: =?utf-8?q?Out_of_office?=\r\n"), False, "out-of-office"),
    ("re-subject-allowed", mail("Subject: Re: [PLM-2026-000001] We received your letter\r\n"), True, "ok"),
    # A practice system sends from no-reply on the therapist's behalf and names the therapist in Reply-To.
    (
        "noreply-with-therapist-reply-to",
        mail("Reply-To: Dr Test <therapist@clinic.example>\r\n").replace(
            b"From: Dr Test <therapist@", b"From: Practice <no-reply@"
        ),
        True,
        "ok",
    ),
    ("reply-to-a-system-address", mail("Reply-To: <no-reply@clinic.example>\r\n"), False, "system-sender"),
    ("reply-to-our-own-address", mail("Reply-To: <hello@heyplumm.com>\r\n"), False, "own-address"),
]


@pytest.mark.parametrize(("raw", "allowed", "reason"), [r[1:] for r in LOOP_TABLE], ids=[r[0] for r in LOOP_TABLE])
def test_loop_safety_table(raw: bytes, allowed: bool, reason: str) -> None:
    assert acknowledgement_allowed(parse(raw), own_addresses=OWN) == (allowed, reason)


@pytest.mark.parametrize(
    ("headers", "to"),
    [
        ("", "therapist@clinic.example"),
        ("Reply-To: Dr Test <t.office@clinic.example>\r\n", "t.office@clinic.example"),
        # two Reply-To addresses: no single one to answer, so From as usual
        ("Reply-To: a@clinic.example, b@clinic.example\r\n", "therapist@clinic.example"),
    ],
)
def test_acknowledgements_go_where_a_mail_clients_reply_would(headers: str, to: str) -> None:
    assert reply_address(parse(mail(headers))) == to


def test_our_own_acknowledgement_is_never_acknowledged() -> None:
    ack = _ack(report=None, status="quarantined", reason="pdf-encrypted")
    # as if it came back to us (a therapist's system bounced it back or forwarded it verbatim)
    assert acknowledgement_allowed(parse(ack.as_bytes()), own_addresses=OWN)[0] is False


def test_fifty_auto_replies_in_a_row_get_no_acknowledgement() -> None:
    replies = [mail(f"Auto-Submitted: auto-replied\r\nSubject: Automatic reply: {i}\r\n") for i in range(50)]
    assert not any(acknowledgement_allowed(parse(r), own_addresses=OWN)[0] for r in replies)


# --- acknowledgement -----------------------------------------------------------------------------

LETTER = (
    "Dear Plumm,\n\nI am writing about my client Zebediah Quarrington. He continues to experience panic "
    "attacks due to his workload; his GAD-7 is 16.\n\nKind regards,\nDr Test"
)


@pytest.fixture(scope="module")
def rules():
    return load_section_rules(DEFAULT_RULES_DIR)


def _ack(
    *,
    report: SectionReport | None,
    status: str = "awaiting_information",
    reason: str | None = None,
    sources=("body",),
    to: str = "therapist@clinic.example",
    message_id: str = "<abc123@clinic.example>",
    references=("<older@clinic.example>",),
) -> EmailMessage:
    return build_acknowledgement(
        case_ref=CASE,
        to=to,
        original_message_id=message_id,
        original_references=list(references),
        sources=list(sources),
        report=report,
        status=status,
        reason=reason,
        sender_address="hello@heyplumm.com",
        rules_dir=DEFAULT_RULES_DIR,
    )


def _bodies(message: EmailMessage) -> tuple[str, str]:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_acknowledgement_has_case_ref_in_subject_and_missing_section_guidance(rules) -> None:
    report = assess_sections(LETTER, rules=rules)
    assert report.as_flags() == {"needs": True, "recommendation": False}
    message = _ack(report=report)
    assert message["Subject"] == f"[{CASE}] We received your letter — information needed"
    text, html = _bodies(message)
    guidance = rules.section("recommendation").guidance
    for body in (text, html):
        assert CASE in body
        assert "in the body of your email" in body
        assert "Professional recommendation" in body
        assert " ".join(guidance.split()[:6]) in " ".join(body.split())
        assert "Therapy needs" not in body  # present sections are not listed as missing


def test_acknowledgement_never_quotes_the_letter(rules) -> None:
    message = _ack(report=assess_sections(LETTER, rules=rules))
    raw = message.as_bytes().decode("utf-8", "replace")
    text, html = _bodies(message)
    for value in ("Zebediah", "Quarrington", "panic attacks", "GAD-7"):
        assert value not in raw and value not in text and value not in html


def test_complete_letter_gets_plain_subject_and_no_missing_list(rules) -> None:
    report = assess_sections(LETTER + "\n\nI recommend six more sessions, weekly.", rules=rules)
    message = _ack(report=report, status="ready_for_assessment", sources=("pdf",))
    assert message["Subject"] == f"[{CASE}] We received your letter"
    text, _ = _bodies(message)
    assert "in a PDF attachment" in text and "does not seem to include" not in text


@pytest.mark.parametrize(
    ("reason", "phrase"),
    [
        ("pdf-encrypted", "without a password"),
        ("no-letter-found", "could not find a letter"),
        ("some-unknown-code", "could not process the letter automatically"),
    ],
)
def test_quarantined_message_gets_plain_language_reason(reason: str, phrase: str) -> None:
    message = _ack(report=None, status="quarantined", reason=reason, sources=())
    text, html = _bodies(message)
    assert phrase in text and phrase in html
    assert reason not in text  # the code itself is never shown


def test_acknowledgement_headers_follow_rfc_3834() -> None:
    message = _ack(report=None, status="quarantined", reason="pdf-encrypted")
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Plumm-Loop"] == "hello@heyplumm.com"
    assert message["In-Reply-To"] == "<abc123@clinic.example>"
    assert message["References"] == "<older@clinic.example> <abc123@clinic.example>"
    assert message["To"] == "therapist@clinic.example"
    assert message["From"].addresses[0].addr_spec == "hello@heyplumm.com"
    assert message["Message-ID"].endswith("@heyplumm.com>") and message["Date"]
    assert message.get_content_type() == "multipart/alternative"


def _header_names(message: EmailMessage) -> list[str]:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    return [k.lower() for k in parsed.keys()]


@pytest.mark.parametrize(
    "field",
    ["message_id", "references", "to", "reason", "sources"],
)
def test_crlf_in_any_input_injects_no_header(field: str) -> None:
    evil = "<x@clinic.example>\r\nBcc: x@evil.example"
    kwargs = {
        "message_id": evil if field == "message_id" else "<abc@clinic.example>",
        "references": [evil] if field == "references" else [],
        "to": "therapist@clinic.example\r\nBcc: x@evil.example" if field == "to" else "therapist@clinic.example",
        "reason": "pdf-encrypted\r\nBcc: x@evil.example" if field == "reason" else "pdf-encrypted",
        "sources": ["body\r\nBcc: x@evil.example"] if field == "sources" else ["body"],
    }
    if field == "to":
        with pytest.raises(ValueError):
            _ack(report=None, status="quarantined", reason=kwargs["reason"], to=kwargs["to"])
        return
    message = _ack(
        report=None,
        status="quarantined",
        reason=kwargs["reason"],
        message_id=kwargs["message_id"],
        references=kwargs["references"],
        sources=kwargs["sources"],
    )
    header_block = message.as_bytes().split(b"\r\n\r\n", 1)[0]
    assert "bcc" not in _header_names(message)
    assert not re.search(rb"(?im)^bcc:", header_block)


def test_encoded_subject_with_crlf_in_incoming_mail_injects_no_header(rules) -> None:
    # "=?utf-8?q?Letter=0D=0ABcc:_x@evil.example?=" decodes to a subject with CR LF + "Bcc: ..."
    raw = mail("Subject: =?utf-8?q?Letter=0D=0ABcc:_x@evil.example?=\r\nReferences: <r1@clinic.example>\r\n")
    parsed = parse(raw)
    assert acknowledgement_allowed(parsed, own_addresses=OWN) == (True, "ok")
    message = build_acknowledgement(
        case_ref=CASE,
        to=parsed.sender.email,
        original_message_id=parsed.message_id,
        original_references=parsed.references,
        sources=["body"],
        report=None,
        status="quarantined",
        reason="no-letter-found",
        sender_address="hello@heyplumm.com",
        rules_dir=DEFAULT_RULES_DIR,
    )
    assert "bcc" not in _header_names(message)
    assert b"evil" not in message.as_bytes()


@pytest.mark.parametrize("to", ["a@clinic.example, b@clinic.example", "not an address", "", "a@b@c.example"])
def test_recipient_must_be_a_single_address(to: str) -> None:
    with pytest.raises(ValueError):
        _ack(report=None, status="quarantined", reason="pdf-encrypted", to=to)


def test_render_is_strict_about_missing_variables(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "note.txt.j2").write_text("Case {{ case_ref }}")
    (tmp_path / "templates" / "note.html.j2").write_text("<p>{{ case_ref }} {{ name }}</p>")
    assert render("note", rules_dir=tmp_path, case_ref=CASE, name="<b>") == (f"Case {CASE}", f"<p>{CASE} &lt;b&gt;</p>")
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("note", rules_dir=tmp_path, case_ref=CASE)


# --- delivery ------------------------------------------------------------------------------------


def test_deliver_writes_one_complete_eml_to_the_outbox(tmp_path: Path) -> None:
    message = _ack(report=None, status="quarantined", reason="pdf-encrypted")
    where = deliver(message, relay=None, outbox_dir=tmp_path / "outbox")
    files = list((tmp_path / "outbox").iterdir())
    assert [str(f) for f in files] == [where] and where.endswith(".eml")
    assert not any(f.name.startswith(".tmp") for f in files)
    written = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert written["Message-ID"] == message["Message-ID"] and written["Subject"] == message["Subject"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Sink:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def test_deliver_through_a_real_smtp_relay_on_loopback(tmp_path: Path) -> None:
    sink = _Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        message = _ack(report=None, status="quarantined", reason="pdf-encrypted")
        where = deliver(message, relay=("127.0.0.1", port), outbox_dir=tmp_path / "unused")
        deadline = time.monotonic() + 5
        while not sink.received and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        controller.stop()
    assert where == f"smtp://127.0.0.1:{port}"
    assert not (tmp_path / "unused").exists()
    [(mail_from, rcpts, content)] = sink.received
    assert (mail_from, rcpts) == ("hello@heyplumm.com", ["therapist@clinic.example"])
    got = email.message_from_bytes(content, policy=email.policy.default)
    assert got["Subject"] == message["Subject"] and got["Auto-Submitted"] == "auto-replied"
