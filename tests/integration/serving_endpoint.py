"""The dataset's endpoint as Deploy leaves it under moto: a model made from a package, its config, the endpoint."""

from __future__ import annotations

import boto3

from driftline_core.layout import versioned_name
from tests.conftest import REGION

ENDPOINT = "driftline-credit"
"""The credit dataset's endpoint in a stack named ``driftline`` (the same name as its Model Registry group)."""


def serve_on_endpoint(model_package_arn: str) -> str:
    """Make the endpoint serve the package, as a completed Deploy does; the model's (and config's) name."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    name = versioned_name(ENDPOINT, int(model_package_arn.rsplit("/", 1)[-1]), stack="driftline")
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"ModelPackageName": model_package_arn},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/driftline-sagemaker-execution",
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    if sagemaker.list_endpoints(NameContains=ENDPOINT)["Endpoints"]:
        sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
    else:
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
    return name
