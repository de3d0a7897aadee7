"""`sam build` and `sam validate --lint` on the real template, when a SAM CLI is installed.

The build must work without Docker and without a local python3.13: the functions have no
requirements.txt, so the python builder only copies their sources.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from samtranslator.yaml_helper import intrinsics_multi_constructor

pytestmark = pytest.mark.sam

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
STEP_FUNCTIONS = [
    "StartRunFunction",
    "ValidateFunction",
    "PreprocessFunction",
    "TrainFunction",
    "EvaluateFunction",
    "JobEventsFunction",
    "QualityGateFunction",
    "RegisterFunction",
    "NotifyFunction",
]


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads the short-form intrinsics SAM writes into the built template."""


_CloudFormationLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def _find_sam_cli() -> str | None:
    """`sam` on PATH, else the project's own SAM virtual environment (kept apart: it pins boto3)."""
    on_path = shutil.which("sam")
    if on_path:
        return on_path
    project_cli = REPO_ROOT / ".venv-sam" / "bin" / "sam"
    return str(project_cli) if project_cli.exists() else None


def _path_without_python313() -> str:
    """PATH minus folders holding a python3.13, so the build proves it needs no local Lambda interpreter."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(folder for folder in folders if not (Path(folder) / "python3.13").exists())


def _run_sam(sam: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PATH": _path_without_python313(),
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [sam, *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def sam_cli() -> str:
    sam = _find_sam_cli()
    if sam is None:
        pytest.skip("SAM CLI not installed: put `sam` on PATH or create .venv-sam with aws-sam-cli")
    return sam


@pytest.fixture(scope="module")
def build_dir(sam_cli: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sam") / "build"
    result = _run_sam(sam_cli, "build", "--template-file", str(TEMPLATE), "--build-dir", str(target), "--no-cached")
    assert result.returncode == 0, f"sam build failed:\n{result.stdout}\n{result.stderr}"
    return target


@pytest.fixture(scope="module")
def built_template(build_dir: Path) -> dict[str, Any]:
    with (build_dir / "template.yaml").open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CloudFormationLoader)
    return loaded


def _built_path(build_dir: Path, uri: str) -> Path:
    """SAM writes built code paths relative to the build folder (sources it did not build included)."""
    return (build_dir / uri).resolve()


def test_sam_validate_lint_accepts_the_template(sam_cli: str) -> None:
    result = _run_sam(sam_cli, "validate", "--lint", "--template-file", str(TEMPLATE), "--region", "us-east-1")
    assert result.returncode == 0, f"sam validate --lint failed:\n{result.stdout}\n{result.stderr}"
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.parametrize("logical_id", STEP_FUNCTIONS)
def test_each_built_function_contains_its_handler(
    build_dir: Path, built_template: dict[str, Any], logical_id: str
) -> None:
    properties = built_template["Resources"][logical_id]["Properties"]
    module = properties["Handler"].split(".")[0]
    assert (_built_path(build_dir, properties["CodeUri"]) / f"{module}.py").is_file()


def test_built_code_publisher_ships_the_job_scripts(build_dir: Path, built_template: dict[str, Any]) -> None:
    properties = built_template["Resources"]["MlCodePublisherFunction"]["Properties"]
    code = _built_path(build_dir, properties["CodeUri"])
    assert (code / "code_publisher.py").is_file()
    assert any(path.suffix == ".py" and path.name != "code_publisher.py" for path in code.rglob("*"))


def test_shared_layer_has_the_python_layer_layout(build_dir: Path, built_template: dict[str, Any]) -> None:
    properties = built_template["Resources"]["SharedLayer"]["Properties"]
    layer = _built_path(build_dir, properties["ContentUri"])
    assert (layer / "python" / "driftline_core" / "__init__.py").is_file()
    assert (layer / "python" / "driftline_core" / "settings.py").is_file()


def test_built_state_machine_definition_is_the_project_asl(build_dir: Path, built_template: dict[str, Any]) -> None:
    properties = built_template["Resources"]["PipelineStateMachine"]["Properties"]
    definition = _built_path(build_dir, properties["DefinitionUri"])
    assert definition.read_text() == (REPO_ROOT / "statemachine" / "pipeline.asl.json").read_text()
