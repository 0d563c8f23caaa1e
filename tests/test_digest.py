"""The CSM digest: grouping by CSM, what it shows, what it never shows, only-new, delivery."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from pipeline import store
from pipeline.cases import digest
from pipeline.cases import lifecycle as cases
from pipeline.cases import service as csm
from pipeline.cases.permissions import Actor
from pipeline.models import CaseStatus
from pipeline.outbound import delivery
from pipeline.runtime import Runtime
from tests.conftest import FIXTURES, expected, fixture_stems, normalise
from tests.test_csm import REDACTED, VAULT, fixture_case, full_text, make_case, outbound, redact_fixture

S = CaseStatus
ALEX = "alex.rivers@plumm-staff.example"
JO = "jo.bramley@plumm-staff.example"
LEAD = "morgan.lead@plumm-staff.example"


@pytest.fixture
def rt(settings):
    return Runtime(settings)


def by_recipient(rt) -> dict[str, object]:
    return {m["To"]: m for m in outbound(rt, "digest")}


def must_not_survive(stem: str) -> list[str]:
    return [v for values in expected(stem)["must_not_survive"].values() for v in values]


def occurs(value: str, text: str) -> bool:
    """As a whole word, any case: a short name such as "Lan" is not found inside "lang"."""
    return re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", text, re.IGNORECASE) is not None


LETTER_STEMS = [s for s in fixture_stems() if (FIXTURES / f"{s}.letter.txt").exists()]


@pytest.mark.parametrize("stem", LETTER_STEMS)
def test_digest_contains_none_of_the_vault_originals_of_a_fixture_letter(rt, stem):
    letter, _vault = redact_fixture(stem)
    # The helper placeholders every value; a count, not the values, if that ever stops holding.
    assert sum(occurs(v, letter) for v in must_not_survive(stem)) == 0
    case = fixture_case(rt, stem, account="brightwater")
    # Even if a quarantined case held the letter unredacted, nothing of it may reach a digest.
    original = (FIXTURES / f"{stem}.letter.txt").read_text(encoding="utf-8")
    quarantined = make_case(rt, status=S.QUARANTINED, letter=original, account=None, reason="redaction-unverified")
    digest.send(rt)
    sent = by_recipient(rt)
    text = full_text(sent[ALEX])
    assert case.reference in text
    plain = normalise(sent[ALEX].get_body(("plain",)).get_content())
    assert normalise(letter)[:200] in plain  # the redacted letter is there
    everything = "\n".join(full_text(m) for m in sent.values())
    for value in must_not_survive(stem):
        assert not occurs(value, everything), f"{stem}: a must_not_survive value is in a digest"
    assert quarantined.reference in full_text(sent[LEAD])


def test_one_digest_per_csm_as_text_and_html_alternatives(rt):
    a = make_case(rt, account="brightwater")
    b = make_case(rt, account="fenwick-rowe", status=S.EMPLOYER_APPROVED)  # also Alex's
    c = make_case(rt, account="northgate", status=S.APPROVED)
    d = make_case(rt, account="unassigned")
    result = digest.send(rt)
    assert result.emails == 3 and result.cases == 4
    sent = by_recipient(rt)
    assert sorted(sent) == sorted([ALEX, JO, LEAD])
    for message in sent.values():
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["Cc"] is None and message["Bcc"] is None
    alex = full_text(sent[ALEX])
    assert a.reference in alex and b.reference in alex and c.reference not in alex
    assert c.reference in full_text(sent[JO]) and d.reference in full_text(sent[LEAD])


def test_digest_lists_reference_age_status_sections_sessions_and_sender_signals(rt):
    case = make_case(rt)
    digest.send(rt)
    body = outbound(rt, "digest")[0].get_body(("plain",)).get_content()
    assert case.reference in body
    assert "ready for assessment" in body and "received under 1 hour ago" in body
    assert "Therapy needs: present" in body and "Professional recommendation: present" in body
    assert "Sessions requested: 6 (weekly)" in body
    assert "known therapist yes; SPF pass, DKIM pass, DMARC pass" in body
    assert normalise(REDACTED.split("\n\n")[1]) in normalise(body)
    assert f"plumm cases approve {case.reference}" in body
    html = outbound(rt, "digest")[0].get_body(("html",)).get_content()
    assert "[PERSON_1]" in html and "<script" not in html


def test_digest_leaves_out_cases_that_wait_for_no_one(rt):
    listed = [make_case(rt, status=s) for s in digest.WAITING]
    not_listed = [
        make_case(rt, status=s) for s in (S.RECEIVED, S.DECLINED, S.EMPLOYER_CONTACTED, S.CLIENT_NOTIFIED, S.CLOSED)
    ]
    digest.send(rt)
    text = full_text(by_recipient(rt)[ALEX])
    assert all(c.reference in text for c in listed)
    assert not any(c.reference in text for c in not_listed)


def test_quarantined_cases_go_to_the_team_lead_by_reference_and_reason_only(rt):
    letter, _ = redact_fixture("plain-text-letter-with-headings")
    case = make_case(rt, status=S.QUARANTINED, letter=letter, account="brightwater", reason="redaction-unverified")
    digest.send(rt)
    sent = by_recipient(rt)
    assert ALEX not in sent  # not to the account's CSM
    text = full_text(sent[LEAD])
    assert case.reference in text and "redaction-unverified" in text
    assert "GAD-7" not in text and "[PERSON_1]" not in text  # nothing of its letter, not even redacted


def test_a_letter_that_still_holds_a_vault_value_is_withheld(rt, caplog):
    leaky = REDACTED.replace("[PERSON_1] has", "Marigold Featherstonehaugh has")
    case = make_case(rt, letter=leaky)
    digest.send(rt)
    text = full_text(by_recipient(rt)[ALEX])
    assert case.reference in text and "withheld" in text
    assert "Marigold" not in text and "Featherstonehaugh" not in text
    assert "Marigold" not in caplog.text and f"{case.reference}: letter withheld" in caplog.text


def test_only_new_does_not_repeat_unchanged_cases(rt):
    case = make_case(rt)
    other = make_case(rt)
    assert digest.send(rt, only_new=True).cases == 2
    assert digest.send(rt, only_new=True).emails == 0  # nothing changed
    csm.approve(rt, case.reference, actor=Actor.operator("alex"))  # a change brings it back
    result = digest.send(rt, only_new=True)
    assert result.cases == 1
    latest = outbound(rt, "digest")[-1]
    assert case.reference in full_text(latest) and other.reference not in full_text(latest)
    assert digest.send(rt).cases == 2  # without --only-new everything waiting is listed again


def test_since_lists_only_cases_changed_since_then(rt):
    old = make_case(rt)
    with store.session(rt.engine) as db:
        row = db.get(store.Case, old.id)
        row.updated_at = store.utcnow() - timedelta(days=3)
        db.add(row)
        db.commit()
    new = make_case(rt)
    digest.send(rt, since=store.utcnow() - timedelta(days=1))
    text = full_text(outbound(rt, "digest")[0])
    assert new.reference in text and old.reference not in text


def test_to_selects_one_csm_and_refuses_an_unknown_address(rt):
    make_case(rt, account="brightwater")
    make_case(rt, account="northgate")
    assert digest.send(rt, to=JO).recipients == (JO,)
    with pytest.raises(digest.DigestError, match="neither a CSM nor the team lead"):
        digest.send(rt, to="someone@else.example")


def test_digest_is_queued_as_kind_digest_and_delivered_to_the_outbox_folder(rt):
    make_case(rt)
    digest.send(rt)
    assert delivery.deliver_pending(rt) == 1
    files = list(rt.settings.outbox_dir.glob("*.eml"))
    assert len(files) == 1
    raw = files[0].read_bytes().decode("utf-8", "replace")
    for value in VAULT.values():
        assert value not in raw


def test_digest_marks_last_digest_at_without_touching_updated_at(rt):
    case = make_case(rt)
    digest.send(rt)
    with store.session(rt.engine) as db:
        fresh = cases.by_reference(db, case.reference)
    assert fresh.last_digest_at is not None
    assert digest._aware(fresh.updated_at) == digest._aware(case.updated_at)
