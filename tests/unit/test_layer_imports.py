"""The shared layer's import contract: stages in the loop's order, imports pointing one way, no circles.

Read from the source with ``ast`` (nothing is imported), so a circle hidden behind an import inside a
function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYER = REPO_ROOT / "layers" / "shared" / "python"
PACKAGE = "driftline_core"

HOMES = ("settings", "errors", "layout", "payloads", "handler_input", "metrics")
"""Top-level homes of one concept each, which every stage may use."""
STAGES = ("aws", "notifications", "ingest", "training", "costs", "approval", "drift", "deployment", "resume")
"""Lowest first: a module imports the homes, its own stage and the stages before it, never one after it.
``drift`` sits below ``deployment`` because deploying a model sets up its drift monitor; ``costs`` prices the jobs
``training`` names; ``resume`` routes job and endpoint events to the stages that own them, so it comes last."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(LAYER).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer_modules() -> dict[str, ast.Module]:
    return {_module_name(path): ast.parse(path.read_text()) for path in sorted((LAYER / PACKAGE).rglob("*.py"))}


MODULES = _layer_modules()


def _imported(module: str, tree: ast.Module) -> Iterator[tuple[str, ast.stmt]]:
    """Every layer module ``module`` imports, anywhere in it, with the import statement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield (candidate if candidate in MODULES else node.module), node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield alias.name, node


def _stage(module: str) -> str:
    """``aws``, ``drift``, ... for a module of a stage; the home's own name for a top-level home."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def _rank(module: str) -> int:
    stage = _stage(module)
    if stage in HOMES or stage == PACKAGE:
        return -1
    return STAGES.index(stage)


def test_every_module_lives_in_a_stage_or_is_a_home() -> None:
    strays = [name for name in MODULES if _stage(name) not in (*HOMES, *STAGES, PACKAGE)]
    assert strays == [], f"modules outside the stage folders and the homes: {strays}"


def test_no_import_inside_a_function() -> None:
    """A function-local import is how a circle hides; the layer has none."""
    found = []
    for name, tree in MODULES.items():
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [
                    f"{name}:{node.lineno}"
                    for node in ast.walk(function)
                    if isinstance(node, ast.Import | ast.ImportFrom)
                ]
    assert found == []


def test_imports_point_down_the_stages() -> None:
    upward = [
        f"{name} imports {target} (line {node.lineno})"
        for name, tree in MODULES.items()
        for target, node in _imported(name, tree)
        if _stage(target) != _stage(name) and _rank(target) > _rank(name)
    ]
    assert upward == [], "a stage imports a later one:\n" + "\n".join(upward)


def test_homes_import_no_stage() -> None:
    found = [
        f"{name} imports {target}"
        for name, tree in MODULES.items()
        if _rank(name) < 0
        for target, _ in _imported(name, tree)
        if _rank(target) >= 0
    ]
    assert found == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    circles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return circles


def test_no_import_circle() -> None:
    graph = {name: {target for target, _ in _imported(name, tree) if target != name} for name, tree in MODULES.items()}
    circles = _circles(graph)
    assert circles == [], "import circles: " + "; ".join(" -> ".join(circle) for circle in circles)


def test_a_circle_behind_a_function_local_import_is_found() -> None:
    """What the checks read: the two circles the layer once had, one of them behind an import in a function."""
    gate = ast.parse("from driftline_core.ingest.dataset_config import ResolvedConfig\n")
    config = ast.parse("def resolve():\n    from driftline_core.training.quality_gate import find_metric\n")
    graph = {
        "driftline_core.training.quality_gate": {t for t, _ in _imported("x", gate)},
        "driftline_core.ingest.dataset_config": {t for t, _ in _imported("x", config)},
    }
    assert _circles(graph) == [
        [
            "driftline_core.ingest.dataset_config",
            "driftline_core.training.quality_gate",
            "driftline_core.ingest.dataset_config",
        ]
    ]


@pytest.mark.parametrize("handler", sorted((REPO_ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_a_handler_imports_the_one_stage_it_serves(handler: Path) -> None:
    stages = {
        _stage(target)
        for target, _ in _imported("functions", ast.parse(handler.read_text()))
        if _rank(target) > 0 or _stage(target) == "resume"
    }
    assert len(stages) <= 1, f"{handler.parent.name} imports {sorted(stages)}"
