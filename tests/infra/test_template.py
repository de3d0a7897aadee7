"""Checks on template.yaml that need no AWS account: lint, the SAM transform, wiring and security posture."""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, cast

import botocore.session
import pytest
import yaml
from cfnlint.api import lint, lint_file
from moto.events.models import EventPattern
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import intrinsics_multi_constructor

from driftline.local.iam_policies import resource_matches
from driftline_core.settings import Settings
from tests.infra.transformed_template import sam_transform

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
ASL = REPO_ROOT / "statemachine" / "pipeline.asl.json"

STEP_FUNCTIONS = {
    "StartRunFunction": "functions/start_run",
    "ValidateFunction": "functions/validate",
    "PreprocessFunction": "functions/preprocess",
    "TrainFunction": "functions/train",
    "TransformTestRowsFunction": "functions/transform_test_rows",
    "EvaluateFunction": "functions/evaluate",
    "JobEventsFunction": "functions/job_events",
    "ReconcileJobsFunction": "functions/reconcile_jobs",
    "QualityGateFunction": "functions/quality_gate",
    "RegisterFunction": "functions/register",
    "NotifyFunction": "functions/notify",
    "RequestApprovalFunction": "functions/request_approval",
    "ApprovalApiFunction": "functions/approval_api",
    "ApprovalEventsFunction": "functions/approval_events",
    "DeployFunction": "functions/deploy",
    "FinishDeploymentFunction": "functions/finish_deployment",
    "TestStagingFunction": "functions/test_staging",
    "RemoveStagingFunction": "functions/remove_staging",
    "AnalyseTrialFunction": "functions/analyse_trial",
    "DecideTrialFunction": "functions/decide_trial",
    "StartMonitoringFunction": "functions/start_monitoring",
}

# Actions that have no resource-level permissions, so IAM only accepts them with Resource "*".
ACTIONS_THAT_REQUIRE_ANY_RESOURCE = {
    "ecr:GetAuthorizationToken": "registry login tokens are issued per account, not per repository",
    "sagemaker:ListEndpointConfigs": "List* calls have no resource types; Deploy keeps only its endpoint's names",
    "cloudwatch:PutMetricData": "no resource types; the statement is scoped by cloudwatch:namespace instead",
    "logs:CreateLogDelivery": "Step Functions log delivery setup (vended logs) has no resource types",
    "logs:GetLogDelivery": "as above",
    "logs:UpdateLogDelivery": "as above",
    "logs:DeleteLogDelivery": "as above",
    "logs:ListLogDeliveries": "as above",
    "logs:PutResourcePolicy": "as above: writes the account's log resource policy for the delivery",
    "logs:DescribeResourcePolicies": "as above",
    "logs:DescribeLogGroups": "listing log groups has no resource type",
    "ec2:DescribeNetworkInterfaces": "EC2 Describe* actions have no resource-level permissions (VPC jobs only)",
    "ec2:DescribeVpcs": "as above",
    "ec2:DescribeDhcpOptions": "as above",
    "ec2:DescribeSubnets": "as above",
    "ec2:DescribeSecurityGroups": "as above",
    "pricing:GetProducts": "the Price List API has no resource types; Notify reads public on-demand prices",
}


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that reads short-form intrinsics (!Ref, !Sub, ...) as their long-form dicts."""


_CloudFormationLoader.add_multi_constructor("!", intrinsics_multi_constructor)


@cache
def _load_template() -> dict[str, Any]:
    with TEMPLATE.open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CloudFormationLoader)
    return loaded


@pytest.fixture
def template() -> dict[str, Any]:
    return copy.deepcopy(_load_template())


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    """The CloudFormation the SAM transform makes of the template (local paths replaced by S3 URIs)."""
    sam = copy.deepcopy(_load_template())
    for name, resource in sam["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://driftline-deploy-bucket/{name}/{key}.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_REGION", "us-east-1")
        result: dict[str, Any] = Translator(None, Parser()).translate(
            sam, parameter_values={}, get_managed_policy_map=dict
        )
    return result


def _resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource.get("Type") == resource_type}


def _function_environment(template: dict[str, Any], name: str) -> dict[str, Any]:
    """A function's variables as SAM sees them: Globals merged with the function's own."""
    merged = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    own = template["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
    merged.update(own)
    return merged


def _iam_statements(cloudformation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in cloudformation["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            # A policy only some parameter values attach is an Fn::If: check what either branch attaches.
            policies = [
                branch
                for policy in properties.get("Policies", [])
                for branch in (policy["Fn::If"][1:] if "Fn::If" in policy else [policy])
                if "PolicyDocument" in branch
            ]
            for policy in policies:
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield name, statement
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            for statement in properties["PolicyDocument"]["Statement"]:
                yield name, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- lint and transform


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    matches = lint_file(TEMPLATE)
    assert not matches, "\n".join(str(match) for match in matches)


def test_sam_transform_leaves_only_cloudformation_resources(transformed: dict[str, Any]) -> None:
    types = {resource["Type"] for resource in transformed["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::Serverless::")}
    assert "AWS::StepFunctions::StateMachine" in types
    functions = _resources_of_type(transformed, "AWS::Lambda::Function")
    assert set(STEP_FUNCTIONS) | {"MlCodePublisherFunction"} <= set(functions)


def test_transformed_template_lints_clean_and_has_no_dependency_cycles(transformed: dict[str, Any]) -> None:
    """Linting the SAM source does not see the roles SAM generates, where a policy naming the state
    machine from a function the state machine invokes would close a cycle."""
    matches = lint(json.dumps(transformed))
    assert not matches, "\n".join(str(match) for match in matches)


# ---------------------------------------------------------------- state machine wiring


def test_every_asl_placeholder_has_a_substitution_and_every_substitution_is_used(
    template: dict[str, Any],
) -> None:
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ASL.read_text()))
    substitutions = template["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert placeholders == set(substitutions)


def _sample_substitution(name: str, value: Any) -> str:
    """What CloudFormation would put in place of a substitution: a function ARN, the partition, a number."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{value['Fn::GetAtt'][0]}"
    return "aws" if name == "Partition" else "5"


def test_substituted_definition_is_valid_json_naming_only_template_functions(
    template: dict[str, Any],
) -> None:
    substitutions = template["Resources"]["PipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
    sample = {name: _sample_substitution(name, value) for name, value in substitutions.items()}
    definition = json.loads(re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: sample[m.group(1)], ASL.read_text()))
    named = {
        state["Parameters"]["FunctionName"].rsplit(":", 1)[-1]
        for state in definition["States"].values()
        if state["Type"] == "Task"
    }
    assert named <= set(STEP_FUNCTIONS)


def test_state_machine_may_invoke_every_function_its_definition_names(template: dict[str, Any]) -> None:
    properties = template["Resources"]["PipelineStateMachine"]["Properties"]
    named = {
        value["Fn::GetAtt"][0]
        for value in properties["DefinitionSubstitutions"].values()
        if isinstance(value, dict) and "Fn::GetAtt" in value
    }
    invokable = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in properties["Policies"]
        if "LambdaInvokePolicy" in policy
    }
    assert named == invokable


def test_state_machine_logs_transitions_without_execution_data(template: dict[str, Any]) -> None:
    """Execution data carries task tokens, which must never reach a log."""
    logging = template["Resources"]["PipelineStateMachine"]["Properties"]["Logging"]
    assert logging["IncludeExecutionData"] is False
    log_group = template["Resources"]["PipelineStateMachineLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] > 0


def test_job_waits_time_out_before_their_stored_tokens_expire(template: dict[str, Any]) -> None:
    wait_limit = template["Parameters"]["JobWaitTimeoutSeconds"]["MaxValue"]
    token_ttl = int(template["Globals"]["Function"]["Environment"]["Variables"]["JOB_TOKEN_TTL_SECONDS"])
    assert wait_limit <= token_ttl


# ---------------------------------------------------------------- functions


@pytest.mark.parametrize(("logical_id", "folder"), sorted(STEP_FUNCTIONS.items()))
def test_each_step_function_code_folder_has_its_handler(template: dict[str, Any], logical_id: str, folder: str) -> None:
    properties = template["Resources"][logical_id]["Properties"]
    assert properties["CodeUri"].rstrip("/") == folder
    module, function = properties["Handler"].split(".")
    source = REPO_ROOT / folder / f"{module}.py"
    assert source.is_file(), f"{logical_id} points at {folder}, which has no {module}.py"
    defined = {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
    assert function in defined
    assert not (REPO_ROOT / folder / "requirements.txt").exists(), (
        "a requirements.txt makes `sam build` need a local python3.13; ship dependencies in a layer"
    )


def test_code_publisher_handler_exists(template: dict[str, Any]) -> None:
    properties = template["Resources"]["MlCodePublisherFunction"]["Properties"]
    module, function = properties["Handler"].split(".")
    source = REPO_ROOT / properties["CodeUri"] / f"{module}.py"
    tree = ast.parse(source.read_text())
    assert function in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert not (REPO_ROOT / properties["CodeUri"] / "requirements.txt").exists(), (
        "a requirements.txt in ml/ makes `sam build` pip-install it into the publisher"
    )


@pytest.mark.parametrize("logical_id", sorted(STEP_FUNCTIONS))
def test_every_step_function_gets_every_setting(template: dict[str, Any], logical_id: str) -> None:
    environment = _function_environment(template, logical_id)
    settings = {field.upper() for field in Settings.model_fields}
    assert settings <= set(environment), f"missing: {sorted(settings - set(environment))}"
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
    # The approval functions also get their own settings (driftline_core.settings.ApprovalSettings).
    from driftline_core.settings import ApprovalSettings, DeploymentSettings

    approval = {field.upper() for field in ApprovalSettings.model_fields}
    # The deployment functions also get theirs (driftline_core.settings.DeploymentSettings), and nothing else.
    deployment = {field.upper() for field in DeploymentSettings.model_fields}
    # FinishDeployment and StartMonitoring also get the drift monitor's (driftline_core.settings.MonitoringSettings).
    from driftline_core.settings import MonitoringSettings

    deployment |= {field.upper() for field in MonitoringSettings.model_fields}
    # Validate decides the release plan (ReleaseSettings); TestStaging gets its limits (StagingSettings); Preprocess
    # sizes its job (PreprocessSettings).
    from driftline_core.settings import PreprocessSettings, ReleaseSettings, StagingSettings

    groups = (ReleaseSettings, StagingSettings, PreprocessSettings)
    deployment |= {field.upper() for group in groups for field in group.model_fields}
    assert set(environment) - approval - deployment == (settings | powertools) - approval - deployment


def test_validate_gets_every_release_setting_and_test_staging_every_staging_limit_it_has_a_parameter_for(
    template: dict[str, Any],
) -> None:
    from driftline_core.settings import ReleaseSettings, StagingSettings

    validate = _function_environment(template, "ValidateFunction")
    assert {field.upper() for field in ReleaseSettings.model_fields} <= set(validate)
    test_staging = _function_environment(template, "TestStagingFunction")
    given = {field.upper() for field in StagingSettings.model_fields} - {"STAGING_SMOKE_TEST_MAX_ROWS"}
    assert given <= set(test_staging)


def test_the_deployment_functions_get_every_template_deployment_parameter_they_read(template: dict[str, Any]) -> None:
    from driftline_core.settings import DeploymentSettings

    given = set(_function_environment(template, "DeployFunction")) | set(
        _function_environment(template, "FinishDeploymentFunction")
    )
    # The old fleet's termination wait is left at SageMaker's default (none), not a parameter.
    defaults_kept = {"OLD_FLEET_TERMINATION_WAIT_SECONDS"}
    assert {field.upper() for field in DeploymentSettings.model_fields} - defaults_kept <= given


def _allowed(template: dict[str, Any], name: str) -> list[int]:
    """A Number parameter's least, default and greatest values."""
    parameter = template["Parameters"][name]
    return sorted({int(parameter["MinValue"]), int(parameter["Default"]), int(parameter["MaxValue"])})


def test_every_blue_green_update_the_template_allows_ends_before_the_run_stops_waiting_for_it(
    template: dict[str, Any],
) -> None:
    from driftline_core.deployment.endpoint import ROLLBACK_ALLOWANCE_SECONDS, update_timeout_seconds
    from driftline_core.settings import DeploymentSettings

    raw = ASL.read_text()
    assert (
        '"TimeoutSeconds": ${DeployTimeoutSeconds}'
        in raw[raw.index('"Deploy": {') : raw.index('"FinishDeployment": {')]
    )
    deploy = json.loads(re.sub(r"\$\{([A-Za-z0-9_]+)\}", "1", raw))["States"]["Deploy"]
    longest_update = 0
    for bake in _allowed(template, "DeploymentBakeSeconds"):
        for wait in _allowed(template, "DeployTimeoutSeconds"):
            deployment = DeploymentSettings(bake_seconds=bake, deploy_timeout_seconds=wait)
            limit = update_timeout_seconds(deployment)  # raises when provisioning, bake and rollback do not fit
            assert limit + ROLLBACK_ALLOWANCE_SECONDS <= wait
            longest_update = max(longest_update, limit + deployment.old_fleet_termination_wait_seconds)
    # A run finding the endpoint busy (another update settling) retries until that update must have ended.
    (busy,) = [retry for retry in deploy["Retry"] if retry["ErrorEquals"] == ["EndpointBusy"]]
    assert "JitterStrategy" not in busy
    for interval in _allowed(template, "RetryIntervalSeconds"):
        waits = [min(interval * busy["BackoffRate"] ** n, busy["MaxDelaySeconds"]) for n in range(busy["MaxAttempts"])]
        assert sum(waits) >= longest_update, f"RetryIntervalSeconds={interval}"


def test_endpoint_events_reach_job_events_only_for_this_stacks_endpoints(template: dict[str, Any]) -> None:
    events = template["Resources"]["JobEventsFunction"]["Properties"]["Events"]
    pattern = events["EndpointStateChanged"]["Properties"]["Pattern"]
    assert pattern["detail-type"] == ["SageMaker Endpoint State Change"]
    assert pattern["detail"]["EndpointName"] == [{"prefix": {"Fn::Sub": "${AWS::StackName}-"}}]


@pytest.mark.parametrize("logical_id", sorted(STEP_FUNCTIONS))
def test_step_functions_use_the_code_this_deploy_published(template: dict[str, Any], logical_id: str) -> None:
    environment = _function_environment(template, logical_id)
    assert environment["ML_CODE_URI"] == {"Fn::GetAtt": ["MlCode", "CodeUri"]}
    assert environment["ML_CODE_VERSION"] == {"Fn::GetAtt": ["MlCode", "CodeVersion"]}


def test_ml_code_is_published_again_whenever_the_publisher_code_changes(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    assert resources["MlCodePublisherFunction"]["Properties"]["AutoPublishAlias"]
    properties = resources["MlCode"]["Properties"]
    assert properties["ServiceToken"] == {"Fn::GetAtt": ["MlCodePublisherFunction", "Arn"]}
    assert properties["PublisherVersion"] == {"Ref": "MlCodePublisherFunction.Version"}
    assert properties["ArtifactBucket"] == {"Ref": "ArtifactBucket"}


def test_functions_use_powertools_and_the_shared_layer(template: dict[str, Any]) -> None:
    layers = template["Globals"]["Function"]["Layers"]
    powertools = layers[0]["Fn::Sub"]
    assert "AWSLambdaPowertoolsPythonV3-python313-x86_64" in powertools
    assert "${AWS::Region}" in powertools and "${AWS::Partition}" in powertools
    assert {"Ref": "SharedLayer"} in layers
    shared = template["Resources"]["SharedLayer"]["Properties"]
    assert (REPO_ROOT / shared["ContentUri"] / "python" / "driftline_core" / "__init__.py").is_file()


# ---------------------------------------------------------------- events


def _rule_pattern(template: dict[str, Any], function: str, event: str, bucket: str = "") -> EventPattern:
    pattern = template["Resources"][function]["Properties"]["Events"][event]["Properties"]["Pattern"]
    rendered = json.dumps(pattern).replace(json.dumps({"Ref": "DataBucket"}), json.dumps(bucket))
    return EventPattern.load(rendered)


def _matches(pattern: EventPattern, event: dict[str, Any]) -> bool:
    matched: bool = pattern.matches_event(cast(Any, event))
    return matched


def _object_created(bucket: str, key: str) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key, "version-id": "v1"}},
    }


@pytest.mark.parametrize(
    ("key", "reaches_start_run"),
    [
        ("data/churn/2024-06.csv", True),
        ("data/churn/2024-06.CSV", True),
        ("data/churn/2024-06.csv.gz", True),
        # StartRun answers these with a notification (or quietly, for dataset.json and folders).
        ("data/churn/notes.txt", True),
        ("data/churn/2024/06.csv", True),
        ("data/churn/dataset.json", True),
        ("DATA/churn/2024-06.csv", True),
        ("runs/abc/config.json", False),
        ("uploads/churn/2024-06.csv", False),
    ],
)
def test_uploads_rule_delivers_every_upload_under_data(
    template: dict[str, Any], key: str, reaches_start_run: bool
) -> None:
    pattern = _rule_pattern(template, "StartRunFunction", "DataUploaded", bucket="driftline-data")
    assert _matches(pattern, _object_created("driftline-data", key)) is reaches_start_run


def test_uploads_rule_ignores_other_buckets_and_deletions(template: dict[str, Any]) -> None:
    pattern = _rule_pattern(template, "StartRunFunction", "DataUploaded", bucket="driftline-data")
    deleted = {**_object_created("driftline-data", "data/churn/x.csv"), "detail-type": "Object Deleted"}
    assert not _matches(pattern, _object_created("someone-elses-bucket", "data/churn/x.csv"))
    assert not _matches(pattern, deleted)


def test_uploads_rule_uses_only_operators_eventbridge_accepts_for_a_key(template: dict[str, Any]) -> None:
    """Matchers in one list are alternatives: a prefix and a suffix there would widen the rule, not narrow it."""
    key_matchers = template["Resources"]["StartRunFunction"]["Properties"]["Events"]["DataUploaded"]["Properties"][
        "Pattern"
    ]["detail"]["object"]["key"]
    assert key_matchers == [{"prefix": {"equals-ignore-case": "data/"}}]


def test_start_run_may_read_only_uploads_and_publish_only_to_the_topic(template: dict[str, Any]) -> None:
    policies = template["Resources"]["StartRunFunction"]["Properties"]["Policies"]
    statements = [statement for policy in policies for statement in policy.get("Statement", [])]
    s3 = [statement for statement in statements if any(str(a).startswith("s3:") for a in _as_list(statement["Action"]))]
    assert [(sorted(_as_list(s["Action"])), s["Resource"]) for s in s3] == [
        (["s3:GetObject", "s3:GetObjectVersion"], {"Fn::Sub": "${DataBucket.Arn}/data/*"})
    ]
    assert {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["NotificationTopic", "TopicName"]}}} in policies


@pytest.mark.parametrize(
    ("detail_type", "detail", "resumes"),
    [
        ("SageMaker Processing Job State Change", {"ProcessingJobStatus": "Completed"}, True),
        ("SageMaker Processing Job State Change", {"ProcessingJobStatus": "Failed"}, True),
        ("SageMaker Training Job State Change", {"TrainingJobStatus": "Stopped"}, True),
        ("SageMaker Training Job State Change", {"TrainingJobStatus": "InProgress"}, False),
        ("SageMaker Processing Job State Change", {"ProcessingJobStatus": "InProgress"}, False),
        ("SageMaker Endpoint State Change", {"EndpointStatus": "InService"}, False),
    ],
)
def test_job_events_rule_matches_only_jobs_that_ended(
    template: dict[str, Any], detail_type: str, detail: dict[str, str], resumes: bool
) -> None:
    pattern = _rule_pattern(template, "JobEventsFunction", "SageMakerJobStateChanged")
    event: dict[str, Any] = {"source": "aws.sagemaker", "detail-type": detail_type, "detail": detail}
    assert _matches(pattern, event) is resumes


@pytest.mark.parametrize(
    "sample",
    [
        "start_run",
        "s3_object_created_csv_gz",
        "s3_object_created_encoded_key",
        "s3_object_created_not_csv",
        "s3_object_created_dataset_config",
        "s3_object_created_folder_marker",
    ],
)
def test_uploads_rule_matches_the_sample_upload_events(template: dict[str, Any], sample: str) -> None:
    event = json.loads((REPO_ROOT / "events" / f"{sample}.json").read_text())
    pattern = _rule_pattern(template, "StartRunFunction", "DataUploaded", bucket=event["detail"]["bucket"]["name"])
    assert _matches(pattern, event)


@pytest.mark.parametrize("sample", ["sagemaker_training_job_completed", "sagemaker_processing_job_failed"])
def test_job_events_rule_matches_the_sample_job_events(template: dict[str, Any], sample: str) -> None:
    event = json.loads((REPO_ROOT / "events" / f"{sample}.json").read_text())
    assert _matches(_rule_pattern(template, "JobEventsFunction", "SageMakerJobStateChanged"), event)


# ---------------------------------------------------------------- storage and security


@pytest.mark.parametrize("bucket", ["DataBucket", "ArtifactBucket"])
def test_buckets_block_public_access_and_are_encrypted(template: dict[str, Any], bucket: str) -> None:
    properties = template["Resources"][bucket]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": {"Fn::If": ["HasKmsKey", "aws:kms", "AES256"]},
        "KMSMasterKeyID": {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]},
    }
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert properties["VersioningConfiguration"]["Status"] == "Enabled"


@pytest.mark.parametrize("bucket", ["DataBucket", "ArtifactBucket"])
def test_buckets_refuse_requests_without_tls(template: dict[str, Any], bucket: str) -> None:
    policies = [
        policy["Properties"]
        for policy in _resources_of_type(template, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert len(policies) == 1
    [deny] = [s for s in policies[0]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Principal"] == "*"


def test_data_bucket_sends_eventbridge_events(template: dict[str, Any]) -> None:
    notifications = template["Resources"]["DataBucket"]["Properties"]["NotificationConfiguration"]
    assert notifications["EventBridgeConfiguration"]["EventBridgeEnabled"] is True


def test_artifact_bucket_expires_overwritten_versions(template: dict[str, Any]) -> None:
    rules = template["Resources"]["ArtifactBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(rule.get("NoncurrentVersionExpiration") for rule in rules)


def test_job_tokens_table_is_keyed_by_job_name_encrypted_and_expiring(template: dict[str, Any]) -> None:
    properties = template["Resources"]["JobTokensTable"]["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "job_name", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "job_name", "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_an_email_address_is_required_and_subscribed(template: dict[str, Any]) -> None:
    """Enter in ``sam deploy --guided`` must not mean "no approval emails": the address has no default."""
    parameter = template["Parameters"]["NotificationEmail"]
    assert "Default" not in parameter
    accepts = [re.fullmatch(parameter["AllowedPattern"], value) is not None for value in ("ml@example.com", "", "ml")]
    assert accepts == [True, False, False]
    assert "email address" in parameter["ConstraintDescription"]
    subscription = template["Resources"]["NotificationEmailSubscription"]
    assert "Condition" not in subscription
    assert subscription["Properties"]["Endpoint"] == {"Ref": "NotificationEmail"}
    topic = template["Resources"]["NotificationTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {
        "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Fn::GetAtt": ["NotificationKey", "Arn"]}]
    }


def test_no_iam_statement_grants_every_resource_except_where_iam_requires_it(
    transformed: dict[str, Any],
) -> None:
    offending = []
    for role, statement in _iam_statements(transformed):
        if statement.get("Effect") != "Allow" or "*" not in _as_list(statement.get("Resource")):
            continue
        actions = set(_as_list(statement["Action"]))
        unexpected = actions - set(ACTIONS_THAT_REQUIRE_ANY_RESOURCE)
        if unexpected:
            offending.append(f"{role}: {sorted(unexpected)}")
    assert not offending


def test_metric_writes_are_limited_to_sagemaker_namespaces_and_the_stacks_drift_namespace(
    transformed: dict[str, Any],
) -> None:
    for role, statement in _iam_statements(transformed):
        if "cloudwatch:PutMetricData" not in _as_list(statement["Action"]):
            continue
        if role == "StartMonitoringFunctionRole":
            # The drift monitor's window metrics, published where the drift alarms look for them.
            namespace = statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
            assert namespace == {"Fn::Sub": "Driftline/DataDrift/${AWS::StackName}"}
            continue
        assert statement["Condition"]["StringLike"]["cloudwatch:namespace"] == "/aws/sagemaker/*"


def test_only_the_job_starters_and_deploy_may_pass_the_sagemaker_role_and_only_to_sagemaker(
    transformed: dict[str, Any],
) -> None:
    passing_roles = set()
    for role, statement in _iam_statements(transformed):
        if "iam:PassRole" in _as_list(statement["Action"]):
            if statement["Resource"] == {"Fn::GetAtt": ["MonitoringSchedulerRole", "Arn"]}:
                # The drift monitor's schedules: FinishDeployment hands EventBridge Scheduler its own role.
                assert role == "FinishDeploymentFunctionRole"
                assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
                continue
            assert statement["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
            passing_roles.add(role)
    assert passing_roles == {
        "PreprocessFunctionRole",
        "TrainFunctionRole",
        "TransformTestRowsFunctionRole",
        "EvaluateFunctionRole",
        "AnalyseTrialFunctionRole",
        "DeployFunctionRole",
        "FinishDeploymentFunctionRole",
        "StartMonitoringFunctionRole",
    }


def test_sagemaker_role_is_trusted_by_sagemaker_only(template: dict[str, Any]) -> None:
    trust = template["Resources"]["SageMakerExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]
    principals = [statement["Principal"] for statement in trust["Statement"]]
    assert principals == [{"Service": "sagemaker.amazonaws.com"}]


def test_scikit_learn_image_is_mapped_for_the_major_regions(template: dict[str, Any]) -> None:
    registry = template["Mappings"]["SklearnImageRegistry"]
    major = {
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-2",
        "ap-northeast-1",
    }
    assert major <= set(registry)
    assert registry["us-east-1"]["Account"] == "683313688378"
    assert all(re.fullmatch(r"\d{12}", entry["Account"]) for entry in registry.values())


def test_outputs_name_what_a_user_needs_after_deploying(template: dict[str, Any]) -> None:
    assert {
        "DataBucketName",
        "ArtifactBucketName",
        "PipelineStateMachineArn",
        "NotificationTopicArn",
        "JobTokensTableName",
        "SageMakerExecutionRoleArn",
        "MlCodeUri",
        "UploadCommand",
        "ModelPackageGroupPrefix",
    } <= set(template["Outputs"])
    assert template["Outputs"]["UploadCommand"]["Value"]["Fn::Sub"].startswith("aws s3 cp ")


# ---------------------------------------------------------------- nothing dropped silently

# Event sources that invoke a function asynchronously: a failure there is retried by Lambda, then dropped
# unless the function has an on-failure destination.
ASYNC_EVENT_TYPES = {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2", "S3", "SNS"}
UNDELIVERED_QUEUE_ARN = {"Fn::GetAtt": ["UndeliveredEventsQueue", "Arn"]}


def _asynchronously_invoked_functions(template: dict[str, Any]) -> list[str]:
    return sorted(
        name
        for name, resource in _resources_of_type(template, "AWS::Serverless::Function").items()
        if any(event["Type"] in ASYNC_EVENT_TYPES for event in resource["Properties"].get("Events", {}).values())
    )


def test_upload_job_event_and_reconcile_functions_are_the_asynchronously_invoked_ones(
    template: dict[str, Any],
) -> None:
    assert {"StartRunFunction", "JobEventsFunction", "ReconcileJobsFunction"} <= set(
        _asynchronously_invoked_functions(template)
    )


def test_a_failed_asynchronous_invocation_is_kept_in_the_undelivered_events_queue(template: dict[str, Any]) -> None:
    lambda_model = botocore.session.get_session().get_service_model("lambda")
    request = lambda_model.operation_model("PutFunctionEventInvokeConfig").input_shape
    assert request is not None
    retry_limits = request.members["MaximumRetryAttempts"].metadata
    for name in _asynchronously_invoked_functions(template):
        config = template["Resources"][name]["Properties"].get("EventInvokeConfig")
        assert config, f"{name} is invoked asynchronously but drops events that still fail after Lambda's retries"
        assert config["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": UNDELIVERED_QUEUE_ARN}
        assert retry_limits["min"] <= config["MaximumRetryAttempts"] <= retry_limits["max"]


def test_functions_may_send_their_failed_invocations_to_that_queue_only(transformed: dict[str, Any]) -> None:
    senders = set()
    for role, statement in _iam_statements(transformed):
        if "sqs:SendMessage" in _as_list(statement["Action"]):
            assert statement["Resource"] == UNDELIVERED_QUEUE_ARN
            senders.add(role.removesuffix("Role"))
    assert senders == set(_asynchronously_invoked_functions(_load_template()))
    configs = _resources_of_type(transformed, "AWS::Lambda::EventInvokeConfig")
    assert {config["Properties"]["FunctionName"]["Ref"] for config in configs.values()} == senders


def test_undelivered_events_queue_is_encrypted_tls_only_and_keeps_messages_two_weeks(template: dict[str, Any]) -> None:
    queue = template["Resources"]["UndeliveredEventsQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    statements = template["Resources"]["UndeliveredEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    deny = next(statement for statement in statements if statement["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_events_eventbridge_could_not_deliver_join_the_same_alarmed_queue(transformed: dict[str, Any]) -> None:
    """Undeliverable uploads and job events both land in the one alarmed, encrypted queue, not in SAM's own."""
    rules = {
        "JobEventsFunctionSageMakerJobStateChanged": "JobEvents",
        "StartRunFunctionDataUploaded": "Uploads",
        "StartRetrainFunctionDriftAlarm": "DriftAlarm",
        "StartRetrainFunctionRunEnded": "RunEnded",
        "StartMonitoringFunctionDriftJobEnded": "DriftJob",
        "StartMonitoringFunctionModelMonitorExecutionEnded": "ModelMonitor",
        "JobEventsFunctionEndpointStateChanged": "Endpoint",
        "ApprovalEventsFunctionModelPackageDecided": "Approval",
    }
    statements = transformed["Resources"]["UndeliveredEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allowed = [statement for statement in statements if statement["Effect"] == "Allow"]
    expected = []
    for rule_name, sid in rules.items():
        target = transformed["Resources"][rule_name]["Properties"]["Targets"][0]
        assert target["DeadLetterConfig"] == {"Arn": UNDELIVERED_QUEUE_ARN}
        expected.append(
            {
                "Sid": f"{sid}RuleDeadLetters",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": UNDELIVERED_QUEUE_ARN,
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_name, "Arn"]}}},
            }
        )
    assert allowed == expected
    queues = _resources_of_type(transformed, "AWS::SQS::Queue")
    assert set(queues) == {"UndeliveredEventsQueue"}


def test_a_message_in_the_undelivered_events_queue_emails_the_topic(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["UndeliveredEventsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["UndeliveredEventsQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
    assert "aws sqs receive-message" in alarm["AlarmDescription"]["Fn::Sub"]


def test_the_stack_s_alarms_may_use_the_topic_s_key(template: dict[str, Any]) -> None:
    """CloudWatch cannot publish to a topic encrypted with aws/sns; the topic's own key lets its alarms in."""
    statements = template["Resources"]["NotificationKey"]["Properties"]["KeyPolicy"]["Statement"]
    alarms = next(s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"})
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    pattern = alarms["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert pattern.endswith(":alarm:${AWS::StackName}-*")
    for name, alarm in _resources_of_type(template, "AWS::CloudWatch::Alarm").items():
        if {"Ref": "NotificationTopic"} in alarm["Properties"].get("AlarmActions", []):
            assert alarm["Properties"]["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-"), name
    publishers = next(s for s in statements if s["Sid"] == "PublishThroughSns")
    assert publishers["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Sub": "sns.${AWS::Region}.${AWS::URLSuffix}"
    }


@pytest.mark.parametrize(("minutes", "expression"), [("1", "rate(1 minute)"), ("5", "rate(5 minutes)")])
def test_the_reconciler_runs_at_the_interval_parameter_as_a_valid_rate(
    template: dict[str, Any], minutes: str, expression: str
) -> None:
    schedule = template["Resources"]["ReconcileJobsFunction"]["Properties"]["Events"]["EveryFewMinutes"]
    assert schedule["Type"] == "Schedule"
    condition, one, many = schedule["Properties"]["Schedule"]["Fn::If"]
    assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "ReconcileIntervalMinutes"}, "1"]}
    rendered = one if minutes == "1" else many["Fn::Sub"].replace("${ReconcileIntervalMinutes}", minutes)
    assert rendered == expression
    assert template["Parameters"]["ReconcileIntervalMinutes"]["MinValue"] == 1


def test_the_reconciler_may_scan_the_tokens_and_resume_runs_but_not_start_jobs(transformed: dict[str, Any]) -> None:
    actions = set()
    for role, statement in _iam_statements(transformed):
        if role == "ReconcileJobsFunctionRole":
            actions |= set(_as_list(statement["Action"]))
    assert {"dynamodb:Scan", "dynamodb:DeleteItem", "states:SendTaskSuccess", "states:SendTaskFailure"} <= actions
    assert not {a for a in actions if a.startswith("sagemaker:Create") or a == "iam:PassRole"}


# ---------------------------------------------------------------- Model Registry and job permissions

_ACCOUNT = "123456789012"
_PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": _ACCOUNT}


def _function_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template["Resources"][function]["Properties"].get("Policies", [])
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]


def _resolve_arn_pattern(resource: Any, stack: str) -> str | None:
    """A ``!Sub`` ARN pattern with the pseudo parameters filled in; None for anything else (``!GetAtt`` ...)."""
    if not (isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str)):
        return None
    values = {**_PSEUDO, "AWS::StackName": stack}
    rendered = re.sub(r"\$\{([^}]+)\}", lambda match: values.get(match.group(1), match.group(0)), resource["Fn::Sub"])
    return None if "${" in rendered else rendered


def _iam_allows(statements: list[dict[str, Any]], action: str, arn: str, stack: str) -> bool:
    """Whether an Allow statement grants the action on the ARN (IAM's case-sensitive ``*``/``?`` matching)."""
    for statement in statements:
        if statement.get("Effect") != "Allow" or action not in _as_list(statement["Action"]):
            continue
        for resource in _as_list(statement["Resource"]):
            pattern = _resolve_arn_pattern(resource, stack)
            if pattern is None:
                continue
            if resource_matches(pattern, arn):
                return True
    return False


@pytest.mark.parametrize("stack", ["driftline", "ml-prod-" + "x" * 34])
def test_registry_permissions_hold_for_every_group_name_the_functions_generate(
    template: dict[str, Any], stack: str
) -> None:
    from driftline_core.layout import MAX_PREFIX_LENGTH, model_package_group_name

    assert len(stack) <= MAX_PREFIX_LENGTH
    register = _function_statements(template, "RegisterFunction")
    gate = _function_statements(template, "QualityGateFunction")
    arn = f"arn:aws:sagemaker:us-east-1:{_ACCOUNT}"
    for dataset in ["credit", "Credit", "breast-cancer", "x" * 40, "Customer-Churn-Predictions-For-Region-1"]:
        group = model_package_group_name(stack, dataset)
        group_arn, package_arn = f"{arn}:model-package-group/{group}", f"{arn}:model-package/{group}/12"
        assert _iam_allows(register, "sagemaker:CreateModelPackageGroup", group_arn, stack), group
        assert _iam_allows(register, "sagemaker:DescribeModelPackageGroup", group_arn, stack), group
        # CreateModelPackage is authorized against both the new version and the group it joins.
        assert _iam_allows(register, "sagemaker:CreateModelPackage", package_arn, stack), group
        assert _iam_allows(register, "sagemaker:CreateModelPackage", group_arn, stack), group
        assert _iam_allows(register, "sagemaker:DescribeModelPackage", package_arn, stack), group
        assert _iam_allows(gate, "sagemaker:DescribeModelPackage", package_arn, stack), group
    other_stacks_group = f"{arn}:model-package-group/other-credit"
    assert not _iam_allows(register, "sagemaker:CreateModelPackage", other_stacks_group, stack)


_S3_WRITES = {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload", "s3:*"}


def test_sagemaker_jobs_and_endpoints_may_write_only_under_runs_capture_and_monitoring_of_the_artifact_bucket(
    template: dict[str, Any],
) -> None:
    [policy] = template["Resources"]["SageMakerExecutionRole"]["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    written = [
        resource
        for statement in statements
        if _S3_WRITES & set(_as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"])
    ]
    assert written == [
        {"Fn::Sub": "${ArtifactBucket.Arn}/runs/*"},
        {"Fn::Sub": "${ArtifactBucket.Arn}/capture/*"},
        {"Fn::Sub": "${ArtifactBucket.Arn}/monitoring/*"},
    ]
    readable = [
        resource
        for statement in statements
        if "s3:GetObject" in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    ]
    assert {"Fn::Sub": "${ArtifactBucket.Arn}/*"} not in readable
    assert {"Fn::Sub": "${ArtifactBucket.Arn}/code/*"} in readable


# ---------------------------------------------------------------- customer-managed key and VPC parameters

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECURED_PARAMETERS = {
    "KmsKeyArn": KEY_ARN,
    "VpcSubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b",
    "VpcSecurityGroupIds": "sg-0123456789abcdef0",
}
_NO_VALUE = object()


def _with_defaults(template: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The template as deployed with these parameter values (written in as the parameters' defaults)."""
    changed = copy.deepcopy(template)
    for name, value in values.items():
        changed["Parameters"][name]["Default"] = value
    return changed


def _parameter(template: dict[str, Any], name: str) -> Any:
    declared = template["Parameters"][name]
    value = str(declared.get("Default", ""))
    return value.split(",") if declared["Type"] == "CommaDelimitedList" else value


def _condition(template: dict[str, Any], expression: Any) -> Any:
    """Enough of CloudFormation's condition functions to evaluate this template's conditions."""
    if isinstance(expression, dict):
        [(function, argument)] = expression.items()
        if function == "Condition":
            return _condition(template, template["Conditions"][argument])
        if function == "Ref":
            return _parameter(template, argument)
        if function == "Fn::Not":
            return not _condition(template, argument[0])
        if function == "Fn::Equals":
            left, right = (_condition(template, value) for value in argument)
            return str(left) == str(right)
        if function == "Fn::Join":
            return argument[0].join(_condition(template, argument[1]))
    return expression


def _resolved(template: dict[str, Any], node: Any) -> Any:
    """Fn::If, parameter Refs and AWS::NoValue resolved as CloudFormation would for the parameters' defaults."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            chosen = when_true if _condition(template, template["Conditions"][name]) else when_false
            return _resolved(template, chosen)
        if set(node) == {"Ref"} and node["Ref"] == "AWS::NoValue":
            return _NO_VALUE
        if set(node) == {"Ref"} and node["Ref"] in template.get("Parameters", {}):
            return _parameter(template, node["Ref"])
        items = {key: _resolved(template, value) for key, value in node.items()}
        return {key: value for key, value in items.items() if value is not _NO_VALUE}
    if isinstance(node, list):
        return [value for value in (_resolved(template, item) for item in node) if value is not _NO_VALUE]
    return node


def _deployed(values: dict[str, str]) -> dict[str, Any]:
    """The transformed template's resources that CloudFormation would create for these parameter values."""
    source = _with_defaults(_load_template(), values)
    cloudformation = sam_transform(source)
    resources = {
        name: _resolved(cloudformation, resource)
        for name, resource in cloudformation["Resources"].items()
        if "Condition" not in resource or _condition(cloudformation, {"Condition": resource["Condition"]})
    }
    return resources


def test_a_key_and_a_vpc_given_as_parameters_pass_cfn_lint_and_the_sam_transform() -> None:
    source = _with_defaults(_load_template(), SECURED_PARAMETERS)
    source_matches = lint(json.dumps(source))
    assert not source_matches, "\n".join(str(match) for match in source_matches)
    cloudformation = sam_transform(source)
    matches = lint(json.dumps(cloudformation))
    assert not matches, "\n".join(str(match) for match in matches)


def test_the_given_key_encrypts_buckets_table_topic_logs_and_function_environments() -> None:
    resources = _deployed(SECURED_PARAMETERS)
    for bucket in ("DataBucket", "ArtifactBucket"):
        [rule] = resources[bucket]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule == {
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
            "BucketKeyEnabled": True,
        }
    # S3 delivers access logs only to SSE-S3 buckets.
    [log_rule] = resources["AccessLogsBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert log_rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert resources["JobTokensTable"]["Properties"]["SSESpecification"]["KMSMasterKeyId"] == KEY_ARN
    assert resources["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == KEY_ARN
    assert "NotificationKey" not in resources
    assert resources["PipelineStateMachineLogGroup"]["Properties"]["KmsKeyId"] == KEY_ARN
    functions = _resources_of_type({"Resources": resources}, "AWS::Lambda::Function")
    for name, function in functions.items():
        assert function["Properties"]["KmsKeyArn"] == KEY_ARN, name
    for name in STEP_FUNCTIONS:
        assert functions[name]["Properties"]["Environment"]["Variables"]["KMS_KEY_ARN"] == KEY_ARN


def test_with_a_key_every_role_may_use_that_key_and_no_other() -> None:
    resources = _deployed(SECURED_PARAMETERS)
    roles = set(_resources_of_type({"Resources": resources}, "AWS::IAM::Role"))
    attached: set[str] = set()
    for name in ("KmsKeyUsePolicy", "MlCodePublisherKeyUsePolicy"):
        policy = resources[name]["Properties"]
        attached |= {role["Ref"] for role in policy["Roles"]}
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Resource"] == KEY_ARN
            assert all(action.startswith("kms:") for action in _as_list(statement["Action"]))
    step_function_roles = {role for role in roles if role.endswith("FunctionRole")}
    assert attached == step_function_roles | {"SageMakerExecutionRole"}
    # The code publisher writes to the KMS-encrypted bucket only once its key permission exists.
    assert resources["MlCode"]["Properties"]["KeyUsePolicy"] == {"Ref": "MlCodePublisherKeyUsePolicy"}


def test_the_given_vpc_holds_every_function_and_lets_the_job_role_create_network_interfaces() -> None:
    resources = _deployed(SECURED_PARAMETERS)
    expected = {
        "SubnetIds": SECURED_PARAMETERS["VpcSubnetIds"].split(","),
        "SecurityGroupIds": SECURED_PARAMETERS["VpcSecurityGroupIds"].split(","),
    }
    functions = _resources_of_type({"Resources": resources}, "AWS::Lambda::Function")
    for name, function in functions.items():
        assert function["Properties"]["VpcConfig"] == expected, name
    for name in STEP_FUNCTIONS:
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert variables["VPC_SUBNET_IDS"] == {"Fn::Join": [",", expected["SubnetIds"]]}
        assert variables["VPC_SECURITY_GROUP_IDS"] == {"Fn::Join": [",", expected["SecurityGroupIds"]]}
    vpc_policy = resources["SageMakerVpcAccessPolicy"]["Properties"]
    assert vpc_policy["Roles"] == [{"Ref": "SageMakerExecutionRole"}]
    actions = {action for s in vpc_policy["PolicyDocument"]["Statement"] for action in _as_list(s["Action"])}
    assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets"} <= actions


def test_by_default_no_vpc_no_key_policy_and_the_topic_keeps_the_stack_s_own_key() -> None:
    resources = _deployed({})
    assert not {"KmsKeyUsePolicy", "MlCodePublisherKeyUsePolicy", "SageMakerVpcAccessPolicy"} & set(resources)
    for name, function in _resources_of_type({"Resources": resources}, "AWS::Lambda::Function").items():
        assert "VpcConfig" not in function["Properties"], name
        assert "KmsKeyArn" not in function["Properties"], name
    assert resources["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["NotificationKey", "Arn"]}
    [rule] = resources["DataBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}


def test_both_buckets_send_access_logs_to_the_log_bucket_which_expires_them() -> None:
    resources = _deployed({})
    for bucket, prefix in (("DataBucket", "data-bucket/"), ("ArtifactBucket", "artifact-bucket/")):
        assert resources[bucket]["Properties"]["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": "AccessLogsBucket"},
            "LogFilePrefix": prefix,
        }
    logs = resources["AccessLogsBucket"]["Properties"]
    assert logs["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert all(logs["PublicAccessBlockConfiguration"].values())
    [rule] = logs["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == "365"
    statements = resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    delivery = next(s for s in statements if s["Effect"] == "Allow")
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["DataBucket", "Arn"]},
        {"Fn::GetAtt": ["ArtifactBucket", "Arn"]},
    ]
    deny = next(s for s in statements if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_token_table_keeps_point_in_time_recovery() -> None:
    table = _deployed({})["JobTokensTable"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


@pytest.mark.parametrize(("value", "limited"), [("10", True), ("0", False)])
def test_upload_storm_functions_reserve_concurrency_unless_the_parameter_is_zero(value: str, limited: bool) -> None:
    resources = _deployed({"StartRunReservedConcurrency": value, "JobEventsReservedConcurrency": value})
    for name in ("StartRunFunction", "JobEventsFunction"):
        properties = resources[name]["Properties"]
        assert properties.get("ReservedConcurrentExecutions") == (value if limited else None)
