"""The rules local mode checks requests by, on their own: S3's bucket naming rules, and the service models' Java
patterns translated to Python and matched on whole values as AWS matches them."""

from __future__ import annotations

import botocore.session
import pytest

from driftline.local import request_constraints
from driftline.local.request_constraints import java_pattern

SERVICES_THE_PROJECT_CALLS = [
    "sagemaker",
    "sagemaker-runtime",
    "s3",
    "stepfunctions",
    "dynamodb",
    "sns",
    "lambda",
    "iam",
    "cloudformation",
    "events",
    "logs",
    "sqs",
    "sts",
]


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "data..bucket", "192.168.5.4", "xn--data", "sthree-data", "data-s3alias", "-data", "data."],
)
def test_bucket_names_breaking_each_s3_naming_rule_are_refused(name: str) -> None:
    assert request_constraints.bucket_name_problem(name) is not None


def test_every_pattern_of_the_services_the_project_calls_translates_to_python() -> None:
    session = botocore.session.get_session()
    patterns = {
        shape.metadata["pattern"]
        for service in SERVICES_THE_PROJECT_CALLS
        for model in [session.get_service_model(service)]
        for shape in (model.shape_for(name) for name in model.shape_names)
        if "pattern" in shape.metadata
    }

    untranslated = [pattern for pattern in patterns if java_pattern(pattern) is None]

    assert len(patterns) > 400
    assert untranslated == []


@pytest.mark.parametrize(
    ("pattern", "accepted", "refused"),
    [
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "tab\tand 😀", "bell\x07"),
        ("[\\w-_]*", "a-b_c", "a.b"),
        ("\\A\\S[\\p{Print}]*\\z", "text/csv", " leading"),
        ("([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}", "Ünïcode: 1", "comma,"),
        ("[a-zA-Z0-9_.-]+", "table", '"table"'),
    ],
)
def test_java_patterns_match_whole_values_as_aws_matches_them(pattern: str, accepted: str, refused: str) -> None:
    compiled = java_pattern(pattern)

    assert compiled is not None
    assert compiled.fullmatch(accepted)
    assert not compiled.fullmatch(refused)
