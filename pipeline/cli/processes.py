"""Processes under one command: a small supervisor, and the worker process it runs.

``plumm serve`` listens for SMTP in its own process and runs the workers (and any other child a
command adds) as child processes; ``plumm worker --processes N`` runs N workers. The supervisor
starts each child (``spawn``: a fresh interpreter that loads its own model and database engine),
restarts one that dies, after 1 s, then 2, 4... up to a minute (the delay starts again from 1 s
once a child has stayed up for a minute), except one that exits with ``CONFIG_EXIT`` (a bad rules
file: restarting cannot mend it), which stops them all and the command with the same code. On
SIGINT or SIGTERM it stops them all: SIGTERM, then
SIGKILL for one still running after ``STOP_SECONDS`` (a worker finishes its message first; one
killed mid-message loses nothing: its lease runs out and another worker takes the message).

A child dies with its supervisor (Linux ``PR_SET_PDEATHSIG``): killing ``plumm worker`` kills its
workers, as it killed the one worker before there were several.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

from pipeline.cli.common import runtime, setup_logging, stop_flag

log = logging.getLogger("plumm.supervisor")

FIRST_RESTART_SECONDS = 1.0
MAX_RESTART_SECONDS = 60.0
STABLE_SECONDS = 60.0  # a child up this long has recovered: its next restart waits 1 s again
STOP_SECONDS = 60.0  # a worker's message gets this long to finish on shutdown
POLL_SECONDS = 0.2
CONFIG_EXIT = 2  # a child's configuration error: fatal, as a bad setting is for any plumm command


@dataclass
class Child:
    """One supervised process: a name for the logs, and a top-level function with its arguments
    (pickled into the new interpreter)."""

    name: str
    target: Callable[..., None]
    args: tuple[Any, ...] = ()
    process: BaseProcess | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    delay: float = FIRST_RESTART_SECONDS
    restarts: int = 0
    history: list[int] = field(default_factory=list)  # exit codes, for tests and the stop line


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.context = multiprocessing.get_context("spawn")

    def _start(self, child: Child) -> None:
        process = self.context.Process(
            target=_child_main, args=(os.getpid(), child.target, child.args), name=child.name, daemon=False
        )
        process.start()
        child.process, child.started_at, child.restart_at = process, time.monotonic(), None

    def _check(self, child: Child, now: float) -> int | None:
        """Restart ``child`` when it is due; ``CONFIG_EXIT`` when it failed on its configuration."""
        process = child.process
        if process is not None and process.exitcode is None:
            return None
        if child.restart_at is None:  # it just exited: schedule the restart
            code = process.exitcode if process is not None else 0
            child.history.append(code if code is not None else 0)
            if code == CONFIG_EXIT:
                log.error("%s stopped on a configuration error; stopping", child.name)
                return CONFIG_EXIT
            if now - child.started_at >= STABLE_SECONDS:
                child.delay = FIRST_RESTART_SECONDS
            child.restart_at = now + child.delay
            log.error("%s exited with code %s; restarting in %.1f s", child.name, code, child.delay)
            child.delay = min(child.delay * 2, MAX_RESTART_SECONDS)
            return None
        if now >= child.restart_at:
            child.restarts += 1
            self._start(child)
        return None

    def run(self, stop: threading.Event) -> int:
        """Start every child, keep them running until ``stop`` is set, then stop them; the exit code
        for the command (0, or ``CONFIG_EXIT``)."""
        for child in self.children:
            self._start(child)
        try:
            while not stop.wait(POLL_SECONDS):
                now = time.monotonic()
                for child in self.children:
                    if self._check(child, now) == CONFIG_EXIT:
                        return CONFIG_EXIT
            return 0
        finally:
            self.stop_all()

    def stop_all(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.exitcode is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            process.join(timeout=max(0.1, deadline - time.monotonic()))
            if process.exitcode is None:
                log.warning("%s did not stop within %.0f s; killed", process.name, STOP_SECONDS)
                process.kill()
                process.join(timeout=10)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # no prctl: the child outlives a killed supervisor
            pass
    if os.getppid() != parent:
        os._exit(1)


def _child_main(parent: int, target: Callable[..., None], args: tuple[Any, ...]) -> None:
    _die_with_parent(parent)
    target(*args)


def worker_process(settings: Any, verbose: bool) -> None:
    """A worker child: logging, the runtime (rules and model loaded), then the worker loop until
    SIGTERM or SIGINT. A start-up failure (database away, a bad rules file) exits non-zero, for the
    supervisor to try again later."""
    import typer

    from pipeline.worker import Worker

    setup_logging(verbose)
    stop = stop_flag()
    try:
        worker = Worker(runtime(settings))  # a bad rules file: its message, and CONFIG_EXIT
    except typer.Exit as exit_:
        raise SystemExit(exit_.exit_code) from None
    except Exception as error:  # the database away...: the type only (a message may name a path)
        logging.getLogger("plumm.worker").error("worker could not start (%s)", type(error).__name__)
        raise SystemExit(3) from None
    # The model and rules live as long as the process: keep them out of the collector's full passes.
    gc.collect()
    gc.freeze()
    worker.run(stop=stop.is_set)
