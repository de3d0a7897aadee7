"""SageMaker's XGBoost image: the version the template names, what it holds, and why the template needs no
registry mapping of its own.

The image trains ``"algorithm": "xgboost"`` models in algorithm mode and, as a framework container, runs
``ml/evaluate.py`` and ``ml/serve.py`` for them. SageMaker keeps it in the same registry account as the
scikit-learn image in every region the SDK lists (sagemaker-core's ``image_uri_config/xgboost.json`` and
``sklearn.json``), so the template builds its URI from ``SklearnImageRegistry``; ``registries_differ`` is the
check that keeps that true.
"""

from __future__ import annotations

from typing import Any

from driftline import image_registries, sklearn_container

CONTAINER_VERSION = "3.0-5"
"""The newest version the SDK lists whose Python runs ``ml/`` with the same pandas as the scikit-learn image."""

CONTAINER_LIBRARIES = {"xgboost": "3.0.5", "scikit-learn": "1.8.0", "pandas": "2.2.3", "numpy": "2.1.0"}
"""aws/sagemaker-xgboost-container docker/3.0-5 (Dockerfile and requirements.txt): Python 3.10. Local mode pins the
same XGBoost (pyproject.toml), so a booster moves between local mode and AWS in XGBoost's own format."""


def sdk_image_config() -> dict[str, Any]:
    return image_registries.sdk_image_config("xgboost.json")


def registries_differ(xgboost_config: dict[str, Any], sklearn_config: dict[str, Any]) -> list[str]:
    """Regions where the XGBoost image's registry account is not the scikit-learn image's (both scopes)."""
    sklearn_registries = sklearn_container.commercial_registries(sklearn_config)
    differing = []
    for scope in ("training", "inference"):
        registries = xgboost_config[scope]["versions"][CONTAINER_VERSION]["registries"]
        differing += [region for region, account in sklearn_registries.items() if registries.get(region) != account]
    return sorted(set(differing))
