"""The CSM digest: a summary per CSM (counts per queue, the oldest waiting, links to the console), what it
never shows, only-new, delivery, and a team lead's digest that stays small with 2,500 cases."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from pipeline import store
from pipeline.cases import digest
from pipeline.cases import lifecycle as cases
from pipeline.cases import service as csm
from pipeline.cases.permissions import Actor
from pipeline.models import CaseStatus
from pipeline.outbound import delivery
from pipeline.runtime import Runtime
from tests.conftest import FIXTURES, expected, fixture_stems
from tests.test_csm import VAULT, fixture_case, full_text, make_case, outbound

S = CaseStatus
ALEX = "alex.rivers@plumm-staff.example"
JO = "jo.bramley@plumm-staff.example"
LEAD = "morgan.lead@plumm-staff.example"


@pytest.fixture
def rt(settings):
    return Runtime(settings)


def by_recipient(rt) -> dict[str, object]:
    return {m["To"]: m for m in outbound(rt, "digest")}


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def must_not_survive(stem: str) -> list[str]:
    return [v for values in expected(stem)["must_not_survive"].values() for v in values]


def occurs(value: str, text: str) -> bool:
    """As a whole word, any case: a short name such as "Lan" is not found inside "lang"."""
    return re.search(r"(?<!\w)" + re.escape(value) + r"(?!\w)", text, re.IGNORECASE) is not None


def aged(rt, case: store.Case, *, days: float) -> None:
    with store.session(rt.engine) as db:
        row = db.get(store.Case, case.id)
        row.status_since = row.updated_at = row.created_at = store.utcnow() - timedelta(days=days)
        db.add(row)
        db.commit()


LETTER_STEMS = [s for s in fixture_stems() if (FIXTURES / f"{s}.letter.txt").exists()]


@pytest.mark.parametrize("stem", LETTER_STEMS[::7])
def test_digest_holds_no_letter_and_none_of_its_identifiers(rt, stem):
    case = fixture_case(rt, stem, account="brightwater")
    original = (FIXTURES / f"{stem}.letter.txt").read_text(encoding="utf-8")
    quarantined = make_case(rt, status=S.QUARANTINED, letter=original, account=None, reason="redaction-unverified")
    digest.send(rt)
    sent = by_recipient(rt)
    assert case.reference in full_text(sent[ALEX]) and quarantined.reference in full_text(sent[LEAD])
    everything = "\n".join(full_text(m) for m in sent.values())
    assert "[PERSON_1]" not in everything and "GAD" not in everything  # no letter, not even redacted
    assert sum(occurs(v, everything) for v in must_not_survive(stem)) == 0


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


def test_digest_counts_each_queue_with_its_oldest_and_links_to_the_console(rt):
    base = rt.settings.effective_web_base_url
    ready = [make_case(rt) for _ in range(7)]
    for n, case in enumerate(ready):
        aged(rt, case, days=10 - n)
    waiting = make_case(rt, status=S.EMPLOYER_CONTACTED)
    aged(rt, waiting, days=4)
    digest.send(rt)
    body = plain(outbound(rt, "digest")[0])
    assert "8 cases waiting" in body and f"{base}/cases" in body
    assert "Ready for assessment: 7, the oldest waiting 10 days" in body
    # The five oldest by reference with links, then a link to the rest.
    for case in ready[:5]:
        assert f"{case.reference}  waiting" in body and f"{base}/cases/{case.reference}" in body
    assert ready[6].reference not in body.split("New or changed")[0]
    assert f"... and 2 more: {base}/cases?status=ready_for_assessment" in body
    # A case waiting for the employer stays in the digest with how long it has waited.
    assert "Employer contacted: 1, the oldest waiting 4 days" in body and waiting.reference in body
    html = outbound(rt, "digest")[0].get_body(("html",)).get_content()
    assert f'href="{base}/cases/{ready[0].reference}"' in html and "<script" not in html


def test_digest_leaves_out_cases_that_wait_for_no_one(rt):
    listed = [make_case(rt, status=s) for s in digest.WAITING]
    not_listed = [make_case(rt, status=s) for s in (S.RECEIVED, S.DECLINED, S.CLIENT_NOTIFIED, S.CLOSED)]
    digest.send(rt)
    text = full_text(by_recipient(rt)[ALEX])
    assert all(c.reference in text for c in listed)
    assert not any(c.reference in text for c in not_listed)


def test_quarantined_cases_go_to_the_team_lead_by_reference_and_reason_only(rt):
    case = make_case(rt, status=S.QUARANTINED, account="brightwater", reason="redaction-unverified")
    make_case(rt, status=S.QUARANTINED, account=None, reason="pdf-encrypted")
    digest.send(rt)
    sent = by_recipient(rt)
    assert ALEX not in sent  # not to the account's CSM
    text = plain(sent[LEAD])
    assert case.reference in text and "1 x redaction-unverified" in text and "1 x pdf-encrypted" in text


def test_only_new_sends_only_when_something_changed(rt):
    case = make_case(rt)
    other = make_case(rt)
    assert digest.send(rt, only_new=True).cases == 2
    assert digest.send(rt, only_new=True).emails == 0  # nothing changed
    csm.approve(rt, case.reference, actor=Actor.operator("alex"))  # a change brings the digest back
    result = digest.send(rt, only_new=True)
    assert result.emails == 1 and result.cases == 2  # the summary still counts every waiting case
    latest = plain(outbound(rt, "digest")[-1])
    changed = latest.split("New or changed since your last digest")[1]
    assert case.reference in changed and other.reference not in changed
    assert "2 cases waiting, 1 new or changed" in latest


def test_since_sends_only_when_a_case_changed_since_then(rt):
    old = make_case(rt)
    aged(rt, old, days=3)
    assert digest.send(rt, since=store.utcnow() - timedelta(days=1)).emails == 0
    new = make_case(rt)
    digest.send(rt, since=store.utcnow() - timedelta(days=1))
    changed = plain(outbound(rt, "digest")[0]).split("New or changed")[1]
    assert new.reference in changed and old.reference not in changed


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


def test_the_team_leads_digest_stays_small_with_2500_cases(rt):
    """The issue's 5.9 MB digest listed 2,517 cases one by one; a summary stays a page long."""
    now = store.utcnow()
    statuses = [S.READY_FOR_ASSESSMENT, S.APPROVED, S.EMPLOYER_CONTACTED, S.AWAITING_INFORMATION, S.QUARANTINED]
    rows = [
        {
            "reference": f"PLM-2026-{n:06d}",
            "status": statuses[n % len(statuses)],
            "account": "unassigned" if n % 2 else None,
            "reason": "redaction-unverified" if statuses[n % len(statuses)] == S.QUARANTINED else None,
            "created_at": now - timedelta(hours=n),
            "updated_at": now - timedelta(hours=n),
            "status_since": now - timedelta(hours=n),
            "letter_redacted": "Dear Plumm, [PERSON_1] needs more sessions. " * 40,
            "sections": {"needs": {"present": True}, "recommendation": {"present": True}},
            "sessions_requested": 6,
        }
        for n in range(1, 2501)
    ]
    defaults = {"sources": [], "entity_counts": {}, "sender_signals": {}, "notes": []}
    with store.session(rt.engine) as db:
        db.execute(insert(store.Case), [{**defaults, **r} for r in rows])
        db.commit()
    result = digest.send(rt, to=LEAD)
    assert result.cases == 2500
    [message] = outbound(rt, "digest")
    size = len(message.as_bytes())
    assert size < 40_000, size  # bytes: a summary, not 2,500 letters
    body = plain(message)
    assert "2500 cases waiting" in body
    assert "Ready for assessment (unassigned): 500, the oldest waiting" in body
    assert "Quarantined: 500" in body and "500 x redaction-unverified" in body
    assert len(set(re.findall(r"PLM-2026-\d{6}", body))) <= 5 * len(statuses) + digest.LISTED_CHANGED
    with store.session(rt.engine) as db:
        stamped = db.execute(
            select(func.count()).select_from(store.Case).where(store.Case.last_digest_at.is_not(None))
        ).scalar_one()
    assert stamped == 2500
