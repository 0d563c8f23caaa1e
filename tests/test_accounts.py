"""Accounts: the rules file, routing by work email domain or employer name, and assignment."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from pipeline import store
from pipeline.cases.recording import assign_account
from pipeline.cases.routing import UNASSIGNED, Route, load_accounts, route
from pipeline.rules import DEFAULT_RULES_DIR, RulesError
from pipeline.runtime import Runtime
from tests.test_csm import THERAPIST_EMAIL, VAULT, make_case

GOOD = """
team_lead: lead@plumm-staff.example
booking_instructions: Book in the app.
accounts:
  - id: acme
    name: Acme Widgets Ltd
    aliases: [Acme]
    domains: [acme.example]
    csm: csm@plumm-staff.example
    hr_contact: hr@acme.example
  - id: zenith
    name: Zenith & Partners
    domains: [zenith.example]
    csm: csm2@plumm-staff.example
    hr_contact: hr@zenith.example
"""


@pytest.fixture
def rt(settings):
    return Runtime(settings)


@pytest.fixture
def directory(tmp_path):
    (tmp_path / "accounts.yaml").write_text(GOOD)
    return load_accounts(tmp_path)


def test_the_shipped_accounts_file_loads():
    directory = load_accounts(DEFAULT_RULES_DIR)
    assert directory.accounts and directory.team_lead.endswith(".example")
    for account in directory.accounts:
        assert account.csm.endswith(".example") and account.hr_contact.endswith(".example")
        assert all(d.endswith(".example") for d in account.domains)


@pytest.mark.parametrize(
    "vault,expected",
    [
        ({"[EMAIL_1]": "pat@acme.example"}, Route("acme", "email-domain")),
        ({"[EMAIL_1]": "Pat@HR.Acme.Example"}, Route("acme", "email-domain")),  # subdomain, any case
        ({"[EMPLOYER_1]": "ACME WIDGETS LIMITED"}, Route("acme", "employer-name")),
        ({"[EMPLOYER_1]": "Acme Widgets Ltd."}, Route("acme", "employer-name")),
        ({"[ORG_2]": "Zenith and Partners"}, Route("zenith", "employer-name")),
        ({"[EMAIL_1]": "pat@zenith.example", "[EMPLOYER_1]": "Acme"}, Route("zenith", "email-domain")),
        ({"[EMAIL_1]": "pat@acme.example", "[EMAIL_2]": "sam@zenith.example"}, Route(UNASSIGNED, "ambiguous")),
        ({"[EMPLOYER_1]": "Acme", "[EMPLOYER_2]": "Zenith & Partners"}, Route(UNASSIGNED, "ambiguous")),
        ({"[EMAIL_1]": "pat@notacme.example", "[EMPLOYER_1]": "Acme Widgets North"}, Route(UNASSIGNED, "none")),
        ({"[PERSON_1]": "Acme"}, Route(UNASSIGNED, "none")),  # only employer and email types route
        ({}, Route(UNASSIGNED, "none")),
    ],
)
def test_route_by_work_email_domain_or_employer_name_else_unassigned(directory, vault, expected):
    assert route(directory, vault) == expected


def test_route_ignores_the_senders_own_address(directory):
    vault = {"[EMAIL_1]": "therapist@acme.example"}
    assert route(directory, vault, ignore_email=lambda e: e == "therapist@acme.example").account == UNASSIGNED


@pytest.mark.parametrize(
    "broken,key",
    [
        ("team_lead: lead@x.example\naccounts: []\n", "booking_instructions"),
        (GOOD.replace("csm: csm@plumm-staff.example", "csm: not-an-address"), "accounts.0.csm"),
        (GOOD.replace("hr_contact: hr@acme.example", "hr_contatc: hr@acme.example"), "accounts.0"),
        (GOOD.replace("id: zenith", "id: acme"), "id 'acme' appears twice"),
        (GOOD.replace("domains: [zenith.example]", "domains: [acme.example]"), "domain 'acme.example'"),
        (GOOD.replace("id: acme", "id: unassigned"), "accounts.0.id"),
        (GOOD.replace("domains: [acme.example]", "domains: [acme.example"), "not valid YAML"),
    ],
)
def test_a_broken_accounts_file_fails_naming_file_and_key(tmp_path, broken, key):
    (tmp_path / "accounts.yaml").write_text(broken)
    with pytest.raises(RulesError) as error:
        load_accounts(tmp_path)
    assert "accounts.yaml" in str(error.value) and key in str(error.value)


def test_assign_account_records_the_account_and_how_it_matched_never_the_value(rt):
    case = make_case(rt, account=None)
    with store.session(rt.engine) as db:
        fresh = db.get(store.Case, case.id)
        assert assign_account(rt, db, fresh) == "brightwater"  # by the client's work address
        db.commit()
        event = db.execute(select(store.CaseEvent).where(store.CaseEvent.case_id == case.id)).scalar_one()
    assert (event.kind, event.note) == ("account-assigned", "brightwater (email-domain)")
    assert all(v.lower() not in event.note.lower() for v in VAULT.values())


def test_assign_account_does_not_route_by_the_therapists_address(rt, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    text = (rules / "accounts.yaml").read_text()
    text = text.replace("[northgate-ce.example]", "[northgate-ce.example, clinic.example]")
    (rules / "accounts.yaml").write_text(text)
    rt2 = Runtime(rt.settings.model_copy(update={"rules_dir": rules}))
    vault = {"[EMAIL_1]": THERAPIST_EMAIL, "[EMPLOYER_1]": "Brightwater Logistics Ltd"}
    case = make_case(rt2, account=None, vault=vault)
    with store.session(rt2.engine) as db:
        fresh = db.get(store.Case, case.id)
        assert assign_account(rt2, db, fresh) == "brightwater"  # not northgate


def test_assign_account_with_a_broken_file_leaves_the_case_unassigned(rt, tmp_path):
    (tmp_path / "accounts.yaml").write_text("accounts: [")
    rt2 = Runtime(rt.settings.model_copy(update={"rules_dir": tmp_path}))
    case = make_case(rt2, account=None)
    with store.session(rt2.engine) as db:
        fresh = db.get(store.Case, case.id)
        assert assign_account(rt2, db, fresh) == UNASSIGNED
