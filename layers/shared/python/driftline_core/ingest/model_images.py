"""A dataset's own container image (``"model": {"image": "<ECR image URI>"}``): read, and checked against the stack.

SageMaker runs a training job's image, and a model's, from Amazon ECR in the job's own region. The stack lets its
SageMaker role pull only from its own account's repositories whose names start with ``ModelImageRepositories``
(a prefix ending in ``/``), so an image anywhere else would fail the training job after the data had been
preprocessed; Validate refuses it first, naming what is wrong, and asks ECR that the image exists. The URI must
name a tag or a digest: a run's lineage records exactly what trained it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, error_message
from driftline_core.errors import DatasetConfigInvalid

IMAGE_URI_MAX_LENGTH = 255
"""CreateTrainingJob's limit on ``TrainingImage`` (and CreateModel's on a container's ``Image``)."""
REPOSITORY = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
"""ECR's repository name pattern (2 to 256 characters)."""
IMAGE_URI = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])\.amazonaws\.com(?:\.cn)?/"
    rf"(?P<repository>{REPOSITORY})"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))?"
)
REPOSITORY_PREFIX = re.compile(rf"(?:{REPOSITORY}/)+")
"""What ``ModelImageRepositories`` may be: one or more repository path segments, each ended by ``/``."""
EXAMPLE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/driftline/churn:1.0"


@dataclass(frozen=True)
class ImageReference:
    uri: str
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image_uri(uri: str) -> ImageReference:
    """The URI's parts; ``DatasetConfigInvalid`` saying what is wrong with one that is not an ECR image URI."""
    where = f"model.image {uri!r}"
    if len(uri) > IMAGE_URI_MAX_LENGTH:
        raise DatasetConfigInvalid(f"{where} is {len(uri)} characters; SageMaker takes at most {IMAGE_URI_MAX_LENGTH}")
    match = IMAGE_URI.fullmatch(uri)
    if match is None:
        raise DatasetConfigInvalid(
            f"{where} is not an Amazon ECR image URI; write "
            f"<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> (or @sha256:<digest>), such as {EXAMPLE}"
        )
    if not 2 <= len(match["repository"]) <= 256:
        raise DatasetConfigInvalid(
            f"{where} names a repository of {len(match['repository'])} characters; ECR's are 2 to 256"
        )
    if match["tag"] is None and match["digest"] is None:
        raise DatasetConfigInvalid(
            f"{where} names no tag or digest; add one (:<tag> or @sha256:<digest>) so every run records the image "
            "that trained it"
        )
    return ImageReference(uri, match["account"], match["region"], match["repository"], match["tag"], match["digest"])


def check_image_place(image: ImageReference, *, account: str, region: str, repository_prefix: str) -> None:
    """The image must be in the stack's account and region, in a repository the stack's role may pull from."""
    where = f"model.image {image.uri!r}"
    if image.region != region:
        raise DatasetConfigInvalid(
            f"{where} is in {image.region}; SageMaker runs images from the job's own region, {region}: push the image "
            f"to {region} and name that URI"
        )
    if account and image.account != account:
        raise DatasetConfigInvalid(
            f"{where} is in account {image.account}; this stack's SageMaker role pulls images from its own account, "
            f"{account}: push the image there"
        )
    if not image.repository.startswith(repository_prefix):
        raise DatasetConfigInvalid(
            f"{where} is in repository {image.repository!r}; this stack's SageMaker role pulls only from repositories "
            f"whose names start with {repository_prefix!r} (its ModelImageRepositories parameter): push the image to "
            f"{repository_prefix}{image.repository.rsplit('/', 1)[-1]}"
        )


def check_transform_instance_type(instance_type: str) -> None:
    """The batch transform that has the image answer the held-out rows runs on ``ProcessingInstanceType``, which
    must then be a type batch transform offers (SageMaker offers some processing types to processing jobs only)."""
    offered = transform_instance_types()
    if offered and instance_type not in offered:
        raise DatasetConfigInvalid(
            f"a model in its own container answers its held-out rows in a batch transform on the stack's "
            f"ProcessingInstanceType, {instance_type}, which batch transform does not offer; deploy again with a type "
            "it does (ml.m5.large, say) or choose another model"
        )


@cache
def transform_instance_types() -> frozenset[str]:
    """The instance types CreateTransformJob takes, from the SageMaker service model botocore ships."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape: Any = model.shape_for("TransformInstanceType")
    return frozenset(shape.enum)


def confirm_image_exists(image: ImageReference) -> None:
    """Ask ECR for the image; ``DatasetConfigInvalid`` naming why it cannot be used when ECR does not find it."""
    reference = {"imageDigest": image.digest} if image.digest else {"imageTag": str(image.tag)}
    try:
        get_client("ecr").describe_images(
            registryId=image.account, repositoryName=image.repository, imageIds=[reference]
        )
    except ClientError as error:
        code = error_code(error)
        where = f"model.image {image.uri!r}"
        if code == "RepositoryNotFoundException":
            raise DatasetConfigInvalid(
                f"{where} names repository {image.repository!r}, which does not exist in {image.account}'s registry "
                f"in {image.region}; create it and push the image"
            ) from error
        if code == "ImageNotFoundException":
            what = f"digest {image.digest}" if image.digest else f"tag {image.tag!r}"
            raise DatasetConfigInvalid(
                f"{where}: repository {image.repository!r} holds no image with {what}; push it, or name one it holds"
            ) from error
        raise DatasetConfigInvalid(f"{where} cannot be used: {error_message(error)} ({code})") from error
