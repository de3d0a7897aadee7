"""The SageMaker Model Monitor analyzer image of each region, for stacks deployed with ``DriftMonitor=ModelMonitor``.

The registry accounts are SageMaker's, as the SageMaker Python SDK records them (sagemaker-core's
``image_uri_config/model-monitor.json``). ``python -m driftline.model_monitor_image`` rewrites the template's
``ModelMonitorImageRegistry`` mapping from the installed SDK; ``--check`` only reports whether it differs.
"""

from __future__ import annotations

from typing import Any

from driftline import image_registries
from driftline.image_registries import region_partition

REPOSITORY = "sagemaker-model-monitor-analyzer"
MAPPING = "ModelMonitorImageRegistry"


def sdk_image_config() -> dict[str, Any]:
    """The SageMaker Python SDK's Model Monitor image table (needs the dev dependency sagemaker-core)."""
    return image_registries.sdk_image_config("model-monitor.json")


def commercial_registries(config: dict[str, Any]) -> dict[str, str]:
    """Region -> registry account of the analyzer image, for the commercial (``aws``) partition's regions."""
    [version] = config["versions"].values()
    if version.get("repository") != REPOSITORY:
        raise ValueError(f"the SDK names the Model Monitor repository {version.get('repository')!r}, not {REPOSITORY}")
    registries = {
        region: account for region, account in version["registries"].items() if region_partition(region) == "aws"
    }
    return dict(sorted(registries.items()))


def regenerate(template_text: str, registries: dict[str, str]) -> str:
    """The template with its ModelMonitorImageRegistry mapping replaced; nothing else changes."""
    return image_registries.regenerate(MAPPING, template_text, registries)


def main(argv: list[str] | None = None) -> int:
    return image_registries.main(
        argv,
        mapping=MAPPING,
        module="driftline.model_monitor_image",
        registries=lambda: commercial_registries(sdk_image_config()),
        description=__doc__.splitlines()[0] if __doc__ else "",
    )


if __name__ == "__main__":
    raise SystemExit(main())
