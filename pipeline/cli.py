"""The ``plumm`` command: serve, worker, migrate, cases, replay.

Every listing carries case references, statuses, counts and entity types, never a value
from a letter (``cases show`` prints the redacted letter, as a CSM sees it).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import select
from sqlmodel import col

from pipeline import store
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.rules import RulesError

if TYPE_CHECKING:
    from pipeline.runtime import Runtime

app = typer.Typer(
    help="Plumm intake: therapists' letters in, redacted cases out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cases_app = typer.Typer(help="List, show and move cases through their life cycle.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("plumm")


class State:
    overrides: dict[str, Any] = {}

    @classmethod
    def settings(cls, **more: Any) -> Settings:
        try:
            return load_settings(**{**cls.overrides, **more})
        except ConfigError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # Third-party loggers can echo content (e.g. presidio at DEBUG); keep them quiet.
    for noisy in (
        "presidio-analyzer",
        "presidio-anonymizer",
        "mail-parser",
        "mailparser",
        "aiosmtpd",
        "mail.log",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main(
    database_url: Annotated[str | None, typer.Option(help="PLUMM_DATABASE_URL")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="PLUMM_DATA_DIR")] = None,
    rules_dir: Annotated[Path | None, typer.Option(help="PLUMM_RULES_DIR")] = None,
    vault_key: Annotated[str | None, typer.Option(help="PLUMM_VAULT_KEY", show_default=False)] = None,
    outbound_smtp: Annotated[str | None, typer.Option(help="PLUMM_OUTBOUND_SMTP (host:port)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    State.overrides = {
        "database_url": database_url,
        "data_dir": data_dir,
        "rules_dir": rules_dir,
        "vault_key": vault_key,
        "outbound_smtp": outbound_smtp,
    }
    setup_logging(verbose)


def runtime(settings: Settings) -> Runtime:
    from pipeline.runtime import Runtime

    try:
        rt = Runtime(settings)
        rt.load_rules()
    except RulesError as exc:
        err.print(f"[red]rules error: {exc}[/red]")
        raise typer.Exit(2) from exc
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    return rt


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = State.settings()
    store.migrate(settings.effective_database_url)
    out.print("database is at the newest schema")


def _stop_flag() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@app.command()
def serve(
    smtp_host: Annotated[str | None, typer.Option(help="PLUMM_SMTP_HOST")] = None,
    smtp_port: Annotated[int | None, typer.Option(help="PLUMM_SMTP_PORT")] = None,
    intake_addresses: Annotated[str | None, typer.Option(help="PLUMM_INTAKE_ADDRESSES (comma-separated)")] = None,
    max_message_bytes: Annotated[int | None, typer.Option(help="PLUMM_MAX_MESSAGE_BYTES")] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="also run a worker")] = True,
) -> None:
    """Run the SMTP listener (and a worker) until interrupted."""
    from pipeline.intake.smtp import build_controller
    from pipeline.worker import Worker

    settings = State.settings(
        smtp_host=smtp_host, smtp_port=smtp_port, intake_addresses=intake_addresses, max_message_bytes=max_message_bytes
    )
    store.migrate(settings.effective_database_url)
    rt = runtime(settings) if worker else None
    if rt is None:
        from pipeline.runtime import Runtime

        rt = Runtime(settings)
    controller = build_controller(settings, rt.engine, rt.cipher, rt.hash_key)
    controller.start()
    out.print(
        f"Plumm intake listening on smtp://{settings.smtp_host}:{settings.smtp_port} "
        f"for {', '.join(settings.intake_addresses)}; database {settings.effective_database_url.split(':')[0]}"
        f"; worker {'on' if worker else 'off'}"
    )
    stop = _stop_flag()
    try:
        if worker:
            Worker(rt).run(stop=stop.is_set)
        else:
            stop.wait()
    finally:
        controller.stop()
        out.print("stopped")


@app.command("worker")
def worker_cmd(once: Annotated[bool, typer.Option(help="process what is pending, then exit")] = False) -> None:
    """Run a worker (several may run against one PostgreSQL database)."""
    from pipeline.worker import Worker

    settings = State.settings()
    store.migrate(settings.effective_database_url)
    w = Worker(runtime(settings))
    if once:
        count = 0
        while w.run_once():
            count += 1
        out.print(f"processed {count} message(s)")
        return
    stop = _stop_flag()
    w.run(stop=stop.is_set)


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
    reveal: Annotated[bool, typer.Option("--reveal", help="also decrypt the vault (audited)")] = False,
    operator: Annotated[str | None, typer.Option(help="who reveals (default: your login name)")] = None,
) -> None:
    """A case with its redacted letter, section evidence and audit trail."""
    settings = State.settings()
    vault = _reveal(settings, reference, operator) if reveal else None
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
        out.print(f"VAULT (revealed to {operator or _me()}; this reveal is recorded on the case):", markup=False)
        for placeholder, original in sorted(vault.items()):
            out.print(f"  {placeholder} = {original}", markup=False)


def _reveal(settings: Settings, reference: str, operator: str | None) -> dict[str, str]:
    from pipeline.cases import service as csm

    try:
        return csm.reveal(_csm_runtime(settings), reference, operator=operator or _me())
    except csm.ActionRefused as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from exc


@app.command("replay")
def replay_cmd(
    source: Annotated[Path, typer.Argument(help="folder of .eml files", exists=True, file_okay=False)],
    out_dir: Annotated[Path, typer.Option("--out", help="where to write outputs")],
    db: Annotated[
        str | None,
        typer.Option("--db", help="database URL instead of fresh temporary ones (--via-smtp: the listener's)"),
    ] = None,
    expect: Annotated[
        bool, typer.Option("--expect", help="fail on any drift from the golden <stem>.replay.txt/.json files")
    ] = False,
    ground_truth: Annotated[
        bool,
        typer.Option(
            "--ground-truth",
            help="fail on any leak of a must_not_survive string, or any outcome (status, reason, "
            "sections, sessions, period, acknowledgement, placeholder kind) other than <stem>.expected.json says",
        ),
    ] = False,
    update_golden: Annotated[
        bool, typer.Option("--update-golden", help="rewrite the golden files (review the diff first)")
    ] = False,
    via_smtp: Annotated[
        str | None,
        typer.Option("--via-smtp", metavar="HOST:PORT", help="send to a running listener instead (needs --db)"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="--via-smtp: overall seconds to wait for the cases", min=1)] = 120.0,
) -> None:
    """Run every .eml in SOURCE through the full pipeline; write per-message outputs and a report.

    Exit code: 0 all good, 1 drift or leak, 2 usage or configuration error."""
    from rich.progress import Progress

    from pipeline.compliance.replay import ReplayError, replay

    settings = State.settings()
    if not via_smtp:
        runtime(settings)  # fail fast on bad rules before touching any message
    count = len(list(source.glob("*.eml")))
    # Per-message INFO lines would break the bar; -v keeps them. Levels are restored afterwards.
    quiet = [logging.getLogger(name) for name in ("plumm.worker", "plumm.cases", "plumm.smtp", "presidio-analyzer")]
    levels = [logger.level for logger in quiet]
    if logging.getLogger().level > logging.DEBUG:
        for logger in quiet:
            logger.setLevel(logging.ERROR)
    try:
        with Progress(console=err, disable=not err.is_terminal, transient=True) as bar:
            task = bar.add_task("replaying", total=count)
            run = replay(
                source,
                out_dir,
                settings=settings,
                db_url=db,
                progress=lambda _stem: bar.advance(task),
                via_smtp=via_smtp,
                smtp_timeout=timeout,
                expect=expect,
                ground_truth=ground_truth,
                update_golden=update_golden,
            )
    except ReplayError as exc:
        err.print(f"replay: {exc}", markup=False)
        raise typer.Exit(2) from exc
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    for r in run.results:
        for note in r.notes:  # e.g. threaded onto an earlier case: replay against a fresh database
            err.print(f"note: {r.stem}: {note}", markup=False)
    # Diffs and leak lines are scrubbed: fixtures, types and list indices, never a removed value.
    for drift in run.drifts or []:
        if drift.missing:
            out.print(f"DRIFT {drift.stem}: no golden file (--update-golden, review, commit)", markup=False)
        else:
            out.print(f"DRIFT {drift.stem}:", markup=False)
            out.print(drift.diff.rstrip("\n"), markup=False)
    for leak in run.leaks:
        out.print(f"LEAK {leak.describe()}", markup=False)
    for disagreement in run.disagreements:
        out.print(f"DISAGREE {disagreement.describe()}", markup=False)
    for stem, changes in sorted(run.golden_changes.items()):
        verdict = "REFUSED (leaks or contradicts expected.json)" if stem in run.golden_refused else "written"
        out.print(f"golden {stem}: {verdict}", markup=False)
        for change in changes:
            out.print(f"    {change}", markup=False)
    statuses: dict[str, int] = {}
    for r in run.results:
        statuses[r.summary["status"]] = statuses.get(r.summary["status"], 0) + 1
    out.print(
        f"replayed {len(run.results)} message(s) into {out_dir}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        markup=False,
    )
    if run.golden_written:
        out.print(f"golden files written for {len(run.golden_written)} message(s) in {source}", markup=False)
    if run.drifts is not None:
        verdict = f"DRIFT in {len(run.drifts)} message(s)" if run.drifts else "no drift"
        out.print(f"expect: {verdict}", markup=False)
    if run.ground_truth is not None:
        out.print(
            "ground truth: "
            + (f"{len(run.leaks)} LEAK(S)" if run.leaks else "no leak")
            + ", "
            + (
                f"{len(run.disagreements)} DISAGREEMENT(S) with expected.json"
                if run.disagreements
                else "every outcome as expected"
            ),
            markup=False,
        )
    out.print(f"report: {out_dir / 'report.html'}", markup=False)
    raise typer.Exit(run.exit_code)


# -- the CSM's commands (pipeline.csm, pipeline.digest) --------------------------------------
def _csm_runtime(settings: Settings) -> Runtime:
    """A runtime for CSM commands: database and keys, accounts validated; no NLP model loaded."""
    from pipeline.runtime import Runtime

    try:
        rt = Runtime(settings)
        _ = rt.accounts
        return rt
    except (RulesError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]", markup=False)
        raise typer.Exit(2) from exc


def _csm_action(action: str, reference: str, *args: str, **kwargs: Any) -> None:
    """Run one CSM action (pipeline.cases.service); a refusal prints its reason and exits 1."""
    from pipeline.cases import service as csm
    from pipeline.cases.lifecycle import TransitionRefused
    from pipeline.outbound import delivery

    rt = _csm_runtime(State.settings())
    try:
        result = getattr(csm, action)(rt, reference, *args, **kwargs)
    except (TransitionRefused, csm.ActionRefused) as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from exc
    sent = delivery.deliver_pending(rt)
    if action == "reprocess":
        out.print(f"{reference}: {result} message(s) re-queued; the worker re-runs them", markup=False)
        return
    out.print(f"{result.reference}: {result.status}" + (f", {sent} email(s) sent" if sent else ""), markup=False)


Actor = Annotated[str, typer.Option(help="who acts (recorded on the case event)")]
Note = Annotated[str, typer.Option(help="a note for the case event")]


def _me() -> str:
    import getpass

    return getpass.getuser()


@cases_app.command("approve")
def cases_approve(reference: str, actor: Actor = "", note: Note = "") -> None:
    """Approve a case ready for assessment."""
    _csm_action("approve", reference, actor=actor or _me(), note=note)


@cases_app.command("decline")
def cases_decline(
    reference: str,
    reason: Annotated[str, typer.Option(help="why (recorded on the case)")],
    actor: Actor = "",
) -> None:
    """Decline a case, with a reason."""
    _csm_action("decline", reference, actor=actor or _me(), reason=reason)


@cases_app.command("request-employer")
def cases_request_employer(reference: str, actor: Actor = "", note: Note = "") -> None:
    """Send the employer's HR contact an anonymous request for the sessions."""
    _csm_action("request_employer", reference, actor=actor or _me(), note=note)


@cases_app.command("record-employer")
def cases_record_employer(
    reference: str,
    decision: Annotated[str, typer.Argument(help="approved or declined")],
    actor: Actor = "",
    note: Note = "",
) -> None:
    """Record the employer's answer."""
    _csm_action("record_employer", reference, decision, actor=actor or _me(), note=note)


@cases_app.command("notify-client")
def cases_notify_client(
    reference: str,
    to: Annotated[str | None, typer.Option(help="the client's address, if the vault does not say")] = None,
    actor: Actor = "",
    note: Note = "",
) -> None:
    """Tell the client the outcome and how to book (to the address in the vault, or --to)."""
    _csm_action("notify_client", reference, actor=actor or _me(), to=to, note=note)


@cases_app.command("close")
def cases_close(reference: str, actor: Actor = "", note: Note = "") -> None:
    """Close a case."""
    _csm_action("close", reference, actor=actor or _me(), note=note)


@cases_app.command("reprocess")
def cases_reprocess(reference: str, actor: Actor = "", note: Note = "") -> None:
    """Re-queue the case's quarantined message(s); the worker re-runs them into this case."""
    _csm_action("reprocess", reference, actor=actor or _me(), note=note)


@cases_app.command("assign")
def cases_assign(
    reference: str,
    account: Annotated[str, typer.Argument(help="an account id from accounts.yaml")],
    actor: Actor = "",
    note: Note = "",
) -> None:
    """Route a case to an account by hand (the team lead, for the unassigned queue)."""
    _csm_action("assign", reference, account, actor=actor or _me(), note=note)


@app.command("digest")
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
    rt = _csm_runtime(settings)
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


keys_app = typer.Typer(help="Encryption keys at rest.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


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


@app.command("retention")
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


if __name__ == "__main__":  # pragma: no cover
    app()
