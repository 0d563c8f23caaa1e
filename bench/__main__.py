"""``python -m bench`` (``make bench``): run every benchmark module in ``bench/`` and report once.

A benchmark module is any ``bench/<name>.py`` (not starting with ``_``) with ``run() -> dict``
and ``render(results) -> str``. Each runs in turn; the combined report is printed (each module's
table, then one summary table with every module's time and status) and written to
``bench/results/latest.json`` (gitignored). A module that fails (or returns a non-empty
``errors`` list) is reported with its exception *type* and the others still run; the exit code is
1 if any failed.

``python -m bench e2e`` runs only the named modules.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"


def modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = argv or modules()
    combined: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "benchmarks": {}}
    summary: list[tuple[str, str, str]] = []
    failed = False
    t_all = time.perf_counter()
    for name in names:
        t = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            if not (hasattr(module, "run") and hasattr(module, "render")):
                continue
            results = module.run()
            text = module.render(results)
            status = "ok" if not results.get("errors") else f"{len(results['errors'])} step(s) FAILED"
            failed = failed or bool(results.get("errors"))
        except Exception as error:  # report and go on; never print the message (it may hold a value)
            results, text, status = {"error": type(error).__name__}, "", f"FAILED ({type(error).__name__})"
            failed = True
        seconds = time.perf_counter() - t
        combined["benchmarks"][name] = {"seconds": round(seconds, 1), "status": status, "results": results}
        summary.append((name, f"{seconds:.1f}", status))
        print(f"== {name} ==")
        print(text or status)
        print(flush=True)
    combined["total_seconds"] = round(time.perf_counter() - t_all, 1)
    rows = [("benchmark", "seconds", "status"), *summary, ("total", f"{combined['total_seconds']:.1f}", "")]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print("== summary ==")
    for i, r in enumerate(rows):
        cells = (c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(combined, indent=2, default=str))
    print(f"results: {RESULTS.relative_to(HERE.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
