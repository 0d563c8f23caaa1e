"""CSM actions: the life cycle table, employer request, client notification, reprocess, reveal, CLI.

Cases are built by inserting store rows (a redacted letter and an encrypted vault) so these tests
do not depend on the NLP stages; ``test_csm_end_to_end.py`` walks a case through the real pipeline.
The helpers here (``make_case``, ``fixture_case``) are shared with ``test_digest.py``.
"""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pipeline import store
from pipeline.cases import service as csm
from pipeline.cases.lifecycle import ALLOWED, TransitionRefused
from pipeline.models import CaseStatus
from pipeline.runtime import Runtime
from tests.conftest import FIXTURES, expected

S = CaseStatus
THERAPIST_EMAIL = "ada.lovegood@clinic.example"
CLIENT_EMAIL = "marigold.f@brightwater-logistics.example"
REDACTED = (
    "Dear Plumm team,\n\nI am writing about my client [PERSON_1] ([EMAIL_2]), who works at [EMPLOYER_1]. "
    "[PERSON_1] has attended weekly CBT sessions and their GAD-7 score remains 15.\n\n"
    "I recommend six additional sessions, weekly, to consolidate their progress.\n\n"
    "Kind regards,\n[PERSON_2]\n[EMAIL_1]\n"
)
VAULT = {
    "[PERSON_1]": "Marigold Featherstonehaugh",
    "[PERSON_2]": "Dr Ada Lovegood",
    "[EMAIL_1]": THERAPIST_EMAIL,
    "[EMAIL_2]": CLIENT_EMAIL,
    "[EMPLOYER_1]": "Brightwater Logistics Ltd",
}
SECTIONS = {
    "needs": {
        "present": True,
        "title": "Therapy needs",
        "rule": "t",
        "evidence": "[PERSON_1] has attended weekly CBT sessions and their GAD-7 score remains 15.",
    },
    "recommendation": {
        "present": True,
        "title": "Professional recommendation",
        "rule": "t",
        "evidence": "I recommend six additional sessions, weekly, to consolidate their progress.",
    },
}


@pytest.fixture
def rt(settings):
    return Runtime(settings)


def make_case(
    rt: Runtime,
    *,
    status: str = S.READY_FOR_ASSESSMENT,
    letter: str = REDACTED,
    vault: dict | None = None,
    sections: dict | None = None,
    account: str | None = "brightwater",
    sender: str = THERAPIST_EMAIL,
    sessions: int | None = 6,
    reason: str | None = None,
) -> store.Case:
    """A case row as the worker would leave it, in any status."""
    vault = VAULT if vault is None else vault
    with store.session(rt.engine) as db:
        case = store.Case(
            status=status,
            letter_redacted=letter,
            sections=SECTIONS if sections is None else sections,
            sessions_requested=sessions,
            period="weekly",
            account=account,
            reason=reason,
            vault_encrypted=rt.cipher.encrypt(json.dumps(vault).encode()) if vault else None,
            sender_hash=store.keyed_hash(rt.hash_key, sender),
            sender_signals={"known_therapist": True, "spf": "pass", "dkim": "pass", "dmarc": "pass"},
        )
        db.add(case)
        db.flush()
        case.reference = store.reference_for(case.id, case.created_at)
        db.commit()
        return case


def redact_fixture(stem: str) -> tuple[str, dict[str, str]]:
    """The fixture's letter with every ``must_not_survive`` value replaced by a placeholder."""
    text = (FIXTURES / f"{stem}.letter.txt").read_text(encoding="utf-8")
    values = [(kind, v) for kind, vs in expected(stem)["must_not_survive"].items() for v in vs]
    vault: dict[str, str] = {}
    placeholder_of: dict[str, str] = {}
    counts: dict[str, int] = {}
    for kind, value in sorted(values, key=lambda kv: -len(kv[1])):
        key = value.lower()
        if key not in placeholder_of:
            counts[kind] = counts.get(kind, 0) + 1
            placeholder_of[key] = f"[{kind}_{counts[kind]}]"
            vault[placeholder_of[key]] = value
        pattern = r"(?<!\w)" + re.escape(value) + r"(?!\w)"
        text = re.sub(pattern, placeholder_of[key], text, flags=re.IGNORECASE)
    return text, vault


def fixture_case(rt: Runtime, stem: str, **kwargs) -> store.Case:
    letter, vault = redact_fixture(stem)
    sentences = re.split(r"(?<=[.!?])\s+", letter)
    recommendation = next((s.strip() for s in sentences if "recommend" in s.lower()), "")
    sections = {
        "needs": {"present": True, "title": "Therapy needs", "rule": "t", "evidence": letter.split("\n\n")[0][:200]},
        "recommendation": {
            "present": bool(recommendation),
            "title": "Professional recommendation",
            "rule": "t",
            "evidence": recommendation,
        },
    }
    return make_case(rt, letter=letter, vault=vault, sections=sections, **kwargs)


def events(rt: Runtime, case: store.Case) -> list[store.CaseEvent]:
    with store.session(rt.engine) as db:
        return list(
            db.execute(
                select(store.CaseEvent).where(store.CaseEvent.case_id == case.id).order_by(store.CaseEvent.id)
            ).scalars()
        )


def reload(rt: Runtime, case: store.Case) -> store.Case:
    with store.session(rt.engine) as db:
        fresh = db.get(store.Case, case.id)
        assert fresh is not None
        return fresh


def outbound(rt: Runtime, kind: str) -> list:
    with store.session(rt.engine) as db:
        rows = (
            db.execute(
                select(store.OutboundMessage)
                .where(store.OutboundMessage.kind == kind)
                .order_by(store.OutboundMessage.id)
            )
            .scalars()
            .all()
        )
        return [message_from_bytes(rt.cipher.decrypt(r.payload_encrypted), policy=policy.default) for r in rows]


def full_text(message) -> str:
    parts = [str(v) for _k, v in message.items()]
    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


def assert_no_vault_value(text: str, vault: dict[str, str]) -> None:
    lowered = text.lower()
    for placeholder, value in vault.items():
        assert value.lower() not in lowered, f"{placeholder} original leaked"


# -- the life cycle table -------------------------------------------------------------------
ACTIONS = {
    "approve": (lambda rt, ref: csm.approve(rt, ref, actor="alex"), S.APPROVED),
    "decline": (lambda rt, ref: csm.decline(rt, ref, actor="alex", reason="not indicated"), S.DECLINED),
    "request_employer": (lambda rt, ref: csm.request_employer(rt, ref, actor="alex"), S.EMPLOYER_CONTACTED),
    "record_employer_approved": (
        lambda rt, ref: csm.record_employer(rt, ref, "approved", actor="alex"),
        S.EMPLOYER_APPROVED,
    ),
    "record_employer_declined": (
        lambda rt, ref: csm.record_employer(rt, ref, "declined", actor="alex"),
        S.EMPLOYER_DECLINED,
    ),
    "notify_client": (lambda rt, ref: csm.notify_client(rt, ref, actor="alex"), S.CLIENT_NOTIFIED),
    "close": (lambda rt, ref: csm.close(rt, ref, actor="alex"), S.CLOSED),
}
TABLE = [
    pytest.param(action, start, target in ALLOWED[start], id=f"{action}-from-{start}")
    for action, (_fn, target) in ACTIONS.items()
    for start in [s.value for s in S]
]


@pytest.mark.parametrize("action,start,allowed", TABLE)
def test_transitions_allowed_and_refused_follow_the_life_cycle_table(rt, action, start, allowed):
    case = make_case(rt, status=start)
    before = len(events(rt, case))
    fn, target = ACTIONS[action]
    if allowed:
        fn(rt, case.reference)
        assert reload(rt, case).status == target
        last = events(rt, case)[-1]
        assert (last.actor, last.from_status, last.to_status) == ("alex", start, target)
    else:
        with pytest.raises(TransitionRefused) as refused:
            fn(rt, case.reference)
        assert case.reference in str(refused.value) and f"from {start} to {target}" in str(refused.value)
        assert reload(rt, case).status == start
        assert len(events(rt, case)) == before  # a refusal leaves no trace but the message


def test_happy_path_records_every_step_with_actor_and_note(rt):
    case = make_case(rt)
    csm.approve(rt, case.reference, actor="alex", note="clear rationale")
    csm.request_employer(rt, case.reference, actor="alex")
    csm.record_employer(rt, case.reference, "approved", actor="alex", note="HR said yes by phone")
    csm.notify_client(rt, case.reference, actor="alex")
    csm.close(rt, case.reference, actor="jo")
    trail = [(e.kind, e.actor, e.to_status, e.note) for e in events(rt, case)]
    assert trail == [
        ("approved", "alex", S.APPROVED, "clear rationale"),
        ("employer-requested", "alex", S.EMPLOYER_CONTACTED, ""),
        ("employer-recorded", "alex", S.EMPLOYER_APPROVED, "HR said yes by phone"),
        ("client-notified", "alex", S.CLIENT_NOTIFIED, "approved"),
        ("closed", "jo", S.CLOSED, ""),
    ]


def test_decline_without_a_reason_is_refused(rt):
    case = make_case(rt)
    with pytest.raises(csm.ActionRefused, match="reason is required"):
        csm.decline(rt, case.reference, actor="alex", reason="  ")
    assert reload(rt, case).status == S.READY_FOR_ASSESSMENT


def test_unknown_reference_and_bad_employer_decision_are_refused(rt):
    with pytest.raises(csm.CaseNotFound, match="no case PLM-2026-999999"):
        csm.approve(rt, "PLM-2026-999999", actor="alex")
    with pytest.raises(csm.CaseNotFound, match="not a case reference"):
        csm.approve(rt, "Sarah Okafor", actor="alex")
    case = make_case(rt, status=S.EMPLOYER_CONTACTED)
    with pytest.raises(csm.ActionRefused, match="'approved' or 'declined'"):
        csm.record_employer(rt, case.reference, "maybe", actor="alex")


# -- employer request -----------------------------------------------------------------------
def test_employer_request_goes_to_hr_with_reference_sessions_and_redacted_recommendation_only(rt):
    case = make_case(rt, status=S.APPROVED)
    csm.request_employer(rt, case.reference, actor="alex")
    [message] = outbound(rt, "employer-request")
    assert message["To"] == "people@brightwater-logistics.example"
    assert message["Cc"] is None and message["Bcc"] is None
    text = full_text(message)
    assert case.reference in text and "6" in text and "weekly" in text
    assert SECTIONS["recommendation"]["evidence"] in message.get_body(("plain",)).get_content()
    assert_no_vault_value(text, VAULT)
    assert "GAD-7" not in text  # nothing of the letter beyond the recommendation sentence
    with store.session(rt.engine) as db:
        row = db.execute(select(store.OutboundMessage)).scalar_one()
    assert row.case_id == case.id  # the employer's reply threads onto the case by In-Reply-To


def test_employer_request_for_an_unassigned_case_is_refused(rt):
    case = make_case(rt, status=S.APPROVED, account="unassigned")
    with pytest.raises(csm.ActionRefused, match="no employer account assigned"):
        csm.request_employer(rt, case.reference, actor="alex")
    assert reload(rt, case).status == S.APPROVED
    assert outbound(rt, "employer-request") == []


def test_employer_request_is_refused_if_the_recommendation_carries_a_vault_value(rt):
    evidence = "I recommend six sessions for Marigold Featherstonehaugh."
    leaky = {**SECTIONS, "recommendation": {**SECTIONS["recommendation"], "evidence": evidence}}
    case = make_case(rt, status=S.APPROVED, sections=leaky)
    with pytest.raises(csm.ActionRefused) as refused:
        csm.request_employer(rt, case.reference, actor="alex")
    assert "PERSON" in str(refused.value) and "Marigold" not in str(refused.value)
    assert outbound(rt, "employer-request") == []


def test_assign_routes_a_case_by_hand_and_refuses_unknown_accounts(rt):
    case = make_case(rt, status=S.APPROVED, account="unassigned")
    with pytest.raises(csm.ActionRefused, match="no account 'nope'"):
        csm.assign(rt, case.reference, "nope", actor="morgan")
    csm.assign(rt, case.reference, "northgate", actor="morgan")
    assert reload(rt, case).account == "northgate"
    assert events(rt, case)[-1].note == "unassigned -> northgate (by hand)"


# -- client notification --------------------------------------------------------------------
def test_client_notification_goes_only_to_the_clients_address_from_the_vault(rt):
    case = make_case(rt, status=S.EMPLOYER_APPROVED)
    csm.notify_client(rt, case.reference, actor="alex")
    [message] = outbound(rt, "client-notification")
    assert message.get_all("To") == [CLIENT_EMAIL]  # not the therapist's, who is also in the vault
    assert message["Cc"] is None and message["Bcc"] is None
    body = message.get_body(("plain",)).get_content()
    assert "approved" in body and "Book a session" in body.replace("\n", " ")
    assert "Marigold" not in full_text(message) and "Lovegood" not in full_text(message)


def test_client_notification_after_employer_declined_says_so(rt):
    case = make_case(rt, status=S.EMPLOYER_DECLINED)
    csm.notify_client(rt, case.reference, actor="alex")
    [message] = outbound(rt, "client-notification")
    assert "could not be approved" in message.get_body(("plain",)).get_content()


def test_client_notification_with_ambiguous_addresses_requires_to(rt):
    vault = {**VAULT, "[EMAIL_3]": "m.featherstone@home.example"}
    case = make_case(rt, status=S.EMPLOYER_APPROVED, account="unassigned", vault=vault)
    with pytest.raises(csm.ActionRefused) as refused:
        csm.notify_client(rt, case.reference, actor="alex")
    assert "2 possible client addresses" in str(refused.value) and "--to" in str(refused.value)
    assert "@" not in str(refused.value)  # counts, never the addresses
    assert reload(rt, case).status == S.EMPLOYER_APPROVED
    csm.notify_client(rt, case.reference, actor="alex", to="m.featherstone@home.example")
    [message] = outbound(rt, "client-notification")
    assert message.get_all("To") == ["m.featherstone@home.example"]


def test_client_notification_prefers_the_work_address_on_the_accounts_domain(rt):
    vault = {**VAULT, "[EMAIL_3]": "m.featherstone@home.example"}
    case = make_case(rt, status=S.EMPLOYER_APPROVED, vault=vault)
    csm.notify_client(rt, case.reference, actor="alex")
    assert outbound(rt, "client-notification")[0].get_all("To") == [CLIENT_EMAIL]


def test_client_notification_without_a_client_address_requires_to(rt):
    vault = {k: v for k, v in VAULT.items() if v != CLIENT_EMAIL}
    case = make_case(rt, status=S.EMPLOYER_APPROVED, vault=vault)
    with pytest.raises(csm.ActionRefused, match="no client address in the vault; pass --to"):
        csm.notify_client(rt, case.reference, actor="alex")
    with pytest.raises(csm.ActionRefused, match="one email address"):
        csm.notify_client(rt, case.reference, actor="alex", to="a@x.example, b@y.example")


# -- reprocess ------------------------------------------------------------------------------
def test_reprocess_requeues_the_quarantined_messages_of_the_case(rt):
    case = make_case(rt, status=S.QUARANTINED, letter="", vault={}, reason="internal-error:KeyError")
    with store.session(rt.engine) as db:
        db.add(
            store.InboundMessage(
                raw_encrypted=rt.cipher.encrypt(b"x"),
                size=1,
                status="quarantined",
                attempts=3,
                case_id=case.id,
                error_stage="redact",
                error_reason="boom",
            )
        )
        db.commit()
    assert csm.reprocess(rt, case.reference, actor="morgan") == 1
    with store.session(rt.engine) as db:
        row = db.execute(select(store.InboundMessage)).scalar_one()
    assert (row.status, row.attempts, row.error_stage, row.case_id) == ("pending", 0, None, case.id)
    assert events(rt, case)[-1].kind == "reprocess-requested"
    with pytest.raises(csm.ActionRefused, match="no quarantined message"):
        csm.reprocess(rt, case.reference, actor="morgan")


# -- reveal ---------------------------------------------------------------------------------
def test_reveal_by_an_authorised_operator_returns_the_vault_and_is_audited(settings):
    rt = Runtime(settings.model_copy(update={"revealers": ["morgan"]}))
    case = make_case(rt)
    assert csm.reveal(rt, case.reference, operator="morgan") == VAULT
    [event] = events(rt, case)
    assert (event.kind, event.actor) == ("vault-revealed", "morgan")
    assert "morgan" in event.note
    assert_no_vault_value(event.note, VAULT)


def test_reveal_by_an_unauthorised_operator_is_refused_and_the_refusal_is_audited(settings):
    rt = Runtime(settings.model_copy(update={"revealers": ["morgan"]}))
    case = make_case(rt)
    with pytest.raises(csm.RevealRefused) as refused:
        csm.reveal(rt, case.reference, operator="mallory")
    assert_no_vault_value(str(refused.value), VAULT)
    [event] = events(rt, case)
    assert (event.kind, event.actor) == ("vault-reveal-refused", "mallory")


# -- CLI ------------------------------------------------------------------------------------
@pytest.fixture
def cli(settings, monkeypatch):
    from pipeline.cli import app

    for key, value in {
        "PLUMM_DATABASE_URL": settings.database_url,
        "PLUMM_DATA_DIR": str(settings.data_dir),
        "PLUMM_VAULT_KEY": settings.vault_key,
        "PLUMM_HASH_KEY": settings.hash_key,
        "PLUMM_REVEALERS": "morgan",
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_cli_walks_a_case_and_refuses_an_illegal_transition_with_exit_1(settings, cli):
    case = make_case(Runtime(settings))
    ref = case.reference
    assert cli("cases", "approve", ref, "--actor", "alex", "--note", "fine").exit_code == 0
    refused = cli("cases", "approve", ref, "--actor", "alex")
    assert refused.exit_code == 1
    assert f"{ref}: cannot go from approved to approved" in refused.output
    for args in (
        ["request-employer", ref],
        ["record-employer", ref, "approved"],
        ["notify-client", ref],
        ["close", ref],
    ):
        result = cli("cases", *args, "--actor", "alex")
        assert result.exit_code == 0, result.output
    shown = cli("cases", "show", ref)
    assert shown.exit_code == 0 and "closed" in shown.output
    assert_no_vault_value(shown.output, VAULT)


def test_cli_reveal_is_refused_for_an_unauthorised_operator_and_shown_for_an_authorised_one(settings, cli):
    case = make_case(Runtime(settings))
    refused = cli("cases", "show", case.reference, "--reveal", "--operator", "mallory")
    assert refused.exit_code == 1 and "may not reveal" in refused.output
    assert_no_vault_value(refused.output, VAULT)
    shown = cli("cases", "show", case.reference, "--reveal", "--operator", "morgan")
    assert shown.exit_code == 0
    assert "Marigold Featherstonehaugh" in shown.output and "vault-revealed" in shown.output


def test_cli_decline_needs_a_reason(settings, cli):
    case = make_case(Runtime(settings))
    result = cli("cases", "decline", case.reference)
    assert result.exit_code != 0
    assert cli("cases", "decline", case.reference, "--reason", "no clinical rationale").exit_code == 0
