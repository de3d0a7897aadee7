"""Local CloudFormation refuses the parameter values CloudFormation refuses, in its words (moto takes any)."""

from __future__ import annotations

import pytest

from driftline.local.cloudformation import load_template, parameter_problems
from driftline.local.settings import LOCAL_PARAMETERS, REPO_ROOT

DECLARED = load_template(REPO_ROOT / "template.yaml")["Parameters"]


def test_local_modes_own_parameters_and_every_default_are_accepted() -> None:
    assert parameter_problems(DECLARED, dict(LOCAL_PARAMETERS)) == []
    defaults = {name: str(spec["Default"]) for name, spec in DECLARED.items() if "Default" in spec}
    assert parameter_problems(DECLARED, defaults) == ["Parameters: [NotificationEmail] must have values"]
    assert parameter_problems(DECLARED, defaults | {"NotificationEmail": "ml@example.com"}) == []


def test_an_empty_email_address_is_refused() -> None:
    problems = parameter_problems(DECLARED, {"NotificationEmail": ""})

    assert len(problems) == 1 and problems[0].startswith("Parameter 'NotificationEmail' must match pattern")


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"DriftMonitr": "ModelMonitor"}, "Parameters: [DriftMonitr] do not exist in the template"),
        ({"DriftMonitor": "Evidently"}, "Parameter 'DriftMonitor' must be one of AllowedValues"),
        ({"MonitorMaxInstances": "0"}, "Parameter 'MonitorMaxInstances' must be a number not less than 1"),
        ({"MonitorMaxInstances": "many"}, "Parameter 'MonitorMaxInstances' must be a number"),
        ({"MonitoringScheduleExpression": "every hour"}, "Parameter 'MonitoringScheduleExpression' must match pattern"),
    ],
)
def test_a_value_cloudformation_refuses_is_refused_naming_the_parameter(given: dict[str, str], problem: str) -> None:
    problems = parameter_problems(DECLARED, {"NotificationEmail": "ml@example.com"} | given)

    assert len(problems) == 1 and problems[0].startswith(problem)


def test_a_parameter_without_a_default_needs_a_value() -> None:
    declared = {"Email": {"Type": "String"}, "Size": {"Type": "Number", "Default": 1, "MaxValue": 10}}

    assert parameter_problems(declared, {}) == ["Parameters: [Email] must have values"]
    assert parameter_problems(declared, {"Email": "a@example.com", "Size": "11"}) == [
        "Parameter 'Size' must be a number not greater than 10"
    ]


def test_the_pattern_must_match_the_whole_value() -> None:
    declared = {"Name": {"Type": "String", "AllowedPattern": "[a-z]+"}}

    assert parameter_problems(declared, {"Name": "abc"}) == []
    assert parameter_problems(declared, {"Name": "abc1"}) == ["Parameter 'Name' must match pattern [a-z]+"]
