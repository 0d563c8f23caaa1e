"""Operators' commands: ``plumm keys``, ``plumm retention``, and the two queues, ``plumm outbox``
(mail we send) and ``plumm inbound`` (messages we received): list them, and put failed ones back.
Listings carry ids, kinds, statuses, attempts, times, case references and error codes, never an
address or a value from a letter."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlmodel import col

from pipeline import queue, store
from pipeline.cli.common import State, csm_runtime, err, operator, out
from pipeline.queue import INBOUND, OUTBOUND, Queue

keys_app = typer.Typer(help="Encryption keys at rest.", no_args_is_help=True)


@keys_app.command("new")
def keys_new() -> None:
    """Print a new Fernet key (put it FIRST in PLUMM_VAULT_KEY, then run `plumm keys rotate`)."""
    from pipeline.compliance.keys import new_key

    out.print(new_key(), markup=False)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt raw messages, vaults and outbound payloads with the newest (first) key.

    1. PLUMM_VAULT_KEY=NEW,OLD on every process, restart them; 2. plumm keys rotate;
    3. PLUMM_VAULT_KEY=NEW once it reports nothing left under the old key."""
    from pipeline.compliance.keys import rotate

    settings = State.settings()
    report = rotate(store.make_engine(settings.effective_database_url), settings)
    for name in report.rotated:
        out.print(
            f"{name}: rotated {report.rotated[name]}, already current {report.current[name]}, "
            f"changed meanwhile {report.changed_meanwhile[name]}, unreadable {report.unreadable[name]}"
        )
    if not report.complete:
        err.print(
            "rotation incomplete: run again (changed meanwhile) or find the missing key (unreadable); "
            "keep the old key configured"
        )
        raise typer.Exit(1)
    out.print("every token uses the newest key; the old key can be dropped from PLUMM_VAULT_KEY")


def retention_cmd(
    days: Annotated[int | None, typer.Option(help="PLUMM_RETENTION_DAYS", min=1)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be deleted")] = False,
) -> None:
    """Delete raw messages, vaults and sent mail of cases closed more than N days ago (keeps the
    redacted case and its audit trail)."""
    from pipeline.compliance.retention import purge

    settings = State.settings(retention_days=days)
    report = purge(store.make_engine(settings.effective_database_url), days=settings.retention_days, dry_run=dry_run)
    for reference in report.cases:
        out.print(reference)
    verb = "would purge" if dry_run else "purged"
    cutoff = report.cutoff.isoformat(timespec="seconds")
    out.print(
        f"{verb} {len(report.cases)} case(s) closed before {cutoff}: {report.messages} raw message(s), "
        f"{report.vaults} vault(s), {report.outbound} sent mail payload(s)"
    )


# -- the queues ---------------------------------------------------------------------------------
outbox_app = typer.Typer(help="Mail we send: list it, put failed mail back in the queue.", no_args_is_help=True)
inbound_app = typer.Typer(help="Messages we received: list them, re-run quarantined ones.", no_args_is_help=True)

Status = Annotated[str | None, typer.Option(help="only this status (e.g. failed, quarantined, pending)")]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]
Ids = Annotated[list[int] | None, typer.Argument(help="row ids (from the list command)", show_default=False)]
AllFailed = Annotated[bool, typer.Option("--all-failed", help="every failed row")]


def _when(value: datetime | None) -> str | None:
    return store.aware(value).isoformat(timespec="seconds") if value is not None else None


def _list_queue(q: Queue, status: str | None, as_json: bool, columns: list[str], **fields: Any) -> None:
    """One line (or JSON object) per row: the lease columns every queue has, then ``fields``
    (column -> function of the row), the case's reference last; ``columns`` are the ones a line shows."""
    engine = store.make_engine(State.settings().effective_database_url)
    rows = queue.rows(engine, q, status=status)
    case_ids = [r.case_id for r in rows if r.case_id is not None]
    with store.session(engine) as db:
        C = store.Case
        found = db.execute(select(col(C.id), col(C.reference)).where(col(C.id).in_(case_ids))).all()
        references = {int(case_id): reference for case_id, reference in found}
    listed = [
        {
            "id": r.id,
            "status": r.status,
            "attempts": r.attempts,
            **{name: describe(r) for name, describe in fields.items()},
            "next_try": _when(r.not_before) if r.status == q.pending else None,
            "case": references.get(r.case_id) if r.case_id is not None else None,
        }
        for r in rows
    ]
    if as_json:
        out.print_json(json.dumps(listed))
        return
    for row in listed:
        out.print("  ".join(str(row[c]) if row[c] is not None else "-" for c in columns), markup=False)
    if not listed:
        out.print("nothing", markup=False)


def _targets(ids: list[int] | None, all_failed: bool) -> tuple[int, ...]:
    if bool(ids) == all_failed:
        err.print("name the ids to retry, or --all-failed (not both)")
        raise typer.Exit(2)
    return tuple(ids or ())


@outbox_app.command("list")
def outbox_list(status: Status = None, as_json: AsJson = False) -> None:
    """Queued, sent and failed mail, oldest first: id, kind, status, attempts, times, last error, case."""
    _list_queue(
        OUTBOUND,
        status,
        as_json,
        ["id", "kind", "status", "attempts", "queued", "next_try", "last_error", "case"],
        kind=lambda r: r.kind,
        queued=lambda r: _when(r.created_at),
        sent=lambda r: _when(r.sent_at),
        last_error=lambda r: r.last_error,
    )


@outbox_app.command("retry")
def outbox_retry(ids: Ids = None, all_failed: AllFailed = False) -> None:
    """Put failed mail back in the queue (and try to send it now)."""
    from pipeline.outbound import delivery

    targets = _targets(ids, all_failed)
    rt = csm_runtime(State.settings())
    count = delivery.requeue_failed(rt, ids=targets)
    sent = delivery.deliver_pending(rt) if count else 0
    out.print(f"outbox: {count} failed message(s) re-queued; {sent} sent now", markup=False)


@inbound_app.command("list")
def inbound_list(status: Status = None, as_json: AsJson = False) -> None:
    """Received messages, oldest first: id, status, attempts, received, case, failing stage and reason."""
    _list_queue(
        INBOUND,
        status,
        as_json,
        ["id", "status", "attempts", "received", "case", "stage", "reason"],
        received=lambda r: _when(r.received_at),
        stage=lambda r: r.error_stage,
        reason=lambda r: r.error_reason,
    )


@inbound_app.command("retry")
def inbound_retry(ids: Ids = None, all_failed: AllFailed = False) -> None:
    """Re-run quarantined messages (each into its own case, as `plumm cases reprocess` does)."""
    from pipeline.cases import service

    targets = _targets(ids, all_failed)
    count = service.retry_messages(csm_runtime(State.settings()), ids=targets, actor=operator())
    out.print(f"inbound: {count} quarantined message(s) re-queued; the worker re-runs them", markup=False)
