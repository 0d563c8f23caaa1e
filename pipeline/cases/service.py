"""The customer-success manager's actions on a case: assess, ask the employer, tell the client.

This is the service layer the CLI and the web console call; permissions
(:mod:`pipeline.cases.permissions`) and the life cycle are checked here, never by the caller.

Contract: each action is a plain function ``action(rt, reference, *, actor, note=...)`` that
runs in one transaction: it locks the case, checks that the :class:`~pipeline.cases.permissions.Actor`
may do it, moves it with :func:`pipeline.cases.lifecycle.transition` (which refuses what the life
cycle does not allow and appends a ``CaseEvent`` with the actor and note), queues any email through
:func:`pipeline.outbound.delivery.enqueue` (sent by the worker loop, or at once by the CLI), and
commits. A refusal raises :class:`~pipeline.cases.lifecycle.TransitionRefused`,
:class:`~pipeline.cases.permissions.PermissionRefused` or :class:`ActionRefused`; their messages
carry the case reference, statuses, roles and counts, never a value from a letter or the vault. A
note a person types is refused if it holds a value of the case's vault (it would be shown on the
case's trail).

Only :func:`reveal` returns vault originals, and only to a signed-in ``revealer`` who types a
reason; every attempt, granted or refused, is an audit event.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session, col

from pipeline import queue, store
from pipeline.addresses import AddressError, mailbox
from pipeline.cases.lifecycle import S, TransitionRefused, add_event, transition
from pipeline.cases.permissions import Action, Actor, PermissionRefused, check
from pipeline.cases.routing import EMPLOYER_TYPES, UNASSIGNED, Account, is_sender, normalise_name, vault_values
from pipeline.cases.vault import case_vault, leaked_types
from pipeline.outbound import delivery
from pipeline.outbound.messages import compose, render
from pipeline.patterns import is_case_reference, new_client_reference, vault_key_type
from pipeline.queue import INBOUND

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

__all__ = [
    "ActionRefused",
    "CaseNotFound",
    "PermissionRefused",
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

# A case that ends here has run its course; closing it any earlier needs a reason.
NATURAL_ENDS = {S.DECLINED, S.CLIENT_NOTIFIED}


class ActionRefused(Exception):
    """The action cannot be done on this case now; the message says why (reference and counts only)."""


class CaseNotFound(ActionRefused):
    pass


class RevealRefused(ActionRefused):
    pass


# -- plumbing -------------------------------------------------------------------------------
@contextmanager
def _locked_case(
    rt: Runtime, reference: str, actor: Actor, action: Action | None
) -> Iterator[tuple[Session, store.Case]]:
    """One transaction on one case, row-locked so two CSMs cannot move it at once, after checking
    that ``actor`` may do ``action`` on it (None: the caller checks, to audit a refusal)."""
    reference = reference.strip().upper()
    if not is_case_reference(reference):
        raise CaseNotFound("not a case reference (expected PLM-YYYY-NNNNNN)")
    with store.session(rt.engine) as db:
        case = db.execute(
            select(store.Case).where(col(store.Case.reference) == reference).with_for_update()
        ).scalar_one_or_none()
        if case is None or not actor.may(Action.VIEW, case):  # a case one may not see is no case
            raise CaseNotFound(f"no case {reference}")
        if action is not None:
            check(actor, action, case)
        yield db, case
        db.commit()


def _note(rt: Runtime, case: store.Case, note: str, *, what: str = "the note") -> str:
    """A note typed by a person, refused if it holds a value of the case's vault: notes are shown on
    the case's trail, to every CSM who may see the case."""
    note = " ".join(note.split())
    leaks = leaked_types(case_vault(rt.cipher, case), note) if note else []
    if leaks:
        raise ActionRefused(
            f"{case.reference}: {what} holds a detail removed from the letter ({', '.join(leaks)}); write it without"
        )
    return note


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
def approve(rt: Runtime, reference: str, *, actor: Actor, note: str = "") -> store.Case:
    with _locked_case(rt, reference, actor, Action.ASSESS) as (db, case):
        transition(db, case, S.APPROVED, actor=actor.label, kind="approved", note=_note(rt, case, note))
    return case


def decline(rt: Runtime, reference: str, *, actor: Actor, reason: str) -> store.Case:
    if not reason.strip():
        raise ActionRefused("a reason is required to decline a case")
    with _locked_case(rt, reference, actor, Action.ASSESS) as (db, case):
        reason = _note(rt, case, reason, what="the reason")
        transition(db, case, S.DECLINED, actor=actor.label, kind="declined", note=reason)
    return case


def close(rt: Runtime, reference: str, *, actor: Actor, note: str = "") -> store.Case:
    """Close a case: at its natural end (declined, client told), or earlier with a reason (a
    withdrawn request, an employer who never answers, a message that was never a letter)."""
    with _locked_case(rt, reference, actor, Action.ASSESS) as (db, case):
        note = _note(rt, case, note)
        if case.status not in NATURAL_ENDS and case.status != S.CLOSED and not note:
            raise ActionRefused(f"{case.reference}: closing a case that is {case.status} needs a reason (--note)")
        transition(db, case, S.CLOSED, actor=actor.label, kind="closed", note=note)
    return case


def assign(rt: Runtime, reference: str, account_id: str, *, actor: Actor, note: str = "") -> store.Case:
    """The team lead routes a case by hand (from the unassigned queue, or to correct routing)."""
    directory = rt.accounts
    if account_id != UNASSIGNED and directory.get(account_id) is None:
        known = ", ".join(a.id for a in directory.accounts) or "none"
        raise ActionRefused(f"no account '{account_id}' in accounts.yaml; known: {known}")
    with _locked_case(rt, reference, actor, Action.ROUTE) as (db, case):
        note = _note(rt, case, note)
        previous = case.account or UNASSIGNED
        case.account = account_id
        case.updated_at = store.utcnow()
        db.add(case)
        add_event(
            db,
            case,
            actor=actor.label,
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


def _employer_own_names(vault: dict[str, str], account: Account) -> dict[str, str]:
    """The vault without the values that are the account's own name: the employer may read its name."""
    own = {n.lower() for n in (account.name, *account.aliases)}
    names = account.names()
    return {
        placeholder: value
        for placeholder, value in vault.items()
        if not (
            vault_key_type(placeholder) in EMPLOYER_TYPES
            and (normalise_name(value) in names or any(re.search(re.escape(value.strip().lower()), n) for n in own))
        )
    }


def request_employer(rt: Runtime, reference: str, *, actor: Actor, note: str = "") -> store.Case:
    """Send the account's HR contact the anonymous request. It names the employer from accounts.yaml;
    what comes from the letter (the recommendation sentence, the period) must hold no value of the
    case's vault but the employer's own name."""
    with _locked_case(rt, reference, actor, Action.ASSESS) as (db, case):
        note = _note(rt, case, note)
        transition(db, case, S.EMPLOYER_CONTACTED, actor=actor.label, kind="employer-requested", note=note)
        account = _account(rt, case)
        message = employer_request(rt, case, account)
        vault = _employer_own_names(case_vault(rt.cipher, case), account)
        from_letter = [str((case.sections.get("recommendation") or {}).get("evidence") or ""), case.period or ""]
        leaks = leaked_types(vault, *from_letter) or leaked_types(vault, _body(message).replace(account.name, ""))
        if leaks:
            raise ActionRefused(
                f"{case.reference}: the employer request would contain a vaulted value ({', '.join(leaks)}); not sent"
            )
        delivery.enqueue(db, rt, message, kind="employer-request", case_id=case.id, to=account.hr_contact)
    return case


def record_employer(rt: Runtime, reference: str, decision: str, *, actor: Actor, note: str = "") -> store.Case:
    targets = {"approved": S.EMPLOYER_APPROVED, "declined": S.EMPLOYER_DECLINED}
    if decision not in targets:
        raise ActionRefused("the employer's decision must be 'approved' or 'declined'")
    with _locked_case(rt, reference, actor, Action.ASSESS) as (db, case):
        note = _note(rt, case, note)
        transition(db, case, targets[decision], actor=actor.label, kind="employer-recorded", note=note)
    return case


# -- client ---------------------------------------------------------------------------------
def on_an_account_domain(rt: Runtime, address: str) -> bool:
    """A work address: on the domain of any employer account (where the employer's admins can read it)."""
    domain = address.rpartition("@")[2].lower()
    return any(account.owns_domain(domain) for account in rt.accounts.accounts)


def client_addresses(rt: Runtime, case: store.Case) -> list[str]:
    """The client's personal addresses in the vault.

    Not the sender's (the therapist or practice, matched by keyed hash), nor others on the sender's
    domain, nor known therapists', nor ours, nor any on an employer account's domain: the client is
    told at a personal address, never one the employer's mail admins can read.
    """
    vault = case_vault(rt.cipher, case)
    emails = list(dict.fromkeys(e.strip().lower() for e in vault_values(vault, "EMAIL")))
    sender = is_sender(rt.hash_key, case)
    sender_domains = {e.rpartition("@")[2] for e in emails if sender(e)}
    own_domains = {a.rpartition("@")[2].lower() for a in [rt.settings.sender_address, *rt.settings.intake_addresses]}
    therapists = rt.therapists
    excluded_domains = sender_domains | own_domains
    return [
        e
        for e in emails
        if not sender(e)
        and e.rpartition("@")[2] not in excluded_domains
        and not therapists.knows(e)
        and not on_an_account_domain(rt, e)
    ]


def client_notification(rt: Runtime, case: store.Case, *, to: str, approved: bool) -> EmailMessage:
    """The outcome, under the client's own reference (never the one the employer saw)."""
    assert case.client_reference is not None
    directory = rt.accounts
    context = {
        "case_ref": case.client_reference,
        "approved": approved,
        "sessions_requested": case.sessions_requested,
        "period": case.period,
        "booking_instructions": directory.booking_instructions,
    }
    text, html = render("client_notification", rules_dir=rt.settings.rules_dir, **context)
    subject = (
        f"[{case.client_reference}] Your additional therapy sessions are approved"
        if approved
        else f"[{case.client_reference}] About your request for additional therapy sessions"
    )
    return _mail(rt, to=to, subject=subject, text=text, html=html)


def _client_address(rt: Runtime, case: store.Case, to: str | None) -> str:
    if to is not None:
        try:
            return mailbox(to)
        except AddressError as exc:
            raise ActionRefused("the client's address must be one email address") from exc
    found = client_addresses(rt, case)
    if len(found) != 1:
        problem = (
            "no personal client address in the vault"
            if not found
            else f"{len(found)} possible client addresses in the vault"
        )
        raise ActionRefused(f"{case.reference}: {problem}; give the client's personal address (--to ADDRESS)")
    return found[0]


def notify_client(
    rt: Runtime,
    reference: str,
    *,
    actor: Actor,
    to: str | None = None,
    work_address_reason: str = "",
    note: str = "",
) -> store.Case:
    """Tell the client the employer's answer, at a personal address, under the client's reference.

    An address on an employer account's domain is refused unless the CSM types why it must be used
    (``work_address_reason``, recorded on the case)."""
    with _locked_case(rt, reference, actor, Action.ASSESS) as (db, case):
        note = _note(rt, case, note)
        approved = case.status == S.EMPLOYER_APPROVED
        transition(
            db,
            case,
            S.CLIENT_NOTIFIED,
            actor=actor.label,
            kind="client-notified",
            note=note or ("approved" if approved else "declined"),
        )
        address = _client_address(rt, case, to)
        if on_an_account_domain(rt, address):
            why = _note(rt, case, work_address_reason, what="the reason")
            if not why:
                raise ActionRefused(
                    f"{case.reference}: that address is on an employer's domain, where the employer's mail admins "
                    "can read it; give a personal address, or type why this one must be used"
                )
            add_event(db, case, actor=actor.label, kind="work-address-override", note=why)
        case.client_reference = case.client_reference or new_client_reference()
        db.add(case)
        try:
            message = client_notification(rt, case, to=address, approved=approved)
        except AddressError as exc:  # a vaulted value that is no deliverable address ("jo at x dot org")
            raise ActionRefused(
                f"{case.reference}: the client's address is not one e-mail address; give it (--to ADDRESS)"
            ) from exc
        delivery.enqueue(db, rt, message, kind="client-notification", case_id=case.id, to=address)
    return case


# -- operators ------------------------------------------------------------------------------
def reprocess(rt: Runtime, reference: str, *, actor: Actor, note: str = "") -> int:
    """Re-queue the case's quarantined messages; the worker re-runs them into this same case."""
    with _locked_case(rt, reference, actor, Action.ROUTE) as (db, case):
        note = _note(rt, case, note)
        count = queue.requeue(db, INBOUND, col(store.InboundMessage.case_id) == case.id)
        if not count:
            raise ActionRefused(f"{case.reference}: no quarantined message to reprocess")
        add_event(
            db,
            case,
            actor=actor.label,
            kind="reprocess-requested",
            note=f"{count} message(s) re-queued" + (f": {note}" if note else ""),
        )
    return count


def retry_messages(rt: Runtime, *, ids: Sequence[int] = (), actor: Actor) -> int:
    """Re-queue quarantined inbound messages (these ids, or all of them): each re-runs into the case
    it belongs to, which records who asked (``plumm inbound retry``)."""
    if not actor.may(Action.ROUTE):
        raise PermissionRefused(f"{actor.label} ({actor.role}) may not re-run messages")
    M = store.InboundMessage
    condition = col(M.id).in_(list(ids)) if ids else None
    with store.session(rt.engine) as db:
        query = select(col(M.case_id)).where(col(M.status) == INBOUND.failed)
        case_ids = db.execute(query if condition is None else query.where(condition)).scalars().all()
        count = queue.requeue(db, INBOUND, condition)
        for case_id in sorted({c for c in case_ids if c is not None}):
            case = db.get(store.Case, case_id)
            if case is not None:
                add_event(
                    db, case, actor=actor.label, kind="reprocess-requested", note="message re-queued (inbound retry)"
                )
        db.commit()
    return count


def reveal(rt: Runtime, reference: str, *, actor: Actor, reason: str) -> dict[str, str]:
    """The vault (placeholder -> original), for a signed-in ``revealer`` who says why. Every attempt,
    granted or refused, is recorded on the case: who, when and why."""
    with _locked_case(rt, reference, actor, None) as (db, case):
        if not actor.may(Action.REVEAL, case):
            add_event(
                db, case, actor=actor.label, kind="vault-reveal-refused", note=f"role {actor.role} may not reveal"
            )
            db.commit()
            raise RevealRefused(
                f"{case.reference}: {actor.label} ({actor.role}) may not reveal the removed details; "
                "only a signed-in revealer may; the attempt is recorded"
            )
        why = _note(rt, case, reason, what="the reason")
        if not why:
            raise RevealRefused(f"{case.reference}: a reveal needs a reason")
        vault = case_vault(rt.cipher, case)
        add_event(db, case, actor=actor.label, kind="vault-revealed", note=f"{len(vault)} value(s); reason: {why}")
    return vault


def _body(message: EmailMessage) -> str:
    parts = [message.get("Subject", "")]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)
