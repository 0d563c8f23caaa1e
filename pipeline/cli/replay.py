"""``plumm replay``: run a folder of ``.eml`` files through the full pipeline for compliance (see
``pipeline.compliance.replay``). Diffs and leak lines name fixtures, types and list indices, never a
removed value. Exit code: 0 all good, 1 drift or leak, 2 usage or configuration error."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli.common import State, err, out, runtime

if TYPE_CHECKING:
    from pipeline.compliance.replay import ReplayRun


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

    from pipeline.compliance.replay import ReplayError, per_message_logs_quiet, replay

    settings = State.settings()
    if not via_smtp:
        runtime(settings)  # fail fast on bad rules before touching any message
    count = len(list(source.glob("*.eml")))
    # Per-message INFO lines would break the bar; -v keeps them.
    quiet = logging.getLogger().level > logging.DEBUG
    try:
        with per_message_logs_quiet(quiet), Progress(console=err, disable=not err.is_terminal, transient=True) as bar:
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
    _print_findings(run)
    _print_summary(run, source, out_dir)
    raise typer.Exit(run.exit_code)


def _print_findings(run: ReplayRun) -> None:
    """Notes, drift, leaks, disagreements and golden changes; scrubbed: fixtures, types and list
    indices, never a removed value."""
    for r in run.results:
        for note in r.notes:  # e.g. threaded onto an earlier case: replay against a fresh database
            err.print(f"note: {r.stem}: {note}", markup=False)
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


def _print_summary(run: ReplayRun, source: Path, out_dir: Path) -> None:
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
