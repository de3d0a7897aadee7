"""Approval under moto, with moto's Step Functions interpreter running a run that waits on the decision.

A one-state machine waits on ``lambda:invoke.waitForTaskToken`` whose Lambda is the real RequestApproval
handler; the email it publishes reaches an SQS queue subscribed to the topic, and its links are opened
with the real ApprovalApi handler (API Gateway HTTP API payload 2.0 events) and decided by form POSTs,
or the package's status is set in the registry and the real ApprovalEvents handler receives the event.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import boto3
import pytest

from driftline_core.settings import reset_settings
from tests.conftest import REGION, load_event

API_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
ARTIFACT_BUCKET = "driftline-artifacts-123456789012-us-east-1"
GROUP = "driftline-credit"
CANDIDATE_METRICS = {
    "binary_classification_metrics": {
        "auc": {"value": 0.9132, "standard_deviation": "NaN"},
        "accuracy": {"value": 0.861, "standard_deviation": "NaN"},
    },
    "driftline": {"metric": "auc", "test_rows": 200},
}
INCUMBENT_ON_THIS_SPLIT = {
    "binary_classification_metrics": {
        "auc": {"value": 0.8874, "standard_deviation": "NaN"},
        "accuracy": {"value": 0.842, "standard_deviation": "NaN"},
    },
    "test_rows": 200,
}
APPROVED_REPORT = {
    "binary_classification_metrics": {
        "auc": {"value": 0.9501, "standard_deviation": "NaN"},
        "accuracy": {"value": 0.903, "standard_deviation": "NaN"},
    }
}
"""The approved model's registered report: its own run's test split, other rows than the candidate's."""


@dataclass
class World:
    sfn: Any
    machine_arn: str
    short_machine_arn: str
    """The same run with a one-second approval timeout."""
    queue_url: str
    package_arn: str
    incumbent_arn: str
    tokens: list[str]
    context: Any
    promotion_machine_arn: str = ""
    """A run that waits on a trial winner's promotion, with the pipeline's RequestPromotion payload."""

    def start_run(self, *, timeout_after_one_second: bool = False, compared: bool = True) -> str:
        step = load_event("request_approval")
        payload = {k: v for k, v in step.items() if k != "task_token"}
        payload["registration"]["model_package_arn"] = self.package_arn
        payload["gate"]["incumbent_model_package_arn"] = self.incumbent_arn
        if not compared:  # the gate found the approved model unscored on this run's rows
            payload["gate"]["incumbent_value"] = None
        execution = self.sfn.start_execution(
            stateMachineArn=self.short_machine_arn if timeout_after_one_second else self.machine_arn,
            name=f"run-{time.time_ns()}",
            input=json.dumps(payload),
        )
        arn = str(execution["executionArn"])
        self.wait_for_email()
        return arn

    def start_promotion(self) -> str:
        """A run whose challenger (the world's package, Approved: it serves in the trial) won its trial."""
        boto3.client("sagemaker").update_model_package(
            ModelPackageArn=self.package_arn, ModelApprovalStatus="Approved", ApprovalDescription="Approved by maria"
        )
        payload = {k: v for k, v in load_event("request_promotion").items() if k not in ("task_token", "request")}
        payload["registration"]["model_package_arn"] = self.package_arn
        execution = self.sfn.start_execution(
            stateMachineArn=self.promotion_machine_arn, name=f"trial-{time.time_ns()}", input=json.dumps(payload)
        )
        self.wait_for_email()
        return str(execution["executionArn"])

    def wait_for_email(self, timeout: float = 10) -> str:
        sqs = boto3.client("sqs")
        deadline = time.time() + timeout
        while time.time() < deadline:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1).get("Messages", [])
            if messages:
                body = json.loads(messages[0]["Body"])
                self.last_email = body
                return str(body["Message"])
            time.sleep(0.1)
        raise TimeoutError("no approval email was published")

    def links(self) -> dict[str, str]:
        message = self.last_email["Message"]
        found = re.findall(rf"{re.escape(API_URL)}/approvals/(\S+)", message)
        return {"approve": found[0], "reject": found[1]}

    def status(self, execution_arn: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.time() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING" or time.time() > deadline:
                return dict(described)
            time.sleep(0.1)

    def package(self) -> dict[str, Any]:
        return dict(boto3.client("sagemaker").describe_model_package(ModelPackageName=self.package_arn))

    last_email: dict[str, Any] = None  # type: ignore[assignment]


def api_event(method: str, link: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for the link, built from the samples in events/."""
    event = copy.deepcopy(load_event("approval_page_get" if method == "GET" else "approval_page_post"))
    sample_link = event["pathParameters"]["link"]
    event = json.loads(json.dumps(event).replace(sample_link, link))
    if form is not None:
        body = "&".join(f"{name}={quote(value)}" for name, value in form.items())
        event["body"] = base64.b64encode(body.encode()).decode()
    return event


def get_page(world: World, link: str) -> dict[str, Any]:
    from functions.approval_api.app import lambda_handler

    return dict(lambda_handler(api_event("GET", link), world.context))


def post_form(world: World, link: str, form: dict[str, str]) -> dict[str, Any]:
    from functions.approval_api.app import lambda_handler

    return dict(lambda_handler(api_event("POST", link, form), world.context))


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> Iterator[World]:
    from moto.awslambda.models import LambdaFunction

    from driftline.local import seams, stepfunctions

    stepfunctions.install()
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="approvals",
        AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    secret = boto3.client("secretsmanager").create_secret(Name="approval-key", SecretString="k" * 64)["ARN"]
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="driftline")["TopicArn"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    step = load_event("request_approval")
    candidate_uri = step["gate"]["evaluation_uri"]
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key="runs/old/evaluation.json", Body=json.dumps(APPROVED_REPORT))
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)

    def package(status: str, report: str) -> str:
        client: Any = sagemaker
        return str(
            client.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelApprovalStatus=status,
                InferenceSpecification={
                    "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.2-1"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report}}},
            )["ModelPackageArn"]
        )

    incumbent = package("Approved", f"s3://{ARTIFACT_BUCKET}/runs/old/evaluation.json")
    candidate = package("PendingManualApproval", candidate_uri)
    # The evaluation job scored the approved model on the candidate's test rows too.
    report = {
        **CANDIDATE_METRICS,
        "incumbent": {"model_package_arn": incumbent, "scored": True, **INCUMBENT_ON_THIS_SPLIT},
    }
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=candidate_uri.split("/", 3)[3], Body=json.dumps(report))
    for name, value in {
        "APPROVALS_TABLE": "approvals",
        "APPROVAL_SECRET_ARN": secret,
        "APPROVAL_API_URL": API_URL,
        "APPROVAL_TIMEOUT_SECONDS": "3600",
        "NOTIFICATION_TOPIC_ARN": topic,
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()

    iam = boto3.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    function = boto3.client("lambda").create_function(
        FunctionName="driftline-RequestApproval",
        Runtime="python3.13",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )["FunctionArn"]
    tokens: list[str] = []

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        from functions.request_approval.app import lambda_handler

        payload = json.loads(event) if isinstance(event, str) else event
        tokens.append(payload["task_token"])
        return json.dumps(lambda_handler(payload, lambda_context)), False, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
    # The payload the pipeline's ASL sends, the token named as it names it.
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": function,
            "Payload": {
                "execution_id.$": "$$.Execution.Id",
                "execution_name.$": "$$.Execution.Name",
                "dataset.$": "$.dataset",
                "data.$": "$.data",
                "trigger.$": "$.trigger",
                "task_token.$": "$$.Task.Token",
                "validation.$": "$.validation",
                "training.$": "$.training",
                "gate.$": "$.gate",
                "registration.$": "$.registration",
            },
        },
        "TimeoutSeconds": 30,
        "End": True,
    }
    definition = {"StartAt": "RequestApproval", "States": {"RequestApproval": task}}
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(name="approval", definition=json.dumps(definition), roleArn=role)
    task["TimeoutSeconds"] = 1
    short = sfn.create_state_machine(name="approval-short", definition=json.dumps(definition), roleArn=role)
    promotion_task = copy.deepcopy(task) | {"TimeoutSeconds": 30}
    promotion_task["Parameters"]["Payload"] = {
        "request": "promotion",
        **{
            name: value
            for name, value in task["Parameters"]["Payload"].items()
            if name not in ("validation.$", "training.$", "gate.$")
        },
        "deployment.$": "$.deployment",
        "trial.$": "$.trial",
    }
    promotion = sfn.create_state_machine(
        name="promotion",
        definition=json.dumps({"StartAt": "RequestPromotion", "States": {"RequestPromotion": promotion_task}}),
        roleArn=role,
    )
    yield World(
        sfn=sfn,
        machine_arn=machine["stateMachineArn"],
        short_machine_arn=short["stateMachineArn"],
        queue_url=queue_url,
        package_arn=candidate,
        incumbent_arn=incumbent,
        tokens=tokens,
        context=lambda_context,
        promotion_machine_arn=promotion["stateMachineArn"],
    )
    reset_settings()
    seams.restore()


def test_the_email_names_the_model_its_metrics_beside_the_approved_models_its_data_and_two_links(
    world: World,
) -> None:
    world.start_run()

    message = world.last_email["Message"]
    assert world.last_email["Subject"] == "Driftline: credit model version 2 waits for your approval"
    assert world.package_arn in message
    assert "On this run's test split (200 rows), both models scored on the same rows:" in message
    assert re.search(r"auc\s+0\.9132\s+0\.8874\n", message)
    assert re.search(r"accuracy\s+0\.8610\s+0\.8420\n", message)
    assert "0.9501" not in message, "the approved model's figure from other rows is not set beside the candidate's"
    assert "s3://driftline-data-123456789012-us-east-1/data/credit/applications-2026-11.csv" in message
    assert set(world.links()) == {"approve", "reject"}
    assert world.tokens and world.tokens[0] not in message


def test_an_approved_model_not_scored_on_this_runs_rows_shows_its_registered_figures_labelled(world: World) -> None:
    world.start_run(compared=False)

    message = world.last_email["Message"]
    assert re.search(r"metric\s+this model\n\s+auc\s+0\.9132\n\s+accuracy\s+0\.8610\n", message)
    assert "Its registered figures, from its own run's test split (other rows): auc 0.9501, accuracy 0.9030" in message


def test_approving_through_the_link_approves_the_package_and_resumes_the_run(world: World) -> None:
    execution = world.start_run()
    link = world.links()["approve"]

    page = get_page(world, link)
    assert page["statusCode"] == 200
    assert "Approve credit model version 2?" in page["body"]
    assert world.status(execution, timeout=0)["status"] == "RUNNING", "a GET must decide nothing"
    assert world.package()["ModelApprovalStatus"] == "PendingManualApproval"

    answer = post_form(world, link, {"token": link, "approver": "maria.lopez@example.com", "reason": ""})

    assert answer["statusCode"] == 200
    assert "is approved by maria.lopez@example.com" in answer["body"]
    finished = world.status(execution)
    assert finished["status"] == "SUCCEEDED"
    output = json.loads(finished["output"])
    assert output["decision"] == "approved"
    assert output["decided_by"] == "maria.lopez@example.com"
    assert output["source"] == "link"
    package = world.package()
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"].startswith("Approved by maria.lopez@example.com at 20")
    assert world.tokens[0] not in finished["output"]


def test_rejecting_through_the_link_records_who_and_why_and_ends_the_run(world: World) -> None:
    execution = world.start_run()
    link = world.links()["reject"]

    form = {"token": link, "approver": "<b>sam</b>", "reason": "recall on <b>fraud</b> too low"}
    answer = post_form(world, link, form)

    assert answer["statusCode"] == 200
    assert "rejected by &lt;b&gt;sam&lt;/b&gt;" in answer["body"]
    assert "<b>" not in answer["body"]
    finished = world.status(execution)
    assert finished["status"] == "FAILED"
    assert finished["error"] == "ApprovalRejected"
    assert "rejected by <b>sam</b>" in finished["cause"]
    assert "recall on <b>fraud</b> too low" in finished["cause"]
    package = world.package()
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"].endswith(": recall on <b>fraud</b> too low")


def test_a_rejection_without_a_reason_answers_400_and_decides_nothing(world: World) -> None:
    execution = world.start_run()
    link = world.links()["reject"]

    answer = post_form(world, link, {"token": link, "approver": "sam", "reason": "  "})

    assert answer["statusCode"] == 400
    assert "a reason" in answer["body"]
    assert world.status(execution, timeout=0)["status"] == "RUNNING"
    assert world.package()["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_post_without_the_forms_fields_answers_400_and_decides_nothing(world: World) -> None:
    execution = world.start_run()
    link = world.links()["approve"]

    assert post_form(world, link, {})["statusCode"] == 400
    assert post_form(world, link, {"token": link})["statusCode"] == 400
    assert world.status(execution, timeout=0)["status"] == "RUNNING"
    assert world.package()["ModelApprovalStatus"] == "PendingManualApproval"


def test_forged_and_altered_links_answer_403_and_decide_nothing(world: World) -> None:
    execution = world.start_run()
    approve = world.links()["approve"]
    approval_id, _decision, expiry, signature = approve.split(".")
    forged = f"{approval_id}.approve.{expiry}.{'A' * len(signature)}"
    altered_decision = f"{approval_id}.reject.{expiry}.{signature}"
    altered_expiry = f"{approval_id}.approve.{int(expiry) + 86400}.{signature}"

    for link in (forged, altered_decision, altered_expiry, "not-a-link"):
        assert get_page(world, link)["statusCode"] == 403, link
        form = {"token": link, "approver": "mallory", "reason": "because"}
        answer = post_form(world, link, form)
        assert answer["statusCode"] == 403, link
        assert "decides nothing" in answer["body"] or "malformed" in answer["body"] or "no decision" in answer["body"]

    assert world.status(execution, timeout=0)["status"] == "RUNNING"
    assert world.package()["ModelApprovalStatus"] == "PendingManualApproval"


def test_an_expired_link_answers_410_and_decides_nothing(world: World) -> None:
    from driftline_core.approval.links import signing_key
    from driftline_core.approval.signatures import sign_link
    from driftline_core.settings import get_approval_settings

    execution = world.start_run()
    approval_id = world.links()["approve"].split(".")[0]
    expired = sign_link(
        approval_id, "approve", int(time.time()) - 1, signing_key(get_approval_settings().approval_secret_arn)
    )

    assert get_page(world, expired)["statusCode"] == 410
    answer = post_form(world, expired, {"token": expired, "approver": "maria", "reason": ""})
    assert answer["statusCode"] == 410
    assert "expired" in answer["body"]
    assert world.status(execution, timeout=0)["status"] == "RUNNING"
    assert world.package()["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_second_click_or_the_other_link_after_a_decision_answers_403_and_changes_nothing(world: World) -> None:
    execution = world.start_run()
    links = world.links()
    first = post_form(world, links["approve"], {"token": links["approve"], "approver": "maria", "reason": ""})
    assert first["statusCode"] == 200
    assert world.status(execution)["status"] == "SUCCEEDED"

    again = post_form(world, links["approve"], {"token": links["approve"], "approver": "maria", "reason": ""})
    other = post_form(world, links["reject"], {"token": links["reject"], "approver": "sam", "reason": "no"})
    page = get_page(world, links["reject"])

    for answer in (again, other, page):
        assert answer["statusCode"] == 403
        assert "already approved by maria" in answer["body"]
    assert world.package()["ModelApprovalStatus"] == "Approved"
    assert world.status(execution, timeout=0)["status"] == "SUCCEEDED"


def test_a_link_for_a_run_that_already_ended_answers_410_and_leaves_the_package_pending(world: World) -> None:
    execution = world.start_run(timeout_after_one_second=True)
    link = world.links()["approve"]
    assert world.status(execution)["error"] == "States.Timeout"

    answer = post_form(world, link, {"token": link, "approver": "maria", "reason": ""})

    assert answer["statusCode"] == 410
    assert "already ended" in answer["body"]
    assert world.package()["ModelApprovalStatus"] == "PendingManualApproval"
    assert world.status(execution, timeout=0)["status"] in {"FAILED", "TIMED_OUT"}


def test_approving_in_the_model_registry_resumes_the_run_and_later_links_change_nothing(world: World) -> None:
    from functions.approval_events.app import lambda_handler

    execution = world.start_run()
    boto3.client("sagemaker").update_model_package(
        ModelPackageArn=world.package_arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good"
    )
    event = load_event("sagemaker_model_package_approved")
    event["resources"] = [world.package_arn]
    event["detail"]["ModelPackageArn"] = world.package_arn
    event["detail"]["ApprovalDescription"] = "looks good"

    assert lambda_handler(event, world.context) == {"outcome": "decided"}
    finished = world.status(execution)
    assert finished["status"] == "SUCCEEDED"
    output = json.loads(finished["output"])
    assert (output["decided_by"], output["source"], output["reason"]) == ("maria-lopez", "registry", "looks good")

    # The same event delivered again, and a late click on the emailed link, change nothing.
    assert lambda_handler(event, world.context) == {"outcome": "already_decided"}
    link = world.links()["reject"]
    late = post_form(world, link, {"token": link, "approver": "sam", "reason": "too late"})
    assert late["statusCode"] == 403
    assert world.package()["ModelApprovalStatus"] == "Approved"


def test_a_registry_event_still_pending_or_for_another_package_decides_nothing(world: World) -> None:
    from functions.approval_events.app import lambda_handler

    execution = world.start_run()
    pending = load_event("sagemaker_model_package_approved")
    pending["detail"]["ModelPackageArn"] = world.package_arn
    pending["detail"]["ModelApprovalStatus"] = "PendingManualApproval"
    other = load_event("sagemaker_model_package_approved")

    assert lambda_handler(pending, world.context) == {"outcome": "not_a_decision"}
    assert lambda_handler(other, world.context) == {"outcome": "unknown"}
    assert world.status(execution, timeout=0)["status"] == "RUNNING"


def test_pages_are_self_contained_escaped_unframeable_and_uncached(world: World) -> None:
    world.start_run()
    page = get_page(world, world.links()["reject"])

    headers = page["headers"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    for external in ("<script", "src=", "href=", "<link", "@import"):
        assert external not in page["body"]
    assert 'method="post"' in page["body"]


def test_the_task_token_never_reaches_logs_pages_or_the_run_output(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    execution = world.start_run()
    link = world.links()["approve"]
    page = get_page(world, link)
    answer = post_form(world, link, {"token": link, "approver": "maria", "reason": ""})
    finished = world.status(execution)

    token = world.tokens[0]
    logs = capsys.readouterr()
    for text in (
        logs.out,
        logs.err,
        page["body"],
        answer["body"],
        finished.get("output", ""),
        world.last_email["Message"],
    ):
        assert token not in text


def test_the_sample_events_parse_into_the_handlers_models(aws_env: None) -> None:
    # The handler module may load here first: its Metrics take their namespace from the environment as it loads.
    from driftline_core.aws.events import HttpApiRequest
    from driftline_core.payloads import ApprovalRequestInput
    from functions.approval_events.app import ModelPackageStateChange

    ApprovalRequestInput.model_validate(load_event("request_approval"))
    for name in ("approval_page_get", "approval_page_post"):
        event = HttpApiRequest.model_validate(load_event(name))
        assert event.path_parameters and "link" in event.path_parameters
    assert ModelPackageStateChange.model_validate(load_event("sagemaker_model_package_approved")).detail_type == (
        "SageMaker Model Package State Change"
    )
    assert REGION == "us-east-1"


# Two decisions meeting -------------------------------------------------------------------------------


def _new_version(world: World) -> str:
    """A new PendingManualApproval version in the group, the package the next run registers."""
    client: Any = boto3.client("sagemaker")
    world.package_arn = str(
        client.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.2-1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
    )
    return world.package_arn


def _set_in_registry(
    world: World, package_arn: str, status: Literal["Approved", "Rejected"], by: str = "studio-user"
) -> None:
    """A status set in SageMaker Studio, then its EventBridge event delivered to ApprovalEvents."""
    from functions.approval_events.app import lambda_handler

    boto3.client("sagemaker").update_model_package(
        ModelPackageArn=package_arn, ModelApprovalStatus=status, ApprovalDescription=f"{status} in Studio"
    )
    event = load_event("sagemaker_model_package_approved")
    event["resources"] = [package_arn]
    event["detail"] |= {
        "ModelPackageArn": package_arn,
        "ModelApprovalStatus": status,
        "ApprovalDescription": f"{status} in Studio",
        "LastModifiedBy": {"UserProfileName": by},
    }
    lambda_handler(event, world.context)


def _record(package_arn: str) -> dict[str, Any]:
    from driftline_core.approval.signatures import approval_id_for

    item = boto3.client("dynamodb").get_item(
        TableName="approvals", Key={"approval_id": {"S": approval_id_for(package_arn)}}, ConsistentRead=True
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def _agree(world: World, execution: str, package_arn: str) -> tuple[str, str, str]:
    """The run's end, the registry's status and the record's decision: the same decision, or an AssertionError."""
    run = world.status(execution)["status"]
    status = boto3.client("sagemaker").describe_model_package(ModelPackageName=package_arn)["ModelApprovalStatus"]
    record = _record(package_arn)["status"]
    assert (run, status, record) in {
        ("SUCCEEDED", "Approved", "approved"),
        ("FAILED", "Rejected", "rejected"),
    }, (run, status, record)
    return run, status, record


@pytest.mark.parametrize("link_first", [True, False])
def test_an_approval_link_and_a_registry_rejection_at_once_end_in_one_decision_every_time(
    world: World, link_first: bool
) -> None:
    import random
    import threading

    seen: set[str] = set()
    for _ in range(25):
        package = _new_version(world)
        execution = world.start_run()
        link = world.links()["approve"]
        link_delay, registry_delay = sorted([random.uniform(0, 0.05), random.uniform(0, 0.05)], reverse=not link_first)
        answers: list[int] = []

        def click(link: str = link, delay: float = link_delay, answers: list[int] = answers) -> None:
            time.sleep(delay)
            answers.append(post_form(world, link, {"token": link, "approver": "maria", "reason": ""})["statusCode"])

        def studio(package: str = package, delay: float = registry_delay) -> None:
            time.sleep(delay)
            _set_in_registry(world, package, "Rejected")

        threads = [threading.Thread(target=click), threading.Thread(target=studio)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        run, _, _ = _agree(world, execution, package)
        assert answers == ([200] if run == "SUCCEEDED" else [403])  # the link says what happened
        seen.add(run)
    assert seen  # every iteration agreed; which decision came first varies with the delays


def test_a_registry_rejection_after_a_link_approval_is_set_back_with_the_reason(world: World) -> None:
    execution = world.start_run()
    link = world.links()["approve"]
    assert post_form(world, link, {"token": link, "approver": "maria", "reason": ""})["statusCode"] == 200

    _set_in_registry(world, world.package_arn, "Rejected", by="sam")

    _agree(world, execution, world.package_arn)
    description = world.package()["ApprovalDescription"]
    assert description.startswith("Approved by maria at 20")
    assert "Set back from Rejected (by sam)" in description


def test_a_link_used_after_a_registry_rejection_whose_event_has_not_arrived_follows_the_registry(
    world: World,
) -> None:
    execution = world.start_run()
    boto3.client("sagemaker").update_model_package(
        ModelPackageArn=world.package_arn, ModelApprovalStatus="Rejected", ApprovalDescription="drifted features"
    )
    link = world.links()["approve"]

    answer = post_form(world, link, {"token": link, "approver": "maria", "reason": ""})

    assert answer["statusCode"] == 403 and "already rejected" in answer["body"]
    finished = world.status(execution)
    assert (finished["status"], finished["error"]) == ("FAILED", "ApprovalRejected")
    assert "drifted features" in finished["cause"]
    assert world.package()["ModelApprovalStatus"] == "Rejected"  # not overwritten by the link


# A run that can no longer continue ---------------------------------------------------------------------


def test_approving_a_stopped_run_answers_410_and_leaves_the_package_pending(world: World) -> None:
    execution = world.start_run()
    world.sfn.stop_execution(executionArn=execution, error="Stopped", cause="wrong data")
    link = world.links()["approve"]

    answer = post_form(world, link, {"token": link, "approver": "maria", "reason": ""})

    assert answer["statusCode"] == 410 and "already ended" in answer["body"]
    assert world.package()["ModelApprovalStatus"] == "PendingManualApproval"
    assert _record(world.package_arn)["status"] == "run_ended"
    assert world.status(execution, timeout=0)["status"] == "ABORTED"


def test_approving_a_stopped_run_in_the_registry_is_taken_back(world: World) -> None:
    execution = world.start_run()
    world.sfn.stop_execution(executionArn=execution)

    _set_in_registry(world, world.package_arn, "Approved", by="sam")

    package = world.package()
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert "taken back" in package["ApprovalDescription"] and "will not be deployed" in package["ApprovalDescription"]
    assert _record(world.package_arn)["status"] == "run_ended"


def _click_while_stopping(world: World, execution: str, link: str, approver: str) -> list[int]:
    """The link's form submitted while the run is stopped, each a random instant later; the form's answer."""
    import random
    import threading

    answers: list[int] = []

    def click() -> None:
        time.sleep(random.uniform(0, 0.03))
        answers.append(post_form(world, link, {"token": link, "approver": approver, "reason": ""})["statusCode"])

    def stop() -> None:
        time.sleep(random.uniform(0, 0.03))
        with contextlib.suppress(world.sfn.exceptions.ExecutionDoesNotExist):
            world.sfn.stop_execution(executionArn=execution)

    threads = [threading.Thread(target=click), threading.Thread(target=stop)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_stop_and_an_approval_at_once_never_leave_an_undeployed_model_approved(world: World) -> None:
    for _ in range(25):
        package = _new_version(world)
        execution = world.start_run()
        link = world.links()["approve"]
        answers = _click_while_stopping(world, execution, link, "maria")

        run = world.status(execution)["status"]
        status = boto3.client("sagemaker").describe_model_package(ModelPackageName=package)["ModelApprovalStatus"]
        record = _record(package)["status"]
        if answers == [200]:
            # The decision reached the run before the stop (its token was accepted); a stop after that is a stop
            # of an approved run, as a stop during its deployment would be, not a decision for an ended run.
            assert run in {"SUCCEEDED", "ABORTED"}
            assert (status, record) == ("Approved", "approved")
        else:
            assert (run, status, record, answers) == ("ABORTED", "PendingManualApproval", "run_ended", [410])


# Forms the page could not have sent ------------------------------------------------------------------


def _post_raw(world: World, link: str, body: bytes) -> dict[str, Any]:
    from functions.approval_api.app import lambda_handler

    event = api_event("POST", link)
    event["body"] = base64.b64encode(body).decode()
    return dict(lambda_handler(event, world.context))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (lambda link: "&".join([f"token={link}", "approver=maria"] + [f"x{n}=1" for n in range(25)]), "more than 20"),
        (lambda link: f"token={link}&approver=Jos%E9&reason=", "not UTF-8"),  # latin-1, not UTF-8
        (lambda link: f"token={link}&approver=maria&reason={'r' * 501}", "has 501 characters; at most 500"),
    ],
    ids=["too-many-fields", "not-utf8", "reason-too-long"],
)
def test_a_form_the_page_could_not_have_sent_answers_400_and_decides_nothing(
    world: World, body: Any, says: str
) -> None:
    execution = world.start_run()
    link = world.links()["reject"]

    answer = _post_raw(world, link, body(link).encode())

    assert answer["statusCode"] == 400
    assert says in answer["body"] and "Nothing was decided" in answer["body"]
    assert world.package()["ModelApprovalStatus"] == "PendingManualApproval"
    assert world.status(execution, timeout=0)["status"] == "RUNNING"


def test_an_approver_name_in_any_script_is_recorded_as_typed(world: World) -> None:
    execution = world.start_run()
    link = world.links()["approve"]

    answer = post_form(world, link, {"token": link, "approver": "José Müller 王芳", "reason": ""})

    assert answer["statusCode"] == 200
    output = json.loads(world.status(execution)["output"])
    assert output["decided_by"] == "José Müller 王芳"
    assert world.package()["ApprovalDescription"].startswith("Approved by José Müller 王芳 at")


# A trial winner's promotion ------------------------------------------------------------------------------


def _promotion_record(package_arn: str) -> dict[str, Any]:
    from driftline_core.approval.signatures import promotion_approval_id

    item = boto3.client("dynamodb").get_item(
        TableName="approvals", Key={"approval_id": {"S": promotion_approval_id(package_arn)}}, ConsistentRead=True
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def test_the_promotion_email_gives_the_trial_s_figures_its_report_and_two_links(world: World) -> None:
    world.start_promotion()

    message = world.last_email["Message"]
    assert world.last_email["Subject"] == "Driftline: credit model version 2 won its A/B trial: promote it?"
    assert "accuracy 0.9012 vs 0.8640 on 1210 and 1187 labelled rows" in message
    assert "serving model 0.8640 on 1210 rows, challenger 0.9012 on 1187 rows" in message
    assert "Test:            two-proportion z-test, p = 0.0019" in message
    assert "runs/credit-5e4f54c7bade/trial/trial_report.html" in message
    assert "Until you decide, both variants keep serving as in the trial." in message
    assert set(world.links()) == {"approve", "reject"}
    assert world.tokens[-1] not in message
    record = _promotion_record(world.package_arn)
    assert (record["kind"], record["status"]) == ("promotion", "pending")


def test_promoting_through_the_link_resumes_the_run_and_leaves_the_registry_as_it_was(world: World) -> None:
    execution = world.start_promotion()
    link = world.links()["approve"]

    page = get_page(world, link)
    assert "Promote credit model version 2 to all of the endpoint&#x27;s traffic?" in page["body"]
    assert "Promote this model to all traffic" in page["body"]
    assert world.status(execution, timeout=0)["status"] == "RUNNING", "a GET must decide nothing"

    answer = post_form(world, link, {"token": link, "approver": "carol@example.com", "reason": "clear win"})

    assert answer["statusCode"] == 200
    assert "<title>Promoted</title>" in answer["body"]
    assert "The promotion of credit model version 2 is approved by carol@example.com" in answer["body"]
    finished = world.status(execution)
    assert finished["status"] == "SUCCEEDED"
    output = json.loads(finished["output"])
    assert (output["decision"], output["decided_by"], output["reason"]) == (
        "approved",
        "carol@example.com",
        "clear win",
    )
    package = world.package()
    assert (package["ModelApprovalStatus"], package["ApprovalDescription"]) == ("Approved", "Approved by maria")


def test_keeping_the_serving_model_through_the_link_ends_the_wait_with_who_and_why(world: World) -> None:
    execution = world.start_promotion()
    link = world.links()["reject"]
    page = get_page(world, link)["body"]
    assert "Keep the serving model" in page and "Why keep the serving model (required)" in page

    answer = post_form(world, link, {"token": link, "approver": "sam", "reason": "too few fraud cases labelled"})

    assert answer["statusCode"] == 200 and "<title>The serving model stays</title>" in answer["body"]
    finished = world.status(execution)
    assert (finished["status"], finished["error"]) == ("FAILED", "ApprovalRejected")
    assert finished["cause"].startswith("The promotion of credit model version 2 was rejected by sam at 20")
    assert finished["cause"].endswith(": too few fraud cases labelled")
    assert world.package()["ModelApprovalStatus"] == "Approved"  # it served in the trial: its status stays


def test_a_registry_status_set_while_a_promotion_waits_decides_nothing(world: World) -> None:
    execution = world.start_promotion()

    _set_in_registry(world, world.package_arn, "Rejected", by="sam")

    assert world.status(execution, timeout=0.5)["status"] == "RUNNING"
    assert _promotion_record(world.package_arn)["status"] == "pending"
    link = world.links()["approve"]
    assert post_form(world, link, {"token": link, "approver": "carol", "reason": ""})["statusCode"] == 200
    assert world.status(execution)["status"] == "SUCCEEDED"


def test_promote_and_keep_clicked_at_once_end_in_one_decision_that_every_record_agrees_with(world: World) -> None:
    import random
    import threading

    seen: set[str] = set()
    for _ in range(20):
        package = _new_version(world)
        execution = world.start_promotion()
        links = world.links()
        answers: dict[str, int] = {}

        def click(decision: str, links: dict[str, str] = links, answers: dict[str, int] = answers) -> None:
            time.sleep(random.uniform(0, 0.03))
            link = links[decision]
            form = {"token": link, "approver": f"{decision}-person", "reason": "because"}
            answers[decision] = post_form(world, link, form)["statusCode"]

        threads = [threading.Thread(target=click, args=(decision,)) for decision in ("approve", "reject")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        run = world.status(execution)["status"]
        record = _promotion_record(package)
        winner = "approve" if record["status"] == "approved" else "reject"
        assert answers == {winner: 200, ("reject" if winner == "approve" else "approve"): 403}
        assert run == ("SUCCEEDED" if winner == "approve" else "FAILED")
        assert record["decided_by"] == f"{winner}-person"
        assert boto3.client("sagemaker").describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == (
            "Approved"
        )
        seen.add(winner)
    assert seen


def test_promoting_a_stopped_run_answers_410_and_says_the_endpoint_stays_as_it_was_left(world: World) -> None:
    execution = world.start_promotion()
    world.sfn.stop_execution(executionArn=execution)
    link = world.links()["approve"]

    answer = post_form(world, link, {"token": link, "approver": "carol", "reason": ""})

    assert answer["statusCode"] == 410
    assert "the endpoint stays as that run left it" in answer["body"]
    assert _promotion_record(world.package_arn)["status"] == "run_ended"
    assert world.package()["ModelApprovalStatus"] == "Approved"


def test_a_stop_and_a_promotion_at_once_leave_the_record_agreeing_with_the_run(world: World) -> None:
    for _ in range(15):
        package = _new_version(world)
        execution = world.start_promotion()
        link = world.links()["approve"]
        answers = _click_while_stopping(world, execution, link, "carol")

        run = world.status(execution)["status"]
        record = _promotion_record(package)["status"]
        if answers == [200]:
            assert (run in {"SUCCEEDED", "ABORTED"}, record) == (True, "approved")
        else:
            assert (run, record, answers) == ("ABORTED", "run_ended", [410])
        status = boto3.client("sagemaker").describe_model_package(ModelPackageName=package)["ModelApprovalStatus"]
        assert status == "Approved"  # a promotion never touches the registry
