"""The shape of the code: every module imports, the import graph has no cycle, each layer imports only
from itself and the layers below, the stages never reach into cases, mail, the database or the
runtime, and no module is over 700 lines.

The graph is read from the source (every ``import``, at module level, inside functions and under
``TYPE_CHECKING``), so an import hidden in a function to dodge a cycle still counts.
"""

from __future__ import annotations

import ast
import importlib
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pipeline"
MAX_LINES = 700

# Bottom first. A module may import modules of its own layer or of a layer below, never above.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "foundations",
        [
            "pipeline",
            "pipeline.config",
            "pipeline.models",
            "pipeline.patterns",
            "pipeline.rules",
            "pipeline.nlp",
            "pipeline.addresses",
        ],
    ),
    (
        "storage",
        [
            "pipeline.store",
            "pipeline.queue",
            "pipeline.compliance",
            "pipeline.compliance.keys",
            "pipeline.compliance.retention",
            "pipeline.intake",
            "pipeline.intake.rawstore",
            "pipeline.telemetry",
        ],
    ),
    ("stages", ["pipeline.stages", "pipeline.stages.*"]),
    (
        "case and mail rules",
        [
            "pipeline.cases",
            "pipeline.cases.lifecycle",
            "pipeline.cases.routing",
            "pipeline.cases.vault",
            "pipeline.cases.permissions",
            "pipeline.outbound",
            "pipeline.outbound.loop_safety",
            "pipeline.outbound.messages",
        ],
    ),
    ("composition root", ["pipeline.runtime"]),
    (
        "services",
        [
            "pipeline.outbound.delivery",
            "pipeline.cases.threading",
            "pipeline.cases.recording",
            "pipeline.cases.service",
            "pipeline.cases.digest",
            "pipeline.cases.reading",
            "pipeline.intake.smtp",
            "pipeline.users",
        ],
    ),
    ("orchestration", ["pipeline.worker"]),
    ("compliance replay", ["pipeline.compliance.replay", "pipeline.compliance.replay.*"]),
    ("web console", ["pipeline.web", "pipeline.web.*"]),
    ("command line", ["pipeline.cli", "pipeline.cli.*"]),
]
# What a stage may never import: the database, the runtime, or anything downstream of the stages.
STAGE_FORBIDDEN = [
    "pipeline.store",
    "pipeline.queue",
    "pipeline.runtime",
    "pipeline.worker",
    "pipeline.intake*",
    "pipeline.cases*",
    "pipeline.outbound*",
    "pipeline.compliance*",
    "pipeline.cli*",
    "pipeline.web*",
    "pipeline.users",
    "pipeline.telemetry",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    # Alembic's env.py and revisions run inside Alembic only; they are not part of the import graph.
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts}


MODULES = source_files()


def imports_of(name: str, path: Path) -> set[str]:
    """The pipeline modules ``name`` imports (``from pipeline.x import y`` is ``pipeline.x.y`` when that
    is a module, else ``pipeline.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def layer_of(name: str) -> int:
    for index, (_label, patterns) in enumerate(LAYERS):
        if any(fnmatch(name, pattern) for pattern in patterns):
            return index
    raise AssertionError(f"{name} is in no layer: add it to LAYERS in {Path(__file__).name}")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_the_import_graph_has_no_cycle() -> None:
    """Tarjan's strongly connected components: any component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert cycles == []


def test_no_module_imports_a_layer_above_it() -> None:
    upward = [
        f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for name, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_stages_never_import_the_database_runtime_cases_mail_compliance_or_cli() -> None:
    stages = [name for name in GRAPH if name.startswith("pipeline.stages")]
    assert len(stages) > 10
    reaching = [
        f"{name} imports {target}"
        for name in sorted(stages)
        for target in sorted(GRAPH[name])
        if any(fnmatch(target, pattern) for pattern in STAGE_FORBIDDEN)
    ]
    assert reaching == []


def test_no_module_is_over_700_lines() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
