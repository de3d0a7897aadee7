"""The SageMaker scikit-learn container the jobs and endpoints run on: the versions the template offers, the
registry account of its image in each region, and the library versions local mode matches.

The registry accounts are SageMaker's, as the SageMaker Python SDK records them (sagemaker-core's
``image_uri_config/sklearn.json``). ``python -m driftline.sklearn_container`` rewrites the template's
``SklearnImageRegistry`` mapping from the installed SDK; ``--check`` only reports whether it differs.
"""

from __future__ import annotations

from typing import Any

from driftline import image_registries
from driftline.image_registries import region_partition

MAPPING = "SklearnImageRegistry"

CONTAINER_VERSIONS = ("1.2-1", "1.4-2-py312", "1.9-0")
"""The template's SklearnContainerVersion choices: versions the SDK lists for both training and inference
whose Python runs ``ml/`` (3.9 or later: 1.0-1 has Python 3.8, 0.23-1 Python 3.7)."""

DEFAULT_CONTAINER_VERSION = "1.9-0"

CONTAINER_LIBRARIES: dict[str, dict[str, str]] = {
    # aws/deep-learning-containers docker/sklearn/1.9-0 (pyproject.toml and uv.lock): Python 3.12.
    "1.9-0": {"scikit-learn": "1.9.0", "pandas": "2.2.3", "numpy": "2.5.1", "scipy": "1.18.0", "joblib": "1.5.3"},
}
"""Exact library versions inside the default container, as its build pins and locks them."""

LOCAL_LIBRARY_EXCEPTIONS: dict[str, tuple[str, str]] = {
    "numpy": ("2.4.6", "numpy 2.5 requires Python 3.12; 2.4.6 is the newest release for Python 3.11"),
    "scipy": ("1.17.1", "scipy 1.18 requires Python 3.12; 1.17.1 is the newest release for Python 3.11"),
}
"""Where local mode cannot install the container's version on the project's Python (3.11), the release it
uses instead and why. Both read and write the same pickles; models carry scikit-learn's version, which matches."""


def local_libraries(version: str = DEFAULT_CONTAINER_VERSION) -> dict[str, str]:
    """The library versions local mode runs jobs and endpoints with (pinned in pyproject.toml)."""
    return {
        name: LOCAL_LIBRARY_EXCEPTIONS.get(name, (pin, ""))[0] for name, pin in CONTAINER_LIBRARIES[version].items()
    }


def sdk_image_config() -> dict[str, Any]:
    """The SageMaker Python SDK's scikit-learn image table (needs the dev dependency sagemaker-core)."""
    return image_registries.sdk_image_config("sklearn.json")


def commercial_registries(config: dict[str, Any], versions: tuple[str, ...] = CONTAINER_VERSIONS) -> dict[str, str]:
    """Region -> registry account of the image, for the commercial (``aws``) partition's regions the SDK lists.

    One account per region serves every offered version for training and inference; a version whose
    accounts differ is refused, since the template's mapping is by region only.
    """
    tables = []
    for scope in ("training", "inference"):
        for version in versions:
            listed = config[scope]["versions"]
            if version not in listed:
                raise ValueError(f"the SDK lists no {scope} image for scikit-learn {version}")
            tables.append(
                {
                    region: account
                    for region, account in listed[version]["registries"].items()
                    if region_partition(region) == "aws"
                }
            )
    if any(table != tables[0] for table in tables):
        raise ValueError(
            f"the SDK's registry accounts differ between the versions {', '.join(versions)}; the template maps "
            "one account per region, so key SklearnImageRegistry by version as well before offering them all"
        )
    return dict(sorted(tables[0].items()))


def regenerate(template_text: str, registries: dict[str, str]) -> str:
    """The template with its SklearnImageRegistry mapping replaced; nothing else changes."""
    return image_registries.regenerate(MAPPING, template_text, registries)


def main(argv: list[str] | None = None) -> int:
    return image_registries.main(
        argv,
        mapping=MAPPING,
        module="driftline.sklearn_container",
        registries=lambda: commercial_registries(sdk_image_config()),
        description=__doc__.splitlines()[0] if __doc__ else "",
    )


if __name__ == "__main__":
    raise SystemExit(main())
