"""The customer-success manager's actions on a case: assess, ask the employer, tell the client.

Contract: each action is a plain function ``action(rt, reference, *, actor, note=...)`` that
runs in one transaction: it locks the case, moves it with :func:`pipeline.cases.transition`
(which refuses what the life cycle does not allow and appends a ``CaseEvent`` with actor and
note), queues any email through :func:`pipeline.delivery.queue` (delivered by the worker loop
or :func:`pipeline.delivery.deliver_pending`), and commits. A refusal raises
:class:`~pipeline.cases.TransitionRefused` or :class:`ActionRefused`; their messages carry the
case reference, statuses and counts, never a value from a letter or the vault.

Only :func:`reveal` returns vault originals, and only to an operator named in
``PLUMM_REVEALERS``; every attempt, granted or refused, is an audit event.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from pipeline import accounts, cases, delivery, outbox, store
from pipeline.cases import TransitionRefused
from pipeline.models import CaseStatus
from pipeline.patterns import is_case_reference, vault_key_type
from pipeline.stages.signals import load_therapist_directory

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

S = CaseStatus
MSGID_DOMAIN = "heyplumm.com"
# Vault types whose originals are not identifying on their own (neutralised words); they are not
# used by the outgoing-mail leak check, which would otherwise trip over ordinary words.
NON_IDENTIFYING_TYPES = {"PRONOUN", "TITLE", "GENDER"}

__all__ = [
    "ActionRefused",
    "CaseNotFound",
    "RevealRefused",
    "TransitionRefused",
    "approve",
    "assign",
    "close",
    "compose",
    "decline",
    "leaked_types",
    "notify_client",
    "record_employer",
    "reprocess",
    "request_employer",
    "reveal",
]


class ActionRefused(Exception):
    """The action cannot be done on this case now; the message says why (reference and counts only)."""


class CaseNotFound(ActionRefused):
    pass


class RevealRefused(ActionRefused):
    pass


# -- plumbing -------------------------------------------------------------------------------
@contextmanager
def _locked_case(rt: Runtime, reference: str) -> Iterator[tuple[Session, store.Case]]:
    """One transaction on one case, row-locked so two CSMs cannot move it at once."""
    reference = reference.strip().upper()
    if not is_case_reference(reference):
        raise CaseNotFound("not a case reference (expected PLM-YYYY-NNNNNN)")
    with store.session(rt.engine) as db:
        case = db.execute(
            select(store.Case).where(col(store.Case.reference) == reference).with_for_update()
        ).scalar_one_or_none()
        if case is None:
            raise CaseNotFound(f"no case {reference}")
        yield db, case
        db.commit()


def _single_address(value: str, *, what: str) -> str:
    cleaned = "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()
    _, addr = parseaddr(cleaned)
    local, at, domain = addr.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or "@" in domain
        or "," in cleaned
        or ";" in cleaned
        or any(c.isspace() or c in '<>"()[]\\:' for c in addr)
    ):
        raise ActionRefused(f"{what} must be one email address")
    return addr


def compose(rt: Runtime, *, to: str, subject: str, text: str, html: str) -> EmailMessage:
    """One recipient in To, no Cc/Bcc; replies come back to the intake address and thread."""
    sender = rt.settings.sender_address
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = Address(display_name="Plumm", addr_spec=sender)
    message["To"] = to
    message["Reply-To"] = sender
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=MSGID_DOMAIN)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def leaked_types(vault: Mapping[str, str], *texts: str) -> list[str]:
    """Entity types of vault originals that appear (as whole words) in any of ``texts``."""
    found: set[str] = set()
    for placeholder, original in vault.items():
        kind = vault_key_type(placeholder) or "UNKNOWN"
        value = original.strip()
        if kind in NON_IDENTIFYING_TYPES or len(value) < 3:
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(value) + r"(?!\w)", re.IGNORECASE)
        if any(pattern.search(t) for t in texts):
            found.add(kind)
    return sorted(found)


def _account(rt: Runtime, case: store.Case) -> accounts.Account:
    directory = rt.accounts
    account = directory.get(case.account)
    if account is None:
        raise ActionRefused(
            f"{case.reference}: no employer account assigned (in the '{accounts.UNASSIGNED}' queue); "
            f"the team lead assigns one with `plumm cases assign {case.reference} ACCOUNT`"
        )
    return account


# -- assessment -----------------------------------------------------------------------------
def approve(rt: Runtime, reference: str, *, actor: str, note: str = "") -> store.Case:
    with _locked_case(rt, reference) as (db, case):
        cases.transition(db, case, S.APPROVED, actor=actor, kind="approved", note=note)
    return case


def decline(rt: Runtime, reference: str, *, actor: str, reason: str) -> store.Case:
    if not reason.strip():
        raise ActionRefused("a reason is required to decline a case")
    with _locked_case(rt, reference) as (db, case):
        cases.transition(db, case, S.DECLINED, actor=actor, kind="declined", note=reason.strip())
    return case


def close(rt: Runtime, reference: str, *, actor: str, note: str = "") -> store.Case:
    with _locked_case(rt, reference) as (db, case):
        cases.transition(db, case, S.CLOSED, actor=actor, kind="closed", note=note)
    return case


def assign(rt: Runtime, reference: str, account_id: str, *, actor: str, note: str = "") -> store.Case:
    """The team lead routes a case by hand (from the unassigned queue, or to correct routing)."""
    directory = rt.accounts
    if account_id != accounts.UNASSIGNED and directory.get(account_id) is None:
        known = ", ".join(a.id for a in directory.accounts) or "none"
        raise ActionRefused(f"no account '{account_id}' in accounts.yaml; known: {known}")
    with _locked_case(rt, reference) as (db, case):
        previous = case.account or accounts.UNASSIGNED
        case.account = account_id
        db.add(case)
        cases.add_event(
            db,
            case,
            actor=actor,
            kind="account-assigned",
            note=f"{previous} -> {account_id} (by hand)" + (f": {note}" if note else ""),
        )
    return case


# -- employer -------------------------------------------------------------------------------
def employer_request(rt: Runtime, case: store.Case, account: accounts.Account) -> EmailMessage:
    """The anonymous request: reference, sessions, period, the redacted recommendation sentence."""
    evidence = str((case.sections.get("recommendation") or {}).get("evidence") or "").strip()
    context = {
        "case_ref": case.reference,
        "sessions_requested": case.sessions_requested,
        "period": case.period,
        "recommendation": evidence,
        "employer": account.name,
    }
    text, html = outbox.render("employer_request", rules_dir=rt.settings.rules_dir, **context)
    sessions = f"{case.sessions_requested} additional" if case.sessions_requested else "Additional"
    subject = f"[{case.reference}] {sessions} therapy sessions for an employee: your approval"
    return compose(rt, to=account.hr_contact, subject=subject, text=text, html=html)


def request_employer(rt: Runtime, reference: str, *, actor: str, note: str = "") -> store.Case:
    with _locked_case(rt, reference) as (db, case):
        cases.transition(db, case, S.EMPLOYER_CONTACTED, actor=actor, kind="employer-requested", note=note)
        account = _account(rt, case)
        message = employer_request(rt, case, account)
        leaks = leaked_types(cases.case_vault(rt, case), _body(message))
        if leaks:
            raise ActionRefused(
                f"{case.reference}: the employer request would contain a vaulted value ({', '.join(leaks)}); not sent"
            )
        delivery.queue(db, rt, message, kind="employer-request", case_id=case.id, to=account.hr_contact)
    return case


def record_employer(rt: Runtime, reference: str, decision: str, *, actor: str, note: str = "") -> store.Case:
    targets = {"approved": S.EMPLOYER_APPROVED, "declined": S.EMPLOYER_DECLINED}
    if decision not in targets:
        raise ActionRefused("the employer's decision must be 'approved' or 'declined'")
    with _locked_case(rt, reference) as (db, case):
        cases.transition(db, case, targets[decision], actor=actor, kind="employer-recorded", note=note)
    return case


# -- client ---------------------------------------------------------------------------------
def client_addresses(rt: Runtime, case: store.Case) -> list[str]:
    """Email originals in the vault that can be the client's.

    Not the sender's (the therapist or practice, matched by keyed hash), nor others on the
    sender's domain, nor known therapists', nor ours. If several remain, the ones on the
    account's own domains (a work address) win.
    """
    vault = cases.case_vault(rt, case)
    emails = list(dict.fromkeys(e.strip().lower() for e in accounts.vault_values(vault, "EMAIL")))
    sender = accounts.is_sender(rt, case)
    sender_domains = {e.rpartition("@")[2] for e in emails if sender(e)}
    own_domains = {a.rpartition("@")[2].lower() for a in [rt.settings.sender_address, *rt.settings.intake_addresses]}
    therapists = load_therapist_directory(rt.settings.rules_dir)
    excluded_domains = sender_domains | own_domains
    candidates = [
        e for e in emails if not sender(e) and e.rpartition("@")[2] not in excluded_domains and not therapists.knows(e)
    ]
    if len(candidates) > 1:
        directory = rt.accounts
        account = directory.get(case.account)
        work = [e for e in candidates if account is not None and account.owns_domain(e.rpartition("@")[2])]
        if len(work) == 1:
            return work
    return candidates


def client_notification(rt: Runtime, case: store.Case, *, to: str, approved: bool) -> EmailMessage:
    directory = rt.accounts
    context = {
        "case_ref": case.reference,
        "approved": approved,
        "sessions_requested": case.sessions_requested,
        "period": case.period,
        "booking_instructions": directory.booking_instructions,
    }
    text, html = outbox.render("client_notification", rules_dir=rt.settings.rules_dir, **context)
    subject = (
        f"[{case.reference}] Your additional therapy sessions are approved"
        if approved
        else f"[{case.reference}] About your request for additional therapy sessions"
    )
    return compose(rt, to=to, subject=subject, text=text, html=html)


def notify_client(rt: Runtime, reference: str, *, actor: str, to: str | None = None, note: str = "") -> store.Case:
    with _locked_case(rt, reference) as (db, case):
        approved = case.status == S.EMPLOYER_APPROVED
        cases.transition(
            db,
            case,
            S.CLIENT_NOTIFIED,
            actor=actor,
            kind="client-notified",
            note=note or ("approved" if approved else "declined"),
        )
        if to is not None:
            address = _single_address(to, what="--to")
        else:
            found = client_addresses(rt, case)
            if len(found) != 1:
                problem = (
                    "no client address in the vault"
                    if not found
                    else f"{len(found)} possible client addresses in the vault"
                )
                raise ActionRefused(
                    f"{case.reference}: {problem}; pass --to ADDRESS "
                    f"(see them with `plumm cases show {case.reference} --reveal`)"
                )
            address = found[0]
        message = client_notification(rt, case, to=address, approved=approved)
        delivery.queue(db, rt, message, kind="client-notification", case_id=case.id, to=address)
    return case


# -- operators ------------------------------------------------------------------------------
def reprocess(rt: Runtime, reference: str, *, actor: str, note: str = "") -> int:
    """Re-queue the case's quarantined messages; the worker re-runs them into this same case."""
    with _locked_case(rt, reference) as (db, case):
        M = store.InboundMessage
        mine = (col(M.case_id) == case.id) & (col(M.status) == store.MessageStatus.QUARANTINED)
        count = db.execute(select(func.count()).select_from(M).where(mine)).scalar_one()
        if not count:
            raise ActionRefused(f"{case.reference}: no quarantined message to reprocess")
        db.execute(
            update(M)
            .where(mine)
            .values(
                status=store.MessageStatus.PENDING,
                attempts=0,
                not_before=None,
                lease_until=None,
                worker_id=None,
                error_stage=None,
                error_reason=None,
                processed_at=None,
            )
        )
        cases.add_event(
            db,
            case,
            actor=actor,
            kind="reprocess-requested",
            note=f"{count} message(s) re-queued" + (f": {note}" if note else ""),
        )
    return int(count)


def reveal(rt: Runtime, reference: str, *, operator: str) -> dict[str, str]:
    """The vault (placeholder -> original), for an operator named in PLUMM_REVEALERS only. Audited."""
    operator = operator.strip()
    allowed = operator and operator in rt.settings.revealers
    with _locked_case(rt, reference) as (db, case):
        if not allowed:
            cases.add_event(
                db,
                case,
                actor=operator or "(unnamed)",
                kind="vault-reveal-refused",
                note=f"operator {operator or '(unnamed)'} is not in PLUMM_REVEALERS",
            )
            db.commit()
            raise RevealRefused(
                f"{case.reference}: operator '{operator}' may not reveal the vault "
                f"(not in PLUMM_REVEALERS); the attempt is recorded"
            )
        vault = cases.case_vault(rt, case)
        cases.add_event(
            db, case, actor=operator, kind="vault-revealed", note=f"operator {operator}; {len(vault)} value(s)"
        )
    return vault


def _body(message: EmailMessage) -> str:
    parts = [message.get("Subject", "")]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)
