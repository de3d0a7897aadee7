"""A handler's cold import loads what its own code path needs, not every event model there is.

Each check imports one handler in a fresh interpreter, with the shared layer on the path as Lambda puts
it, and reports what the import loaded and which payload models it built. Timing lives in
``benchmarks/pipeline_local.py``; these tests pin down what drives it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

FUNCTIONS = sorted(path.parent.name for path in (REPO_ROOT / "functions").glob("*/app.py"))
LAYER = REPO_ROOT / "layers" / "shared" / "python"
MODEL_MODULES = ("driftline_core.payloads", "driftline_core.aws.events")

# Runs in the fresh interpreter: import the handler, then report what it loaded and what it built.
REPORT = """
import json, sys
import app
from pydantic import BaseModel

built = {}
for module_name in %r:
    module = sys.modules.get(module_name)
    for name, value in (vars(module) if module else {}).items():
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module_name:
            built[name] = bool(value.__pydantic_complete__)
named = [name for name, value in vars(app).items() if isinstance(value, type) and issubclass(value, BaseModel)]
print(json.dumps({"modules": sorted(sys.modules), "built": built, "named": named}))
"""


def _cold_import(function: str) -> dict[str, object]:
    code_dir = REPO_ROOT / "functions" / function
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(code_dir), str(LAYER)]),
        POWERTOOLS_SERVICE_NAME="driftline",
        POWERTOOLS_METRICS_NAMESPACE="Driftline",
        AWS_DEFAULT_REGION="us-east-1",
    )
    out = subprocess.run(
        [sys.executable, "-c", REPORT % (MODEL_MODULES,)],
        cwd=code_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    report: dict[str, object] = json.loads(out.stdout)
    return report


@pytest.fixture(scope="module")
def cold_imports() -> dict[str, dict[str, object]]:
    return {function: _cold_import(function) for function in FUNCTIONS}


def test_every_handler_is_checked() -> None:
    assert len(FUNCTIONS) >= 17


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_import_leaves_powertools_parser_and_its_event_models_unloaded(
    function: str, cold_imports: dict[str, dict[str, object]]
) -> None:
    modules = cold_imports[function]["modules"]
    assert isinstance(modules, list)

    loaded = [name for name in modules if name.startswith("aws_lambda_powertools.utilities.parser")]

    assert loaded == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_import_builds_no_payload_model_but_the_ones_it_names(
    function: str, cold_imports: dict[str, dict[str, object]]
) -> None:
    built = cold_imports[function]["built"]
    named = cold_imports[function]["named"]
    assert isinstance(built, dict) and isinstance(named, list)

    built_but_unnamed = sorted(name for name, complete in built.items() if complete and name not in named)

    assert built_but_unnamed == []


def test_a_handler_builds_its_input_model_at_import_so_the_first_event_does_not_pay_for_it(
    cold_imports: dict[str, dict[str, object]],
) -> None:
    built = cold_imports["notify"]["built"]
    assert isinstance(built, dict)

    assert built.get("NotifyInput") is True
    assert built.get("NotificationResult") is False


def test_the_layer_modules_exist_where_the_test_looks_for_them() -> None:
    for module_name in MODEL_MODULES:
        assert (LAYER / Path(*module_name.split("."))).with_suffix(".py").exists(), module_name
