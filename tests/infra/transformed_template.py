"""The CloudFormation the SAM transform makes of ``template.yaml``, for checks that only read plain CloudFormation.

Policy scanners check few ``AWS::Serverless::*`` properties and none of the roles, queues, rules and
permissions SAM generates, so the scan reads this output too. ``python tests/infra/transformed_template.py
OUT.json`` writes it (``make scan`` does); local code paths become placeholder S3 URIs, as after ``sam package``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import intrinsics_multi_constructor

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"


class CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that reads short-form intrinsics (!Ref, !Sub, ...) as their long-form dicts."""


CloudFormationLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=CloudFormationLoader)
    return loaded


def sam_transform(template: dict[str, Any], parameter_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the SAM translator offline (no managed-policy lookups); the template is not modified."""
    sam = json.loads(json.dumps(template))
    for name, resource in sam["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://driftline-deploy-bucket/{name}/{key}.zip"
    region = {"AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    saved = {name: os.environ.get(name) for name in region}
    os.environ.update(region)
    try:
        result: dict[str, Any] = Translator(None, Parser()).translate(
            sam, parameter_values=dict(parameter_values or {}), get_managed_policy_map=dict
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: transformed_template.py OUT.json", file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(sam_transform(load_template()), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
