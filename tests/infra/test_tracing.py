"""Traces reach X-Ray through Lambda's and Step Functions' active tracing, with no tracing SDK in the handlers.

The X-Ray SDKs (which Powertools' Tracer loads) are in maintenance mode and create an X-Ray client at import:
about a third of a handler's cold start. Lambda's active tracing records each invocation's segment, and the
state machine's tracing links the steps of a run, without any code in the function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import intrinsics_multi_constructor

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLER_FOLDERS = sorted(path.parent for path in (REPO_ROOT / "functions").glob("*/app.py"))


class _Loader(yaml.SafeLoader):
    """Reads short-form intrinsics (!Ref, !Sub, ...) as their long-form dicts."""


_Loader.add_multi_constructor("!", intrinsics_multi_constructor)


def _template() -> dict[str, Any]:
    with (REPO_ROOT / "template.yaml").open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_Loader)
    return loaded


def _transformed() -> dict[str, Any]:
    sam = _template()
    for name, resource in sam["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://driftline-deploy-bucket/{name}/{key}.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_REGION", "us-east-1")
        result: dict[str, Any] = Translator(None, Parser()).translate(
            sam, parameter_values={}, get_managed_policy_map=dict
        )
    return result


@pytest.mark.parametrize("folder", HANDLER_FOLDERS, ids=lambda folder: folder.name)
def test_handler_cold_start_loads_no_xray_sdk_and_creates_no_tracer(folder: Path) -> None:
    """A fresh interpreter imports the handler as Lambda does and reports what it loaded."""
    program = (
        "import json, sys\n"
        "from aws_lambda_powertools import Tracer\n"
        "import app\n"
        "print(json.dumps({\n"
        "    'xray_modules': sorted(name for name in sys.modules if name.startswith('aws_xray_sdk')),\n"
        "    'tracers': sorted(name for name, value in vars(app).items() if isinstance(value, Tracer)),\n"
        "}))\n"
    )
    env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_SERVICE_NAME="driftline")
    env["PYTHONPATH"] = os.pathsep.join([str(folder), str(REPO_ROOT / "layers" / "shared" / "python")])
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"xray_modules": [], "tracers": []}


def test_every_function_traces_actively_and_may_write_its_segments() -> None:
    transformed = _transformed()
    functions = {
        name: resource
        for name, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert functions
    for name, resource in functions.items():
        assert resource["Properties"].get("TracingConfig") == {"Mode": "Active"}, name
        role = transformed["Resources"][resource["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" in role["Properties"]["ManagedPolicyArns"], name


def test_no_function_turns_the_global_active_tracing_off() -> None:
    template = _template()
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"].get("Tracing", "Active") == "Active", name


def test_state_machine_traces_runs_and_may_write_its_segments() -> None:
    transformed = _transformed()
    machines = {
        name: resource
        for name, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    }
    assert machines
    for name, resource in machines.items():
        assert resource["Properties"].get("TracingConfiguration") == {"Enabled": True}, name
        role = transformed["Resources"][resource["Properties"]["RoleArn"]["Fn::GetAtt"][0]]
        assert "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" in role["Properties"]["ManagedPolicyArns"], name
