"""The customer-success manager's actions on a case: assess, ask the employer, tell the client.

This is the service layer the CLI (and any console) calls; permissions and the life cycle are
checked here, never by the caller.

Contract: each action is a plain function ``action(rt, reference, *, actor, note=...)`` that
runs in one transaction: it locks the case, moves it with
:func:`pipeline.cases.lifecycle.transition` (which refuses what the life cycle does not allow and
appends a ``CaseEvent`` with actor and note), queues any email through
:func:`pipeline.outbound.delivery.queue` (sent by the worker loop, or at once by the CLI), and
commits. A refusal raises :class:`~pipeline.cases.lifecycle.TransitionRefused` or
:class:`ActionRefused`; their messages carry the case reference, statuses and counts, never a
value from a letter or the vault.

Only :func:`reveal` returns vault originals, and only to an operator named in
``PLUMM_REVEALERS``; every attempt, granted or refused, is an audit event.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session, col

from pipeline import queue, store
from pipeline.addresses import AddressError, mailbox
from pipeline.cases.lifecycle import S, TransitionRefused, add_event, transition
from pipeline.cases.routing import UNASSIGNED, Account, is_sender, vault_values
from pipeline.cases.vault import case_vault, leaked_types
from pipeline.outbound import delivery
from pipeline.outbound.messages import compose, render
from pipeline.patterns import is_case_reference
from pipeline.queue import INBOUND

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

__all__ = [
    "ActionRefused",
    "CaseNotFound",
    "RevealRefused",
    "TransitionRefused",
    "approve",
    "assign",
    "close",
    "decline",
    "notify_client",
    "record_employer",
    "reprocess",
    "request_employer",
    "retry_messages",
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


def _mail(rt: Runtime, *, to: str, subject: str, text: str, html: str) -> EmailMessage:
    """A message from us to one person; their reply comes back to the intake address and threads."""
    sender = rt.settings.sender_address
    return compose(
        sender=sender,
        message_id_domain=rt.settings.effective_message_id_domain,
        to=to,
        subject=subject,
        text=text,
        html=html,
        reply_to=sender,
    )


def _account(rt: Runtime, case: store.Case) -> Account:
    directory = rt.accounts
    account = directory.get(case.account)
    if account is None:
        raise ActionRefused(
            f"{case.reference}: no employer account assigned (in the '{UNASSIGNED}' queue); "
            f"the team lead assigns one with `plumm cases assign {case.reference} ACCOUNT`"
        )
    return account


# -- assessment -----------------------------------------------------------------------------
def approve(rt: Runtime, reference: str, *, actor: str, note: str = "") -> store.Case:
    with _locked_case(rt, reference) as (db, case):
        transition(db, case, S.APPROVED, actor=actor, kind="approved", note=note)
    return case


def decline(rt: Runtime, reference: str, *, actor: str, reason: str) -> store.Case:
    if not reason.strip():
        raise ActionRefused("a reason is required to decline a case")
    with _locked_case(rt, reference) as (db, case):
        transition(db, case, S.DECLINED, actor=actor, kind="declined", note=reason.strip())
    return case


def close(rt: Runtime, reference: str, *, actor: str, note: str = "") -> store.Case:
    with _locked_case(rt, reference) as (db, case):
        transition(db, case, S.CLOSED, actor=actor, kind="closed", note=note)
    return case


def assign(rt: Runtime, reference: str, account_id: str, *, actor: str, note: str = "") -> store.Case:
    """The team lead routes a case by hand (from the unassigned queue, or to correct routing)."""
    directory = rt.accounts
    if account_id != UNASSIGNED and directory.get(account_id) is None:
        known = ", ".join(a.id for a in directory.accounts) or "none"
        raise ActionRefused(f"no account '{account_id}' in accounts.yaml; known: {known}")
    with _locked_case(rt, reference) as (db, case):
        previous = case.account or UNASSIGNED
        case.account = account_id
        db.add(case)
        add_event(
            db,
            case,
            actor=actor,
            kind="account-assigned",
            note=f"{previous} -> {account_id} (by hand)" + (f": {note}" if note else ""),
        )
    return case


# -- employer -------------------------------------------------------------------------------
def employer_request(rt: Runtime, case: store.Case, account: Account) -> EmailMessage:
    """The anonymous request: reference, sessions, period, the redacted recommendation sentence."""
    evidence = str((case.sections.get("recommendation") or {}).get("evidence") or "").strip()
    context = {
        "case_ref": case.reference,
        "sessions_requested": case.sessions_requested,
        "period": case.period,
        "recommendation": evidence,
        "employer": account.name,
    }
    text, html = render("employer_request", rules_dir=rt.settings.rules_dir, **context)
    sessions = f"{case.sessions_requested} additional" if case.sessions_requested else "Additional"
    subject = f"[{case.reference}] {sessions} therapy sessions for an employee: your approval"
    return _mail(rt, to=account.hr_contact, subject=subject, text=text, html=html)


def request_employer(rt: Runtime, reference: str, *, actor: str, note: str = "") -> store.Case:
    with _locked_case(rt, reference) as (db, case):
        transition(db, case, S.EMPLOYER_CONTACTED, actor=actor, kind="employer-requested", note=note)
        account = _account(rt, case)
        message = employer_request(rt, case, account)
        leaks = leaked_types(case_vault(rt.cipher, case), _body(message))
        if leaks:
            raise ActionRefused(
                f"{case.reference}: the employer request would contain a vaulted value ({', '.join(leaks)}); not sent"
            )
        delivery.enqueue(db, rt, message, kind="employer-request", case_id=case.id, to=account.hr_contact)
    return case


def record_employer(rt: Runtime, reference: str, decision: str, *, actor: str, note: str = "") -> store.Case:
    targets = {"approved": S.EMPLOYER_APPROVED, "declined": S.EMPLOYER_DECLINED}
    if decision not in targets:
        raise ActionRefused("the employer's decision must be 'approved' or 'declined'")
    with _locked_case(rt, reference) as (db, case):
        transition(db, case, targets[decision], actor=actor, kind="employer-recorded", note=note)
    return case


# -- client ---------------------------------------------------------------------------------
def client_addresses(rt: Runtime, case: store.Case) -> list[str]:
    """Email originals in the vault that can be the client's.

    Not the sender's (the therapist or practice, matched by keyed hash), nor others on the
    sender's domain, nor known therapists', nor ours. If several remain, the ones on the
    account's own domains (a work address) win.
    """
    vault = case_vault(rt.cipher, case)
    emails = list(dict.fromkeys(e.strip().lower() for e in vault_values(vault, "EMAIL")))
    sender = is_sender(rt.hash_key, case)
    sender_domains = {e.rpartition("@")[2] for e in emails if sender(e)}
    own_domains = {a.rpartition("@")[2].lower() for a in [rt.settings.sender_address, *rt.settings.intake_addresses]}
    therapists = rt.therapists
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
    text, html = render("client_notification", rules_dir=rt.settings.rules_dir, **context)
    subject = (
        f"[{case.reference}] Your additional therapy sessions are approved"
        if approved
        else f"[{case.reference}] About your request for additional therapy sessions"
    )
    return _mail(rt, to=to, subject=subject, text=text, html=html)


def notify_client(rt: Runtime, reference: str, *, actor: str, to: str | None = None, note: str = "") -> store.Case:
    with _locked_case(rt, reference) as (db, case):
        approved = case.status == S.EMPLOYER_APPROVED
        transition(
            db,
            case,
            S.CLIENT_NOTIFIED,
            actor=actor,
            kind="client-notified",
            note=note or ("approved" if approved else "declined"),
        )
        if to is not None:
            try:
                address = mailbox(to)
            except AddressError as exc:
                raise ActionRefused("--to must be one email address") from exc
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
        try:
            message = client_notification(rt, case, to=address, approved=approved)
        except AddressError as exc:  # a vaulted value that is no deliverable address ("jo at x dot org")
            raise ActionRefused(
                f"{case.reference}: the client's address is not one e-mail address; pass --to ADDRESS"
            ) from exc
        delivery.enqueue(db, rt, message, kind="client-notification", case_id=case.id, to=address)
    return case


# -- operators ------------------------------------------------------------------------------
def reprocess(rt: Runtime, reference: str, *, actor: str, note: str = "") -> int:
    """Re-queue the case's quarantined messages; the worker re-runs them into this same case."""
    with _locked_case(rt, reference) as (db, case):
        count = queue.requeue(db, INBOUND, col(store.InboundMessage.case_id) == case.id)
        if not count:
            raise ActionRefused(f"{case.reference}: no quarantined message to reprocess")
        add_event(
            db,
            case,
            actor=actor,
            kind="reprocess-requested",
            note=f"{count} message(s) re-queued" + (f": {note}" if note else ""),
        )
    return count


def retry_messages(rt: Runtime, *, ids: Sequence[int] = (), actor: str) -> int:
    """Re-queue quarantined inbound messages (these ids, or all of them): each re-runs into the case
    it belongs to, which records who asked (``plumm inbound retry``)."""
    M = store.InboundMessage
    condition = col(M.id).in_(list(ids)) if ids else None
    with store.session(rt.engine) as db:
        query = select(col(M.case_id)).where(col(M.status) == INBOUND.failed)
        case_ids = db.execute(query if condition is None else query.where(condition)).scalars().all()
        count = queue.requeue(db, INBOUND, condition)
        for case_id in sorted({c for c in case_ids if c is not None}):
            case = db.get(store.Case, case_id)
            if case is not None:
                add_event(db, case, actor=actor, kind="reprocess-requested", note="message re-queued (inbound retry)")
        db.commit()
    return count


def reveal(rt: Runtime, reference: str, *, operator: str) -> dict[str, str]:
    """The vault (placeholder -> original), for an operator named in PLUMM_REVEALERS only. Audited."""
    operator = operator.strip()
    allowed = operator and operator in rt.settings.revealers
    with _locked_case(rt, reference) as (db, case):
        if not allowed:
            add_event(
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
        vault = case_vault(rt.cipher, case)
        add_event(db, case, actor=operator, kind="vault-revealed", note=f"operator {operator}; {len(vault)} value(s)")
    return vault


def _body(message: EmailMessage) -> str:
    parts = [message.get("Subject", "")]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)
