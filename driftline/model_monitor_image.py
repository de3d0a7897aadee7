"""The SageMaker Model Monitor analyzer image of each region, for stacks deployed with ``DriftMonitor=ModelMonitor``.

The registry accounts are SageMaker's, as the SageMaker Python SDK records them (sagemaker-core's
``image_uri_config/model-monitor.json``). ``python -m driftline.model_monitor_image`` rewrites the template's
``ModelMonitorImageRegistry`` mapping from the installed SDK; ``--check`` only reports whether it differs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from driftline.sklearn_container import TEMPLATE, region_partition

REPOSITORY = "sagemaker-model-monitor-analyzer"


def sdk_image_config() -> dict[str, Any]:
    """The SageMaker Python SDK's Model Monitor image table (needs the dev dependency sagemaker-core)."""
    try:
        config = resources.files("sagemaker.core") / "image_uri_config" / "model-monitor.json"
        loaded: dict[str, Any] = json.loads(config.read_text(encoding="utf-8"))
    except ModuleNotFoundError as error:
        raise SystemExit(
            "sagemaker-core is not installed; install the development dependencies (pip install -e '.[dev]')"
        ) from error
    return loaded


def commercial_registries(config: dict[str, Any]) -> dict[str, str]:
    """Region -> registry account of the analyzer image, for the commercial (``aws``) partition's regions."""
    [version] = config["versions"].values()
    if version.get("repository") != REPOSITORY:
        raise ValueError(f"the SDK names the Model Monitor repository {version.get('repository')!r}, not {REPOSITORY}")
    registries = {
        region: account for region, account in version["registries"].items() if region_partition(region) == "aws"
    }
    return dict(sorted(registries.items()))


def render_mapping(registries: dict[str, str]) -> str:
    lines = ["  ModelMonitorImageRegistry:"]
    lines += [f'    {region}: {{ Account: "{account}" }}' for region, account in registries.items()]
    return "\n".join(lines) + "\n"


MAPPING_BLOCK = re.compile(r"^  ModelMonitorImageRegistry:\n(?:    \S.*\n)+", re.MULTILINE)


def regenerate(template_text: str, registries: dict[str, str]) -> str:
    """The template with its ModelMonitorImageRegistry mapping replaced; nothing else changes."""
    if not MAPPING_BLOCK.search(template_text):
        raise ValueError("the template has no ModelMonitorImageRegistry mapping to replace")
    return MAPPING_BLOCK.sub(lambda _: render_mapping(registries), template_text, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--check", action="store_true", help="report a difference instead of writing")
    args = parser.parse_args(argv)
    text = args.template.read_text(encoding="utf-8")
    updated = regenerate(text, commercial_registries(sdk_image_config()))
    if updated == text:
        print(f"{args.template}: ModelMonitorImageRegistry matches the SageMaker Python SDK")
        return 0
    if args.check:
        print(
            f"{args.template}: ModelMonitorImageRegistry differs from the SageMaker Python SDK; "
            "run python -m driftline.model_monitor_image to rewrite it",
            file=sys.stderr,
        )
        return 1
    tmp = args.template.with_suffix(".tmp")
    tmp.write_text(updated, encoding="utf-8")
    os.replace(tmp, args.template)
    print(f"{args.template}: ModelMonitorImageRegistry rewritten from the SageMaker Python SDK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
