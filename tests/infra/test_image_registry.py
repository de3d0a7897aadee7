"""The scikit-learn image the template runs jobs and serves models on is SageMaker's own, as the SageMaker Python
SDK (sagemaker-core, a pinned dev dependency) locates it, in every commercial region the SDK lists."""

from __future__ import annotations

import re
from typing import Any

import pytest

from driftline.image_registries import TEMPLATE, region_partition
from driftline.sklearn_container import (
    CONTAINER_VERSIONS,
    DEFAULT_CONTAINER_VERSION,
    commercial_registries,
    main,
    regenerate,
    sdk_image_config,
)
from tests.infra.transformed_template import load_template

IMAGE_VARIABLES = ("TRAINING_IMAGE_URI", "PROCESSING_IMAGE_URI")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def sdk_config() -> dict[str, Any]:
    return sdk_image_config()


def version_key(version: str) -> tuple[int, ...]:
    """``1.4-2-py312`` -> (1, 4, 2): the SDK's versions ordered as releases."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("-py")[0]))


def resolve(value: Any, region: str, parameters: dict[str, str], template: dict[str, Any]) -> Any:
    """Evaluate the intrinsics an image URI uses (Fn::Sub with variables, Fn::FindInMap, Ref) for one region."""
    pseudo = {"AWS::Region": region, "AWS::URLSuffix": "amazonaws.com", "AWS::Partition": region_partition(region)}
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return {**pseudo, **parameters}[value["Ref"]]
    if "Fn::FindInMap" in value:
        name, key, attribute = (resolve(part, region, parameters, template) for part in value["Fn::FindInMap"])
        return template["Mappings"][name][key][attribute]
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        names = {**pseudo, **parameters, **{k: resolve(v, region, parameters, template) for k, v in variables.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda match: names[match.group(1)], text)
    raise AssertionError(f"unexpected intrinsic in an image URI: {value}")


def test_template_maps_the_sdks_registry_account_for_every_commercial_region(
    template: dict[str, Any], sdk_config: dict[str, Any]
) -> None:
    mapped = {region: entry["Account"] for region, entry in template["Mappings"]["SklearnImageRegistry"].items()}

    assert mapped == commercial_registries(sdk_config)
    assert {"ca-west-1", "il-central-1", "us-east-1"} <= set(mapped)


def test_regenerating_the_mapping_from_the_sdk_changes_nothing(sdk_config: dict[str, Any]) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")

    assert regenerate(text, commercial_registries(sdk_config)) == text
    assert main(["--check"]) == 0


def test_regenerating_rewrites_a_stale_mapping_and_nothing_else(sdk_config: dict[str, Any], tmp_path: Any) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    stale = text.replace('    ca-west-1: { Account: "190319476487" }\n', "")
    copy = tmp_path / "template.yaml"
    copy.write_text(stale, encoding="utf-8")

    assert main(["--check", "--template", str(copy)]) == 1
    assert main(["--template", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == text


def test_container_version_is_one_parameter_offering_sdk_versions_newest_by_default(
    template: dict[str, Any], sdk_config: dict[str, Any]
) -> None:
    parameter = template["Parameters"]["SklearnContainerVersion"]
    in_both = set(sdk_config["training"]["versions"]) & set(sdk_config["inference"]["versions"])

    assert parameter["AllowedValues"] == list(CONTAINER_VERSIONS)
    assert set(CONTAINER_VERSIONS) <= in_both
    assert parameter["Default"] == DEFAULT_CONTAINER_VERSION == max(in_both, key=version_key)


@pytest.mark.parametrize("region", ["us-east-1", "ca-west-1", "il-central-1", "eu-south-2"])
def test_every_image_uri_is_the_sdks_image_for_the_chosen_version(template: dict[str, Any], region: str) -> None:
    from sagemaker.core import image_uris

    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for version in CONTAINER_VERSIONS:
        training, inference = (
            image_uris.retrieve(
                "sklearn", region=region, version=version, image_scope=scope, instance_type="ml.m5.large"
            )
            for scope in ("training", "inference")
        )
        parameters = {"SklearnContainerVersion": version}
        for name in IMAGE_VARIABLES:
            assert resolve(variables[name], region, parameters, template) == training
        # Models are registered with the training image as their inference image: the SDK's is the same.
        assert inference == training


def test_no_image_tag_is_written_outside_the_version_parameter() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")

    assert re.findall(r"sagemaker-scikit-learn:\d\S*", text) == []


def evaluate_rule(value: Any, partition: str) -> Any:
    """Evaluate a rule's Fn::Equals / Fn::Contains / Fn::Not over Ref AWS::Partition."""
    if isinstance(value, (str, list)):
        return [evaluate_rule(item, partition) for item in value] if isinstance(value, list) else value
    if value == {"Ref": "AWS::Partition"}:
        return partition
    if "Fn::Equals" in value:
        left, right = evaluate_rule(value["Fn::Equals"], partition)
        return left == right
    if "Fn::Contains" in value:
        options, item = evaluate_rule(value["Fn::Contains"], partition)
        return item in options
    if "Fn::Not" in value:
        return not evaluate_rule(value["Fn::Not"][0], partition)
    raise AssertionError(f"unexpected rule function: {value}")


@pytest.mark.parametrize(("partition", "allowed"), [("aws", True), ("aws-cn", False), ("aws-us-gov", False)])
def test_deploying_outside_the_commercial_partition_is_refused_with_a_clear_message(
    template: dict[str, Any], partition: str, allowed: bool
) -> None:
    assertions = [
        assertion
        for rule in template.get("Rules", {}).values()
        for assertion in rule["Assertions"]
        if "AWS::Partition" in str(assertion["Assert"])
    ]

    assert assertions, "the template has no rule on AWS::Partition"
    assert all(evaluate_rule(assertion["Assert"], partition) for assertion in assertions) is allowed
    for assertion in assertions:
        assert "commercial" in assertion["AssertDescription"]
        assert "aws" in assertion["AssertDescription"]


def test_the_xgboost_image_lives_in_the_scikit_learn_image_s_registry_account_in_every_region(
    sdk_config: dict[str, Any],
) -> None:
    from driftline import xgboost_container

    assert xgboost_container.registries_differ(xgboost_container.sdk_image_config(), sdk_config) == []


@pytest.mark.parametrize("region", ["us-east-1", "ca-west-1", "il-central-1", "eu-south-2"])
def test_the_xgboost_image_uri_is_the_sdks_image_for_its_version(template: dict[str, Any], region: str) -> None:
    from sagemaker.core import image_uris

    from driftline.xgboost_container import CONTAINER_VERSION

    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    expected = {
        image_uris.retrieve("xgboost", region=region, version=CONTAINER_VERSION, image_scope=scope)
        for scope in ("training", "inference")
    }

    assert {resolve(variables["XGBOOST_IMAGE_URI"], region, {}, template)} == expected


def test_local_mode_runs_the_xgboost_image_s_xgboost() -> None:
    from importlib.metadata import version

    from driftline.xgboost_container import CONTAINER_LIBRARIES

    assert version("xgboost-cpu") == CONTAINER_LIBRARIES["xgboost"]


def test_the_pytorch_image_mapping_matches_the_sagemaker_sdk(template: dict[str, Any]) -> None:
    from driftline import pytorch_container

    text = TEMPLATE.read_text(encoding="utf-8")
    registries = pytorch_container.commercial_registries(pytorch_container.sdk_image_config())
    mapped = {region: entry["Account"] for region, entry in template["Mappings"][pytorch_container.MAPPING].items()}

    assert pytorch_container.regenerate(text, registries) == text
    assert pytorch_container.main(["--check"]) == 0
    assert mapped == registries
    assert registries["us-east-1"] == "763104351884"


def test_the_pytorch_images_exist_in_every_region_the_scikit_learn_image_does(sdk_config: dict[str, Any]) -> None:
    """Every function's environment looks the PyTorch images up: a region missing there would fail every deploy."""
    from driftline import pytorch_container

    pytorch = pytorch_container.commercial_registries(pytorch_container.sdk_image_config())

    assert set(commercial_registries(sdk_config)) <= set(pytorch)


def test_the_pytorch_mapping_refuses_an_sdk_table_naming_other_repositories_or_pythons() -> None:
    import copy

    from driftline import pytorch_container

    config = pytorch_container.sdk_image_config()
    renamed = copy.deepcopy(config)
    renamed["inference"]["versions"][pytorch_container.CONTAINER_VERSION]["repository"] = "pytorch-serving"
    older = copy.deepcopy(config)
    older["training"]["versions"][pytorch_container.CONTAINER_VERSION]["py_versions"] = ["py311"]

    for table in (renamed, older):
        with pytest.raises(ValueError):
            pytorch_container.commercial_registries(table)


@pytest.mark.parametrize("region", ["us-east-1", "ca-west-1", "il-central-1", "eu-south-2"])
def test_the_pytorch_image_uris_are_the_sdks_images_for_their_version(template: dict[str, Any], region: str) -> None:
    from sagemaker.core import image_uris

    from driftline.pytorch_container import CONTAINER_VERSION, PYTHON_TAG

    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for scope in ("training", "inference"):
        expected = image_uris.retrieve(
            "pytorch",
            region=region,
            version=CONTAINER_VERSION,
            py_version=PYTHON_TAG,
            image_scope=scope,
            instance_type="ml.m5.large",
        )
        name = f"PYTORCH_{scope.upper()}_IMAGE_URI"
        assert resolve(variables[name], region, {}, template) == expected


def test_sagemaker_may_pull_the_pytorch_images_from_their_registry(template: dict[str, Any]) -> None:
    from driftline.pytorch_container import INFERENCE_REPOSITORY, MAPPING, TRAINING_REPOSITORY

    [policy] = template["Resources"]["SageMakerExecutionRole"]["Properties"]["Policies"]
    [pull] = [s for s in policy["PolicyDocument"]["Statement"] if s.get("Sid") == "PullJobImage"]
    registry = {"Registry": {"Fn::FindInMap": [MAPPING, {"Ref": "AWS::Region"}, "Account"]}}
    for repository in (TRAINING_REPOSITORY, INFERENCE_REPOSITORY):
        arn = f"arn:${{AWS::Partition}}:ecr:${{AWS::Region}}:${{Registry}}:repository/{repository}"
        assert {"Fn::Sub": [arn, registry]} in pull["Resource"]
