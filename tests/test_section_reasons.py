"""Each verdict's evidence and reason, from the letter to everyone who reads it (issue 14).

A real message goes over SMTP on loopback through the listener and the worker; the case records, per
section, the evidence sentence and the reason in plain words; ``plumm cases show`` and the CSM digest
show both; the acknowledgement quotes the reason and never the letter. The reasons are built from
fixed phrases, so they are compared whole; letter values are checked by absence only.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from pipeline import store
from pipeline.cases import digest
from pipeline.runtime import Runtime
from tests.conftest import drain_worker, send_over_smtp
from tests.test_acknowledgement_end_to_end import listener, rt  # noqa: F401 - fixtures
from tests.test_csm import cli, outbound  # noqa: F401 - cli is a fixture

pytestmark = pytest.mark.slow
THERAPIST = "dr.noor.haddad@cedarpractice.example"

PARTNER_ONLY = (
    "Dear Plumm team,\n\n"
    "I am writing about my client Leopold Fairweather, whom I have seen for eight sessions of CBT for health "
    "anxiety. He still checks his symptoms online for hours each night and his GAD-7 is 14.\n\n"
    "His wife, Rosalind Fairweather, would benefit from six sessions of counselling of her own.\n\n"
    "Kind regards,\nDr Noor Haddad\nCedar Practice\n"
)
COMPLETE = (
    "Dear Plumm team,\n\n"
    "My client Leopold Fairweather still checks his symptoms online for hours each night and his GAD-7 is 14.\n\n"
    "I recommend a further six sessions of CBT, fortnightly, to finish the exposure work.\n\n"
    "Kind regards,\nDr Noor Haddad\nCedar Practice\n"
)
NAMES = ("Leopold", "Fairweather", "Rosalind")
LETTER_WORDS = (*NAMES, "symptoms online", "GAD-7")  # the acknowledgement quotes none of the letter


def _send(runtime: Runtime, body: str) -> store.Case:
    """The therapist's mail as the MTA in front of us passes it on (DKIM checked): an authenticated
    sender is answered whatever the verdicts, so the acknowledgement can quote them."""
    msg = EmailMessage()
    msg["Authentication-Results"] = "mx.heyplumm.com; dkim=pass header.d=cedarpractice.example"
    msg["From"] = f"Dr Noor Haddad <{THERAPIST}>"
    msg["To"] = "hello@heyplumm.com"
    msg["Subject"] = "Additional sessions"
    msg["Message-ID"] = make_msgid(domain="cedarpractice.example")
    msg.set_content(body)
    send_over_smtp(runtime, msg.as_bytes(), THERAPIST)
    drain_worker(runtime)
    with store.session(runtime.engine) as db:
        return db.execute(select(store.Case).order_by(store.Case.id.desc())).scalars().first()


def _acks(sink) -> list[str]:
    handler, _ = sink
    return [
        "\n".join(p.get_content() for p in m.walk() if p.get_content_maintype() == "text")
        for _f, _r, m in handler.received
        if m["Auto-Submitted"] == "auto-replied"
    ]


def test_a_request_only_for_the_partner_is_recorded_shown_and_acknowledged_with_its_reason(
    rt,  # noqa: F811 - the fixtures imported above
    listener,  # noqa: F811
    sink,
    cli,  # noqa: F811
):
    case = _send(rt, PARTNER_ONLY)
    assert case.status == "awaiting_information"
    rec, needs = case.sections["recommendation"], case.sections["needs"]
    assert (rec["present"], needs["present"]) == (False, False)
    assert rec["reason"] == (
        "no recommendation: the only request is for someone other than the client, such as a partner"
    )
    assert needs["reason"] == "no needs: the letter asks only for someone other than the client"
    assert "[PERSON_" in rec["evidence"] and "six sessions" in rec["evidence"]  # the sentence turned down

    shown = cli("cases", "show", case.reference)
    assert shown.exit_code == 0
    assert rec["reason"] in shown.output and needs["reason"] in shown.output
    assert "evidence: " in shown.output
    assert not any(name in shown.output for name in NAMES)  # the redacted letter and evidence only

    [ack] = _acks(sink)
    assert "what we found: the only request is for someone other than the client, such as a partner" in ack
    assert not any(word in ack for word in LETTER_WORDS)  # the reason, never the letter


def test_a_complete_letter_records_the_ask_with_its_therapy_and_the_digest_shows_the_reasons(
    rt,  # noqa: F811 - the fixtures imported above
    listener,  # noqa: F811
    sink,
):
    case = _send(rt, COMPLETE)
    assert case.status == "ready_for_assessment"
    assert (case.sessions_requested, case.period, case.therapy) == (6, "fortnightly", "CBT")
    assert case.sections["recommendation"]["reason"] == (
        "recommendation found: the therapist recommends 6 further sessions of CBT"
    )
    [ack] = _acks(sink)
    assert "the therapist recommends 6 further sessions of CBT" in ack
    assert not any(word in ack for word in LETTER_WORDS)

    with store.session(rt.engine) as db:
        row = db.get(store.Case, case.id)
        row.account = None  # the team lead's unassigned queue, so the digest has a recipient
        db.add(row)
        db.commit()
    digest.send(rt)
    [sent] = outbound(rt, "digest")
    for kind in ("plain", "html"):
        body = sent.get_body((kind,)).get_content()
        assert "recommendation found: the therapist recommends 6 further sessions of CBT" in body
        assert "needs found: the letter explains" in body
        assert "(fortnightly), CBT" in body
        assert not any(name in body for name in NAMES)
