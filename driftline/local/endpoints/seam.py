"""The seam into moto: SageMaker's endpoint actions and SageMaker Runtime's InvokeEndpoint answer through the runner.

moto records CreateModel, CreateEndpointConfig and CreateEndpoint and marks the endpoint InService without
running anything, drops an endpoint config's ``ShadowProductionVariants``, has no UpdateEndpoint, switches weights
in UpdateEndpointWeightsAndCapacities at once without checking the endpoint's status, and answers InvokeEndpoint
with canned text. Here:

- CreateEndpointConfig keeps ``ShadowProductionVariants`` (DescribeEndpointConfig and DescribeEndpoint list them),
  refusing what SageMaker refuses: a shadow beside more than one production variant, more than one shadow, a
  variant name used twice, a shadow whose model does not exist.
- CreateEndpoint, UpdateEndpoint (with ``RetainAllVariantProperties``), UpdateEndpointWeightsAndCapacities and
  DeleteEndpoint hand the endpoint to the runner; the updates are refused unless the endpoint is InService.
- InvokeEndpoint forwards ``Body``, ``ContentType``, ``Accept`` and ``TargetVariant`` to a variant's server and
  answers as SageMaker does: the model's answer with the variant that answered (``InvokedProductionVariant``),
  ``ModelError`` with the server's status and message, or ``ValidationError`` for a ``TargetVariant`` that is none
  of the endpoint's production variants.

``Body`` is a blob: whatever bytes the client sends reach the model server unchanged (SageMaker "passes all of
the data in the body to the model"), where moto would read every request body as UTF-8 text first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from driftline.local.endpoints.server_process import EndpointFailed
from driftline.local.endpoints.variants import NoWeightedVariant, VariantNotFound

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
    respond_create_endpoint_config = SageMakerResponse.create_endpoint_config

    def create_endpoint_config(self: SageMakerResponse) -> Any:
        backend = self.sagemaker_backend
        name = str(self._get_param("EndpointConfigName"))
        shadows = list(self._get_param("ShadowProductionVariants") or [])
        _check_variants(backend, name, list(self._get_param("ProductionVariants") or []), shadows)
        answer = respond_create_endpoint_config(self)
        config = backend.endpoint_configs[name]
        try:
            config.validate_production_variants(shadows)  # instance types and serverless settings, as moto's own
        except ValidationError:
            del backend.endpoint_configs[name]
            raise
        config.shadow_production_variants = shadows or None  # type: ignore[attr-defined]
        return answer

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
        _refuse_unless_in_service(fake)
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
        if deployment and _variant_names(config) != _variant_names(current):
            # The developer guide's deployment guardrails exclusions: a blue/green or rolling deployment's new
            # endpoint config must have the same variant names as the old one.
            raise ValidationError(
                message=f"Cannot update endpoint {fake.arn} with a DeploymentConfig: endpoint config {config_name} has "
                f"variants {sorted(_variant_names(config))} and {fake.endpoint_config_name} "
                f"{sorted(_variant_names(current))}; a blue/green or rolling deployment needs the same variant names."
            )
        retained: frozenset[str] = frozenset()
        if self._get_param("RetainAllVariantProperties"):
            excluded = {
                str(p.get("VariantPropertyType")) for p in self._get_param("ExcludeRetainedVariantProperties") or []
            }
            retained = frozenset({"DesiredWeight", "DesiredInstanceCount"} - excluded)
        _active[-1].update(fake, config, model_resolver(backend), deployment, retained)
        return ActionResult({"EndpointArn": fake.arn})

    def update_endpoint_weights_and_capacities(self: SageMakerResponse) -> ActionResult:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        desired = list(self._get_param("DesiredWeightsAndCapacities") or [])
        fake = backend.endpoints.get(name)
        if fake is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Could not find endpoint "{arn}".')
        _refuse_unless_in_service(fake)
        _check_desired_weights(fake, desired)
        _active[-1].update_weights(fake, desired)
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
                headers.get("x-amzn-sagemaker-target-variant"),
            )
        except KeyError:
            return _runtime_error(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
        except (VariantNotFound, NoWeightedVariant) as refused:
            return _runtime_error(400, "ValidationError", f"Endpoint {name}: {refused}")
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

    seams.replace(SageMakerResponse, "create_endpoint_config", create_endpoint_config)
    seams.replace(SageMakerModelBackend, "create_endpoint", create)
    seams.replace(SageMakerModelBackend, "delete_endpoint", delete)
    seams.add(SageMakerResponse, "update_endpoint", update_endpoint)
    seams.replace(SageMakerResponse, "update_endpoint_weights_and_capacities", update_endpoint_weights_and_capacities)
    seams.replace(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)
    # moto decodes a request's body as UTF-8 unless its response class keeps it raw: a body that is not UTF-8
    # would fail before InvokeEndpoint is answered, instead of reaching the model, which says what it cannot read.
    seams.add(SageMakerRuntimeResponse, "use_raw_body", True)


def _check_variants(
    backend: Any, config_name: str, production: Sequence[Mapping[str, Any]], shadows: Sequence[Mapping[str, Any]]
) -> None:
    """What CreateEndpointConfig refuses of its variants beyond moto's own checks (production models exist,
    instance types): a name used twice, a shadow beside more than one production variant or another shadow (the API
    reference: "you can only specify one variant for ProductionVariants and one variant for
    ShadowProductionVariants"), a shadow whose model does not exist."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.utils import arn_formatter

    names = [str(variant.get("VariantName")) for variant in [*production, *shadows]]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationError(
            message=f'The variant name "{repeated[0]}" is used more than once in endpoint config {config_name}: '
            "give each production and shadow variant a name of its own."
        )
    if shadows and (len(production) != 1 or len(shadows) != 1):
        raise ValidationError(
            message=f"Endpoint config {config_name} has {_count(len(production), 'production variant')} and "
            f"{_count(len(shadows), 'shadow variant')}: with ShadowProductionVariants, specify one variant for "
            "ProductionVariants and one variant for ShadowProductionVariants."
        )
    for shadow in shadows:
        if shadow.get("ModelName") not in backend._models:
            arn = arn_formatter("model", str(shadow.get("ModelName")), backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find model '{arn}'.")


def _check_desired_weights(fake: Any, desired: Sequence[Mapping[str, Any]]) -> None:
    """What UpdateEndpointWeightsAndCapacities refuses of its entries: a variant named twice, a variant the endpoint
    does not have (production or shadow), an entry that changes nothing."""
    from moto.sagemaker.exceptions import ValidationError

    known = {
        str(summary["VariantName"])
        for summary in [*(fake.production_variants or []), *(getattr(fake, "shadow_production_variants", None) or [])]
    }
    seen: set[str] = set()
    for entry in desired:
        name = str(entry.get("VariantName"))
        if name in seen:
            raise ValidationError(message=f'The variant name "{name}" was non-unique within the request.')
        seen.add(name)
        if name not in known:
            raise ValidationError(
                message=f'The variant name(s) "{name}" is/are not present within endpoint configuration '
                f'"{fake.endpoint_config_name}".'
            )
        if entry.get("DesiredWeight") is None and entry.get("DesiredInstanceCount") is None:
            raise ValidationError(
                message=f'The entry for variant "{name}" sets neither DesiredWeight nor DesiredInstanceCount: give '
                "at least one."
            )


def _refuse_unless_in_service(fake: Any) -> None:
    """An endpoint is updated only InService: one Creating or Updating is in progress, a Failed one is replaced."""
    from moto.sagemaker.exceptions import ValidationError

    if fake.endpoint_status == "Failed":
        raise ValidationError(
            message=f"Cannot update endpoint {fake.arn}: it is Failed ({fake.failure_reason}); delete it and create "
            "it again."
        )
    if fake.endpoint_status != "InService":
        raise ValidationError(
            message=f"Cannot update in-progress endpoint {fake.arn}: it is {fake.endpoint_status}; "
            "wait until it is InService."
        )


def _variant_names(config: dict[str, Any]) -> set[str]:
    variants = [*(config.get("ProductionVariants") or []), *(config.get("ShadowProductionVariants") or [])]
    return {str(variant.get("VariantName")) for variant in variants}


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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
