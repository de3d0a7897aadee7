"""The seam into moto: SageMaker's endpoint actions and SageMaker Runtime's InvokeEndpoint answer through the runner.

moto records CreateModel, CreateEndpointConfig and CreateEndpoint and marks the endpoint InService without
running anything, has no UpdateEndpoint, and answers InvokeEndpoint with canned text. Here CreateEndpoint,
UpdateEndpoint and DeleteEndpoint hand the endpoint to the runner, and InvokeEndpoint forwards ``Body``,
``ContentType`` and ``Accept`` to the endpoint's server and answers as SageMaker does: the model's answer, or
``ModelError`` with the server's status and message.

``Body`` is a blob: whatever bytes the client sends reach the model server unchanged (SageMaker "passes all of
the data in the body to the model"), where moto would read every request body as UTF-8 text first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from driftline.local.endpoints.server_process import EndpointFailed

if TYPE_CHECKING:
    from driftline.local.endpoints.runner import EndpointRunner

_active: list[EndpointRunner] = []


def install(runner: EndpointRunner) -> None:
    """Give SageMaker endpoints created from now on a local server run by ``runner``."""
    from driftline.local import seams

    _active[:] = [runner]
    if seams.claim("sagemaker-endpoints"):
        _patch()


def model_resolver(backend: Any) -> Callable[[str], dict[str, Any]]:
    """The container a model name stands for in ``backend`` (moto's SageMaker backend of the endpoint)."""

    def resolve(model_name: str) -> dict[str, Any]:
        model = backend._models.get(model_name)
        if model is None:
            raise EndpointFailed(f"ClientError: model {model_name} does not exist")
        container = dict(model.primary_container or (model.containers or [{}])[0])
        package_name = container.get("ModelPackageName")
        if package_name:
            package = backend.describe_model_package(package_name)
            containers = (package.inference_specification or {}).get("Containers") or [{}]
            container = {**containers[0], **{k: v for k, v in container.items() if k == "Environment"}}
            container["Environment"] = {
                **(containers[0].get("Environment") or {}),
                **(container.get("Environment") or {}),
            }
        # The role SageMaker pulls the image and the model with, and writes captured data as.
        container["ExecutionRoleArn"] = model.execution_role_arn
        return container

    return resolve


def _patch() -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    from driftline.local import seams

    create_endpoint = SageMakerModelBackend.create_endpoint
    delete_endpoint = SageMakerModelBackend.delete_endpoint

    def create(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        if endpoint_name in self.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        _refuse_pipelines_on_serverless(self, self.describe_endpoint_config(endpoint_config_name))
        fake = create_endpoint(self, endpoint_name, endpoint_config_name, tags)
        config = {**self.describe_endpoint_config(endpoint_config_name), "EndpointConfigName": endpoint_config_name}
        _active[-1].create(fake, config, model_resolver(self))
        return fake

    def delete(self: SageMakerModelBackend, endpoint_name: str) -> None:
        delete_endpoint(self, endpoint_name)
        _active[-1].delete(endpoint_name)

    def update_endpoint(self: SageMakerResponse) -> ActionResult:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        config_name = self._get_param("EndpointConfigName")
        fake = backend.endpoints.get(name)
        if fake is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        if fake.endpoint_status != "InService":
            raise ValidationError(
                message=f"Cannot update in-progress endpoint {fake.arn}: it is {fake.endpoint_status}; "
                "wait until it is InService."
            )
        config = {**backend.describe_endpoint_config(config_name), "EndpointConfigName": config_name}
        current = backend.describe_endpoint_config(fake.endpoint_config_name)
        if _is_serverless(config) and not _is_serverless(current):
            # The developer guide's "Update a serverless endpoint": not supported.
            raise ValidationError(
                message=f"Cannot update endpoint {fake.arn} from instance-based endpoint config "
                f"{fake.endpoint_config_name} to serverless endpoint config {config_name}: updating a real-time "
                "endpoint to a serverless endpoint is not supported."
            )
        _refuse_pipelines_on_serverless(backend, config)
        deployment = self._get_param("DeploymentConfig") or {}
        _active[-1].update(fake, config, model_resolver(backend), deployment)
        return ActionResult({"EndpointArn": fake.arn})

    def invoke_endpoint(self: SageMakerRuntimeResponse) -> Any:
        name = unquote(self.path.split("?", 1)[0].split("/")[2])
        account, region = self.current_account, self.region
        headers = {key.lower(): value for key, value in self.headers.items()}
        body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
        try:
            status, answer, answer_type, variant = _active[-1].invoke(
                name,
                body,
                headers.get("content-type"),
                headers.get("accept"),
                headers.get("x-amzn-sagemaker-inference-id"),
            )
        except KeyError:
            return _runtime_error(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
        if 200 <= status < 300:
            return (
                200,
                {"Content-Type": answer_type, "x-Amzn-Invoked-Production-Variant": variant, "status": "200"},
                answer,
            )
        side = "client" if status < 500 else "server"
        message = answer.decode("utf-8", errors="replace")
        log_stream = f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{name}"
        return _runtime_error(
            424,
            "ModelError",
            f'Received {side} error ({status}) from primary with message "{message}". '
            f"See {log_stream} for more information.",
            OriginalStatusCode=status,
            OriginalMessage=message,
            LogStreamArn=log_stream,
        )

    seams.replace(SageMakerModelBackend, "create_endpoint", create)
    seams.replace(SageMakerModelBackend, "delete_endpoint", delete)
    seams.add(SageMakerResponse, "update_endpoint", update_endpoint)
    seams.replace(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)
    # moto decodes a request's body as UTF-8 unless its response class keeps it raw: a body that is not UTF-8
    # would fail before InvokeEndpoint is answered, instead of reaching the model, which says what it cannot read.
    seams.add(SageMakerRuntimeResponse, "use_raw_body", True)


def _is_serverless(config: dict[str, Any]) -> bool:
    return any(variant.get("ServerlessConfig") for variant in config.get("ProductionVariants") or [])


def _refuse_pipelines_on_serverless(backend: Any, config: dict[str, Any]) -> None:
    """Serverless endpoints serve no inference pipeline (the developer guide's Serverless Inference feature
    exclusions), and a model given ``Containers``, even one, is a pipeline (CreateModel's API reference)."""
    from moto.sagemaker.exceptions import ValidationError

    if not _is_serverless(config):
        return
    for variant in config.get("ProductionVariants") or []:
        model = backend._models.get(variant.get("ModelName"))
        if model is not None and model.containers:
            raise ValidationError(
                message=f"Serverless endpoint config {config.get('EndpointConfigName')} names model "
                f"{model.model_name}, an inference pipeline (Containers); serverless endpoints do not support "
                "inference pipelines: create the model with PrimaryContainer."
            )


def _runtime_error(status: int, code: str, message: str, **members: Any) -> tuple[int, dict[str, str], str]:
    """A SageMaker Runtime error as its REST-JSON protocol sends it."""
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code, "status": str(status)}
    return status, headers, json.dumps({"message": message, **members})
