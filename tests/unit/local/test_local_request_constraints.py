"""Requests AWS would refuse are refused locally too, in AWS's words, in mock_aws and in local mode's server.

moto checks member types but not the lengths, patterns, ranges, value sets and nested required members
the service models declare; AWS checks them before anything else and answers HTTP 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from driftline.local import request_constraints, seams
from driftline.local.request_constraints import check_operation, java_pattern
from driftline_core.payloads import RegisterInput
from driftline_core.settings import Settings
from driftline_core.training.registry import build_model_package_request
from tests.conftest import REGION, load_event
from tests.unit.test_sagemaker_jobs import RUN_CONFIG, evaluation_request, preprocess_request, training_request

ARTIFACTS = "driftline-artifacts-123456789012-us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/driftline-sagemaker-execution"
UNCHECKED_BY_CLIENT = Config(parameter_validation=False)
"""boto3 itself refuses missing members and short values; these clients send them so the emulator answers."""

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


def settings() -> Settings:
    return Settings(
        data_bucket="driftline-data-123456789012-us-east-1",
        artifact_bucket=ARTIFACTS,
        sagemaker_role_arn=ROLE_ARN,
        ml_code_uri=f"s3://{ARTIFACTS}/code/3f9c2a7d51e0/",
        ml_code_version="3f9c2a7d51e0",
        training_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        processing_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        training_instance_type="ml.m5.xlarge",
        processing_instance_type="ml.m5.large",
        max_job_runtime_seconds=1800,
    )


def model_pattern(service: str, operation: str, *path: str) -> str:
    """The pattern the service model declares for a member, as AWS quotes it in its message."""
    shape: Any = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    for name in path:
        shape = shape.member if name == "member" else shape.members[name]
    return str(shape.metadata["pattern"])


def refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return {
        "status": response["ResponseMetadata"]["HTTPStatusCode"],
        "code": response["Error"]["Code"],
        "message": response["Error"]["Message"],
    }


def processing_job(**changes: Any) -> dict[str, Any]:
    request = preprocess_request(settings())
    request.update(changes)
    return request


# --- in-process moto (the ``aws`` fixture every integration test uses) ---------------------------


def test_a_job_name_with_a_character_aws_refuses_is_a_validation_exception_naming_the_pattern(aws: None) -> None:
    request = training_request(settings()) | {"TrainingJobName": "credit_2026"}

    answer = refusal(lambda: boto3.client("sagemaker").create_training_job(**request))

    pattern = model_pattern("sagemaker", "CreateTrainingJob", "TrainingJobName")
    assert answer == {
        "status": 400,
        "code": "ValidationException",
        "message": "1 validation error detected: Value 'credit_2026' at 'trainingJobName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}",
    }


def test_a_job_name_too_long_with_a_bad_character_reports_both_errors_length_first(aws: None) -> None:
    name = "x" * 63 + "_"
    request = training_request(settings()) | {"TrainingJobName": name}

    answer = refusal(lambda: boto3.client("sagemaker").create_training_job(**request))

    pattern = model_pattern("sagemaker", "CreateTrainingJob", "TrainingJobName")
    assert answer["message"] == (
        f"2 validation errors detected: Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63; "
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )


def test_a_number_out_of_range_deep_in_the_request_names_its_nested_path(aws: None) -> None:
    request = processing_job()
    request["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 20000

    answer = refusal(lambda: boto3.client("sagemaker").create_processing_job(**request))

    assert answer["message"] == (
        "1 validation error detected: Value '20000' at 'processingResources.clusterConfig.volumeSizeInGB' "
        "failed to satisfy constraint: Member must have value less than or equal to 16384"
    )


def test_a_value_outside_an_enum_in_a_list_of_structures_is_named_by_its_position(aws: None) -> None:
    request = processing_job()
    request["ProcessingInputs"][1]["S3Input"]["S3DataDistributionType"] = "Sharded"

    answer = refusal(lambda: boto3.client("sagemaker").create_processing_job(**request))

    assert answer["message"] == (
        "1 validation error detected: Value 'Sharded' at 'processingInputs.2.member.s3Input.s3DataDistributionType' "
        "failed to satisfy constraint: Member must satisfy enum value set: [FullyReplicated, ShardedByS3Key]"
    )


def test_a_missing_member_deep_in_the_request_is_value_null(aws: None) -> None:
    request = processing_job()
    del request["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    sagemaker = boto3.client("sagemaker", config=UNCHECKED_BY_CLIENT)

    answer = refusal(lambda: sagemaker.create_processing_job(**request))

    assert answer["message"] == (
        "1 validation error detected: Value null at 'processingInputs.1.member.s3Input.s3Uri' "
        "failed to satisfy constraint: Member must not be null"
    )


def test_an_environment_key_aws_refuses_is_a_map_keys_error_listing_the_key_constraints(aws: None) -> None:
    request = processing_job(Environment={"DRIFT-THRESHOLD": "0.1"})

    answer = refusal(lambda: boto3.client("sagemaker").create_processing_job(**request))

    assert answer["message"] == (
        "1 validation error detected: Value '{DRIFT-THRESHOLD=0.1}' at 'environment' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 256, "
        "Member must have length greater than or equal to 0, "
        "Member must satisfy regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]*]"
    )


def test_a_list_of_strings_with_one_too_long_reports_the_list_and_its_member_constraints(aws: None) -> None:
    request = processing_job()
    request["AppSpecification"]["ContainerEntrypoint"] = ["python3", "x" * 257]

    answer = refusal(lambda: boto3.client("sagemaker").create_processing_job(**request))

    assert answer["message"] == (
        f"1 validation error detected: Value '[python3, {'x' * 257}]' at 'appSpecification.containerEntrypoint' "
        "failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or "
        "equal to 256, Member must have length greater than or equal to 0, "
        "Member must satisfy regular expression pattern: .*]"
    )


def test_too_many_tags_is_a_list_length_error(aws: None) -> None:
    request = processing_job(Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])

    answer = refusal(lambda: boto3.client("sagemaker").create_processing_job(**request))

    assert answer["message"].startswith("1 validation error detected: Value '[{Key=k0, Value=v}, ")
    assert answer["message"].endswith(
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )


def test_an_empty_execution_name_is_refused_by_step_functions(aws: None) -> None:
    sfn = boto3.client("stepfunctions", config=UNCHECKED_BY_CLIENT)
    arn = f"arn:aws:states:{REGION}:123456789012:stateMachine:driftline"

    answer = refusal(lambda: sfn.start_execution(stateMachineArn=arn, name=""))

    assert answer["code"] == "ValidationException"
    assert answer["message"] == (
        "1 validation error detected: Value '' at 'name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_query_services_answer_validation_error_and_check_list_members(aws: None) -> None:
    iam = boto3.client("iam")

    answer = refusal(
        lambda: iam.create_role(
            RoleName="driftline-" + "r" * 60, AssumeRolePolicyDocument="{}", Tags=[{"Key": "team,ml", "Value": "v"}]
        )
    )

    assert answer["status"] == 400
    assert answer["code"] == "ValidationError"
    assert answer["message"] == (
        f"2 validation errors detected: Value 'driftline-{'r' * 60}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64; Value 'team,ml' at 'tags.1.member.key' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"
    )


def test_unicode_letters_pass_a_pattern_written_with_java_character_properties(aws: None) -> None:
    iam = boto3.client("iam")

    iam.create_role(RoleName="driftline", AssumeRolePolicyDocument="{}", Tags=[{"Key": "équipe", "Value": "données"}])

    assert iam.list_role_tags(RoleName="driftline")["Tags"] == [{"Key": "équipe", "Value": "données"}]


def test_a_lambda_function_name_in_the_path_is_checked_and_an_arn_is_not_mistaken_for_one(aws: None) -> None:
    lambda_ = boto3.client("lambda")

    answer = refusal(lambda: lambda_.invoke(FunctionName="driftline validate"))
    by_arn = refusal(lambda: lambda_.invoke(FunctionName=f"arn:aws:lambda:{REGION}:123456789012:function:absent"))

    pattern = model_pattern("lambda", "Invoke", "FunctionName")
    assert answer["message"] == (
        "1 validation error detected: Value 'driftline validate' at 'functionName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}"
    )
    assert by_arn["code"] == "ResourceNotFoundException"


def test_cloudwatch_logs_names_its_validation_errors_invalid_parameter_exception(aws: None) -> None:
    answer = refusal(lambda: boto3.client("logs").create_log_group(logGroupName="/driftline/run 1"))

    assert answer["code"] == "InvalidParameterException"
    assert answer["message"].startswith("1 validation error detected: Value '/driftline/run 1' at 'logGroupName'")


def test_s3_refuses_a_bucket_name_it_does_not_allow_and_a_key_over_1024_bytes(aws: None) -> None:
    s3 = boto3.client("s3")

    bad_bucket = refusal(lambda: s3.create_bucket(Bucket="Driftline_Data"))
    s3.create_bucket(Bucket="driftline-data")
    long_key = refusal(lambda: s3.put_object(Bucket="driftline-data", Key="é" * 513, Body=b"1"))
    s3.put_object(Bucket="driftline-data", Key="k" * 1024, Body=b"1")

    assert bad_bucket == {"status": 400, "code": "InvalidBucketName", "message": "The specified bucket is not valid."}
    assert long_key == {"status": 400, "code": "KeyTooLongError", "message": "Your key is too long"}


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "data..bucket", "192.168.5.4", "xn--data", "sthree-data", "data-s3alias", "-data", "data."],
)
def test_bucket_names_breaking_each_s3_naming_rule_are_refused(name: str) -> None:
    assert request_constraints.bucket_name_problem(name) is not None


def test_the_projects_own_job_and_registry_requests_pass_and_are_accepted(aws: None) -> None:
    sagemaker = boto3.client("sagemaker")
    register = RegisterInput.model_validate(load_event("register"))
    package = build_model_package_request(register, "driftline-credit", RUN_CONFIG, settings())
    requests = {
        "CreateProcessingJob": [preprocess_request(settings()), evaluation_request(settings())],
        "CreateTrainingJob": [training_request(settings())],
        "CreateModelPackage": [package],
    }

    for operation, bodies in requests.items():
        for body in bodies:
            assert check_operation("sagemaker", operation, body) == [], operation
    sagemaker.create_processing_job(**requests["CreateProcessingJob"][0])
    sagemaker.create_training_job(**requests["CreateTrainingJob"][0])
    sagemaker.create_model_package_group(ModelPackageGroupName="driftline-credit")
    assert sagemaker.create_model_package(**package)["ModelPackageArn"]


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


def test_uninstalling_serves_unchecked_again_and_keeps_local_modes_other_patches() -> None:
    class Backend:
        def describe(self) -> str:
            return "moto"

    request = training_request(settings()) | {"TrainingJobName": "credit_2026"}
    with mock_aws():
        request_constraints.install()
        seams.replace(Backend, "describe", lambda self: "local mode")
        try:
            request_constraints.uninstall()
            boto3.client("sagemaker", region_name=REGION).create_training_job(**request)
            assert Backend().describe() == "local mode"
        finally:
            seams.restore()


# --- local mode's server -------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[str]:
    moto_api_backend.reset()
    request_constraints.install()
    emulator = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    emulator.start()
    host, port = emulator.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        emulator.stop()
        request_constraints.uninstall()
        moto_api_backend.reset()


def client(service: str, endpoint_url: str, **kwargs: Any) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        **kwargs,
    )


def test_the_local_server_refuses_a_bad_job_name_as_aws_does(server: str) -> None:
    request = training_request(settings()) | {"TrainingJobName": "credit_2026"}

    answer = refusal(lambda: client("sagemaker", server).create_training_job(**request))

    pattern = model_pattern("sagemaker", "CreateTrainingJob", "TrainingJobName")
    assert answer == {
        "status": 400,
        "code": "ValidationException",
        "message": "1 validation error detected: Value 'credit_2026' at 'trainingJobName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}",
    }


def test_the_local_server_checks_query_rest_and_s3_requests(server: str) -> None:
    sns = client("sns", server, config=UNCHECKED_BY_CLIENT)
    topic = client("sns", server).create_topic(Name="driftline")["TopicArn"]

    sns_answer = refusal(
        lambda: sns.publish(TopicArn=topic, Message="m", MessageAttributes={"run": {"StringValue": "1"}})
    )
    lambda_answer = refusal(lambda: client("lambda", server).invoke(FunctionName="driftline validate"))
    s3_answer = refusal(lambda: client("s3", server).create_bucket(Bucket="Driftline_Data"))

    assert sns_answer["code"] == "ValidationError"
    assert sns_answer["message"] == (
        "1 validation error detected: Value null at 'messageAttributes.run.member.dataType' "
        "failed to satisfy constraint: Member must not be null"
    )
    assert lambda_answer["code"] == "ValidationException"
    assert s3_answer["code"] == "InvalidBucketName"


def test_the_local_server_accepts_the_projects_own_requests(server: str) -> None:
    sagemaker = client("sagemaker", server)

    sagemaker.create_processing_job(**preprocess_request(settings()))

    assert sagemaker.describe_processing_job(ProcessingJobName="credit-5e4f54c7bade-preprocess")["ProcessingJobName"]
