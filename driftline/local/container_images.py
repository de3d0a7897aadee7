"""Local mode's answer when Validate asks ECR for a dataset's own container image: local mode runs no containers.

A model in its own container (``"model": {"image": ...}``) trains, answers its held-out rows and serves inside that
image, which needs Docker, and local mode uses none: it runs the application's own code only. Validate asks ECR
for the image (DescribeImages) before a run goes further, so local mode answers that request with a refusal that
says why; the run then fails at validation with this message, before any data is preprocessed.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import ServiceException
from moto.ecr.responses import ECRResponse

from driftline.local import seams

PATCH_GROUP = "container_images"
REFUSAL = (
    "local mode runs no containers (it does not use Docker), so a model in its own image cannot train, answer its "
    'held-out rows or serve here. Deploy the stack to AWS to use the image, or choose "script" or "algorithm": '
    '"xgboost" in dataset.json\'s "model", which local mode runs'
)


class LocalModeRunsNoContainers(ServiceException):
    code = "UnsupportedImageTypeException"
    message = REFUSAL


def describe_images(self: ECRResponse) -> Any:
    raise LocalModeRunsNoContainers()


def install() -> None:
    """Refuse DescribeImages until ``seams.restore``."""
    if not seams.claim(PATCH_GROUP):
        return
    seams.replace(ECRResponse, "describe_images", describe_images)
