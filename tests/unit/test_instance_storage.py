"""The instance storage table: which instance types take no storage-volume KMS key, and the requests built from it."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto.utilities.utils import load_resource

from driftline_core.aws.instance_storage import (
    EBS_ONLY_FAMILIES,
    INSTANCE_STORE_FAMILIES,
    has_instance_storage,
    instance_family,
)
from driftline_core.deployment.endpoint import build_endpoint_config_request
from driftline_core.settings import DeploymentSettings, Settings

_SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
INSTANCE_TYPE_SHAPES = ("ProductionVariantInstanceType", "TrainingInstanceType", "ProcessingInstanceType")
SAGEMAKER_INSTANCE_TYPES = sorted(
    {name for shape in INSTANCE_TYPE_SHAPES for name in _SAGEMAKER.shape_for(shape).metadata["enum"]}
)

NOT_DESCRIBED_BY_EC2 = {"ml.dl1.24xlarge", "ml.p6e-gb200.36xlarge"}
"""SageMaker lists them, EC2's DescribeInstanceTypes data does not; the table follows EC2's instance store
specifications for dl1 (4 x 1000 GB NVMe SSD) and leaves p6e-gb200 out."""
RETIRED_FROM_EC2_DATA = {"p2", "p3"}
"""Families EC2's data no longer lists; SageMaker's training storage page names ml.p2 EBS-backed, and EC2's
previous-generation specifications give P3 no instance store (P3dn, a family of its own, has it)."""

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    "instance_type",
    [
        "ml.g5.xlarge",
        "ml.p4d.24xlarge",
        "ml.p5.48xlarge",
        "ml.m5d.large",
        "ml.c5d.xlarge",
        "ml.g4dn.xlarge",
        "ml.g6.xlarge",
        "ml.g6e.2xlarge",
        "ml.p3dn.24xlarge",
        "ml.r5d.large",
        "ml.trn1.2xlarge",
        "ml.p6-b200.48xlarge",
    ],
)
def test_types_with_nvme_instance_store_have_instance_storage(instance_type: str) -> None:
    assert has_instance_storage(instance_type)


@pytest.mark.parametrize(
    "instance_type",
    ["ml.m5.large", "ml.c5.xlarge", "ml.c5n.xlarge", "ml.p2.xlarge", "ml.p3.2xlarge", "ml.t3.medium", "ml.inf2.xlarge"],
)
def test_ebs_backed_types_have_no_instance_storage(instance_type: str) -> None:
    assert not has_instance_storage(instance_type)


@pytest.mark.parametrize("name", ["", "g5.xlarge", "ml.g5", "local", "ml.g5.xlarge.extra"])
def test_a_name_not_shaped_ml_family_size_is_not_looked_up(name: str) -> None:
    assert instance_family(name) == ""
    assert not has_instance_storage(name)


def test_the_two_sets_are_disjoint() -> None:
    assert INSTANCE_STORE_FAMILIES.isdisjoint(EBS_ONLY_FAMILIES)


def test_every_family_sagemakers_api_lists_is_in_the_table() -> None:
    """A botocore with a new family fails here until the family's storage is looked up and added."""
    families = {instance_family(name) for name in SAGEMAKER_INSTANCE_TYPES}
    unclassified = families - INSTANCE_STORE_FAMILIES - EBS_ONLY_FAMILIES
    assert unclassified == {"p6e-gb200"}


def test_the_table_agrees_with_ec2s_description_of_every_sagemaker_instance_type() -> None:
    """EC2's DescribeInstanceTypes answer (the copy moto ships) per type, against the table per family."""
    described = load_resource("ec2/resources/instance_types.json")
    disagreements = []
    for name in SAGEMAKER_INSTANCE_TYPES:
        ec2 = described.get(name.removeprefix("ml."))
        if ec2 is None:
            assert name in NOT_DESCRIBED_BY_EC2 or instance_family(name) in RETIRED_FROM_EC2_DATA, name
            continue
        if bool(ec2["InstanceStorageSupported"]) != has_instance_storage(name):
            disagreements.append(name)
    assert disagreements == []


# ---------------------------------------------------------------- the requests that name a volume key


def _valid(operation: str, request: dict[str, Any]) -> None:
    input_shape = _SAGEMAKER.operation_model(operation).input_shape
    assert input_shape is not None
    report = ParamValidator().validate(request, input_shape)
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize("instance_type", ["ml.g5.xlarge", "ml.p5.48xlarge", "ml.m5d.large", "ml.g4dn.xlarge"])
def test_an_endpoint_on_instance_storage_gets_no_volume_key_but_its_capture_stays_encrypted(instance_type: str) -> None:
    settings = Settings(artifact_bucket="artifacts", kms_key_arn=KEY)
    request = build_endpoint_config_request(
        "driftline-credit-v3", "credit", settings, DeploymentSettings(endpoint_instance_type=instance_type)
    )
    _valid("CreateEndpointConfig", request)
    assert "KmsKeyId" not in request
    assert request["DataCaptureConfig"]["KmsKeyId"] == KEY


@pytest.mark.parametrize("instance_type", ["ml.m5.large", "ml.c5.xlarge", "ml.p3.2xlarge"])
def test_an_endpoint_on_ebs_gets_the_volume_key(instance_type: str) -> None:
    settings = Settings(artifact_bucket="artifacts", kms_key_arn=KEY)
    request = build_endpoint_config_request(
        "driftline-credit-v3", "credit", settings, DeploymentSettings(endpoint_instance_type=instance_type)
    )
    assert request["KmsKeyId"] == KEY
