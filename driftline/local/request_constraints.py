"""Requests checked against the AWS service models' constraints, answered as AWS answers a violation.

moto checks that members have the right types, but not the lengths, patterns, ranges and value sets
that the service models declare and that AWS enforces before it looks at a request. Without this, a
name one character too long or a character AWS refuses passes every local run and fails only in a
user's account. Each request moto serves is parsed into its operation's input with botocore's model
and checked member by member; a violation is answered with HTTP 400 and AWS's wording::

    1 validation error detected: Value 'a_b' at 'trainingJobName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}

S3 is not a model-validated service: it answers ``InvalidBucketName`` and ``KeyTooLongError`` instead,
and those two rules are checked here as S3 states them. One rule SageMaker states across members is checked too:
no storage-volume KMS key with an instance type that has local instance storage.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import determine_request_protocol
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import get_service_model
from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response
from moto.utilities.utils import load_resource

from driftline.local import seams

log = logging.getLogger(__name__)

PATCH_GROUP = "request_constraints"

# Protocols whose requests moto's parsers read; others (CloudWatch's CBOR) pass unchecked.
_PARSED_PROTOCOLS = ("json", "rest-json", "query")
# S3 states its own rules (see ``bucket_name_problem``); its model constraints are not what it answers.
_UNCHECKED_SERVICES = {"s3", "s3control"}
# Services that name a model violation other than ValidationException: CloudWatch Logs, and SageMaker's runtime,
# whose model has only ValidationError (an InvokeEndpoint refused locally must match `exceptions.ValidationError`).
_ERROR_CODE_BY_SERVICE = {"logs": "InvalidParameterException", "sagemaker-runtime": "ValidationError"}

# Java patterns the translator could not turn into Python ones: pattern -> reason. Such members are
# checked for everything but their pattern.
SKIPPED_PATTERNS: dict[str, str] = {}


@dataclass(frozen=True)
class Violation:
    """One failed constraint of one member, worded as AWS words it."""

    path: str
    value: Any
    constraint: str
    show_value: bool = True

    def __str__(self) -> str:
        if self.value is None:
            shown = "Value null"
        elif self.show_value:
            shown = f"Value '{_java_string(self.value)}'"
        else:
            shown = "Value"
        return f"{shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def validation_message(violations: list[Violation]) -> str:
    count = len(violations)
    noun = "validation error" if count == 1 else "validation errors"
    return f"{count} {noun} detected: " + "; ".join(str(v) for v in violations)


def error_code(service: str, protocol: str) -> str:
    if service in _ERROR_CODE_BY_SERVICE:
        return _ERROR_CODE_BY_SERVICE[service]
    return "ValidationError" if protocol == "query" else "ValidationException"


def check_input(input_shape: Any, params: dict[str, Any]) -> list[Violation]:
    """Every constraint of ``input_shape`` (a botocore StructureShape) that ``params`` breaks."""
    found: list[Violation] = []
    _check_structure(input_shape, params, "", found, top_level=True)
    return found


def check_operation(service: str, operation: str, params: dict[str, Any]) -> list[Violation]:
    """``check_input`` for a service's operation by name, as boto3 spells it (``CreateTrainingJob``)."""
    input_shape = _service_model(service).operation_model(operation).input_shape
    return [] if input_shape is None else check_input(input_shape, params)


# --- walking the shapes -------------------------------------------------------------------------


def _member_path(parent: str, name: str) -> str:
    lowered = name[:1].lower() + name[1:]
    return f"{parent}.{lowered}" if parent else lowered


def _check_structure(shape: Any, value: Any, path: str, found: list[Violation], top_level: bool = False) -> None:
    if not isinstance(value, dict) or getattr(shape, "is_document_type", False):
        return
    members = shape.members
    for name in shape.required_members:
        member = members.get(name)
        # A URI label cannot be absent from a routed request; moto's parser reports it as None anyway.
        if value.get(name) is None and not (top_level and member is not None and _location(member) == "uri"):
            found.append(Violation(_member_path(path, name), None, "Member must not be null"))
    for name, member_value in value.items():
        member = members.get(name)
        if member is None or member_value is None:
            continue
        _check_value(member, member_value, _member_path(path, name), found)


def _check_value(shape: Any, value: Any, path: str, found: list[Violation]) -> None:
    kind = shape.type_name
    if kind == "structure":
        _check_structure(shape, value, path, found)
    elif kind == "list":
        _check_list(shape, value, path, found)
    elif kind == "map":
        _check_map(shape, value, path, found)
    else:
        show = not _sensitive(shape)
        for constraint in _scalar_failures(shape, value):
            found.append(Violation(path, value, constraint, show))


def _check_list(shape: Any, value: Any, path: str, found: list[Violation]) -> None:
    if not isinstance(value, list):
        return
    show = not _sensitive(shape)
    for constraint in _length_failures(shape, len(value)):
        found.append(Violation(path, value, constraint, show))
    member = shape.member
    if member.type_name in ("structure", "list", "map"):
        for index, item in enumerate(value, start=1):
            if item is not None:
                _check_value(member, item, f"{path}.{index}.member", found)
    elif any(_scalar_failures(member, item) for item in value if item is not None):
        described = ", ".join(_descriptions(member))
        show = show and not _sensitive(member)
        found.append(Violation(path, value, f"Member must satisfy constraint: [{described}]", show))


def _check_map(shape: Any, value: Any, path: str, found: list[Violation]) -> None:
    if not isinstance(value, dict):
        return
    show = not _sensitive(shape)
    for constraint in _length_failures(shape, len(value)):
        found.append(Violation(path, value, constraint, show))
    key_shape, value_shape = shape.key, shape.value
    if any(_scalar_failures(key_shape, key) for key in value):
        described = ", ".join(_descriptions(key_shape))
        found.append(Violation(path, value, f"Map keys must satisfy constraint: [{described}]", show))
    if value_shape.type_name in ("structure", "list", "map"):
        for key, item in value.items():
            if item is not None:
                _check_value(value_shape, item, f"{path}.{key}.member", found)
    elif any(_scalar_failures(value_shape, item) for item in value.values() if item is not None):
        described = ", ".join(_descriptions(value_shape))
        show = show and not _sensitive(value_shape)
        found.append(Violation(path, value, f"Map value must satisfy constraint: [{described}]", show))


def _location(shape: Any) -> str | None:
    return shape.serialization.get("location")


def _sensitive(shape: Any) -> bool:
    return bool(shape.metadata.get("sensitive"))


def _is_number_shape(shape: Any) -> bool:
    return shape.type_name in ("integer", "long", "short", "byte", "float", "double", "bigdecimal", "biginteger")


def _length_failures(shape: Any, length: int) -> Iterator[str]:
    metadata = shape.metadata
    if "max" in metadata and length > metadata["max"]:
        yield f"Member must have length less than or equal to {metadata['max']}"
    if "min" in metadata and length < metadata["min"]:
        yield f"Member must have length greater than or equal to {metadata['min']}"


def _scalar_failures(shape: Any, value: Any) -> list[str]:
    """The constraints one scalar value breaks, in the order AWS lists a shape's constraints."""
    metadata = shape.metadata
    failures: list[str] = []
    if _is_number_shape(shape):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return failures
        if "max" in metadata and value > metadata["max"]:
            failures.append(f"Member must have value less than or equal to {metadata['max']}")
        if "min" in metadata and value < metadata["min"]:
            failures.append(f"Member must have value greater than or equal to {metadata['min']}")
        return failures
    if shape.type_name == "blob" and isinstance(value, bytes | bytearray):
        failures.extend(_length_failures(shape, len(value)))
        return failures
    if shape.type_name != "string" or not isinstance(value, str):
        return failures
    failures.extend(_length_failures(shape, _java_length(value)))
    pattern = metadata.get("pattern")
    if pattern is not None:
        compiled = java_pattern(pattern)
        if compiled is not None and compiled.fullmatch(value) is None:
            failures.append(f"Member must satisfy regular expression pattern: {pattern}")
    enum = metadata.get("enum")
    if enum and value not in enum:
        failures.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
    return failures


def _descriptions(shape: Any) -> list[str]:
    """All of a shape's constraints, as AWS lists them for the members of a list or map."""
    metadata = shape.metadata
    unit = "value" if _is_number_shape(shape) else "length"
    described = []
    if "max" in metadata:
        described.append(f"Member must have {unit} less than or equal to {metadata['max']}")
    if "min" in metadata:
        described.append(f"Member must have {unit} greater than or equal to {metadata['min']}")
    if "pattern" in metadata:
        described.append(f"Member must satisfy regular expression pattern: {metadata['pattern']}")
    if metadata.get("enum"):
        described.append(f"Member must satisfy enum value set: [{', '.join(metadata['enum'])}]")
    return described


def _java_length(text: str) -> int:
    """String length as Java counts it (UTF-16 code units): characters beyond the BMP count twice."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _java_string(value: Any) -> str:
    """A value as Java's ``toString`` shows it in AWS's messages: ``[a, b]`` and ``{k=v}``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_java_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_java_string(item)}" for key, item in value.items()) + "}"
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    return str(value)


# --- Java patterns in Python ---------------------------------------------------------------------

_POSIX_CLASSES = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}
_CATEGORY_NAMES = {"L", "M", "N", "P", "S", "Z", "C"}


class _Untranslatable(ValueError):
    pass


@cache
def _category_ranges() -> dict[str, list[tuple[int, int]]]:
    """Unicode general category -> code point ranges (built once, on the first pattern that needs it)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    start, current = 0, unicodedata.category("\x00")
    for code in range(1, sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category != current:
            ranges.setdefault(current, []).append((start, code - 1))
            start, current = code, category
    ranges.setdefault(current, []).append((start, sys.maxunicode))
    return ranges


def _class_body_for_property(name: str) -> str:
    if name.startswith("Is") and name[2:] in _CATEGORY_NAMES | set(_category_ranges()):
        name = name[2:]
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    categories = _category_ranges()
    if name in categories:
        selected = categories[name]
    elif name in _CATEGORY_NAMES:
        selected = sorted(r for category, rs in categories.items() if category[0] == name for r in rs)
    else:
        raise _Untranslatable(f"unknown character property \\p{{{name}}}")
    return "".join(f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in selected)


_SHORTHANDS = set("wWdDsS")


def translate_java_pattern(pattern: str) -> str:
    """Java regular expression -> Python ``re`` syntax, for the forms the AWS models use."""
    out: list[str] = []
    in_class = False
    after_shorthand = False  # inside a class, Java reads '-' after \w or \p{..} as a literal
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.index("}", i + 3)
                body = _class_body_for_property(pattern[i + 3 : end])
                if in_class:
                    if nxt == "P":
                        raise _Untranslatable("negated property inside a character class")
                    out.append(body)
                    after_shorthand = True
                else:
                    out.append(("[^" if nxt == "P" else "[") + body + "]")
                i = end + 1
                continue
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", pattern[i + 2 : i + 6]):
                code = int(pattern[i + 2 : i + 6], 16)
                low = pattern[i + 6 : i + 12]
                if 0xD800 <= code <= 0xDBFF and re.fullmatch(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}", low):
                    code = 0x10000 + ((code - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00)
                    i += 6
                out.append(f"\\U{code:08x}")
                i += 6
                after_shorthand = False
                continue
            if nxt == "z":
                out.append("\\Z")
            elif nxt == "Z":
                out.append("(?=\\n?\\Z)")
            elif nxt == "Q":
                end = pattern.find("\\E", i + 2)
                end = n if end < 0 else end
                out.append(re.escape(pattern[i + 2 : end]))
                i = end + 2
                continue
            else:
                out.append(char + nxt)
            after_shorthand = in_class and nxt in _SHORTHANDS
            i += 2
            continue
        if in_class:
            if char == "[":
                raise _Untranslatable("nested character class")
            if char == "&" and pattern.startswith("&&", i):
                raise _Untranslatable("character class intersection")
            if char == "]":
                in_class = False
            if char == "-" and after_shorthand:
                out.append("\\-")
                after_shorthand = False
                i += 1
                continue
            out.append(char)
            after_shorthand = False
            i += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
            if pattern.startswith("]", i + 1):  # a leading ']' is a literal
                out.append("\\]")
                i += 1
            i += 1
            continue
        if char in "^$":
            out.append(char)
            quantifier = re.match(r"\{\d+(,\d*)?\}|[*+?]", pattern[i + 1 :])
            i += 1 + (len(quantifier.group(0)) if quantifier else 0)  # a repeated anchor is the anchor
            continue
        if char == ".":
            out.append(_JAVA_DOT)
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


# Java's '.' matches anything but its line terminators (Python's only skips '\n'): a reason typed on two lines
# ('\r\n' from a browser) breaks a '.*' pattern on AWS.
_JAVA_DOT = "[^\n\r\u0085\u2028\u2029]"


_compiled: dict[str, re.Pattern[str] | None] = {}


def java_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's pattern compiled for Python (cached); None, recorded in SKIPPED_PATTERNS, if it cannot be."""
    if pattern in _compiled:
        return _compiled[pattern]
    compiled: re.Pattern[str] | None
    try:
        compiled = re.compile(translate_java_pattern(pattern), re.ASCII)
    except (_Untranslatable, re.error, ValueError) as error:
        SKIPPED_PATTERNS[pattern] = str(error)
        log.debug("pattern %r is not checked: %s", pattern, error)
        compiled = None
    _compiled[pattern] = compiled
    return compiled


# --- S3's own rules ------------------------------------------------------------------------------

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_KEY_BYTES = 1024


def bucket_name_problem(name: str) -> str | None:
    """Which of S3's general purpose bucket naming rules ``name`` breaks, if any."""
    if not 3 <= len(name) <= 63:
        return "must be between 3 and 63 characters long"
    if not _BUCKET_NAME.fullmatch(name):
        return "must be lowercase letters, numbers, dots and hyphens, and begin and end with a letter or number"
    if ".." in name:
        return "must not contain two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
        return "must not be formatted as an IP address"
    except ValueError:
        pass
    if name.startswith(_RESERVED_BUCKET_PREFIXES):
        return "must not start with a reserved prefix"
    if name.endswith(_RESERVED_BUCKET_SUFFIXES):
        return "must not end with a reserved suffix"
    return None


# --- SageMaker's storage-volume keys ------------------------------------------------------------

# Where each SageMaker request names an instance type and the KMS key of its storage volume.
_VOLUME_KEY_RESOURCES: dict[str, tuple[str, ...]] = {
    "CreateTrainingJob": ("ResourceConfig",),
    "CreateProcessingJob": ("ProcessingResources", "ClusterConfig"),
    "CreateDataQualityJobDefinition": ("JobResources", "ClusterConfig"),
    "CreateMonitoringSchedule": (
        "MonitoringScheduleConfig",
        "MonitoringJobDefinition",
        "MonitoringResources",
        "ClusterConfig",
    ),
    "UpdateMonitoringSchedule": (
        "MonitoringScheduleConfig",
        "MonitoringJobDefinition",
        "MonitoringResources",
        "ClusterConfig",
    ),
}


@cache
def _ec2_instance_types() -> dict[str, Any]:
    """EC2's DescribeInstanceTypes answer for every type, as moto ships it (read on first use: it is large)."""
    return dict(load_resource("ec2/resources/instance_types.json"))


def has_instance_storage(instance_type: str) -> bool:
    """Whether the host of SageMaker instance type ``ml.<type>`` has local instance storage, as EC2 describes it.

    A type EC2's answer does not list (a retired family) counts as EBS-backed, so its key is accepted.
    """
    if not instance_type.startswith("ml."):
        return False
    described = _ec2_instance_types().get(instance_type.removeprefix("ml."), {})
    return bool(described.get("InstanceStorageSupported"))


def volume_key_problem(operation: str, params: dict[str, Any]) -> str | None:
    """Why SageMaker refuses a storage-volume KMS key in this request, if it does.

    The API reference: "Certain Nitro-based instances include local storage ... encrypted using a hardware module on
    the instance. You can't request a VolumeKmsKeyId when using an instance type with local storage", and for
    CreateEndpointConfig "If you specify a value for KmsKeyId when using any nitro-based instances with local
    storage, the call to CreateEndpointConfig fails". It states the refusal, not its wording: this message says
    which member and which instance type.
    """
    if operation == "CreateEndpointConfig":
        if not params.get("KmsKeyId"):
            return None
        for variant in params.get("ProductionVariants") or []:
            instance_type = str(variant.get("InstanceType") or "")
            if has_instance_storage(instance_type):
                return (
                    f"KmsKeyId is not supported for production variant '{variant.get('VariantName')}': instance "
                    f"type {instance_type} has local instance storage, which is encrypted by a hardware module on "
                    "the instance."
                )
        return None
    path = _VOLUME_KEY_RESOURCES.get(operation)
    if path is None:
        return None
    resources: Any = params
    for name in path:
        resources = resources.get(name) if isinstance(resources, dict) else None
    if not isinstance(resources, dict) or not resources.get("VolumeKmsKeyId"):
        return None
    instance_types = [str(resources.get("InstanceType") or "")]
    instance_types += [str(group.get("InstanceType") or "") for group in resources.get("InstanceGroups") or []]
    for instance_type in instance_types:
        if has_instance_storage(instance_type):
            return (
                f"VolumeKmsKeyId is not supported for instance type {instance_type}: it has local instance storage, "
                "which is encrypted by a hardware module on the instance."
            )
    return None


# --- moto seams ----------------------------------------------------------------------------------


class ModelValidationFailed(ServiceException):
    """A request that breaks its service model's constraints (ValidationException and its kin)."""


class S3NameRefused(S3ClientError):
    """A bucket name or object key S3 refuses (InvalidBucketName, KeyTooLongError)."""


def _service_model(service: str) -> Any:
    return get_service_model(service)  # cached by moto


@dataclass(frozen=True)
class ParsedRequest:
    """A request moto is about to serve, read with its service model: what the checks of local mode look at."""

    service: str
    operation: str
    protocol: str
    params: dict[str, Any]


def parsed_request(response: Any) -> ParsedRequest | None:
    """The request ``response`` (a moto BaseResponse) is about to serve, or None where its model cannot read it."""
    service = response.boto3_service_name
    if not service or service in _UNCHECKED_SERVICES:
        return None
    action = response._get_action()
    model = _service_model(service)
    if not action or action not in model.operation_names:  # moto's own endpoints (custom resource replies)
        return None
    operation = model.operation_model(action)
    request = response.normalized_request
    protocol = determine_request_protocol(model, request.content_type)
    if operation.input_shape is None or protocol not in _PARSED_PROTOCOLS:
        return ParsedRequest(service, action, protocol, {})
    params = PROTOCOL_PARSERS[protocol](operation).parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": response.raw_body,
            "url_path": request.path,
            "url_params": response.uri_match,
        }
    )
    return ParsedRequest(service, action, protocol, dict(params))


def _rejection(response: Any) -> tuple[int, dict[str, Any], Any] | None:
    """AWS's answer to the request ``response`` (a moto BaseResponse) is about to serve, if it breaks a rule."""
    request = parsed_request(response)
    if request is None or (not request.params and request.protocol not in _PARSED_PROTOCOLS):
        return None
    input_shape = _service_model(request.service).operation_model(request.operation).input_shape
    if input_shape is None:
        return None
    violations = check_input(input_shape, request.params)
    if violations:
        return serialized_error(response, error_code(request.service, request.protocol), validation_message(violations))
    if request.service == "sagemaker":
        problem = volume_key_problem(request.operation, request.params)
        if problem is not None:
            return serialized_error(response, error_code(request.service, request.protocol), problem)
    return None


def serialized_error(
    response: Any, code: str, message: str, error: type[ServiceException] | None = None
) -> tuple[int, dict[str, Any], Any]:
    """The response moto would send for a service error ``code`` of this request's service and protocol."""
    status, headers, body = response.serialized(ActionResult((error or ModelValidationFailed)(code, message)))
    headers, body = response._enrich_response(headers, body)
    return status, headers, body


def _checked_call_action(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call_action(self: Any) -> Any:
        try:
            rejection = _rejection(self)
        except Exception:  # a request the checker cannot read is served as moto would serve it
            log.debug("request constraints not checked", exc_info=True)
            rejection = None
        if rejection is not None:
            return rejection
        return original(self)

    return call_action


def _checked_bucket_response(original: Callable[..., Any]) -> Callable[..., Any]:
    def _bucket_response(self: Any, request: Any, full_url: str) -> Any:
        if request.method == "PUT" and not self._get_querystring(request, full_url):  # CreateBucket
            name = self.parse_bucket_name_from_url(request, full_url)
            if name and bucket_name_problem(name) is not None:
                raise S3NameRefused("InvalidBucketName", "The specified bucket is not valid.")
        return original(self, request, full_url)

    return _bucket_response


def _checked_key_response(original: Callable[..., Any]) -> Callable[..., Any]:
    def _key_response(self: Any, request: Any, full_url: str) -> Any:
        if len(self.parse_key_name().encode("utf-8")) > MAX_KEY_BYTES:
            raise S3NameRefused("KeyTooLongError", "Your key is too long")
        return original(self, request, full_url)

    return _key_response


def _targets() -> list[tuple[Any, str, Callable[[Any], Any]]]:
    return [
        (BaseResponse, "call_action", _checked_call_action),
        (S3Response, "_bucket_response", _checked_bucket_response),
        (S3Response, "_key_response", _checked_key_response),
    ]


def install() -> None:
    """Check every request moto serves in this process (server or ``mock_aws``) from now on."""
    if not seams.claim(PATCH_GROUP):
        return
    for owner, attribute, wrap in _targets():
        seams.replace(owner, attribute, wrap(owner.__dict__[attribute]))


def uninstall() -> None:
    """Serve requests unchecked again, leaving local mode's other patches in place."""
    seams.undo(PATCH_GROUP, [(owner, attribute) for owner, attribute, _ in _targets()])
