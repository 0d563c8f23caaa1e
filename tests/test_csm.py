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
from pipeline.cases.permissions import Actor, PermissionRefused, Role
from pipeline.models import CaseStatus
from pipeline.runtime import Runtime
from tests.conftest import FIXTURES, expected

S = CaseStatus
THERAPIST_EMAIL = "ada.lovegood@clinic.example"
WORK_EMAIL = "marigold.f@brightwater-logistics.example"
CLIENT_EMAIL = "marigold.f@home.example"
ALEX = Actor("alex", Role.CSM, frozenset({"brightwater", "fenwick-rowe"}))
JO = Actor("jo", Role.CSM, frozenset({"northgate"}))
MORGAN = Actor("morgan", Role.LEAD)
RIVER = Actor("river", Role.REVEALER)
REDACTED = (
    "Dear Plumm team,\n\nI am writing about my client [PERSON_1] ([EMAIL_2], at home [EMAIL_3]), "
    "who works at [EMPLOYER_1]. "
    "[PERSON_1] has attended weekly CBT sessions and their GAD-7 score remains 15.\n\n"
    "I recommend six additional sessions, weekly, to consolidate their progress.\n\n"
    "Kind regards,\n[PERSON_2]\n[EMAIL_1]\n"
)
VAULT = {
    "[PERSON_1]": "Marigold Featherstonehaugh",
    "[PERSON_2]": "Dr Ada Lovegood",
    "[EMAIL_1]": THERAPIST_EMAIL,
    "[EMAIL_2]": WORK_EMAIL,
    "[EMAIL_3]": CLIENT_EMAIL,
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


def add_reply(rt: Runtime, case: store.Case, text: str, *, kind: str = "employer") -> None:
    """A reply on the case as the worker records one (see test_csm_end_to_end for the real mail)."""
    with store.session(rt.engine) as db:
        message = store.InboundMessage(raw_encrypted=rt.cipher.encrypt(b"x"), size=1, status="done", case_id=case.id)
        db.add(message)
        db.flush()
        db.add(store.CaseLetter(case_id=case.id, message_id=message.id, seq=1, kind=kind, redacted_text=text))
        db.commit()


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
    "approve": (lambda rt, ref: csm.approve(rt, ref, actor=ALEX), S.APPROVED),
    "decline": (lambda rt, ref: csm.decline(rt, ref, actor=ALEX, reason="not indicated"), S.DECLINED),
    "request_employer": (lambda rt, ref: csm.request_employer(rt, ref, actor=ALEX), S.EMPLOYER_CONTACTED),
    "record_employer_approved": (
        lambda rt, ref: csm.record_employer(rt, ref, "approved", actor=ALEX),
        S.EMPLOYER_APPROVED,
    ),
    "record_employer_declined": (
        lambda rt, ref: csm.record_employer(rt, ref, "declined", actor=ALEX),
        S.EMPLOYER_DECLINED,
    ),
    "notify_client": (lambda rt, ref: csm.notify_client(rt, ref, actor=ALEX), S.CLIENT_NOTIFIED),
    "close": (lambda rt, ref: csm.close(rt, ref, actor=ALEX, note="request withdrawn"), S.CLOSED),
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


# What the worker moves by itself (a letter read, a follow-up, a re-run), not a person.
SYSTEM_MOVES = {
    (S.RECEIVED, S.AWAITING_INFORMATION),
    (S.RECEIVED, S.READY_FOR_ASSESSMENT),
    (S.RECEIVED, S.QUARANTINED),
    (S.AWAITING_INFORMATION, S.READY_FOR_ASSESSMENT),
    (S.AWAITING_INFORMATION, S.QUARANTINED),
    (S.READY_FOR_ASSESSMENT, S.AWAITING_INFORMATION),
    (S.QUARANTINED, S.AWAITING_INFORMATION),
    (S.QUARANTINED, S.READY_FOR_ASSESSMENT),
}


def test_every_move_of_the_table_is_an_action_or_the_workers_and_no_status_is_a_dead_end():
    by_people = {(start, target) for _fn, target in ACTIONS.values() for start in S if target in ALLOWED[start]}
    assert by_people | SYSTEM_MOVES == {(start, target) for start, targets in ALLOWED.items() for target in targets}
    for status in S:
        if status == S.CLOSED:
            assert ALLOWED[status] == set()
            continue
        # A person can close it from here, or move it one step to where they can.
        assert (status, S.CLOSED) in by_people, status


def test_closing_early_needs_a_reason_and_a_natural_end_does_not(rt):
    early = make_case(rt, status=S.EMPLOYER_CONTACTED)
    with pytest.raises(csm.ActionRefused, match="needs a reason"):
        csm.close(rt, early.reference, actor=ALEX)
    assert reload(rt, early).status == S.EMPLOYER_CONTACTED
    csm.close(rt, early.reference, actor=ALEX, note="HR never answered; asked the client to call")
    done = make_case(rt, status=S.CLIENT_NOTIFIED)
    csm.close(rt, done.reference, actor=ALEX)
    assert reload(rt, done).status == S.CLOSED


def test_happy_path_records_every_step_with_actor_and_note(rt):
    case = make_case(rt)
    csm.approve(rt, case.reference, actor=ALEX, note="clear rationale")
    csm.request_employer(rt, case.reference, actor=ALEX)
    csm.record_employer(rt, case.reference, "approved", actor=ALEX, note="HR said yes by phone")
    csm.notify_client(rt, case.reference, actor=ALEX)
    csm.close(rt, case.reference, actor=MORGAN)
    trail = [(e.kind, e.actor, e.to_status, e.note) for e in events(rt, case)]
    assert trail == [
        ("approved", "alex", S.APPROVED, "clear rationale"),
        ("employer-requested", "alex", S.EMPLOYER_CONTACTED, ""),
        ("employer-recorded", "alex", S.EMPLOYER_APPROVED, "HR said yes by phone"),
        ("client-notified", "alex", S.CLIENT_NOTIFIED, "approved"),
        ("closed", "morgan", S.CLOSED, ""),
    ]


# -- permissions ----------------------------------------------------------------------------
def test_a_csm_acts_only_on_their_accounts_and_a_case_they_may_not_see_is_no_case(rt):
    case = make_case(rt)  # brightwater
    with pytest.raises(csm.CaseNotFound):
        csm.approve(rt, case.reference, actor=JO)
    unassigned = make_case(rt, account="unassigned")
    with pytest.raises(csm.CaseNotFound):
        csm.approve(rt, unassigned.reference, actor=ALEX)
    assert reload(rt, case).status == reload(rt, unassigned).status == S.READY_FOR_ASSESSMENT
    csm.approve(rt, unassigned.reference, actor=MORGAN)  # the lead works the unassigned queue


def test_routing_is_for_the_lead_and_acting_is_not_for_the_revealer(rt):
    case = make_case(rt, account="unassigned")
    with pytest.raises(PermissionRefused, match="may not route"):
        csm.assign(rt, make_case(rt).reference, "northgate", actor=ALEX)
    with pytest.raises(PermissionRefused, match="may not assess"):
        csm.approve(rt, case.reference, actor=RIVER)
    csm.assign(rt, case.reference, "northgate", actor=MORGAN)
    with pytest.raises(PermissionRefused):
        csm.retry_messages(rt, actor=ALEX)


def test_a_note_holding_a_removed_detail_is_refused_and_nothing_changes(rt):
    case = make_case(rt)
    with pytest.raises(csm.ActionRefused, match=r"holds a detail removed from the letter \(PERSON\)") as refused:
        csm.approve(rt, case.reference, actor=ALEX, note="spoke to Marigold Featherstonehaugh")
    assert "Marigold" not in str(refused.value)
    assert reload(rt, case).status == S.READY_FOR_ASSESSMENT and events(rt, case) == []


def test_cli_actions_record_the_os_user_and_may_not_reveal(rt):
    operator = Actor.operator("root")
    case = make_case(rt)
    csm.approve(rt, case.reference, actor=operator)
    assert events(rt, case)[-1].actor == "cli:root"
    with pytest.raises(csm.RevealRefused):
        csm.reveal(rt, case.reference, actor=operator, reason="checking")


def test_decline_without_a_reason_is_refused(rt):
    case = make_case(rt)
    with pytest.raises(csm.ActionRefused, match="reason is required"):
        csm.decline(rt, case.reference, actor=ALEX, reason="  ")
    assert reload(rt, case).status == S.READY_FOR_ASSESSMENT


def test_unknown_reference_and_bad_employer_decision_are_refused(rt):
    with pytest.raises(csm.CaseNotFound, match="no case PLM-2026-999999"):
        csm.approve(rt, "PLM-2026-999999", actor=ALEX)
    with pytest.raises(csm.CaseNotFound, match="not a case reference"):
        csm.approve(rt, "Sarah Okafor", actor=ALEX)
    case = make_case(rt, status=S.EMPLOYER_CONTACTED)
    with pytest.raises(csm.ActionRefused, match="'approved' or 'declined'"):
        csm.record_employer(rt, case.reference, "maybe", actor=ALEX)


# -- employer request -----------------------------------------------------------------------
def test_employer_request_goes_to_hr_with_reference_sessions_and_redacted_recommendation_only(rt):
    case = make_case(rt, status=S.APPROVED)
    csm.request_employer(rt, case.reference, actor=ALEX)
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


def test_employer_request_names_the_employer_from_accounts_even_when_the_letter_names_it(rt):
    """Most letters name the client's employer: that is the employer's own name, no reason to refuse."""
    for vaulted in ("Brightwater Logistics", "Brightwater", "BRIGHTWATER LOGISTICS LTD"):
        vault = {**VAULT, "[ORG_1]": vaulted}
        evidence = "I recommend six additional sessions, funded by [ORG_1], weekly."
        sections = {**SECTIONS, "recommendation": {**SECTIONS["recommendation"], "evidence": evidence}}
        case = make_case(rt, status=S.APPROVED, vault=vault, sections=sections)
        csm.request_employer(rt, case.reference, actor=ALEX)
        assert reload(rt, case).status == S.EMPLOYER_CONTACTED
    messages = outbound(rt, "employer-request")
    assert len(messages) == 3
    for message in messages:
        body = message.get_body(("plain",)).get_content()
        assert "whether Brightwater Logistics approves" in body  # from accounts.yaml
        assert_no_vault_value(full_text(message), {k: v for k, v in VAULT.items() if k != "[EMPLOYER_1]"})


def test_employer_request_for_an_unassigned_case_is_refused(rt):
    case = make_case(rt, status=S.APPROVED, account="unassigned")
    with pytest.raises(csm.ActionRefused, match="no employer account assigned"):
        csm.request_employer(rt, case.reference, actor=MORGAN)
    assert reload(rt, case).status == S.APPROVED
    assert outbound(rt, "employer-request") == []


def test_employer_request_is_refused_if_the_recommendation_carries_a_vault_value(rt):
    evidence = "I recommend six sessions for Marigold Featherstonehaugh."
    leaky = {**SECTIONS, "recommendation": {**SECTIONS["recommendation"], "evidence": evidence}}
    case = make_case(rt, status=S.APPROVED, sections=leaky)
    with pytest.raises(csm.ActionRefused) as refused:
        csm.request_employer(rt, case.reference, actor=ALEX)
    assert "PERSON" in str(refused.value) and "Marigold" not in str(refused.value)
    assert outbound(rt, "employer-request") == []


def test_assign_routes_a_case_by_hand_and_refuses_unknown_accounts(rt):
    case = make_case(rt, status=S.APPROVED, account="unassigned")
    with pytest.raises(csm.ActionRefused, match="no account 'nope'"):
        csm.assign(rt, case.reference, "nope", actor=MORGAN)
    csm.assign(rt, case.reference, "northgate", actor=MORGAN)
    assert reload(rt, case).account == "northgate"
    assert events(rt, case)[-1].note == "unassigned -> northgate (by hand)"


# -- client notification --------------------------------------------------------------------
def test_client_notification_goes_only_to_the_clients_personal_address_under_the_clients_reference(rt):
    case = make_case(rt, status=S.EMPLOYER_APPROVED)
    csm.notify_client(rt, case.reference, actor=ALEX)
    [message] = outbound(rt, "client-notification")
    # Not the therapist's, nor the work address on the employer's domain, both also in the vault.
    assert message.get_all("To") == [CLIENT_EMAIL]
    assert message["Cc"] is None and message["Bcc"] is None
    body = message.get_body(("plain",)).get_content()
    assert "approved" in body and "Book a session" in body.replace("\n", " ")
    assert "Marigold" not in full_text(message) and "Lovegood" not in full_text(message)
    fresh = reload(rt, case)
    assert fresh.client_reference and fresh.client_reference in message["Subject"]
    assert fresh.reference not in full_text(message)  # the reference the employer saw


def test_client_notification_after_employer_declined_says_so(rt):
    case = make_case(rt, status=S.EMPLOYER_DECLINED)
    csm.notify_client(rt, case.reference, actor=ALEX)
    [message] = outbound(rt, "client-notification")
    assert "could not be approved" in message.get_body(("plain",)).get_content()


def test_client_notification_with_ambiguous_addresses_requires_to(rt):
    vault = {**VAULT, "[EMAIL_4]": "m.featherstone@elsewhere.example"}
    case = make_case(rt, status=S.EMPLOYER_APPROVED, account="unassigned", vault=vault)
    with pytest.raises(csm.ActionRefused) as refused:
        csm.notify_client(rt, case.reference, actor=MORGAN)
    assert "2 possible client addresses" in str(refused.value) and "--to" in str(refused.value)
    assert "@" not in str(refused.value)  # counts, never the addresses
    assert reload(rt, case).status == S.EMPLOYER_APPROVED
    csm.notify_client(rt, case.reference, actor=MORGAN, to="m.featherstone@elsewhere.example")
    [message] = outbound(rt, "client-notification")
    assert message.get_all("To") == ["m.featherstone@elsewhere.example"]


@pytest.mark.parametrize("address", [WORK_EMAIL, "m.f@stores.lumenretail.example", "x@fenwickrowe.example"])
def test_client_notification_never_goes_to_an_employer_domain_without_a_typed_reason(rt, address):
    vault = {k: v for k, v in VAULT.items() if v != CLIENT_EMAIL}
    case = make_case(rt, status=S.EMPLOYER_APPROVED, vault=vault)
    with pytest.raises(csm.ActionRefused, match="no personal client address"):
        csm.notify_client(rt, case.reference, actor=ALEX)  # the work address in the vault is never chosen
    with pytest.raises(csm.ActionRefused, match="on an employer's domain") as refused:
        csm.notify_client(rt, case.reference, actor=ALEX, to=address)
    assert "@" not in str(refused.value)
    assert reload(rt, case).status == S.EMPLOYER_APPROVED and outbound(rt, "client-notification") == []
    csm.notify_client(
        rt, case.reference, actor=ALEX, to=address, work_address_reason="client asked in writing to use it"
    )
    [message] = outbound(rt, "client-notification")
    assert message.get_all("To") == [address]
    override = [e for e in events(rt, case) if e.kind == "work-address-override"]
    assert [(e.actor, e.note) for e in override] == [("alex", "client asked in writing to use it")]


def test_client_notification_without_a_client_address_requires_to(rt):
    vault = {k: v for k, v in VAULT.items() if v not in (CLIENT_EMAIL, WORK_EMAIL)}
    case = make_case(rt, status=S.EMPLOYER_APPROVED, vault=vault)
    with pytest.raises(csm.ActionRefused, match="no personal client address in the vault"):
        csm.notify_client(rt, case.reference, actor=ALEX)
    with pytest.raises(csm.ActionRefused, match="one email address"):
        csm.notify_client(rt, case.reference, actor=ALEX, to="a@x.example, b@y.example")


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
    assert csm.reprocess(rt, case.reference, actor=MORGAN) == 1
    with store.session(rt.engine) as db:
        row = db.execute(select(store.InboundMessage)).scalar_one()
    assert (row.status, row.attempts, row.error_stage, row.case_id) == ("pending", 0, None, case.id)
    assert events(rt, case)[-1].kind == "reprocess-requested"
    with pytest.raises(csm.ActionRefused, match="no quarantined message"):
        csm.reprocess(rt, case.reference, actor=MORGAN)


# -- reveal ---------------------------------------------------------------------------------
def test_reveal_by_a_revealer_with_a_reason_returns_the_vault_and_is_audited(rt):
    case = make_case(rt)
    with pytest.raises(csm.RevealRefused, match="needs a reason"):
        csm.reveal(rt, case.reference, actor=RIVER, reason=" ")
    assert csm.reveal(rt, case.reference, actor=RIVER, reason="client asked for the letter") == VAULT
    [event] = events(rt, case)
    assert (event.kind, event.actor) == ("vault-revealed", "river")
    assert "client asked for the letter" in event.note
    assert_no_vault_value(event.note, VAULT)


@pytest.mark.parametrize("who", [ALEX, MORGAN, Actor("ada", Role.ADMIN)])
def test_reveal_by_anyone_but_a_revealer_is_refused_and_the_refusal_is_audited(rt, who):
    case = make_case(rt)
    with pytest.raises(csm.RevealRefused) as refused:
        csm.reveal(rt, case.reference, actor=who, reason="curious")
    assert_no_vault_value(str(refused.value), VAULT)
    [event] = events(rt, case)
    assert (event.kind, event.actor) == ("vault-reveal-refused", who.name)


# -- CLI ------------------------------------------------------------------------------------
@pytest.fixture
def cli(settings, monkeypatch):
    from pipeline.cli import app

    for key, value in {
        "PLUMM_DATABASE_URL": settings.database_url,
        "PLUMM_DATA_DIR": str(settings.data_dir),
        "PLUMM_VAULT_KEY": settings.vault_key,
        "PLUMM_HASH_KEY": settings.hash_key,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("getpass.getuser", lambda: "sam")
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(app, list(args), input=input)


def test_cli_walks_a_case_as_the_os_user_and_refuses_an_illegal_transition_with_exit_1(settings, cli):
    rt = Runtime(settings)
    case = make_case(rt)
    ref = case.reference
    assert cli("cases", "approve", ref, "--note", "fine").exit_code == 0
    refused = cli("cases", "approve", ref)
    assert refused.exit_code == 1
    assert f"{ref}: cannot go from approved to approved" in refused.output
    assert cli("cases", "approve", ref, "--actor", "alex").exit_code == 2  # who acts is not self-declared
    for args in (
        ["request-employer", ref],
        ["record-employer", ref, "approved"],
        ["notify-client", ref],
        ["close", ref],
    ):
        result = cli("cases", *args)
        assert result.exit_code == 0, result.output
    shown = cli("cases", "show", ref)
    assert shown.exit_code == 0 and "closed" in shown.output
    assert_no_vault_value(shown.output, VAULT)
    assert {e.actor for e in events(rt, case)} == {"cli:sam"}


def test_cli_reveal_needs_a_revealer_signed_in_and_is_recorded(settings, cli):
    rt = Runtime(settings)
    case = make_case(rt)
    password = "correct horse battery staple"
    assert cli("users", "add", "river", "--role", "revealer", "--password-stdin", input=password + "\n").exit_code == 0
    assert (
        cli(
            "users",
            "add",
            "alex",
            "--role",
            "csm",
            "--account",
            "brightwater",
            "--password-stdin",
            input=password + "\n",
        ).exit_code
        == 0
    )
    no_user = cli("cases", "show", case.reference, "--reveal")
    assert no_user.exit_code == 2 and "--as USER" in no_user.output
    wrong = cli("cases", "show", case.reference, "--reveal", "--as", "river", "--reason", "x", input="guess\n")
    assert wrong.exit_code == 1 and "sign-in failed" in wrong.output
    csm_user = cli("cases", "show", case.reference, "--reveal", "--as", "alex", "--reason", "x", input=password)
    assert csm_user.exit_code == 1 and "may not reveal" in csm_user.output
    for result in (no_user, wrong, csm_user):
        assert_no_vault_value(result.output, VAULT)
    shown = cli(
        "cases",
        "show",
        case.reference,
        "--reveal",
        "--as",
        "river",
        "--reason",
        "subject access request",
        input=password + "\n",
    )
    assert shown.exit_code == 0
    assert "Marigold Featherstonehaugh" in shown.output and "vault-revealed" in shown.output
    assert [(e.kind, e.actor) for e in events(rt, case)] == [
        ("vault-reveal-refused", "alex"),
        ("vault-revealed", "river"),
    ]


def test_cli_users_are_listed_and_disabled(settings, cli):
    password = "correct horse battery staple"
    assert cli("users", "add", "morgan", "--role", "lead", "--password-stdin", input=password).exit_code == 0
    assert cli("users", "add", "morgan", "--role", "lead", "--password-stdin", input=password).exit_code == 1
    assert cli("users", "add", "jo", "--role", "csm", "--password-stdin", input=password).exit_code == 1  # no account
    assert cli("users", "add", "jo", "--role", "boss", "--password-stdin", input=password).exit_code == 1
    assert cli("users", "add", "kim", "--role", "lead", "--password-stdin", input="short").exit_code == 1
    assert cli("users", "add", "kim", "--role", "lead", input=password).exit_code == 2  # never as an argument
    assert cli("users", "disable", "morgan").exit_code == 0
    listing = cli("users", "list").output
    assert "morgan" in listing and "disabled" in listing and password not in listing
    from pipeline import store

    with store.session(Runtime(settings).engine) as db:
        [stored] = db.execute(select(store.ConsoleUser)).scalars().all()
        trail = [(e.actor, e.kind) for e in db.execute(select(store.AuditEvent)).scalars()]
    assert stored.password_hash.startswith("$argon2id$") and password not in stored.password_hash
    assert trail == [("cli:sam", "user-added"), ("cli:sam", "user-disabled")]


def test_cli_decline_needs_a_reason(settings, cli):
    case = make_case(Runtime(settings))
    result = cli("cases", "decline", case.reference)
    assert result.exit_code != 0
    assert cli("cases", "decline", case.reference, "--reason", "no clinical rationale").exit_code == 0
