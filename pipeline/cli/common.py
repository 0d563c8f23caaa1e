"""What every ``plumm`` command shares: settings from the environment and the flags, the two
consoles (results on stdout, problems on stderr), logging that never echoes content, and building
a runtime that fails start-up cleanly on a bad rules file (exit code 2)."""

from __future__ import annotations

import getpass
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from pipeline.config import ConfigError, Settings, load_settings
from pipeline.rules import RulesError

if TYPE_CHECKING:
    from pipeline.cases.permissions import Actor
    from pipeline.runtime import Runtime

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("plumm")

Note = Annotated[str, typer.Option(help="a note for the case event")]


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


def csm_runtime(settings: Settings) -> Runtime:
    """A runtime for CSM commands: database and keys, accounts validated; no NLP model loaded."""
    from pipeline.runtime import Runtime

    try:
        rt = Runtime(settings)
        _ = rt.accounts
        return rt
    except (RulesError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]", markup=False)
        raise typer.Exit(2) from exc


def me() -> str:
    return getpass.getuser()


def operator() -> Actor:
    """Who acts at the command line: the OS user, recorded as ``cli:<login>`` (never self-declared)."""
    from pipeline.cases.permissions import Actor

    return Actor.operator(me())


def password_from_stdin() -> str:
    """A password piped in (``--password-stdin``): the first line, without its line break."""
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        err.print("no password on standard input")
        raise typer.Exit(2)
    return password


def stop_flag() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
