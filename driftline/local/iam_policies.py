"""IAM policy evaluation as AWS documents it, for the policies Driftline's template writes.

A request is allowed when some statement of the principal's policies allows its action on every
resource it names and no statement denies it (an explicit deny wins, no match is an implicit deny).
Actions match case-insensitively, resources case-sensitively, both with ``*`` and ``?`` wildcards.
Conditions: every operator block must hold, every key in a block must hold, and a key holds when any
of its values matches (the ``ForAnyValue``/``ForAllValues`` qualifiers and ``...IfExists`` as AWS
defines them). An operator this module does not know fails the evaluation loudly rather than
guessing, so a template that starts using one is noticed in the tests, not on AWS.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

Effect = Literal["Allow", "Deny"]
DecisionKind = Literal["allowed", "implicit-deny", "explicit-deny"]


class UnsupportedPolicy(ValueError):
    """A policy uses something this evaluator does not implement (an operator, a policy variable)."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """One action on one resource, with the condition keys the request carries (lowercase names)."""

    action: str
    resource: str
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    statement: str | None = None  # the Sid (or position) of the deciding statement

    @property
    def allowed(self) -> bool:
        return self.kind == "allowed"


def policy_documents(documents: Iterable[str | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Policy documents as dictionaries (IAM stores them as URL-decoded JSON text)."""
    return [json.loads(document) if isinstance(document, str) else dict(document) for document in documents]


def evaluate(documents: Sequence[Mapping[str, Any]], request: AuthorizationRequest) -> Decision:
    """AWS's identity-policy decision for ``request`` under ``documents``."""
    allowing: str | None = None
    for document in documents:
        for position, statement in enumerate(_statements(document)):
            if not _applies(statement, request):
                continue
            label = str(statement.get("Sid") or f"statement {position + 1}")
            if statement.get("Effect") == "Deny":
                return Decision("explicit-deny", label)
            if statement.get("Effect") == "Allow" and allowing is None:
                allowing = label
    if allowing is not None:
        return Decision("allowed", allowing)
    return Decision("implicit-deny")


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _applies(statement: Mapping[str, Any], request: AuthorizationRequest) -> bool:
    if "Action" in statement:
        if not any(action_matches(pattern, request.action) for pattern in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(pattern, request.action) for pattern in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(resource_matches(pattern, request.resource) for pattern in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(resource_matches(pattern, request.resource) for pattern in _as_list(statement["NotResource"])):
            return False
    else:
        return False
    return conditions_hold(statement.get("Condition") or {}, request.context)


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    if "${" in pattern:
        raise UnsupportedPolicy(f"policy variables are not evaluated: {pattern!r}")
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def action_matches(pattern: str, action: str) -> bool:
    return _wildcard(pattern, True).fullmatch(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    """A Resource element against an ARN; ``*`` alone matches anything, ARN parts match as text with wildcards."""
    return pattern == "*" or _wildcard(pattern, False).fullmatch(resource) is not None


# --- conditions ----------------------------------------------------------------------------------------------


def _string_equals(expected: str, actual: str) -> bool:
    return expected == actual


def _string_equals_ignore_case(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


def _string_like(expected: str, actual: str) -> bool:
    return _wildcard(expected, False).fullmatch(actual) is not None


def _arn_like(expected: str, actual: str) -> bool:
    """ARN operators compare the six colon-separated parts, each with wildcards."""
    expected_parts, actual_parts = expected.split(":", 5), actual.split(":", 5)
    if len(expected_parts) != 6 or len(actual_parts) != 6:
        return False
    return all(_string_like(e, a) for e, a in zip(expected_parts, actual_parts, strict=True))


def _bool(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


def _numeric(compare: str) -> Any:
    def matches(expected: str, actual: str) -> bool:
        try:
            left, right = float(actual), float(expected)
        except ValueError:
            return False
        return {
            "eq": left == right,
            "lt": left < right,
            "le": left <= right,
            "gt": left > right,
            "ge": left >= right,
        }[compare]

    return matches


def _ip_address(expected: str, actual: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


# operator -> (value test, negated)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric("eq"), False),
    "NumericNotEquals": (_numeric("eq"), True),
    "NumericLessThan": (_numeric("lt"), False),
    "NumericLessThanEquals": (_numeric("le"), False),
    "NumericGreaterThan": (_numeric("gt"), False),
    "NumericGreaterThanEquals": (_numeric("ge"), False),
    "IpAddress": (_ip_address, False),
    "NotIpAddress": (_ip_address, True),
}


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, Sequence[str]]) -> bool:
    lowered = {key.lower(): [str(v) for v in values] for key, values in context.items()}
    return all(_block_holds(operator, keys, lowered) for operator, keys in condition.items())


def _block_holds(operator: str, keys: Mapping[str, Any], context: Mapping[str, list[str]]) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    base = name.removesuffix("IfExists")
    for key, expected in keys.items():
        actual = context.get(key.lower())
        expected_values = [_condition_text(value) for value in _as_list(expected)]
        if base == "Null":
            present = actual is not None and len(actual) > 0
            if not any((value.lower() == "true") != present for value in expected_values):
                return False
            continue
        if base not in _OPERATORS:
            raise UnsupportedPolicy(f"condition operator {operator!r} is not evaluated")
        test, negated = _OPERATORS[base]
        if not actual:
            # A missing key: IfExists and the negated operators hold, the others do not; ForAllValues holds
            # over an empty set.
            if if_exists or negated or qualifier == "ForAllValues":
                continue
            return False
        if qualifier == "ForAllValues":
            holds = all(_any_matches(test, negated, expected_values, value) for value in actual)
        else:  # single-valued keys and ForAnyValue: some value of the request matches
            holds = any(_any_matches(test, negated, expected_values, value) for value in actual)
        if not holds:
            return False
    return True


def _any_matches(test: Any, negated: bool, expected_values: list[str], value: str) -> bool:
    matched = any(test(expected, value) for expected in expected_values)
    return not matched if negated else matched


def _condition_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
