"""A local endpoint answers the SageMaker Python SDK the way a SageMaker endpoint does, with the SDK pointed at
local mode only through the environment (``AWS_ENDPOINT_URL``, as boto3 reads it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from driftline.local import endpoints, sagemaker, seams
from driftline.local.console import Console
from driftline.local.http_guard import GuardedMotoServer
from tests.serving_model import train_serving_model

REGION = "us-east-1"
BUCKET = "artifacts"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
ENDPOINT = "credit"


@pytest.fixture(scope="module")
def local_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Local mode's emulator with one endpoint in service; yields the endpoint URL a user would export."""
    from moto.moto_api._internal.models import moto_api_backend

    base = tmp_path_factory.mktemp("sdk")
    train_serving_model(base / "trained")
    moto_api_backend.reset()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = GuardedMotoServer("127.0.0.1", 0)
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    runner = endpoints.EndpointRunner(
        endpoints_dir=base / "state", endpoint_url=url, region=REGION, console=Console(), capture_flush_seconds=3600
    )
    endpoints.install(runner)
    try:
        client: Any = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION).client
        s3, sm = client("s3", endpoint_url=url), client("sagemaker", endpoint_url=url)
        s3.create_bucket(Bucket=BUCKET)
        code = sagemaker._code_publisher().publish_ml_code(BUCKET, sagemaker.ML_DIR, s3=s3)
        s3.upload_file(str(base / "trained" / "model.tar.gz"), BUCKET, "models/model.tar.gz")
        sm.create_model(
            ModelName="credit-model",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataUrl": f"s3://{BUCKET}/models/model.tar.gz",
                "Environment": {
                    "SAGEMAKER_PROGRAM": "serve.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": f"{code.uri}sourcedir.tar.gz",
                },
            },
        )
        variant = {"VariantName": "AllTraffic", "ModelName": "credit-model", "InitialInstanceCount": 1}
        sm.create_endpoint_config(
            EndpointConfigName="credit-config", ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
        )
        sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="credit-config")
        deadline = time.time() + 120
        while sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "Creating" and time.time() < deadline:
            time.sleep(0.1)
        yield url
    finally:
        runner.stop()
        server.stop()
        seams.restore()


@pytest.fixture
def sdk_environment(local_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment a user sets to point any AWS SDK at local mode; no client is given an endpoint."""
    from sagemaker.core.utils.utils import SageMakerClient

    for name, value in {
        "AWS_ENDPOINT_URL": local_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    SageMakerClient.reset()
    yield
    SageMakerClient.reset()


def test_sagemaker_sdk_invokes_a_local_endpoint_with_csv_rows(sdk_environment: None) -> None:
    from sagemaker.core.deserializers import CSVDeserializer
    from sagemaker.core.resources import Endpoint
    from sagemaker.core.serializers import CSVSerializer

    endpoint = Endpoint.get(ENDPOINT)
    endpoint.serializer, endpoint.deserializer = CSVSerializer(), CSVDeserializer()
    answer = endpoint.invoke(body=[[1.5, 0.3, "red"], [-2.0, 0.0, "blue"]], content_type="text/csv", accept="text/csv")

    assert endpoint.endpoint_status == "InService"
    (first, *first_probabilities), (second, *_) = answer.body
    assert (first, second) == ("yes", "no")
    assert float(first_probabilities[1]) > 0.5
    assert answer.content_type == "text/csv"
    assert answer.invoked_production_variant == "AllTraffic"


def test_sdk_reports_a_request_the_model_cannot_read_as_a_model_error(sdk_environment: None) -> None:
    from botocore.exceptions import ClientError
    from sagemaker.core.resources import Endpoint

    with pytest.raises(ClientError) as raised:
        Endpoint(endpoint_name=ENDPOINT).invoke(body="1.5,0.3", content_type="text/csv", accept="text/csv")

    assert raised.value.response["Error"]["Code"] == "ModelError"
