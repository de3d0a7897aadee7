"""Model Registry group names: valid for SageMaker, unique per dataset, inside the permissions' ``<stack>-*``."""

from __future__ import annotations

import random
import re
import string

import botocore.session
import pytest

from driftline.local.iam_policies import resource_matches
from driftline_core.layout import MAX_PREFIX_LENGTH, is_valid_dataset_name, model_package_group_name

_SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
_CREATE_GROUP = _SAGEMAKER.operation_model("CreateModelPackageGroup").input_shape
assert _CREATE_GROUP is not None
_GROUP_NAME = _CREATE_GROUP.members["ModelPackageGroupName"]
GROUP_PATTERN = re.compile(f"^(?:{_GROUP_NAME.metadata['pattern']})$")
GROUP_MAX = int(_GROUP_NAME.metadata["max"])

LONGEST_STACK = "s" + "a" * (MAX_PREFIX_LENGTH - 2) + "9"
STACKS = ["driftline", "a", "prod-ml-pipeline", LONGEST_STACK, "ends-with-hyphen-"]


def _accepted_dataset_names(count: int) -> list[str]:
    """Dataset names the Validate step accepts: edge cases first, then seeded random ones."""
    alphabet = string.ascii_letters + string.digits + "-"
    rng = random.Random(20261202)
    names = [
        "credit",
        "Credit",
        "CREDIT",
        "credit--2026",
        "a",
        "x" * 40,
        "X" * 40,
        "customer-churn-predictions-for-region-1",
        "customer-churn-predictions-for-region-2",
        "a-" * 19 + "bc",
    ]
    while len(names) < count:
        length = rng.randint(1, 40)
        name = "".join(rng.choice(alphabet) for _ in range(length))
        if is_valid_dataset_name(name):
            names.append(name)
    assert all(is_valid_dataset_name(name) for name in names)
    return names


DATASETS = _accepted_dataset_names(3000)


@pytest.mark.parametrize("stack", STACKS)
def test_every_accepted_dataset_gets_a_valid_lowercase_group_inside_the_stacks_permissions(stack: str) -> None:
    for dataset in DATASETS:
        name = model_package_group_name(stack, dataset)
        assert GROUP_PATTERN.match(name), (dataset, name)
        assert len(name) <= GROUP_MAX, (dataset, name)
        assert name == name.lower(), (dataset, name)
        assert resource_matches(f"{stack}-*", name), (dataset, name)


@pytest.mark.parametrize("stack", STACKS)
def test_no_two_dataset_names_share_a_group(stack: str) -> None:
    groups = {model_package_group_name(stack, dataset) for dataset in DATASETS}
    assert len(groups) == len(set(DATASETS))


def test_long_datasets_with_a_common_start_get_their_own_groups_under_a_long_stack_name() -> None:
    first = model_package_group_name(LONGEST_STACK, "customer-churn-predictions-for-region-1")
    second = model_package_group_name(LONGEST_STACK, "customer-churn-predictions-for-region-2")
    assert first != second
    assert first.startswith(f"{LONGEST_STACK}-c")


def test_short_lowercase_dataset_names_are_kept_as_they_are() -> None:
    assert model_package_group_name("driftline", "breast-cancer") == "driftline-breast-cancer"


def test_datasets_differing_only_in_case_get_their_own_readable_groups() -> None:
    lower = model_package_group_name("driftline", "credit")
    upper = model_package_group_name("driftline", "Credit")
    assert lower == "driftline-credit"
    assert upper.startswith("driftline-credit--")
    assert upper != lower


@pytest.mark.parametrize(
    "stack",
    ["Driftline", "prod_ml", "1stack", "s" * (MAX_PREFIX_LENGTH + 1), ""],
)
def test_a_stack_name_that_cannot_prefix_every_group_is_refused_with_the_rule(stack: str) -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_PREFIX_LENGTH} characters"):
        model_package_group_name(stack, "credit")
