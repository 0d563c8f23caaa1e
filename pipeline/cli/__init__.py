"""The ``plumm`` command: serve, worker, migrate here; cases and digest (``cases.py``), replay
(``replay.py``), keys, retention and the queues (``operations.py``).

Every listing carries case references, statuses, counts and entity types, never a value
from a letter (``cases show`` prints the redacted letter, as a CSM sees it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from pipeline import store
from pipeline.cli import cases, operations, replay, users, web
from pipeline.cli.common import State, err, log, out, runtime, setup_logging, stop_flag
from pipeline.cli.processes import Child, Supervisor, worker_process
from pipeline.config import Settings

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
app.add_typer(users.users_app, name="users")
app.command("web")(web.web_cmd)


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


Processes = Annotated[
    int | None, typer.Option("--processes", help="worker processes (PLUMM_WORKER_PROCESSES; default: one per core)")
]


def _workers(settings: Settings, processes: int | None) -> list[Child]:
    count = processes if processes is not None else settings.worker_processes or os.cpu_count() or 1
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    return [Child(f"worker-{i + 1}", worker_process, (settings, verbose)) for i in range(count)]


@app.command()
def serve(
    smtp_host: Annotated[str | None, typer.Option(help="PLUMM_SMTP_HOST")] = None,
    smtp_port: Annotated[int | None, typer.Option(help="PLUMM_SMTP_PORT")] = None,
    intake_addresses: Annotated[str | None, typer.Option(help="PLUMM_INTAKE_ADDRESSES (comma-separated)")] = None,
    max_message_bytes: Annotated[int | None, typer.Option(help="PLUMM_MAX_MESSAGE_BYTES")] = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="also run workers")] = True,
    processes: Processes = None,
    web_console: Annotated[bool, typer.Option("--web/--no-web", help="also run the web console")] = True,
    web_host: web.WebHost = None,
    web_port: web.WebPort = None,
) -> None:
    """Run the SMTP listener, workers and the web console, each in its own process, until interrupted.

    The listener runs in this process; each worker is a child process, restarted if it dies."""
    from pipeline.intake.smtp import build_controller, tune_listener_process
    from pipeline.runtime import Runtime

    settings = State.settings(
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        intake_addresses=intake_addresses,
        max_message_bytes=max_message_bytes,
        web_host=web_host,
        web_port=web_port,
    )
    store.migrate(settings.effective_database_url)
    rt = Runtime(settings)
    children = _workers(settings, processes) if worker else []
    controller = build_controller(settings, rt.engine, rt.cipher, rt.hash_key)
    tune_listener_process()
    controller.start()
    out.print(
        f"Plumm intake listening on smtp://{settings.smtp_host}:{settings.smtp_port} "
        f"for {', '.join(settings.intake_addresses)}; database {settings.effective_database_url.split(':')[0]}"
        f"; {len(children)} worker process(es)"
    )
    console = web.start_web_process(settings) if web_console else None  # it prints its own address
    stop = stop_flag()
    code = 0
    try:
        code = Supervisor(children).run(stop)
    finally:
        if console is not None:
            web.stop_web_process(console)
        controller.stop()
        out.print("stopped")
    if code:
        raise typer.Exit(code)


@app.command("worker")
def worker_cmd(
    once: Annotated[bool, typer.Option(help="process what is pending in this process, then exit")] = False,
    processes: Processes = None,
) -> None:
    """Run workers, one per core by default (several hosts may run them against one PostgreSQL)."""
    settings = State.settings()
    store.migrate(settings.effective_database_url)
    if once:
        from pipeline.worker import Worker

        w = Worker(runtime(settings))
        count = 0
        while w.run_once():
            count += 1
        out.print(f"processed {count} message(s)")
        return
    children = _workers(settings, processes)
    log.info("supervising %d worker process(es)", len(children))
    code = Supervisor(children).run(stop_flag())
    if code:
        raise typer.Exit(code)


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
