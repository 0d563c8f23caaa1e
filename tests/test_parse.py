"""Parsing raw bytes into ParsedMail: headers, bodies, attachments, defects and hard limits."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import pytest

import pipeline.stages.parse as parse_module
from pipeline.models import MessageUnreadable
from pipeline.stages.parse import parse


def simple(body: str = "Hello", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Dr Sam Patel <sam@practice.example>"
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = "Letter"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_addresses_subject_and_ids_are_decoded():
    raw = (
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jm@practice.example>\r\n"
        b'To: hello@heyplumm.com, "Smith, Ann" <ann@practice.example>\r\nCc: c@practice.example\r\n'
        b"Reply-To: r@practice.example\r\nSubject: =?iso-8859-1?q?Caf=E9?= and =?utf-8?b?w6k=?=\r\n"
        b"Message-ID: <m1@x>\r\nIn-Reply-To: <m0@x>\r\nReferences: <a@x> <m0@x>\r\n\r\nbody\r\n"
    )
    mail = parse(raw)
    assert (mail.sender.name, mail.sender.email) == ("Jörg Müller", "jm@practice.example")
    assert [a.email for a in mail.to] == ["hello@heyplumm.com", "ann@practice.example"]
    assert mail.to[1].name == "Smith, Ann"
    assert mail.cc[0].email == "c@practice.example" and mail.reply_to[0].email == "r@practice.example"
    assert mail.subject == "Café and é"
    assert (mail.message_id, mail.in_reply_to, mail.references) == ("<m1@x>", "<m0@x>", ("<a@x>", "<m0@x>"))


def test_raw_utf8_header_is_decoded():
    raw = "From: a@b.example\r\nSubject: Zoë’s letter\r\n\r\nbody\r\n".encode()
    assert parse(raw).subject == "Zoë’s letter"


def test_rfc2231_filename_is_decoded():
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
        b"Content-Type: text/plain\r\n\r\nSee attached\r\n--XX\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''Brief%20f%C3%BCr%20Zo%C3%AB.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
    )
    mail = parse(raw)
    (attachment,) = mail.attachments
    assert attachment.filename == "Brief für Zoë.pdf"
    assert attachment.payload == b"%PDF-1.4\n" and attachment.size == 9
    assert attachment.content_type == "application/pdf"


def test_headers_mapping_holds_every_value_under_lower_case_names():
    raw = simple(
        Auto_Submitted="auto-replied",
        X_Autoreply="yes",
        List_Id="<list.example>",
        Precedence="bulk",
        Authentication_Results="mx.example; dkim=pass",
        Return_Path="<>",
    )
    raw = b"Received: from a\r\nReceived: from b\r\n" + raw
    mail = parse(raw)
    assert mail.header("Auto-Submitted") == "auto-replied"
    assert mail.headers["x-autoreply"] == ("yes",)
    assert mail.headers["received"] == ("from a", "from b")
    for name in ("list-id", "precedence", "authentication-results", "return-path"):
        assert mail.headers[name]


def test_content_type_is_top_level_type():
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; report-type=delivery-status;"
        b" boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B\r\n"
        b"Content-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx\r\n\r\nAction: failed\r\n--B--\r\n"
    )
    mail = parse(raw)
    assert mail.content_type == "multipart/report"
    assert mail.text_plain.strip() == "failed"


def test_plain_and_html_bodies_are_split():
    msg = EmailMessage()
    msg["From"] = "a@b.example"
    msg.set_content("plain text")
    msg.add_alternative("<p>html text</p>", subtype="html")
    mail = parse(msg.as_bytes())
    assert mail.text_plain.strip() == "plain text"
    assert "html text" in mail.text_html


@pytest.mark.parametrize(
    ("declared", "body"),
    [
        (b"iso-8859-1", "café".encode("latin-1")),
        (b"windows-1252", "“café”".encode("cp1252")),
        (b"iso-8859-1", "“café”".encode("cp1252")),
        (b"iso-8859-1", "“café”".encode()),
        (b"utf-8", "“café”".encode("cp1252")),
        (b"bogus-charset", "“café”".encode()),
    ],
)
def test_body_charsets_decode_without_mojibake(declared, body):
    raw = b"From: a@b.example\r\nContent-Type: text/plain; charset=" + declared + b"\r\n\r\n" + body + b"\r\n"
    text = parse(raw).text_plain
    assert "café" in text and "Ã" not in text and "\ufffd" not in text


def test_empty_message_is_unreadable():
    with pytest.raises(MessageUnreadable) as caught:
        parse(b"  \r\n")
    assert caught.value.reason == "empty-message"


def nested(levels: int) -> bytes:
    raw = b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for level in range(1, levels):
        raw += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (level - 1, level)
    return raw + b"--b%d\r\nContent-Type: text/plain\r\n\r\nhi\r\n" % (levels - 1)


def test_thousand_level_nesting_is_refused():
    with pytest.raises(MessageUnreadable) as caught:
        parse(nested(1000))
    assert caught.value.reason == "nesting-too-deep"


def test_nested_attached_messages_count_towards_depth():
    raw = b"From: a@b.example\r\nContent-Type: message/rfc822\r\n\r\n" * 30 + b"Subject: x\r\n\r\nhi\r\n"
    with pytest.raises(MessageUnreadable) as caught:
        parse(raw)
    assert caught.value.reason == "nesting-too-deep"


def test_moderate_nesting_is_parsed():
    assert parse(nested(5)).text_plain.strip() == "hi"


def test_too_many_parts_is_refused():
    raw = b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
    raw += b"--a\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 501 + b"--a--\r\n"
    with pytest.raises(MessageUnreadable) as caught:
        parse(raw)
    assert caught.value.reason == "too-many-parts"


def test_200kb_header_line_is_truncated_and_the_mail_still_parses():
    mail = parse(b"From: a@b.example\r\nX-Trace: " + b"x" * 200_000 + b"\r\nSubject: s\r\n\r\nbody\r\n")
    assert len(mail.header("x-trace")) <= 64 * 1024
    assert mail.subject == "s" and mail.text_plain.strip() == "body"
    assert "HeaderLineTruncated" in mail.defects


def test_oversized_header_block_is_refused():
    raw = b"From: a@b.example\r\n" + (b"X-Filler: " + b"y" * 900 + b"\r\n") * 600 + b"\r\nbody\r\n"
    with pytest.raises(MessageUnreadable) as caught:
        parse(raw)
    assert caught.value.reason == "header-too-large"


def test_oversized_part_header_block_is_refused():
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
        + (b"X-Filler: " + b"y" * 900 + b"\r\n") * 600
        + b"Content-Type: text/plain\r\n\r\nx\r\n--a--\r\n"
    )
    with pytest.raises(MessageUnreadable) as caught:
        parse(raw)
    assert caught.value.reason == "header-too-large"


def test_long_body_line_is_not_a_header_problem():
    raw = b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n<p>" + b"word " * 40_000 + b"</p>\r\n"
    assert "word" in parse(raw).text_html


def test_mailparser_failure_becomes_mime_unparseable(monkeypatch):
    def explode(raw):
        raise ValueError("boom")

    monkeypatch.setattr(parse_module.mailparser, "parse_from_bytes", explode)
    with pytest.raises(MessageUnreadable) as caught:
        parse(simple())
    assert caught.value.reason == "mime-unparseable"


def test_parser_defects_are_codes():
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=never\r\n\r\n"
        b"no boundary ever appears Jordan Quinn\r\n"
    )
    mail = parse(raw)
    assert mail.defects
    assert all(d.isidentifier() for d in mail.defects)
    assert not any("Jordan" in d for d in mail.defects)


def test_bounce_returned_message_is_an_attachment_not_a_body():
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: hello@heyplumm.com\r\nSubject: ack\r\n\r\nreturned text\r\n--B--\r\n"
    )
    mail = parse(raw)
    assert "returned text" not in mail.text_plain
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]


def test_parse_never_logs_message_values(caplog):
    caplog.set_level(logging.DEBUG)
    raw = b"From: Jordan Quinn <jq@x.example>\r\nSubject: =?shift_jis?b?invalid?= Jordan\r\n\r\nJordan\r\n"
    parse(raw)
    assert "Jordan" not in caplog.text


def test_repr_of_parsed_mail_holds_no_values():
    mail = parse(simple("Jordan Quinn letter", X_Client="Jordan Quinn"))
    assert "Jordan" not in repr(mail) and "Patel" not in repr(mail)
