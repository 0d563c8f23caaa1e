"""Threading: which existing case a message continues, who wrote it, and what the case brings to it.

A message belongs to a case when its subject carries the case reference (or the client's reference),
or its In-Reply-To or References name a message of the case (one we received or one we sent),
matched by keyed hash. :func:`reply_kind` says who wrote it: the employer (the account's HR contact,
a reply to our employer request, or someone on the account's domain once we asked the employer), the
client (a reply to our notification, or its reference), or the therapist (a letter). A message from
an account's HR contact that threads nowhere is still the employer's, never a therapist's letter.
:func:`find_prior` gives the worker the case's vault (so a follow-up keeps its placeholders) and its
earlier redacted letters (so the sections are judged on the whole thread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session, col

from pipeline import store
from pipeline.cases.lifecycle import by_reference
from pipeline.cases.vault import case_vault
from pipeline.models import ParsedMail, Prior
from pipeline.outbound.loop_safety import reply_address
from pipeline.patterns import CASE_REFERENCE_RE, CLIENT_REFERENCE_RE
from pipeline.rules import RulesError

if TYPE_CHECKING:
    from pipeline.runtime import Runtime


def thread_case_id(db: Session, rt: Runtime, mail: ParsedMail) -> int | None:
    """A case reference in the subject, or In-Reply-To/References naming a message of a case."""
    match = CASE_REFERENCE_RE.search(mail.subject or "")
    if match:
        case = by_reference(db, match.group(0))
        if case is not None:
            return case.id
    client = CLIENT_REFERENCE_RE.search(mail.subject or "")
    if client:
        found = db.execute(
            select(col(store.Case.id)).where(col(store.Case.client_reference) == client.group(0))
        ).scalar_one_or_none()
        if found is not None:
            return found
    hashes = _thread_hashes(rt, mail)
    if not hashes:
        return None
    inbound = db.execute(
        select(col(store.InboundMessage.case_id))
        .where(
            col(store.InboundMessage.message_id_hash).in_(hashes),
            col(store.InboundMessage.case_id).is_not(None),
        )
        .order_by(col(store.InboundMessage.id))
        .limit(1)
    ).scalar_one_or_none()
    if inbound is not None:
        return inbound
    return db.execute(
        select(col(store.OutboundMessage.case_id))
        .where(
            col(store.OutboundMessage.message_id_hash).in_(hashes),
            col(store.OutboundMessage.case_id).is_not(None),
        )
        .limit(1)
    ).scalar_one_or_none()


def _thread_hashes(rt: Runtime, mail: ParsedMail) -> list[str]:
    return [store.keyed_hash(rt.hash_key, i) for i in (mail.in_reply_to, *mail.references) if i]


def _answers(db: Session, rt: Runtime, mail: ParsedMail, case_id: int | None) -> set[str]:
    """Kinds of the mail we sent for the case that this message replies to (In-Reply-To, References)."""
    hashes = _thread_hashes(rt, mail)
    if not hashes or case_id is None:
        return set()
    Out = store.OutboundMessage
    return set(
        db.execute(
            select(col(Out.kind)).where(col(Out.message_id_hash).in_(hashes), col(Out.case_id) == case_id)
        ).scalars()
    )


def _asked_employer(db: Session, case_id: int | None) -> bool:
    Out = store.OutboundMessage
    return (
        db.execute(
            select(col(Out.id)).where(col(Out.case_id) == case_id, col(Out.kind) == "employer-request").limit(1)
        ).first()
        is not None
    )


def reply_kind(db: Session, rt: Runtime, mail: ParsedMail, case: store.Case | None) -> str:
    """Who wrote this message: ``employer``, ``client`` or ``letter`` (the therapist), see the module
    docstring. ``case`` is the case it threads onto, if any."""
    senders = {a.strip().lower() for a in (mail.sender.email, reply_address(mail)) if a and a.strip()}
    try:
        directory = rt.accounts
    except RulesError:  # the case is still recorded, as a letter; routing reports the broken file
        return store.LetterKind.LETTER
    if case is None:
        hr = {a.hr_contact for a in directory.accounts}
        return store.LetterKind.EMPLOYER if senders & hr else store.LetterKind.LETTER
    account = directory.get(case.account)
    if account is not None and account.hr_contact in senders:
        return store.LetterKind.EMPLOYER
    answered = _answers(db, rt, mail, case.id)
    if "employer-request" in answered:
        return store.LetterKind.EMPLOYER
    client = CLIENT_REFERENCE_RE.search(mail.subject or "")
    if "client-notification" in answered or (client and client.group(0) == case.client_reference):
        return store.LetterKind.CLIENT
    original = {a for a in senders if case.sender_hash and store.keyed_hash(rt.hash_key, a) == case.sender_hash}
    on_account = account is not None and any(account.owns_domain(a.rpartition("@")[2]) for a in senders)
    if on_account and not original and _asked_employer(db, case.id):
        return store.LetterKind.EMPLOYER
    return store.LetterKind.LETTER


def find_prior(rt: Runtime, mail: ParsedMail) -> Prior:
    with store.session(rt.engine) as db:
        case_id = thread_case_id(db, rt, mail)
        if case_id is None:
            return Prior()
        case = db.get(store.Case, case_id)
        assert case is not None
        letters = (
            db.execute(
                select(col(store.CaseLetter.redacted_text))
                .where(col(store.CaseLetter.case_id) == case_id, col(store.CaseLetter.kind) == store.LetterKind.LETTER)
                .order_by(col(store.CaseLetter.seq))
            )
            .scalars()
            .all()
        )
        return Prior(case_id=case_id, vault=case_vault(rt.cipher, case), letters=tuple(letters))
