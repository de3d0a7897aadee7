"""Template mappings of SageMaker image registry accounts per region, generated from the SageMaker Python SDK.

SageMaker's images live in a registry account that differs by region. The SDK (sagemaker-core's
``image_uri_config/*.json``) records them; the template keeps the commercial partition's as a mapping
(``SklearnImageRegistry``, ``ModelMonitorImageRegistry``) that a module per image regenerates and checks with
the helpers here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import botocore

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "template.yaml"


def sdk_image_config(file_name: str) -> dict[str, Any]:
    """One of the SageMaker Python SDK's image tables (needs the dev dependency sagemaker-core)."""
    try:
        config = resources.files("sagemaker.core") / "image_uri_config" / file_name
        loaded: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
    except ModuleNotFoundError as error:
        raise SystemExit(
            "sagemaker-core is not installed; install the development dependencies (pip install -e '.[dev]')"
        ) from error
    return loaded


def region_partition(region: str) -> str:
    """The AWS partition of a region, as botocore's partition table names it (aws, aws-cn, aws-us-gov, ...)."""
    table = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text(encoding="utf-8"))
    partitions = table["partitions"]
    for partition in partitions:
        if region in partition["regions"]:
            return str(partition["id"])
    # The commercial pattern also matches us-gov-* and us-iso-*: try the other partitions first.
    for partition in sorted(partitions, key=lambda p: p["id"] == "aws"):
        if re.fullmatch(partition["regionRegex"], region):
            return str(partition["id"])
    raise ValueError(f"region {region} belongs to no partition botocore knows")


def render_mapping(mapping: str, registries: dict[str, str]) -> str:
    lines = [f"  {mapping}:"]
    lines += [f'    {region}: {{ Account: "{account}" }}' for region, account in registries.items()]
    return "\n".join(lines) + "\n"


def regenerate(mapping: str, template_text: str, registries: dict[str, str]) -> str:
    """The template with the named mapping replaced; nothing else changes."""
    block = re.compile(rf"^  {mapping}:\n(?:    \S.*\n)+", re.MULTILINE)
    if not block.search(template_text):
        raise ValueError(f"the template has no {mapping} mapping to replace")
    return block.sub(lambda _: render_mapping(mapping, registries), template_text, count=1)


def main(
    argv: list[str] | None, *, mapping: str, module: str, registries: Callable[[], dict[str, str]], description: str
) -> int:
    """``python -m <module> [--check]``: rewrite the template's mapping from the SDK, or report a difference."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--check", action="store_true", help="report a difference instead of writing")
    args = parser.parse_args(argv)
    text = args.template.read_text(encoding="utf-8")
    updated = regenerate(mapping, text, registries())
    if updated == text:
        print(f"{args.template}: {mapping} matches the SageMaker Python SDK")
        return 0
    if args.check:
        print(
            f"{args.template}: {mapping} differs from the SageMaker Python SDK; run python -m {module} to rewrite it",
            file=sys.stderr,
        )
        return 1
    tmp = args.template.with_suffix(".tmp")
    tmp.write_text(updated, encoding="utf-8")
    os.replace(tmp, args.template)
    print(f"{args.template}: {mapping} rewritten from the SageMaker Python SDK")
    return 0
