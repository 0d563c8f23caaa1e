"""Routing: which employer account a case belongs to, and so which CSM and HR contact handle it.

Contract: ``rules/accounts.yaml`` is loaded into :class:`AccountsFile` (validated; a broken
file raises :class:`~pipeline.rules.RulesError` naming the file and the key).
:func:`route` maps a case's vault (placeholder -> original) to an account id by the client's
work email domain (``[EMAIL_n]`` values) or the employer's name (``[EMPLOYER_n]``/``[ORG_n]``
values); anything unknown or ambiguous goes to :data:`UNASSIGNED`, the team lead's queue.
The recording stores the result on the case (``pipeline.cases.recording.assign_account``) with an
event that names the account and *how* it matched (a fixed code), never the matched value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import field_validator, model_validator

from pipeline import store
from pipeline.addresses import mail_domains, mailbox
from pipeline.patterns import vault_key_number, vault_key_type
from pipeline.rules import RuleModel, load_rules

RULES_FILE = "accounts.yaml"
UNASSIGNED = "unassigned"

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_LEGAL_SUFFIXES = {
    "ltd",
    "limited",
    "plc",
    "llp",
    "llc",
    "inc",
    "incorporated",
    "co",
    "company",
    "group",
    "uk",
    "the",
    "gmbh",
    "corp",
    "corporation",
}
EMPLOYER_TYPES = ("EMPLOYER", "ORG")


def normalise_name(value: str) -> str:
    """Case, punctuation, '&'/'and' and legal suffixes do not distinguish employers."""
    words = re.findall(r"[a-z0-9]+", value.lower().replace("&", " and "))
    while words and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    while words and words[0] == "the":
        words.pop(0)
    return " ".join(w for w in words if w != "and")


class Account(RuleModel):
    id: str
    name: str
    aliases: list[str] = []
    domains: list[str] = []
    csm: str
    hr_contact: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("must be lower-case letters, digits and '-'")
        if value == UNASSIGNED:
            raise ValueError(f"'{UNASSIGNED}' is reserved for the team lead's queue")
        return value

    @field_validator("csm", "hr_contact")
    @classmethod
    def _addresses(cls, value: str) -> str:
        return mailbox(value).lower()

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return mail_domains(value)

    def names(self) -> set[str]:
        return {n for n in (normalise_name(x) for x in (self.name, *self.aliases)) if n}

    def owns_domain(self, domain: str) -> bool:
        domain = domain.lower()
        return any(domain == d or domain.endswith("." + d) for d in self.domains)


class AccountsFile(RuleModel):
    team_lead: str
    booking_instructions: str
    accounts: list[Account] = []

    @field_validator("team_lead")
    @classmethod
    def _lead(cls, value: str) -> str:
        return mailbox(value).lower()

    @model_validator(mode="after")
    def _unique(self) -> AccountsFile:
        seen_ids: set[str] = set()
        seen_domains: dict[str, str] = {}
        seen_names: dict[str, str] = {}
        for account in self.accounts:
            if account.id in seen_ids:
                raise ValueError(f"accounts: id '{account.id}' appears twice")
            seen_ids.add(account.id)
            for domain in account.domains:
                if domain in seen_domains:
                    raise ValueError(
                        f"accounts: domain '{domain}' belongs to both '{seen_domains[domain]}' and '{account.id}'"
                    )
                seen_domains[domain] = account.id
            for name in account.names():
                if name in seen_names and seen_names[name] != account.id:
                    raise ValueError(f"accounts: name '{name}' belongs to both '{seen_names[name]}' and '{account.id}'")
                seen_names[name] = account.id
        return self

    def get(self, account_id: str | None) -> Account | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    def csm_for(self, account_id: str | None) -> str:
        """Who reads this account's cases: its CSM, or the team lead for the unassigned queue."""
        account = self.get(account_id)
        return account.csm if account is not None else self.team_lead


def load_accounts(rules_dir: Path) -> AccountsFile:
    return load_rules(Path(rules_dir) / RULES_FILE, AccountsFile)


@dataclass(frozen=True, slots=True)
class Route:
    account: str  # an account id or UNASSIGNED
    matched_by: str  # fixed code: "email-domain", "employer-name", "none", "ambiguous"


def vault_values(vault: Mapping[str, str], *types: str) -> list[str]:
    """Originals of the given entity types, in placeholder order ([EMAIL_1], [EMAIL_2], ...)."""
    found: list[tuple[str, int, str]] = []
    for placeholder, original in vault.items():
        entity_type, number = vault_key_type(placeholder), vault_key_number(placeholder)
        if entity_type in types and number is not None:
            found.append((entity_type, number, original))
    return [original for _t, _n, original in sorted(found)]


def route(
    directory: AccountsFile, vault: Mapping[str, str], *, ignore_email: Callable[[str], bool] = lambda _e: False
) -> Route:
    """The account a case belongs to. Email domain wins over employer name; a tie is ambiguous."""
    by_domain = {
        account.id
        for email in vault_values(vault, "EMAIL")
        if not ignore_email(email)
        for account in directory.accounts
        if account.owns_domain(email.rpartition("@")[2])
    }
    if len(by_domain) == 1:
        return Route(by_domain.pop(), "email-domain")
    if len(by_domain) > 1:
        return Route(UNASSIGNED, "ambiguous")
    names = {normalise_name(v) for v in vault_values(vault, *EMPLOYER_TYPES)} - {""}
    by_name = {account.id for account in directory.accounts if account.names() & names}
    if len(by_name) == 1:
        return Route(by_name.pop(), "employer-name")
    return Route(UNASSIGNED, "ambiguous" if by_name else "none")


def is_sender(hash_key: bytes, case: store.Case) -> Callable[[str], bool]:
    """True for the address that sent the letter (the therapist or their practice), by keyed hash."""
    return lambda email: bool(case.sender_hash) and store.keyed_hash(hash_key, email) == case.sender_hash
