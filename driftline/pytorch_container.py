"""SageMaker's PyTorch framework images, for datasets whose dataset.json asks for ``"framework": "pytorch"``.

A dataset's own training script trains, is evaluated and is served on these containers. They live in AWS's Deep
Learning Containers registry accounts, which differ from the scikit-learn image's, so the template keeps its own
mapping: the registry accounts as the SageMaker Python SDK records them (sagemaker-core's
``image_uri_config/pytorch.json``). ``python -m driftline.pytorch_container`` rewrites the template's
``PyTorchImageRegistry`` mapping from the installed SDK; ``--check`` only reports whether it differs.
"""

from __future__ import annotations

from typing import Any

from driftline import image_registries
from driftline.image_registries import region_partition

CONTAINER_VERSION = "2.6.0"
PYTHON_TAG = "py312"
TRAINING_REPOSITORY = "pytorch-training"
INFERENCE_REPOSITORY = "pytorch-inference"
MAPPING = "PyTorchImageRegistry"


def sdk_image_config() -> dict[str, Any]:
    """The SageMaker Python SDK's PyTorch image table (needs the dev dependency sagemaker-core)."""
    return image_registries.sdk_image_config("pytorch.json")


def commercial_registries(config: dict[str, Any]) -> dict[str, str]:
    """Region -> registry account of the training and inference images, for the commercial (``aws``) partition's
    regions where the SDK lists both in the same account (the template's mapping is by region only)."""
    tables = []
    for scope, repository in (("training", TRAINING_REPOSITORY), ("inference", INFERENCE_REPOSITORY)):
        listed = config[scope]["versions"]
        if CONTAINER_VERSION not in listed:
            raise ValueError(f"the SDK lists no {scope} image for PyTorch {CONTAINER_VERSION}")
        version = listed[CONTAINER_VERSION]
        if version.get("repository") != repository:
            raise ValueError(
                f"the SDK names the PyTorch {scope} repository {version.get('repository')!r}, not {repository}"
            )
        if PYTHON_TAG not in version.get("py_versions", []):
            raise ValueError(f"the SDK's PyTorch {CONTAINER_VERSION} {scope} image has no {PYTHON_TAG}")
        tables.append(
            {region: account for region, account in version["registries"].items() if region_partition(region) == "aws"}
        )
    training, inference = tables
    registries = {region: account for region, account in training.items() if inference.get(region) == account}
    return dict(sorted(registries.items()))


def regenerate(template_text: str, registries: dict[str, str]) -> str:
    """The template with its PyTorchImageRegistry mapping replaced; nothing else changes."""
    return image_registries.regenerate(MAPPING, template_text, registries)


def main(argv: list[str] | None = None) -> int:
    return image_registries.main(
        argv,
        mapping=MAPPING,
        module="driftline.pytorch_container",
        registries=lambda: commercial_registries(sdk_image_config()),
        description=__doc__.splitlines()[0] if __doc__ else "",
    )


if __name__ == "__main__":
    raise SystemExit(main())
