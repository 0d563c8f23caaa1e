"""Threading: which existing case a message continues, and what that case brings to it.

A message belongs to a case when its subject carries the case reference, or its In-Reply-To or
References name a message of the case (one we received or one we sent), matched by keyed hash.
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
from pipeline.patterns import CASE_REFERENCE_RE

if TYPE_CHECKING:
    from pipeline.runtime import Runtime


def thread_case_id(db: Session, rt: Runtime, mail: ParsedMail) -> int | None:
    """A case reference in the subject, or In-Reply-To/References naming a message of a case."""
    match = CASE_REFERENCE_RE.search(mail.subject or "")
    if match:
        case = by_reference(db, match.group(0))
        if case is not None:
            return case.id
    ids = [i for i in (mail.in_reply_to, *mail.references) if i]
    if not ids:
        return None
    hashes = [store.keyed_hash(rt.hash_key, i) for i in ids]
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
                .where(col(store.CaseLetter.case_id) == case_id)
                .order_by(col(store.CaseLetter.seq))
            )
            .scalars()
            .all()
        )
        return Prior(case_id=case_id, vault=case_vault(rt.cipher, case), letters=tuple(letters))
