"""A request as AWS would judge it: botocore's ParamValidator (types, required members, minimums) and every maximum
and pattern of the operation's input shape, which AWS holds each value to and botocore does not check."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidator

_JAVA_CLASSES = {r"\p{L}": "A-Za-z", r"\p{Z}": " ", r"\p{N}": "0-9"}
"""Narrower than Java's letter, separator and number classes: a value they accept AWS accepts."""


def constraint_problems(value: Any, shape: Shape, path: str) -> list[str]:
    problems = []
    metadata = shape.metadata
    if shape.type_name == "string":
        if not metadata.get("min", 0) <= len(value) <= metadata.get("max", len(value)):
            problems.append(f"{path}: length {len(value)} outside {metadata.get('min', 0)}..{metadata.get('max')}")
        pattern = metadata.get("pattern")
        if pattern:
            for java, python in _JAVA_CLASSES.items():
                pattern = pattern.replace(java, python)
            if not re.fullmatch(pattern, value):
                problems.append(f"{path}: {value!r} does not match {metadata['pattern']}")
    elif shape.type_name in ("integer", "long"):
        if not metadata.get("min", value) <= value <= metadata.get("max", value):
            problems.append(f"{path}: {value} outside {metadata.get('min')}..{metadata.get('max')}")
    elif shape.type_name == "list":
        if not metadata.get("min", 0) <= len(value) <= metadata.get("max", len(value)):
            problems.append(f"{path}: {len(value)} items outside {metadata.get('min', 0)}..{metadata.get('max')}")
        for index, item in enumerate(value):
            problems += constraint_problems(item, shape.member, f"{path}[{index}]")  # type: ignore[attr-defined]
    elif shape.type_name == "map":
        if len(value) > metadata.get("max", len(value)):
            problems.append(f"{path}: {len(value)} entries, more than {metadata['max']}")
        for key, item in value.items():
            problems += constraint_problems(key, shape.key, f"{path} key")  # type: ignore[attr-defined]
            problems += constraint_problems(item, shape.value, f"{path}[{key}]")  # type: ignore[attr-defined]
    elif shape.type_name == "structure":
        for name, item in value.items():
            problems += constraint_problems(item, shape.members[name], f"{path}.{name}")  # type: ignore[attr-defined]
    return problems


def assert_valid_request(service: str, operation: str, request: dict[str, Any]) -> None:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    assert model.input_shape is not None
    report = ParamValidator().validate(request, model.input_shape)
    assert not report.has_errors(), report.generate_report()
    assert constraint_problems(request, model.input_shape, operation) == []
