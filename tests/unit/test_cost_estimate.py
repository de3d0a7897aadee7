"""``driftline cost``: the estimate against a hand calculation, the parameters it reads, and what it prints.

Prices here are round numbers of a test snapshot, so every line's arithmetic can be written out and checked by eye.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from driftline import cost, cost_cli
from driftline_core.costs.prices import LIVE_SOURCE, SNAPSHOT_SOURCE, PriceSnapshot, load_snapshot
from tests.unit.test_cost_prices import instance_request, price_list_product, pricing_client

UNITS = {
    "sagemaker_serverless_gb_second": 0.00002,
    "step_functions_transition": 0.00003,
    "lambda_request": 0.0000002,
    "lambda_gb_second": 0.00001,
    "sns_email": 0.00002,
    "sns_publish": 0.0000005,
    "dynamodb_write_request": 0.000001,
    "dynamodb_read_request": 0.0000002,
    "http_api_request": 0.000001,
    "cloudwatch_alarm_metric_month": 0.10,
    "cloudwatch_custom_metric_month": 0.30,
    "kms_key_month": 1.00,
    "secrets_manager_secret_month": 0.40,
    "s3_standard_gb_month": 0.02,
}
ROUND_PRICES = PriceSnapshot(
    date="2026-12-01",
    source="round test prices",
    regions={
        "us-east-1": {
            "sagemaker_instance_hour": {
                "hosting": {"ml.m5.large": 0.10},
                "processing": {"ml.m5.large": 0.20},
                "training": {"ml.m5.large": 0.30},
            },
            "unit": UNITS,
        }
    },
)


def _cloudformation() -> Any:
    return boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def _estimate(overrides: dict[str, str], usage: cost.Usage, client: Any = None) -> cost.Estimate:
    template = cost.load_template()
    parameters = cost.deployment_parameters(template, overrides=overrides)
    return cost.estimate(parameters, usage, cost.PriceBook("us-east-1", ROUND_PRICES, client), template=template)


def _lines(result: cost.Estimate) -> list[tuple[str, float, float]]:
    return [(line.item, round(line.quantity, 4), line.price.usd) for line in result.lines]


def test_the_default_deployment_costs_what_the_hand_calculation_says() -> None:
    result = _estimate({}, cost.Usage())

    # Template defaults: one ml.m5.large endpoint, rate(1 hour) monitoring, ml.m5.large jobs,
    # ReconcileIntervalMinutes 5, functions of 512 MB. Usage defaults: 1 dataset, 4 runs (all deployed), 100,000
    # requests, 10 features.
    windows = 730  # rate(1 hour)
    lambda_requests = 4 * 19 + 4 * 1 + 730 * 60 / 5 + 1 * windows * 2  # runs, baselines, reconciler, monitor = 10,300
    expected = [
        ("Endpoints (1 dataset): 1 x ml.m5.large around the clock", 730.0, 0.10),  # 1 x 730 h
        ("Drift monitor jobs: 730 windows x 4 min on ml.m5.large", round(730 * 4 / 60, 4), 0.20),
        ("Preprocessing jobs: 4 runs x 5 min on ml.m5.large", round(4 * 5 / 60, 4), 0.20),
        ("Training jobs: 4 runs x 10 min on ml.m5.large", round(4 * 10 / 60, 4), 0.30),
        ("Evaluation jobs: 4 runs x 5 min on ml.m5.large", round(4 * 5 / 60, 4), 0.20),
        ("Baseline jobs: 4 deployments x 5 min on ml.m5.large", round(4 * 5 / 60, 4), 0.20),
        ("Data capture in S3: 100% of 100,000 requests x 2 KB", 0.2, 0.02),  # 100,000 x 2 KB = 0.2 GB
        ("Step Functions state transitions", 48.0, 0.00003),  # 4 runs x 12
        ("Lambda requests", lambda_requests, 0.0000002),
        ("Lambda compute: 1 s per request at 512 MB", lambda_requests * 0.5, 0.00001),  # GB-seconds
        ("SNS email notifications", 8.0, 0.00002),  # 4 runs x 2
        ("DynamoDB on-demand writes", 44.0, 0.000001),  # 4 runs x 11
        ("DynamoDB on-demand reads (one reconciler scan per pass)", 4 * 6 + 8760.0, 0.0000002),
        ("Approval HTTP API requests", 8.0, 0.000001),  # 4 runs x 2
        ("CloudWatch alarm metrics", 7.0, 0.10),  # 6 for the endpoint, 1 for the stack
        ("CloudWatch custom metrics: drift (11 per dataset) and the pipeline's", 26.0, 0.30),  # 10 + 1, and 15
        ("KMS key of the notification topic", 1.0, 1.00),
        ("Secrets Manager secret (approval signing key)", 1.0, 0.40),
    ]
    assert _lines(result) == expected
    hand_total = (
        73.00  # endpoint: 730 x 0.10
        + 9.733333  # monitor: 48.67 h x 0.20
        + 0.066667
        + 0.20
        + 0.066667
        + 0.066667  # preprocess, train, evaluate, baseline
        + 0.004  # capture: 0.2 GB x 0.02
        + 0.00144  # transitions: 48 x 0.00003
        + 0.00206  # Lambda requests: 10,300 x 0.0000002
        + 0.0515  # Lambda compute: 5,150 GB-s x 0.00001
        + 0.00016
        + 0.000044
        + 0.0017568
        + 0.000008  # SNS, DynamoDB writes and reads, HTTP API
        + 0.70
        + 7.80
        + 1.00
        + 0.40  # alarms, custom metrics, KMS key, secret
    )
    assert result.total == pytest.approx(hand_total, abs=1e-5)
    assert result.prices == "on-demand prices of 2026-12-01 (Driftline's price snapshot)"


def test_a_serverless_deployment_with_more_use_costs_what_the_hand_calculation_says() -> None:
    usage = cost.Usage(
        datasets=2, runs_per_month=10, deployments_per_month=5, requests_per_month=1_000_000, inference_ms=50
    )

    result = _estimate({"EndpointType": "Serverless", "ServerlessMemorySizeInMB": "4096"}, usage)

    lambda_requests = 10 * 19 + 5 * 1 + 8760  # no monitoring schedule fires for a serverless endpoint
    assert _lines(result) == [
        # 2 endpoints x 1,000,000 requests x 0.05 s x 4 GB
        ("Serverless endpoints (2 datasets): 1,000,000 requests of 50 ms at 4096 MB", 400_000.0, 0.00002),
        ("Preprocessing jobs: 10 runs x 5 min on ml.m5.large", round(10 * 5 / 60, 4), 0.20),
        ("Training jobs: 10 runs x 10 min on ml.m5.large", round(10 * 10 / 60, 4), 0.30),
        ("Evaluation jobs: 10 runs x 5 min on ml.m5.large", round(10 * 5 / 60, 4), 0.20),
        ("Baseline jobs: 5 deployments x 5 min on ml.m5.large", round(5 * 5 / 60, 4), 0.20),
        ("Step Functions state transitions", 120.0, 0.00003),
        ("Lambda requests", float(lambda_requests), 0.0000002),
        ("Lambda compute: 1 s per request at 512 MB", lambda_requests * 0.5, 0.00001),
        ("SNS email notifications", 20.0, 0.00002),
        ("DynamoDB on-demand writes", 110.0, 0.000001),
        ("DynamoDB on-demand reads (one reconciler scan per pass)", 60 + 8760.0, 0.0000002),
        ("Approval HTTP API requests", 20.0, 0.000001),
        ("CloudWatch alarm metrics", 7.0, 0.10),  # 2 endpoints x 3 (rollback alarms), 1 for the stack
        ("CloudWatch custom metrics: the pipeline's", 15.0, 0.30),
        ("KMS key of the notification topic", 1.0, 1.00),
        ("Secrets Manager secret (approval signing key)", 1.0, 0.40),
    ]
    hand_total = (
        8.00  # 400,000 GB-s x 0.00002
        + 0.166667
        + 0.50
        + 0.166667
        + 0.083333  # jobs
        + 0.0036
        + 0.001791
        + 0.044775  # transitions, Lambda requests (8,955), compute (4,477.5 GB-s)
        + 0.0004
        + 0.00011
        + 0.001764
        + 0.00002  # SNS, DynamoDB, HTTP API
        + 0.70
        + 4.50
        + 1.00
        + 0.40
    )
    assert result.total == pytest.approx(hand_total, abs=1e-5)
    assert any("billed per request" in assumption for assumption in result.assumptions)


def test_a_window_with_more_captured_bytes_than_one_instance_takes_runs_on_several_and_is_merged() -> None:
    # 100,000 requests x 2 KB a month over 730 windows: 273,973 bytes a window, 3 instances of 100,000 bytes each
    result = _estimate({"MonitorBytesPerInstance": "100000"}, cost.Usage())

    monitor, merge = result.lines[1:3]
    assert (monitor.item, monitor.quantity) == (
        "Drift monitor jobs: 730 windows x 4 min on 3 x ml.m5.large",
        pytest.approx(730 * 3 * 4 / 60),
    )
    assert (merge.item, merge.quantity) == (
        "Drift merge jobs: 730 windows x 4 min on ml.m5.large",
        pytest.approx(730 * 4 / 60),
    )
    capped = {
        **cost.template_defaults(cost.load_template()),
        "MonitorMaxInstances": "2",
        "MonitorBytesPerInstance": "1",
    }
    assert cost.monitor_instances(capped, cost.Usage(), 730) == 2  # never more than MonitorMaxInstances


def test_a_large_upload_preprocesses_and_a_distributed_model_trains_on_several_instances() -> None:
    # 5M rows at the default 2M rows per instance: 3 preprocessing instances; XGBoost on 4 training instances.
    result = _estimate({}, cost.Usage(rows_per_run=5_000_000, training_instances=4))

    lines = {line.item.split(":")[0]: line for line in result.lines}
    assert (lines["Preprocessing jobs"].item, lines["Preprocessing jobs"].quantity) == (
        "Preprocessing jobs: 4 runs x 5 min on 3 x ml.m5.large",
        pytest.approx(4 * 3 * 5 / 60),
    )
    assert (lines["Training jobs"].item, lines["Training jobs"].quantity) == (
        "Training jobs: 4 runs x 10 min on 4 x ml.m5.large",
        pytest.approx(4 * 4 * 10 / 60),
    )
    capped = {**cost.template_defaults(cost.load_template()), "PreprocessMaxInstances": "2"}
    assert cost.preprocessing_instances(capped, cost.Usage(rows_per_run=50_000_000)) == 2
    with pytest.raises(
        cost.CostCommandError, match=r"--training-instances 5 is not from 1 to .*MaxTrainingInstances \(4\)"
    ):
        _estimate({}, cost.Usage(training_instances=5))


def test_a_customer_managed_key_replaces_the_topics_own_key() -> None:
    result = _estimate({"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/abcd-1234"}, cost.Usage())
    assert not any(line.item.startswith("KMS key") for line in result.lines)


@pytest.mark.parametrize(
    ("expression", "windows"),
    [
        ("rate(1 hour)", 730),
        ("rate(15 minutes)", 2920),
        ("rate(1 day)", 730 / 24),
        ("cron(0 0/6 ? * * *)", 122),  # hours 0, 6, ..., 726 of 730
        ("cron(0 0 ? * MON-FRI *)", 23),  # 31 days from a Monday hold 23 weekdays
    ],
)
def test_monitoring_windows_follow_the_schedule_expression(expression: str, windows: float) -> None:
    assert cost.windows_per_month(expression) == pytest.approx(windows)


def test_model_monitor_executions_are_priced_with_their_own_minutes() -> None:
    result = _estimate({"DriftMonitor": "ModelMonitor", "MonitoringScheduleExpression": "rate(6 hours)"}, cost.Usage())
    [monitor] = [line for line in result.lines if line.item.startswith("Model Monitor executions")]
    assert monitor.item == "Model Monitor executions: 122 windows x 10 min on ml.m5.large"
    assert monitor.quantity == pytest.approx(730 / 6 * 10 / 60)


# Parameters --------------------------------------------------------------------------------------------------


def test_overrides_that_cloudformation_would_refuse_are_refused_in_its_words() -> None:
    with pytest.raises(cost.ParametersRefused) as refused:
        cost.deployment_parameters(cost.load_template(), overrides={"EndpointType": "Big", "Instances": "2"})
    assert str(refused.value) == (
        "Parameter 'EndpointType' must be one of AllowedValues; Parameters: [Instances] do not exist in the template"
    )


def test_a_deployed_stacks_parameters_come_between_the_defaults_and_the_overrides() -> None:
    cloudformation = _cloudformation()
    with Stubber(cloudformation) as stacks:
        stacks.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "ml-prod",
                        "CreationTime": "2026-11-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Parameters": [
                            {"ParameterKey": "EndpointInstanceType", "ParameterValue": "ml.c5.xlarge"},
                            {"ParameterKey": "EndpointInstanceCount", "ParameterValue": "2"},
                        ],
                    }
                ]
            },
            {"StackName": "ml-prod"},
        )
        deployed = cost.stack_parameters(cloudformation, "ml-prod")

    parameters = cost.deployment_parameters(
        cost.load_template(), deployed=deployed, overrides={"EndpointInstanceCount": "3"}
    )
    assert parameters["EndpointInstanceType"] == "ml.c5.xlarge"
    assert parameters["EndpointInstanceCount"] == "3"
    assert parameters["TrainingInstanceType"] == "ml.m5.large"


def test_a_stack_that_cannot_be_read_is_named_with_what_to_do() -> None:
    cloudformation = _cloudformation()
    with Stubber(cloudformation) as stacks:
        stacks.add_client_error("describe_stacks", "ValidationError", "Stack with id ml-prod does not exist")
        with pytest.raises(cost.CostCommandError) as refused:
            cost.stack_parameters(cloudformation, "ml-prod")
    assert str(refused.value) == (
        "cannot read the stack 'ml-prod' in eu-west-1: Stack with id ml-prod does not exist. Give the name "
        "(--stack-name) and region (--region) of a deployed Driftline stack."
    )


# Live prices --------------------------------------------------------------------------------------------------


def test_live_prices_are_used_where_the_price_list_answers_and_the_snapshot_after_it_stops_answering() -> None:
    client = pricing_client()
    with Stubber(client) as price_list:  # a further call would be answered UnStubbedResponseError, and say so
        price_list.add_response(
            "get_products",
            {
                "FormatVersion": "aws_v1",
                "PriceList": [price_list_product("USE1-Host:ml.m5.large", "0.1200000000", instance="ml.m5.large")],
            },
            instance_request("us-east-1", "ml.m5.large"),
        )
        price_list.add_client_error("get_products", "AccessDeniedException", http_status_code=400)

        result = _estimate({}, cost.Usage(), client=client)
        price_list.assert_no_pending_responses()

    endpoint, monitor = result.lines[:2]
    assert (endpoint.price.usd, endpoint.price.source) == (0.12, LIVE_SOURCE)
    assert (monitor.price.usd, monitor.price.source) == (0.20, SNAPSHOT_SOURCE)
    assert all(line.price.source == SNAPSHOT_SOURCE for line in result.lines[1:])
    assert result.prices == (
        "on-demand prices of 2026-12-05 (AWS Price List API) and of 2026-12-01 (Driftline's price snapshot: the "
        "Price List API did not answer (AccessDeniedException))"
    )


# The command ----------------------------------------------------------------------------------------------------


def _parsed(*argv: str) -> Any:
    import argparse

    parser = argparse.ArgumentParser(prog="driftline")
    cost_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["cost", *argv])


def test_the_command_prints_a_table_with_the_total_the_region_the_prices_date_and_the_assumptions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cost_cli.run(_parsed("--snapshot-prices", "--region", "eu-west-1", "--datasets", "2")) == 0

    printed = capsys.readouterr().out.splitlines()
    snapshot = load_snapshot()
    hosting = snapshot.instance_hour("eu-west-1", "hosting", "ml.m5.large")
    assert hosting is not None
    assert printed[0].startswith("Driftline's monthly cost in eu-west-1: about $")
    [endpoint] = [line for line in printed if line.startswith("Endpoints (2 datasets)")]
    assert endpoint.split()[-5:] == [
        "instance-hours",
        f"${hosting.usd:g}",
        "per",
        "instance-hour",
        f"${2 * 730 * hosting.usd:,.2f}",
    ]
    total = next(line for line in printed if line.startswith("Total"))
    assert total.split()[-1] == printed[0].split()[-1]
    assert f"Prices: on-demand prices of {snapshot.date} (Driftline's price snapshot)." in printed
    assert "  - Prices from the shipped snapshot (--snapshot-prices)." in printed
    assert printed.index("Not counted:") > printed.index("Assumptions:")


def test_the_command_answers_machines_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost_cli.run(_parsed("--snapshot-prices", "--region", "us-east-1", "--json")) == 0

    answer = json.loads(capsys.readouterr().out)
    assert answer["region"] == "us-east-1" and answer["currency"] == "USD"
    assert answer["total_monthly_usd"] == pytest.approx(sum(line["monthly_usd"] for line in answer["lines"]), abs=1e-4)
    assert answer["lines"][0]["item"] == "Endpoints (1 dataset): 1 x ml.m5.large around the clock"
    assert answer["lines"][0]["price_source"] == SNAPSHOT_SOURCE
    assert answer["parameters"]["EndpointType"] == "Provisioned"
    assert answer["not_counted"] and answer["assumptions"]


def test_the_command_refuses_what_cloudformation_would_refuse(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost_cli.run(_parsed("--snapshot-prices", "--parameter-overrides", "EndpointType=Big")) == 1
    assert capsys.readouterr().err == (
        "driftline: CloudFormation would refuse these parameters: Parameter 'EndpointType' must be one of "
        "AllowedValues\n"
    )


def test_the_estimate_is_for_the_region_aws_region_names_as_other_commands_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    result = cost.estimate_deployment(overrides={}, usage=cost.Usage(), live_prices=False)

    assert result.region == "eu-west-1"
    assert not any("No region given" in assumption for assumption in result.assumptions)
