"""Recording: a processed message becomes a new case, or a letter or event on an existing one.

Contract: :func:`record` writes the outcome of one message in one transaction, and only while the
worker still holds the message's lease: the case (or the follow-up letter on a threaded case), its
routing to an account, the message marked done, and the acknowledgement queued (loop-safe and rate
limited; at most one per inbound message, because the transaction that queues it is the one that
finishes the lease). A resend of a message that already has a case adds nothing but an event; a
message re-queued by ``plumm cases reprocess`` updates its own case. A reply from the employer or the
client (:func:`pipeline.cases.threading.reply_kind`) is kept on its case, redacted, for the CSM to
read and act on, and is never acknowledged as a letter; one from an account's HR contact that threads
onto no case becomes a quarantined case (``employer-reply-unmatched``) for the team lead. Only
authenticated senders, known therapists, or a message that holds a letter are acknowledged
(no backscatter to forged senders); otherwise an event says why not. :func:`record_failure` shunts a
message whose stage kept failing into a quarantined case. Nothing here logs or stores a value from a
letter in clear: redacted text, counts, reason codes and keyed hashes only; originals live in the
encrypted vault.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlmodel import Session, col

from pipeline import store
from pipeline.cases.lifecycle import OPEN_FOR_LETTERS, SYSTEM, S, add_event, transition
from pipeline.cases.routing import UNASSIGNED, Route, is_sender, route
from pipeline.cases.threading import reply_kind, thread_case_id
from pipeline.cases.vault import case_vault, seal
from pipeline.models import IntakeOutcome, ParsedMail, add_counts
from pipeline.outbound import delivery
from pipeline.outbound.loop_safety import acknowledgement_allowed, reply_address
from pipeline.outbound.messages import build_acknowledgement
from pipeline.queue import INBOUND, finish, hold
from pipeline.rules import RulesError
from pipeline.stages.signals import sender_signals

if TYPE_CHECKING:
    from pipeline.models import Processed
    from pipeline.runtime import Runtime

log = logging.getLogger("plumm.cases")

LETTER_SEPARATOR = "\n\n-- follow-up letter --\n\n"


def _assign_reference(db: Session, case: store.Case) -> None:
    db.add(case)
    db.flush()
    assert case.id is not None
    case.reference = store.reference_for(case.id, case.created_at)


def _sections_json(processed: Processed) -> dict[str, Any]:
    report = processed.sections
    if report is None:
        return {}
    return {
        v.id: {"present": v.present, "title": v.title, "evidence": v.evidence, "rule": v.rule, "reason": v.reason}
        for v in report.verdicts
    }


def _duplicate_of(db: Session, row: store.InboundMessage, message_id_hash: str | None) -> int | None:
    """A resend (same Message-ID, same sender) of a message that already has a case."""
    if not message_id_hash:
        return None
    return db.execute(
        select(col(store.InboundMessage.case_id))
        .where(
            col(store.InboundMessage.id) != row.id,
            col(store.InboundMessage.message_id_hash) == message_id_hash,
            col(store.InboundMessage.sender_hash) == row.sender_hash,
            col(store.InboundMessage.case_id).is_not(None),
        )
        .limit(1)
    ).scalar_one_or_none()


def record(rt: Runtime, message_id: int, worker_id: str, processed: Processed) -> str | None:
    """Record the outcome of one message in one transaction; None if our lease was lost."""
    mail = processed.mail
    with store.session(rt.engine) as db:
        row = hold(db, INBOUND, message_id, worker_id)
        if row is None:
            db.rollback()
            return None
        # The row's Message-ID hash is written with the rest of its outcome, in the commit's flush
        # (one UPDATE of the row, not two); queries before it take the value itself.
        message_id_hash = row.message_id_hash
        if mail is not None and mail.message_id:
            message_id_hash = store.keyed_hash(rt.hash_key, mail.message_id)

        def commit() -> None:
            row.message_id_hash = message_id_hash
            db.commit()

        rerun = db.get(store.Case, row.case_id) if row.case_id is not None else None
        if rerun is not None:  # re-queued by `plumm cases reprocess`: it updates its own case, no new ack
            case = _record_rerun(db, rt, row, rerun, processed)
            commit()
            return case.reference
        if message_id_hash and store.is_postgres(rt.engine):
            # Two workers recording two copies of one resent message at once must not both see
            # "no case yet": serialise on the Message-ID hash until this transaction ends.
            db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": message_id_hash})
        duplicate = _duplicate_of(db, row, message_id_hash)
        if duplicate is not None:
            original = db.get(store.Case, duplicate)
            assert original is not None
            _finish(db, row, original, store.MessageStatus.DONE)
            add_event(db, original, actor=SYSTEM, kind="duplicate-ignored", note=f"message {row.id}")
            commit()
            return original.reference
        thread_id = thread_case_id(db, rt, mail) if mail is not None else None
        thread = db.get(store.Case, thread_id) if thread_id is not None else None
        kind = reply_kind(db, rt, mail, thread) if mail is not None else store.LetterKind.LETTER
        if kind != store.LetterKind.LETTER:  # the employer's or the client's: kept, never acknowledged
            case = _record_reply(db, rt, row, thread, processed, kind)
            commit()
            return case.reference
        if thread is not None:
            case = _record_follow_up(db, rt, row, thread, processed)
        else:
            case = _record_new(db, rt, row, processed)
        if mail is not None:
            _maybe_acknowledge(db, rt, row, case, mail, processed)
        commit()
        return case.reference


def _message_status(outcome: IntakeOutcome) -> str:
    """A message whose outcome quarantines its case is itself quarantined; any other is done."""
    return store.MessageStatus.QUARANTINED if outcome.status == S.QUARANTINED else store.MessageStatus.DONE


def _next_seq(db: Session, case: store.Case) -> int:
    count = db.execute(
        select(func.count()).select_from(store.CaseLetter).where(col(store.CaseLetter.case_id) == case.id)
    ).scalar_one()
    return count + 1


def _add_letter(
    db: Session,
    row: store.InboundMessage,
    case: store.Case,
    processed: Processed,
    seq: int,
    kind: str = store.LetterKind.LETTER,
) -> None:
    redaction, letter, subject = processed.redaction, processed.letter, processed.subject
    assert redaction is not None and letter is not None
    assert case.id is not None and row.id is not None
    db.add(
        store.CaseLetter(
            case_id=case.id,
            message_id=row.id,
            seq=seq,
            kind=kind,
            redacted_text=redaction.text,
            sources=list(letter.sources),
            entity_counts=dict(redaction.counts),
            # Only a verified subject is kept; a withheld one is marked, never stored as written.
            subject_redacted=(subject.text or None) if subject is not None and not subject.withheld else None,
            subject_withheld=subject is not None and subject.withheld,
        )
    )
    if subject is not None and subject.withheld:
        add_event(db, case, actor=SYSTEM, kind="subject-withheld", note=f"message {row.id}")


def _vault(processed: Processed) -> dict[str, str]:
    """The letter's vault, with the identifiers only its verified subject line held."""
    redaction, subject = processed.redaction, processed.subject
    assert redaction is not None
    return {**redaction.vault, **(subject.vault if subject is not None else {})}


def _finish(db: Session, row: store.InboundMessage, case: store.Case, status: str) -> None:
    row.case_id = case.id
    row.processed_at = store.utcnow()
    finish(db, INBOUND, row, status=status)


def _signals(rt: Runtime, mail: ParsedMail | None) -> dict[str, Any]:
    if mail is None:
        return {}
    return dataclasses.asdict(
        sender_signals(mail, directory=rt.therapists, authserv_ids=tuple(rt.settings.authserv_ids))
    )


def _record_new(db: Session, rt: Runtime, row: store.InboundMessage, processed: Processed) -> store.Case:
    case = store.Case(sender_hash=row.sender_hash, sender_signals=_signals(rt, processed.mail))
    _assign_reference(db, case)
    add_event(db, case, actor=SYSTEM, kind="received", to_status=S.RECEIVED, note=f"message {row.id}")
    outcome = processed.outcome
    if outcome is not None:
        case.reason, case.reason_stage = outcome.reason, outcome.stage
        _keep_text(db, rt, row, case, processed, outcome)
        transition(db, case, outcome.status, actor=SYSTEM, note=outcome.note)
        _finish(db, row, case, _message_status(outcome))
        return case
    _apply_letter(db, rt, row, case, processed, seq=1)
    _finish(db, row, case, store.MessageStatus.DONE)
    return case


def _keep_text(
    db: Session, rt: Runtime, row: store.InboundMessage, case: store.Case, processed: Processed, outcome: IntakeOutcome
) -> None:
    """A message read, redacted and verified but found to be no letter (a question about the process,
    a data-protection request, an automatic reply or a delivery report): its redacted text is kept on
    the case, so the CSM can read and answer it. Never for a quarantined outcome, nor one that stopped
    before redaction was verified."""
    redaction, letter = processed.redaction, processed.letter
    if redaction is None or letter is None or outcome.status == S.QUARANTINED or case.letter_redacted:
        return
    db.flush()  # the case's id, for its letter row
    _store_text(db, rt, row, case, processed, seq=_next_seq(db, case))


def _store_text(
    db: Session, rt: Runtime, row: store.InboundMessage, case: store.Case, processed: Processed, *, seq: int
) -> None:
    """The message's verified redacted text on the case: its letter row, the case's text (after any
    earlier letter), sources, counts and vault."""
    redaction, letter = processed.redaction, processed.letter
    assert redaction is not None and letter is not None
    _add_letter(db, row, case, processed, seq)
    case.letter_redacted = (case.letter_redacted + LETTER_SEPARATOR if case.letter_redacted else "") + redaction.text
    case.sources = list(dict.fromkeys([*case.sources, *letter.sources]))
    case.entity_counts = add_counts(case.entity_counts, redaction.counts)
    case.vault_encrypted = seal(rt.cipher, _vault(processed))
    if redaction.cleaned:  # verification found these left after the first pass and removed them
        add_event(db, case, actor=SYSTEM, kind="verification-cleaned", note=", ".join(redaction.cleaned))


def _apply_letter(
    db: Session, rt: Runtime, row: store.InboundMessage, case: store.Case, processed: Processed, *, seq: int
) -> None:
    report = processed.sections
    assert report is not None
    _store_text(db, rt, row, case, processed, seq=seq)
    case.sections = _sections_json(processed)
    case.sessions_requested = report.sessions_requested or case.sessions_requested
    case.period = report.period or case.period
    case.therapy = report.therapy or case.therapy
    target = S.READY_FOR_ASSESSMENT if report.complete else S.AWAITING_INFORMATION
    case.reason = None if report.complete else "missing-sections:" + ",".join(v.id for v in report.missing)
    case.reason_stage = None if report.complete else "sections"
    if case.status != target:
        transition(db, case, target, actor=SYSTEM, note=case.reason or "")
    db.add(case)
    assign_account(rt, db, case)


def _record_rerun(
    db: Session, rt: Runtime, row: store.InboundMessage, case: store.Case, processed: Processed
) -> store.Case:
    """A quarantined message re-run after a fix: it moves its quarantined case on, never opens another."""
    if case.status != S.QUARANTINED:
        return _record_follow_up(db, rt, row, case, processed)
    add_event(db, case, actor=SYSTEM, kind="reprocessed", note=f"message {row.id}")
    outcome = processed.outcome
    if outcome is not None:
        case.reason, case.reason_stage = outcome.reason, outcome.stage
        _keep_text(db, rt, row, case, processed, outcome)
        db.add(case)
        if outcome.status != S.QUARANTINED:
            transition(db, case, outcome.status, actor=SYSTEM, note=outcome.note)
        _finish(db, row, case, _message_status(outcome))
        return case
    if not case.sender_signals:
        case.sender_signals = _signals(rt, processed.mail)
    _apply_letter(db, rt, row, case, processed, seq=_next_seq(db, case))
    _finish(db, row, case, store.MessageStatus.DONE)
    return case


def _record_follow_up(
    db: Session, rt: Runtime, row: store.InboundMessage, case: store.Case, processed: Processed
) -> store.Case:
    outcome = processed.outcome
    if outcome is not None:
        add_event(db, case, actor=SYSTEM, kind="follow-up-unreadable", note=f"message {row.id}: {outcome.reason}")
        _finish(db, row, case, _message_status(outcome))
        return case
    seq = _next_seq(db, case)
    add_event(db, case, actor=SYSTEM, kind="letter-added", note=f"message {row.id}")
    if case.status in OPEN_FOR_LETTERS:
        _apply_letter(db, rt, row, case, processed, seq=seq)
    else:  # kept on the case, but a decided case's assessment does not change
        _add_letter(db, row, case, processed, seq)
    _finish(db, row, case, store.MessageStatus.DONE)
    return case


def _record_reply(
    db: Session,
    rt: Runtime,
    row: store.InboundMessage,
    case: store.Case | None,
    processed: Processed,
    kind: str,
) -> store.Case:
    """The employer's answer or the client's reply, redacted, on its case; the case's status is the
    CSM's to change (the console offers "record this answer")."""
    if case is None:  # an HR contact writing about no case we can find: the team lead looks at it
        case = store.Case(sender_hash=row.sender_hash, reason="employer-reply-unmatched", reason_stage="threading")
        _assign_reference(db, case)
        add_event(db, case, actor=SYSTEM, kind="received", to_status=S.RECEIVED, note=f"message {row.id}")
        transition(db, case, S.QUARANTINED, actor=SYSTEM, note="employer-reply-unmatched")
        _finish(db, row, case, store.MessageStatus.DONE)
        return case
    outcome, redaction = processed.outcome, processed.redaction
    if outcome is not None or redaction is None:
        reason = outcome.reason if outcome is not None else "no-text"
        add_event(db, case, actor=SYSTEM, kind=f"{kind}-reply-unreadable", note=f"message {row.id}: {reason}")
        _finish(db, row, case, _message_status(outcome) if outcome is not None else store.MessageStatus.DONE)
        return case
    _add_letter(db, row, case, processed, _next_seq(db, case), kind=kind)
    case.vault_encrypted = seal(rt.cipher, _vault(processed))  # the reply's own names join the case's vault
    case.updated_at = store.utcnow()
    db.add(case)
    add_event(db, case, actor=SYSTEM, kind=f"{kind}-replied", note=f"message {row.id}")
    _finish(db, row, case, store.MessageStatus.DONE)
    return case


def _holds_letter(rt: Runtime, processed: Processed) -> bool:
    """The message holds a therapist's letter: a required section was found in it, or it carries a
    letter we could not read (``letter_unreadable`` reasons in ``rules/templates/reasons.yaml``)."""
    if processed.sections is not None and any(v.present for v in processed.sections.verdicts):
        return True
    outcome = processed.outcome
    return outcome is not None and outcome.reason in rt.reason_texts.letter_unreadable


def _maybe_acknowledge(
    db: Session, rt: Runtime, row: store.InboundMessage, case: store.Case, mail: ParsedMail, processed: Processed
) -> None:
    allowed, why = acknowledgement_allowed(
        mail, own_addresses=[*rt.settings.intake_addresses, rt.settings.sender_address]
    )
    to = reply_address(mail)
    if not allowed or not to:
        add_event(db, case, actor=SYSTEM, kind="acknowledgement-skipped", note=why if not allowed else "no-sender")
        return
    signals = sender_signals(mail, directory=rt.therapists, authserv_ids=tuple(rt.settings.authserv_ids))
    if not (signals.aligned or rt.therapists.knows(to) or _holds_letter(rt, processed)):
        # Spam forges its sender: an answer would go to someone who never wrote (backscatter).
        add_event(db, case, actor=SYSTEM, kind="acknowledgement-skipped", note="unauthenticated-sender-no-letter")
        return
    since = store.utcnow() - timedelta(hours=1)
    # Acknowledgements already committed; this transaction has queued none yet, so nothing pending
    # is flushed for the count (the case's writes go in the commit's one flush, not in two).
    with db.no_autoflush:
        recent = db.execute(
            select(func.count())
            .select_from(store.OutboundMessage)
            .where(
                col(store.OutboundMessage.kind) == "acknowledgement",
                col(store.OutboundMessage.to_hash) == store.keyed_hash(rt.hash_key, to),
                col(store.OutboundMessage.created_at) >= since,
            )
        ).scalar_one()
    if recent >= rt.settings.ack_limit_per_hour:
        add_event(db, case, actor=SYSTEM, kind="acknowledgement-skipped", note="rate-limited")
        return
    outcome = processed.outcome
    try:
        message = build_acknowledgement(
            case_ref=case.reference,
            to=to,
            original_message_id=mail.message_id,
            original_references=mail.references,
            sources=processed.letter.sources if processed.letter else (),
            report=processed.sections,
            status=case.status,
            reason=outcome.reason if outcome else None,
            sender_address=rt.settings.sender_address,
            rules_dir=rt.settings.rules_dir,
            section_rules=rt.section_rules,
            reason_texts=rt.reason_texts,
            message_id_domain=rt.settings.effective_message_id_domain,
        )
    except ValueError:  # the sender address cannot be a single safe recipient
        add_event(db, case, actor=SYSTEM, kind="acknowledgement-skipped", note="bad-recipient")
        return
    # One acknowledgement per inbound message: this transaction holds the message's lease, and the
    # key makes a second one impossible even if that guard were ever bypassed.
    delivery.enqueue(db, rt, message, kind="acknowledgement", case_id=case.id, to=to, dedupe_key=f"ack:{row.id}")
    add_event(db, case, actor=SYSTEM, kind="acknowledgement-queued")


# -- failures -------------------------------------------------------------------------------
def record_failure(rt: Runtime, message_id: int, worker_id: str, *, stage: str, reason: str) -> str | None:
    """Shunt: a quarantined case for a message that failed repeatedly; its raw bytes stay."""
    with store.session(rt.engine) as db:
        row = hold(db, INBOUND, message_id, worker_id)
        if row is None:
            return None
        case = db.get(store.Case, row.case_id) if row.case_id is not None else None
        if case is not None:  # a re-queued message failed again: it stays with its own case
            add_event(db, case, actor=SYSTEM, kind="reprocess-failed", note=f"{stage}: {reason}")
        else:
            case = store.Case(sender_hash=row.sender_hash, reason=reason, reason_stage=stage)
            _assign_reference(db, case)
            add_event(db, case, actor=SYSTEM, kind="received", to_status=S.RECEIVED, note=f"message {row.id}")
            transition(db, case, S.QUARANTINED, actor=SYSTEM, note=f"{stage}: {reason}")
        row.error_stage, row.error_reason = stage, reason
        _finish(db, row, case, store.MessageStatus.QUARANTINED)
        db.commit()
        log.warning("message %d quarantined as %s (stage %s)", message_id, case.reference, stage)
        return case.reference


def assign_account(rt: Runtime, db: Session, case: store.Case) -> str:
    """Route the case and record the account on it. A case a person already routed keeps it."""
    if case.account and case.account != UNASSIGNED:
        return case.account
    try:
        directory = rt.accounts
    except RulesError as exc:
        # The case must still be recorded; it waits in the team lead's queue.
        log.error("%s: accounts not loaded (%s)", case.reference, exc)
        result = Route(UNASSIGNED, "accounts-file-invalid")
    else:
        result = route(directory, case_vault(rt.cipher, case), ignore_email=is_sender(rt.hash_key, case))
    if case.account != result.account:
        case.account = result.account
        db.add(case)
        add_event(db, case, actor=SYSTEM, kind="account-assigned", note=f"{result.account} ({result.matched_by})")
    return result.account
