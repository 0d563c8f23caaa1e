"""``plumm cases ...`` and ``plumm digest``: list and show cases, and the CSM's actions on them
(the service layer, ``pipeline.cases.service``, decides what is allowed; a refusal exits 1).

Listings carry references, statuses, counts and entity types, never a value from a letter
(``cases show`` prints the redacted letter, as a CSM sees it).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlmodel import col

from pipeline import store
from pipeline.cli.common import Note, State, csm_runtime, err, me, operator, out, password_from_stdin
from pipeline.config import Settings

cases_app = typer.Typer(help="List, show and move cases through their life cycle.", no_args_is_help=True)


def _case_row(case: store.Case) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "status": case.status,
        "received": case.created_at.isoformat(timespec="seconds"),
        "sections": {k: bool(v.get("present")) for k, v in sorted(case.sections.items())},
        "sessions_requested": case.sessions_requested,
        "reason": case.reason,
        "account": case.account,
        "entity_counts": case.entity_counts,
    }


@cases_app.command("list")
def cases_list(
    status: Annotated[str | None, typer.Option(help="only cases in this status")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One case per line, starting with its reference."""
    settings = State.settings()
    engine = store.make_engine(settings.effective_database_url)
    with store.session(engine) as db:
        query = select(store.Case).order_by(col(store.Case.id))
        if status:
            query = query.where(col(store.Case.status) == status)
        rows = [_case_row(c) for c in db.execute(query).scalars()]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for r in rows:
        flags = " ".join(f"{k}={'yes' if v else 'no'}" for k, v in r["sections"].items())
        out.print(f"{r['reference']}  {r['status']:<22} {r['received']}  {flags}  {r['reason'] or ''}".rstrip())


@cases_app.command("show")
def cases_show(
    reference: str,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="also show the removed details (a revealer's sign-in; audited)")
    ] = False,
    as_user: Annotated[
        str | None, typer.Option("--as", help="with --reveal: the console user (role revealer); password on stdin")
    ] = None,
    reason: Annotated[str, typer.Option(help="with --reveal: why (recorded on the case)")] = "",
) -> None:
    """A case with its redacted letter, section evidence and audit trail."""
    settings = State.settings()
    vault = _reveal(settings, reference, as_user, reason) if reveal else None
    engine = store.make_engine(settings.effective_database_url)
    from pipeline.cases.lifecycle import by_reference

    with store.session(engine) as db:
        case = by_reference(db, reference)
        if case is None:
            err.print(f"no case {reference}")
            raise typer.Exit(1)
        events = (
            db.execute(
                select(store.CaseEvent).where(col(store.CaseEvent.case_id) == case.id).order_by(col(store.CaseEvent.id))
            )
            .scalars()
            .all()
        )
    data = _case_row(case) | {
        "sources": case.sources,
        "period": case.period,
        "therapy": case.therapy,
        "sender_signals": case.sender_signals,
        "evidence": {k: v.get("evidence", "") for k, v in case.sections.items()},
        "reasons": {k: v.get("reason", "") for k, v in case.sections.items()},
        "letter": case.letter_redacted if case.status != "quarantined" else "",
        "events": [
            {
                "at": e.at.isoformat(timespec="seconds"),
                "actor": e.actor,
                "kind": e.kind,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in events
        ],
    }
    if vault is not None:
        data["vault"] = vault
    if as_json:
        out.print_json(json.dumps(data))
        return
    out.print(f"[bold]{data['reference']}[/bold]  {data['status']}  received {data['received']}")
    for key, value in data["sections"].items():
        out.print(f"  {key}: {'present' if value else 'MISSING'}  {data['reasons'].get(key) or ''}", markup=False)
        if data["evidence"].get(key):
            out.print(f"      evidence: {data['evidence'][key]}", markup=False)
    if data["sessions_requested"] or data["period"] or data["therapy"]:
        ask = " ".join(str(x) for x in (data["sessions_requested"], data["period"], data["therapy"]) if x)
        out.print(f"  asked for: {ask}", markup=False)
    if data["reason"]:
        out.print(f"  reason: {data['reason']}")
    out.print("")
    out.print(data["letter"] or "(no letter shown)", markup=False)
    out.print("")
    for e in data["events"]:
        out.print(
            f"  {e['at']} {e['actor']:<10} {e['kind']:<24} {e['from'] or ''} -> {e['to'] or ''} {e['note']}",
            markup=False,
        )
    if vault is not None:
        out.print("")
        out.print(f"VAULT (revealed to {as_user}; this reveal is recorded on the case):", markup=False)
        for placeholder, original in sorted(vault.items()):
            out.print(f"  {placeholder} = {original}", markup=False)


def _reveal(settings: Settings, reference: str, as_user: str | None, reason: str) -> dict[str, str]:
    """Only a console user with the revealer role, signed in here with their password, may reveal."""
    from pipeline import users
    from pipeline.cases import service as csm

    if not as_user:
        err.print("--reveal needs --as USER (a console user with the revealer role; password on stdin)")
        raise typer.Exit(2)
    rt = csm_runtime(settings)
    try:
        _user_id, actor = users.authenticate(
            rt.engine,
            as_user,
            password_from_stdin(),
            client=f"cli:{me()}",
            attempts=settings.sign_in_attempts,
        )
    except users.SignInRefused as exc:
        err.print(f"refused: sign-in failed ({exc.reason}); the attempt is recorded", markup=False)
        raise typer.Exit(1) from exc
    try:
        return csm.reveal(rt, reference, actor=actor, reason=reason)
    except csm.ActionRefused as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from exc


def _csm_action(action: str, reference: str, *args: str, **kwargs: Any) -> None:
    """Run one CSM action (pipeline.cases.service); a refusal prints its reason and exits 1."""
    from pipeline.cases import service as csm
    from pipeline.cases.lifecycle import TransitionRefused
    from pipeline.outbound import delivery

    rt = csm_runtime(State.settings())
    try:
        result = getattr(csm, action)(rt, reference, *args, actor=operator(), **kwargs)
    except (TransitionRefused, csm.ActionRefused, csm.PermissionRefused) as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from exc
    sent = delivery.deliver_pending(rt)
    if action == "reprocess":
        out.print(f"{reference}: {result} message(s) re-queued; the worker re-runs them", markup=False)
        return
    out.print(f"{result.reference}: {result.status}" + (f", {sent} email(s) sent" if sent else ""), markup=False)


@cases_app.command("approve")
def cases_approve(reference: str, note: Note = "") -> None:
    """Approve a case ready for assessment."""
    _csm_action("approve", reference, note=note)


@cases_app.command("decline")
def cases_decline(reference: str, reason: Annotated[str, typer.Option(help="why (recorded on the case)")]) -> None:
    """Decline a case, with a reason."""
    _csm_action("decline", reference, reason=reason)


@cases_app.command("request-employer")
def cases_request_employer(reference: str, note: Note = "") -> None:
    """Send the employer's HR contact an anonymous request for the sessions."""
    _csm_action("request_employer", reference, note=note)


@cases_app.command("record-employer")
def cases_record_employer(
    reference: str, decision: Annotated[str, typer.Argument(help="approved or declined")], note: Note = ""
) -> None:
    """Record the employer's answer."""
    _csm_action("record_employer", reference, decision, note=note)


@cases_app.command("notify-client")
def cases_notify_client(
    reference: str,
    to: Annotated[str | None, typer.Option(help="the client's personal address, if the vault does not say")] = None,
    work_address_reason: Annotated[
        str, typer.Option(help="why an address on an employer's domain must be used (recorded)")
    ] = "",
    note: Note = "",
) -> None:
    """Tell the client the outcome and how to book, at a personal address, under the client's own reference."""
    _csm_action("notify_client", reference, to=to, work_address_reason=work_address_reason, note=note)


@cases_app.command("close")
def cases_close(reference: str, note: Note = "") -> None:
    """Close a case (before its natural end, --note says why)."""
    _csm_action("close", reference, note=note)


@cases_app.command("reprocess")
def cases_reprocess(reference: str, note: Note = "") -> None:
    """Re-queue the case's quarantined message(s); the worker re-runs them into this case."""
    _csm_action("reprocess", reference, note=note)


@cases_app.command("assign")
def cases_assign(
    reference: str, account: Annotated[str, typer.Argument(help="an account id from accounts.yaml")], note: Note = ""
) -> None:
    """Route a case to an account by hand (the team lead, for the unassigned queue)."""
    _csm_action("assign", reference, account, note=note)


def digest_cmd(
    since: Annotated[str | None, typer.Option(help="only cases changed since this ISO date/time")] = None,
    only_new: Annotated[bool, typer.Option("--only-new", help="only cases changed since their last digest")] = False,
    to: Annotated[str | None, typer.Option(help="only this CSM's digest")] = None,
) -> None:
    """Email each CSM their cases waiting for assessment or action (cron-friendly)."""
    from datetime import UTC, datetime

    from pipeline.cases import digest
    from pipeline.outbound import delivery

    since_at = None
    if since:
        try:
            since_at = datetime.fromisoformat(since)
        except ValueError as exc:
            err.print("--since must be an ISO date or date-time, e.g. 2026-11-02 or 2026-11-02T09:00")
            raise typer.Exit(2) from exc
        since_at = since_at if since_at.tzinfo else since_at.replace(tzinfo=UTC)
    settings = State.settings()
    store.migrate(settings.effective_database_url)
    rt = csm_runtime(settings)
    try:
        result = digest.send(rt, since=since_at, only_new=only_new, to=to)
    except digest.DigestError as exc:
        err.print(f"digest: {exc}", markup=False)
        raise typer.Exit(1) from exc
    sent = delivery.deliver_pending(rt)
    out.print(
        f"digest: {result.emails} email(s) covering {result.cases} case(s)"
        + (f" to {', '.join(result.recipients)}" if result.recipients else "")
        + f"; {sent} sent",
        markup=False,
    )
