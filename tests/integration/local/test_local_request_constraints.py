"""Requests AWS would refuse are refused locally too, in AWS's words, in mock_aws as in local mode's server
(tests/local/test_local_request_constraints_served.py).

moto checks member types but not the lengths, patterns, ranges, value sets and nested required members
the service models declare; AWS checks them before anything else and answers HTTP 400.
"""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from driftline.local import request_constraints, seams
from driftline.local.request_constraints import check_operation
from driftline_core.payloads import RegisterInput
from driftline_core.training.registry import build_model_package_request
from tests.aws_refusals import UNCHECKED_BY_CLIENT, model_pattern, refusal
from tests.conftest import REGION, load_event
from tests.job_requests import RUN_CONFIG, evaluation_request, job_settings, preprocess_request, training_request


def processing_job(**changes: Any) -> dict[str, Any]:
    request = preprocess_request(job_settings())
    request.update(changes)
    return request


# --- in-process moto (the ``aws`` fixture every integration test uses) ---------------------------


def test_a_job_name_with_a_character_aws_refuses_is_a_validation_exception_naming_the_pattern(aws: None) -> None:
    request = training_request(job_settings()) | {"TrainingJobName": "credit_2026"}

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
    request = training_request(job_settings()) | {"TrainingJobName": name}

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


def test_the_projects_own_job_and_registry_requests_pass_and_are_accepted(aws: None) -> None:
    sagemaker = boto3.client("sagemaker")
    register = RegisterInput.model_validate(load_event("register"))
    package = build_model_package_request(register, "driftline-credit", RUN_CONFIG, job_settings())
    requests = {
        "CreateProcessingJob": [preprocess_request(job_settings()), evaluation_request(job_settings())],
        "CreateTrainingJob": [training_request(job_settings())],
        "CreateModelPackage": [package],
    }

    for operation, bodies in requests.items():
        for body in bodies:
            assert check_operation("sagemaker", operation, body) == [], operation
    sagemaker.create_processing_job(**requests["CreateProcessingJob"][0])
    sagemaker.create_training_job(**requests["CreateTrainingJob"][0])
    sagemaker.create_model_package_group(ModelPackageGroupName="driftline-credit")
    assert sagemaker.create_model_package(**package)["ModelPackageArn"]


def test_uninstalling_serves_unchecked_again_and_keeps_local_modes_other_patches() -> None:
    class Backend:
        def describe(self) -> str:
            return "moto"

    request = training_request(job_settings()) | {"TrainingJobName": "credit_2026"}
    with mock_aws():
        request_constraints.install()
        seams.replace(Backend, "describe", lambda self: "local mode")
        try:
            request_constraints.uninstall()
            boto3.client("sagemaker", region_name=REGION).create_training_job(**request)
            assert Backend().describe() == "local mode"
        finally:
            seams.restore()
