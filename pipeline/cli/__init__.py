"""The ``plumm`` command: serve, worker, migrate here; cases and digest (``cases.py``), replay
(``replay.py``), keys, retention and the queues (``operations.py``).

Every listing carries case references, statuses, counts and entity types, never a value
from a letter (``cases show`` prints the redacted letter, as a CSM sees it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline import store
from pipeline.cli import cases, operations, replay
from pipeline.cli.common import State, err, out, runtime, setup_logging, stop_flag

app = typer.Typer(
    help="Plumm intake: therapists' letters in, redacted cases out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cases.cases_app, name="cases")
app.command("digest")(cases.digest_cmd)
app.command("replay")(replay.replay_cmd)
app.add_typer(operations.keys_app, name="keys")
app.command("retention")(operations.retention_cmd)
app.add_typer(operations.outbox_app, name="outbox")
app.add_typer(operations.inbound_app, name="inbound")


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


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = State.settings()
    store.migrate(settings.effective_database_url)
    out.print("database is at the newest schema")


@app.command()
def serve(
    smtp_host: Annotated[str | None, typer.Option(help="PLUMM_SMTP_HOST")] = None,
    smtp_port: Annotated[int | None, typer.Option(help="PLUMM_SMTP_PORT")] = None,
    intake_addresses: Annotated[str | None, typer.Option(help="PLUMM_INTAKE_ADDRESSES (comma-separated)")] = None,
    max_message_bytes: Annotated[int | None, typer.Option(help="PLUMM_MAX_MESSAGE_BYTES")] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="also run a worker")] = True,
) -> None:
    """Run the SMTP listener (and a worker) until interrupted."""
    from pipeline.intake.smtp import build_controller, tune_listener_process
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
    tune_listener_process()
    controller.start()
    out.print(
        f"Plumm intake listening on smtp://{settings.smtp_host}:{settings.smtp_port} "
        f"for {', '.join(settings.intake_addresses)}; database {settings.effective_database_url.split(':')[0]}"
        f"; worker {'on' if worker else 'off'}"
    )
    stop = stop_flag()
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
    stop = stop_flag()
    w.run(stop=stop.is_set)


def run() -> None:
    """The ``plumm`` console script: the app, with an unreachable database as one line and exit 2
    (never a traceback). The line names the failure by its code only, never the URL (it may hold a
    password) or the driver's text."""
    from sqlalchemy.exc import DBAPIError

    from pipeline.intake.rawstore import storage_failure_reason

    try:
        app()
    except DBAPIError as exc:
        err.print(
            f"plumm: the database cannot be used: {storage_failure_reason(exc)}; "
            "check PLUMM_DATABASE_URL and that the database is up",
            markup=False,
        )
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    run()
