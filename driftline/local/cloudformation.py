"""CloudFormation: ``template.yaml`` is packaged, SAM-transformed and deployed into the emulator.

This is ``sam package`` + ``sam deploy`` for local mode: code folders are zipped into a local
deployment bucket, the SAM transform runs with the real translator, and moto's CloudFormation creates
the stack. Where moto's CloudFormation falls short (custom resources answer asynchronously, state
machines ignore ``DefinitionS3Location``, buckets drop their EventBridge setting, SNS subscriptions
are not created), this module closes the gap so the deployed stack matches AWS.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from moto import settings as moto_settings
from moto.awslambda.models import LambdaFunction, LambdaVersion
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.cloudformation import cloudformation_backends, custom_model, parsing
from moto.cloudformation.responses import CloudFormationResponse
from moto.s3.models import s3_backends
from moto.stepfunctions.models import StateMachine
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from driftline.local import seams, stepfunctions
from driftline.local.lambda_runtime import CodeRegistry
from driftline.local.settings import ACCOUNT_ID, LocalSettings

DEPLOYMENT_BUCKET = "driftline-local-deployments"
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class StackDeployFailed(RuntimeError):
    pass


class _SynchronousThread:
    """Custom resources answer before the stack goes on, as CloudFormation waits for them on AWS."""

    def __init__(self, target: Any, args: tuple[Any, ...] = (), **_: Any) -> None:
        self._target, self._args = target, args

    def start(self) -> None:
        self._target(*self._args)


class _SynchronousThreading:
    Thread = _SynchronousThread


def install(host: str) -> None:
    # Custom resources answer on a URL built from moto's idea of its host (a Docker name by default).
    seams.replace(moto_settings, "moto_server_host", lambda: f"http://{host}")
    if not seams.claim("cloudformation"):
        return
    seams.replace(custom_model, "threading", _SynchronousThreading)
    seams.replace(CloudFormationResponse, "process_cfn_response", _process_cfn_response)
    seams.replace(parsing, "clean_json", _without_novalue_items(parsing.clean_json))
    stepfunctions.install()
    seams.around_cloudformation_create(StateMachine, before=_definition_from_s3)
    seams.around_cloudformation_create(LambdaVersion, after=_version_arn)
    seams.around_cloudformation_create(LambdaFunction, after=_function_layers)


def _without_novalue_items(clean_json: Any) -> Any:
    """A list item that resolves to ``AWS::NoValue`` (an ``Fn::If`` branch) is removed, as CloudFormation does; moto
    keeps it as null (a policy attached only for some parameter values then breaks the role)."""

    def cleaned(resource_json: Any, resources_map: Any) -> Any:
        result = clean_json(resource_json, resources_map)
        if isinstance(resource_json, list):
            return [item for item, raw in zip(result, resource_json, strict=True) if item is not None or raw is None]
        return result

    return cleaned


def _definition_from_s3(cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> None:
    """``sam package`` moves the ASL to S3 (``DefinitionS3Location``); moto reads only ``DefinitionString``."""
    properties = cloudformation_json["Properties"]
    location = properties.get("DefinitionS3Location")
    if location and not properties.get("DefinitionString"):
        bucket = s3_backends[account_id]["aws"].get_bucket(location["Bucket"])
        properties["DefinitionString"] = bucket.keys[location["Key"]].value.decode()


def _version_arn(version: Any, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> None:
    """``Ref`` to an ``AWS::Lambda::Version`` is the version's ARN; moto returns the Python object instead."""
    function = get_lambda_backend(account_id, region_name).get_function(
        cloudformation_json["Properties"]["FunctionName"]
    )
    version.physical_resource_id = f"{function.function_arn}:{version.version}"


def _function_layers(function: Any, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> None:
    """moto's CloudFormation drops a function's ``Layers``; the shared layer is how handlers find their code."""
    # Ref to a layer version resolves to moto's object rather than its ARN.
    layers = [getattr(layer, "arn", layer) for layer in cloudformation_json["Properties"].get("Layers") or []]
    if layers:
        function.layers = function._get_layers_data(layers)


def _process_cfn_response(self: CloudFormationResponse) -> tuple[int, dict[str, int], str]:
    """Record a custom resource's answer, FAILED included (moto drops failures and re-checks readiness mid-create)."""
    stack = self.cloudformation_backend.get_stack(self._get_param("StackId"))
    resource = stack.get_custom_resource(self._get_param("LogicalResourceId"))
    if self._get_param("Status") == "SUCCESS":
        resource.set_data(self._get_param("Data") or {})
    else:
        resource.failure_reason = self._get_param("Reason") or "the custom resource reported FAILED"  # type: ignore[attr-defined]
        resource.set_data({})
    return 200, {"status": 200}, json.dumps("{}")


def custom_resource_failures(settings: LocalSettings) -> list[str]:
    stack = cloudformation_backends[ACCOUNT_ID][settings.region].get_stack(settings.stack_name)
    return [
        f"{logical_id}: {getattr(resource, 'failure_reason', '')}"
        for logical_id, resource in stack.custom_resources.items()
        if getattr(resource, "failure_reason", None)
    ]


def load_template(path: Path) -> dict[str, Any]:
    return dict(yaml_parse(path.read_text()))


def package(template: dict[str, Any], base_dir: Path, s3: Any, registry: CodeRegistry) -> dict[str, Any]:
    """Upload every local path the template names and point the template at the uploads."""
    packaged = copy.deepcopy(template)
    s3.create_bucket(Bucket=DEPLOYMENT_BUCKET)
    global_code = packaged.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for resource in packaged.get("Resources", {}).values():
        kind = resource.get("Type")
        properties = resource.setdefault("Properties", {})
        if kind == "AWS::Serverless::Function":
            folder = properties.get("CodeUri", global_code)
            if isinstance(folder, str) and not folder.startswith("s3://"):
                properties["CodeUri"] = _upload_folder(base_dir / folder, s3, registry)
        elif kind == "AWS::Serverless::LayerVersion":
            folder = properties.get("ContentUri")
            if isinstance(folder, str) and not folder.startswith("s3://"):
                properties["ContentUri"] = _upload_folder(base_dir / folder, s3, registry)
        elif kind == "AWS::Serverless::StateMachine":
            definition = properties.get("DefinitionUri")
            if isinstance(definition, str) and not definition.startswith("s3://"):
                body = (base_dir / definition).read_bytes()
                key = f"{definition}-{hashlib.sha256(body).hexdigest()[:12]}"
                s3.put_object(Bucket=DEPLOYMENT_BUCKET, Key=key, Body=body)
                properties["DefinitionUri"] = {"Bucket": DEPLOYMENT_BUCKET, "Key": key}
    return packaged


def _upload_folder(folder: Path, s3: Any, registry: CodeRegistry) -> str:
    if not folder.is_dir():
        raise StackDeployFailed(f"template names a code folder that does not exist: {folder}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(folder).as_posix())
    body = buffer.getvalue()
    key = f"{folder.name}-{hashlib.sha256(body).hexdigest()[:12]}.zip"
    s3.put_object(Bucket=DEPLOYMENT_BUCKET, Key=key, Body=body)
    registry.register(DEPLOYMENT_BUCKET, key, folder.resolve())
    return f"s3://{DEPLOYMENT_BUCKET}/{key}"


def sam_transform(template: dict[str, Any], settings: LocalSettings, iam: Any) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "AWS::Region": settings.region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::StackName": settings.stack_name,
    }
    parameters.update(settings.parameters)
    return dict(transform(template, parameters, ManagedPolicyLoader(iam)))


def without_remote_layers(template: dict[str, Any]) -> dict[str, Any]:
    """Layers published by other accounts (Powertools) come from the local Python environment instead."""
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Lambda::Function":
            layers = resource.get("Properties", {}).get("Layers")
            if layers:
                resource["Properties"]["Layers"] = [layer for layer in layers if not _is_remote_layer(layer)]
    return template


def _is_remote_layer(layer: Any) -> bool:
    """Layers of this stack are referenced with Ref; anything else is an ARN published elsewhere."""
    return not (isinstance(layer, dict) and set(layer) == {"Ref"})


class LocalStack:
    """The deployed stack: its outputs and the physical ids of its resources."""

    def __init__(self, outputs: dict[str, str], resources: dict[str, str]) -> None:
        self.outputs = outputs
        self.resources = resources


def deploy(
    settings: LocalSettings, registry: CodeRegistry, progress: Callable[[str], None] | None = None
) -> LocalStack:
    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=settings.region
    )
    client: dict[str, Any] = {
        name: session.client(name, endpoint_url=settings.endpoint_url)
        for name in ("s3", "iam", "cloudformation", "sns")
    }
    template = load_template(settings.template)
    packaged = package(template, settings.template.parent, client["s3"], registry)
    translated = without_remote_layers(sam_transform(packaged, settings, client["iam"]))
    declared = translated.get("Parameters", {})
    problems = parameter_problems(declared, settings.parameters)
    if problems:
        raise StackDeployFailed("; ".join(problems))
    parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in settings.parameters.items()]
    cloudformation = client["cloudformation"]
    cloudformation.create_stack(
        StackName=settings.stack_name,
        TemplateBody=json.dumps(translated),
        Parameters=parameters,
        Capabilities=_CAPABILITIES,
    )
    failures = custom_resource_failures(settings)
    if failures:
        raise StackDeployFailed("custom resources failed: " + "; ".join(failures))
    stack = _wait_for_stack(cloudformation, settings.stack_name, progress or (lambda _: None))
    deployed = _described(cloudformation, settings.stack_name, stack)
    _apply_bucket_settings(translated, deployed.resources, client["s3"])
    _apply_subscriptions(translated, deployed.resources, settings.parameters, client["sns"])
    return deployed


def restored(settings: LocalSettings) -> LocalStack:
    """The stack a restored emulator already holds, read as ``deploy`` reads a stack it created (nothing is
    created again: the buckets, functions and their settings came back with the emulator's saved state)."""
    client = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=settings.region
    ).client("cloudformation", endpoint_url=settings.endpoint_url)
    try:
        stack = client.describe_stacks(StackName=settings.stack_name)["Stacks"][0]
    except client.exceptions.ClientError as error:
        raise StackDeployFailed(
            f"the saved state holds no stack {settings.stack_name}; start with --fresh to deploy it anew"
        ) from error
    return _described(client, settings.stack_name, dict(stack))


def _described(cloudformation: Any, name: str, stack: dict[str, Any]) -> LocalStack:
    resources = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cloudformation.describe_stack_resources(StackName=name)["StackResources"]
        if "LogicalResourceId" in r
    }
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return LocalStack(outputs=outputs, resources=resources)


def parameter_problems(declared: dict[str, Any], given: dict[str, str]) -> list[str]:
    """What CloudFormation refuses in a stack's parameter values, in its words (moto accepts them all).

    CloudFormation checks each value against its parameter's Type, AllowedValues, AllowedPattern (the whole
    value must match), MinLength/MaxLength and MinValue/MaxValue, refuses names the template does not declare,
    and wants a value for every parameter without a Default.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        return [f"Parameters: [{', '.join(unknown)}] do not exist in the template"]
    missing = sorted(name for name, spec in declared.items() if name not in given and "Default" not in spec)
    problems = [f"Parameters: [{', '.join(missing)}] must have values"] if missing else []
    for name, value in given.items():
        problems += _value_problems(name, declared[name], value)
    return problems


def _value_problems(name: str, spec: dict[str, Any], value: str) -> list[str]:
    kind = str(spec.get("Type", "String"))
    values = [item.strip() for item in value.split(",")] if kind.startswith("List<") or "List" in kind else [value]
    problems = []
    allowed = [str(item) for item in spec.get("AllowedValues", [])]
    for item in values:
        if allowed and item not in allowed:
            problems.append(f"Parameter '{name}' must be one of AllowedValues")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(str(pattern), item):
            problems.append(f"Parameter '{name}' must match pattern {pattern}")
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            problems.append(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            problems.append(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")
        if kind == "Number" or "MinValue" in spec or "MaxValue" in spec:
            try:
                number = float(item)
            except ValueError:
                problems.append(f"Parameter '{name}' must be a number")
                continue
            if "MinValue" in spec and number < float(spec["MinValue"]):
                problems.append(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                problems.append(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")
    return problems


STALLED_DEPLOY_SECONDS = 600.0
"""A deploy gives up only when no resource has changed for this long: a busy machine is slow, not stuck."""
PROGRESS_SECONDS = 10.0


def _wait_for_stack(
    cloudformation: Any, name: str, progress: Callable[[str], None], stalled_after: float = STALLED_DEPLOY_SECONDS
) -> dict[str, Any]:
    """Wait for CREATE_COMPLETE as long as the deploy moves, saying every few seconds how far it is."""
    started = last_change = last_report = time.time()
    seen: tuple[tuple[str, str], ...] = ()
    while True:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return dict(stack)
        if status != "CREATE_IN_PROGRESS":
            raise StackDeployFailed(f"stack {name} ended {status}: {stack.get('StackStatusReason', '')}")
        resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
        states = tuple(sorted((r["LogicalResourceId"], r["ResourceStatus"]) for r in resources))
        now = time.time()
        if states != seen:
            seen, last_change = states, now
        waiting = [logical_id for logical_id, state in states if state.endswith("IN_PROGRESS")]
        if now - last_change > stalled_after:
            raise StackDeployFailed(
                f"stack {name} made no progress for {stalled_after:.0f} s; still in progress: {', '.join(waiting)}"
            )
        if now - last_report >= PROGRESS_SECONDS:
            done = sum(1 for _, state in states if state.endswith("COMPLETE"))
            progress(
                f"deploying {name}: {done} of {len(states)} resources created after {now - started:.0f} s"
                + (f", waiting on {', '.join(waiting[:3])}" if waiting else "")
            )
            last_report = now
        time.sleep(0.2)


def _apply_bucket_settings(template: dict[str, Any], resources: dict[str, str], s3: Any) -> None:
    """Versioning, encryption, public access and EventBridge settings that moto's CloudFormation drops."""
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::S3::Bucket":
            continue
        properties = resource.get("Properties", {})
        bucket = resources[logical_id]
        if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        encryption = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
        if encryption and _is_literal(encryption):
            rules = [
                {
                    ("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
                    for k, v in rule.items()
                }
                for rule in encryption
            ]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        block = properties.get("PublicAccessBlockConfiguration")
        if block and _is_literal(block):
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
        notification = properties.get("NotificationConfiguration", {})
        if notification.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") in (True, "true"):
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )


def _is_literal(value: Any) -> bool:
    """True when a property holds no intrinsic functions (so it can be sent to the API as it is)."""
    return "Ref" not in json.dumps(value) and "Fn::" not in json.dumps(value)


def _apply_subscriptions(
    template: dict[str, Any], resources: dict[str, str], parameters: dict[str, str], sns: Any
) -> None:
    conditions = template.get("Conditions", {})
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::SNS::Subscription":
            continue
        condition = resource.get("Condition")
        if condition and not _condition_holds(conditions.get(condition), parameters):
            continue
        properties = resource["Properties"]
        topic = _resolve(properties["TopicArn"], resources, parameters)
        endpoint = _resolve(properties["Endpoint"], resources, parameters)
        if topic and endpoint:
            sns.subscribe(TopicArn=topic, Protocol=properties["Protocol"], Endpoint=endpoint)


def _resolve(value: Any, resources: dict[str, str], parameters: dict[str, str]) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        return parameters.get(name) or resources.get(name)
    return None


def _condition_holds(condition: Any, parameters: dict[str, str]) -> bool:
    """Enough of CloudFormation's condition functions for parameter checks (Not, Equals, And, Or)."""
    if isinstance(condition, dict):
        if "Fn::Not" in condition:
            return not _condition_holds(condition["Fn::Not"][0], parameters)
        if "Fn::Equals" in condition:
            left, right = (_resolve(v, {}, parameters) or "" for v in condition["Fn::Equals"])
            return left == right
        if "Fn::And" in condition:
            return all(_condition_holds(c, parameters) for c in condition["Fn::And"])
        if "Fn::Or" in condition:
            return any(_condition_holds(c, parameters) for c in condition["Fn::Or"])
    return bool(condition)
