"""Acknowledgements and threading over real SMTP on loopback (issue 5's acceptance).

The real listener stores each message, the real worker processes it and delivers our mail to a
local SMTP sink configured as the relay, so every assertion is about mail that actually left.
"""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select

from pipeline import store
from pipeline.intake.smtp import build_controller
from pipeline.patterns import CASE_REFERENCE_RE
from pipeline.runtime import Runtime
from tests.conftest import drain_worker, send_over_smtp

pytestmark = pytest.mark.slow
THERAPIST = "dr.imogen.hartley@willowpractice.example"

NEEDS = (
    "Dear Plumm team,\n\nI am writing about my client Tobias Wrenfield, whom I have seen weekly for CBT. "
    "He continues to experience panic attacks most days and his GAD-7 score is 16, because the "
    "restructuring at work has intensified his anxiety.\n\n"
)
SIGN_OFF = "Kind regards,\nDr Imogen Hartley\nWillow Practice\n"
RECOMMENDATION = "I recommend six additional sessions, weekly, so that we can complete the exposure work.\n\n"


@pytest.fixture
def rt(settings, sink):
    _, port = sink
    return Runtime(settings.model_copy(update={"outbound_smtp": f"127.0.0.1:{port}"}))


@pytest.fixture
def listener(rt):
    controller = build_controller(rt.settings, rt.engine, rt.cipher, rt.hash_key)
    controller.start()
    yield controller
    controller.stop()


def mail(body: str, *, subject: str = "Additional sessions", sender: str = THERAPIST, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Dr Imogen Hartley <{sender}>"
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="willowpractice.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def send(rt: Runtime, message: EmailMessage | bytes, sender: str = THERAPIST) -> None:
    send_over_smtp(rt, message if isinstance(message, bytes) else message.as_bytes(), sender)


drain = drain_worker


def cases(rt: Runtime) -> list[store.Case]:
    with store.session(rt.engine) as db:
        return list(db.execute(select(store.Case).order_by(store.Case.id)).scalars())


def acks(sink) -> list:
    handler, _ = sink
    return [m for _f, _r, m in handler.received if m["Auto-Submitted"] == "auto-replied"]


def body_text(message) -> str:
    return "\n".join(p.get_content() for p in message.walk() if p.get_content_maintype() == "text")


def test_missing_recommendation_is_acknowledged_and_the_reply_completes_the_same_case(rt, listener, sink):
    send(rt, mail(NEEDS + SIGN_OFF))
    drain(rt)
    [first] = acks(sink)
    [case] = cases(rt)
    assert case.status == "awaiting_information"
    reference = CASE_REFERENCE_RE.search(str(first["Subject"])).group(0)
    assert reference == case.reference
    text = body_text(first).lower()
    assert "recommendation" in text  # the missing section is named, with guidance
    assert "tobias" not in text and "wrenfield" not in text and "panic" not in text  # never quotes the letter
    assert first["To"].addresses[0].addr_spec == THERAPIST

    reply = mail(
        RECOMMENDATION + SIGN_OFF,
        subject=f"Re: {first['Subject']}",
        In_Reply_To=first["Message-ID"],
        References=first["Message-ID"],
    )
    send(rt, reply)
    drain(rt)
    [case] = cases(rt)  # still one case
    assert case.status == "ready_for_assessment"
    assert case.sections["needs"]["present"] and case.sections["recommendation"]["present"]
    assert case.sessions_requested == 6
    assert "wrenfield" not in case.letter_redacted.lower()
    assert len(acks(sink)) == 2 and reference in str(acks(sink)[1]["Subject"])


def test_a_reply_threads_by_in_reply_to_alone(rt, listener, sink):
    send(rt, mail(NEEDS + SIGN_OFF))
    drain(rt)
    [first] = acks(sink)
    send(rt, mail(RECOMMENDATION + SIGN_OFF, subject="Re: the letter", In_Reply_To=first["Message-ID"]))
    drain(rt)
    [case] = cases(rt)
    assert case.status == "ready_for_assessment"


def test_out_of_office_and_bounce_get_no_acknowledgement(rt, listener, sink):
    ooo = mail(
        "I am away until Monday with limited access to email.",
        subject="Out of office: Additional sessions",
        Auto_Submitted="auto-replied",
    )
    send(rt, ooo)
    bounce = EmailMessage()
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.willowpractice.example>"
    bounce["To"] = "hello@heyplumm.com"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce.set_content("This is the mail system. Your message could not be delivered.")
    bounce.add_attachment(
        "Reporting-MTA: dns; mx.willowpractice.example\n\nFinal-Recipient: rfc822; x@y.example\n"
        "Action: failed\nStatus: 5.1.1\n",
        subtype="delivery-status",
    )
    bounce.replace_header("Content-Type", bounce["Content-Type"].replace("multipart/mixed", "multipart/report"))
    send(rt, bounce, sender="")
    drain(rt)
    assert acks(sink) == []
    assert len(cases(rt)) == 2  # recorded, never lost, just not answered
    assert [(c.status, c.reason) for c in cases(rt)] == [("awaiting_information", "no-letter-found")] * 2
    texts = sorted(c.letter_redacted for c in cases(rt))  # what came in, for the CSM to read
    assert "away until Monday" in texts[0] and "could not be delivered" in texts[1]


def test_fifty_auto_replies_in_a_row_produce_no_mail_at_all(rt, listener, sink):
    for n in range(50):
        send(
            rt,
            mail(
                f"Automatic reply {n}: I am out of the office.",
                subject="Automatic reply: Re: your case",
                Auto_Submitted="auto-replied",
                X_Autoreply="yes",
            ),
        )
    drain(rt)
    handler, _ = sink
    assert handler.received == []
    with store.session(rt.engine) as db:
        assert db.execute(select(func.count()).select_from(store.OutboundMessage)).scalar_one() == 0
        assert (
            db.execute(
                select(func.count()).select_from(store.InboundMessage).where(store.InboundMessage.status == "done")
            ).scalar_one()
            == 50
        )


def test_an_encoded_subject_with_crlf_injects_no_header_into_our_reply(rt, listener, sink):
    raw = mail(NEEDS + RECOMMENDATION + SIGN_OFF).as_bytes()
    evil = b"=?utf-8?b?" + base64.b64encode(b"Sessions\r\nBcc: thief@attacker.example\r\nX-Evil: 1") + b"?="
    raw = re.sub(rb"(?m)^Subject: .*$", b"Subject: " + evil, raw, count=1)
    send(rt, raw)
    drain(rt)
    handler, _ = sink
    [(_sender, recipients, ack)] = handler.received
    assert recipients == [THERAPIST]
    assert ack["Bcc"] is None and ack["X-Evil"] is None
    assert "attacker" not in str(ack["Subject"]) and "attacker" not in body_text(ack)


def test_acknowledgements_per_sender_are_rate_limited(rt, listener, sink):
    for n in range(rt.settings.ack_limit_per_hour + 3):
        send(rt, mail(NEEDS + RECOMMENDATION + SIGN_OFF, subject=f"Letter {n}"))
    drain(rt)
    assert len(acks(sink)) == rt.settings.ack_limit_per_hour
    assert len(cases(rt)) == rt.settings.ack_limit_per_hour + 3  # every letter is still a case


# -- backscatter: spam forges its sender ----------------------------------------------------------
SPAM = "Dear friend,\n\nCheap watches and a once-in-a-lifetime investment. Reply now to claim your prize.\n"
ALIGNED = "mx.heyplumm.com; spf=pass smtp.mailfrom=willowpractice.example; dkim=pass header.d=willowpractice.example"


def skipped_because(rt: Runtime) -> list[str]:
    with store.session(rt.engine) as db:
        rows = db.execute(select(store.CaseEvent).where(store.CaseEvent.kind == "acknowledgement-skipped"))
        return [e.note for e in rows.scalars()]


def test_an_unauthenticated_stranger_with_no_letter_is_recorded_but_not_answered(rt, listener, sink):
    send(rt, mail(SPAM, subject="You have won", sender="winner@lottery-prizes.example"))
    send(
        rt,
        mail(
            SPAM,
            subject="You have won",
            sender="dr.imogen.hartley@willowpractice.example",
            Reply_To="victim@innocent.example",
        ),
    )
    drain(rt)
    assert acks(sink) == []
    assert len(cases(rt)) == 2
    assert skipped_because(rt) == ["unauthenticated-sender-no-letter"] * 2


@pytest.mark.parametrize(
    "why",
    ["aligned", "directory", "letter"],
)
def test_an_authenticated_sender_a_known_therapist_or_a_letter_is_answered(rt, listener, sink, why):
    if why == "aligned":
        message = mail("Could you tell me how to ask for more sessions?\n" + SIGN_OFF, Authentication_Results=ALIGNED)
    elif why == "directory":  # rules/therapists.yaml lists this domain
        message = mail("Could you tell me how to ask for more sessions?\n", sender="gp@riverside-therapy.example")
    else:  # no authentication at all, but the message holds a letter
        message = mail(NEEDS + RECOMMENDATION + SIGN_OFF)
    send(rt, message)
    drain(rt)
    assert len(acks(sink)) == 1 and skipped_because(rt) == []


def test_an_authentication_header_the_sender_wrote_is_not_trusted_when_our_mta_is_named(rt, listener, sink):
    trusting = Runtime(rt.settings.model_copy(update={"authserv_ids": ["mx.heyplumm.com"]}), engine=rt.engine)
    forged = ALIGNED.replace("mx.heyplumm.com", "mx.forger.example")
    send(trusting, mail("Could you tell me how to ask for more sessions?\n", Authentication_Results=forged))
    drain(trusting)
    assert acks(sink) == [] and skipped_because(trusting) == ["unauthenticated-sender-no-letter"]
