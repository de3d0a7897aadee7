"""A local training job reports the time SageMaker bills, as DescribeTrainingJob does, so a local notification prices
its jobs the way one on AWS does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from moto.sagemaker.models import FakeTrainingJob

from driftline.local import sagemaker


def _training_job() -> Any:
    return FakeTrainingJob(
        account_id="123456789012",
        region_name="us-east-1",
        training_job_name="credit-5e4f54c7bade-train",
        hyper_parameters={},
        algorithm_specification={"TrainingImage": "image", "TrainingInputMode": "File"},
        role_arn="arn:aws:iam::123456789012:role/driftline-sagemaker",
        input_data_config=[],
        output_data_config={"S3OutputPath": "s3://artifacts/runs/credit-5e4f54c7bade/train"},
        resource_config={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        vpc_config={},
        stopping_condition={"MaxRuntimeInSeconds": 900},
        tags=[],
        enable_network_isolation=False,
        enable_inter_container_traffic_encryption=False,
        enable_managed_spot_training=False,
        checkpoint_config={},
        debug_hook_config={},
        debug_rule_configurations=[],
        tensor_board_output_config={},
        experiment_config={},
    )


def test_an_ended_training_job_reports_its_billable_seconds_from_its_start_to_its_end() -> None:
    job = _training_job()
    job.training_start_time = datetime.now().astimezone() - timedelta(seconds=41.2)

    sagemaker._end_training(job)

    described = job.response_object
    assert described["BillableTimeInSeconds"] == 42  # whole seconds, rounded up
    assert described["TrainingTimeInSeconds"] == 42
    assert described["TrainingEndTime"] >= described["TrainingStartTime"] + timedelta(seconds=41)


def test_a_job_that_ends_at_once_is_billed_a_second() -> None:
    job = _training_job()
    job.training_start_time = datetime.now().astimezone()

    sagemaker._end_training(job)

    assert job.response_object["BillableTimeInSeconds"] == 1
