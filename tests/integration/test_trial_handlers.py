"""AnalyseTrial and DecideTrial under moto: the analysis job started once with the trial's captures and labels, its
token kept; the decision read from the job's trial.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest

from driftline_core.payloads import TrialDecision
from tests.conftest import REGION, load_event
from tests.integration.pipeline_resources import ARTIFACT_BUCKET, CODE_URI, DATA_BUCKET, EXECUTION, stored_token

JOB = f"{EXECUTION}-trial"
CAPTURE = "capture/credit/driftline-credit"
TRIAL_PREFIX = f"runs/{EXECUTION}/trial/"


@pytest.fixture
def handlers(pipeline: None) -> dict[str, ModuleType]:
    """Handler modules, imported once the environment exists (Powertools reads it when they load)."""
    from functions.analyse_trial import app as analyse_app
    from functions.decide_trial import app as decide_app

    return {"analyse": analyse_app, "decide": decide_app}


@pytest.fixture
def sent_requests() -> Iterator[list[dict[str, Any]]]:
    """The exact CreateProcessingJob parameters sent (moto keeps only some of them)."""
    from driftline_core.aws.clients import get_client

    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "CreateProcessingJob":
            sent.append(json.loads(json.dumps(params)))

    events = get_client("sagemaker").meta.events
    events.register("provide-client-params.sagemaker.*", record)
    yield sent
    events.unregister("provide-client-params.sagemaker.*", record)


def put(bucket: str, key: str, body: str = "{}\n") -> None:
    boto3.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body=body.encode())


def capture_trial_hours(*variants: str, hours: tuple[str, ...] = ("08", "09", "10")) -> None:
    for variant in variants:
        for hour in hours:
            put(ARTIFACT_BUCKET, f"{CAPTURE}/{variant}/2026/12/07/{hour}/capture-{hour}.jsonl")


def inputs(request: dict[str, Any]) -> dict[str, str]:
    return {item["S3Input"]["LocalPath"]: item["S3Input"]["S3Uri"] for item in request["ProcessingInputs"]}


def test_analyse_trial_starts_the_job_over_the_trials_captures_and_labels_and_keeps_the_token(
    handlers: dict[str, ModuleType], sent_requests: list[dict[str, Any]], lambda_context: Any
) -> None:
    capture_trial_hours("AllTraffic", "Challenger-v4")
    put(ARTIFACT_BUCKET, f"{CAPTURE}/AllTraffic/2026/12/07/07/before-the-trial.jsonl")
    put(DATA_BUCKET, "ground-truth/credit/2026/12/07/11/labels.jsonl")
    event = load_event("analyse_trial")

    result = handlers["analyse"].lambda_handler(event, lambda_context)

    assert result["job_name"] == JOB
    [request] = sent_requests
    capture = f"s3://{ARTIFACT_BUCKET}/{CAPTURE}"
    assert inputs(request) == {
        "/opt/ml/processing/input/code": f"{CODE_URI}src/",
        "/opt/ml/processing/config": f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/config.json",
        "/opt/ml/processing/labels": f"s3://{DATA_BUCKET}/ground-truth/credit/",
        **{
            f"/opt/ml/processing/capture/{variant}/{index}": f"{capture}/{variant}/2026/12/07/{hour}/"
            for variant in ("AllTraffic", "Challenger-v4")
            for index, hour in enumerate(("08", "09", "10"))
        },
    }
    assert request["AppSpecification"]["ContainerArguments"][:2] == ["--challenger-variant", "Challenger-v4"]
    job = boto3.client("sagemaker", region_name=REGION).describe_processing_job(ProcessingJobName=JOB)
    assert job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == f"s3://{ARTIFACT_BUCKET}/{TRIAL_PREFIX}"
    item = stored_token(JOB)
    assert item is not None
    assert item["task_token"]["S"] == event["task_token"]
    assert item["step"]["S"] == "trial"


def test_analyse_trial_leaves_out_prefixes_that_hold_nothing(
    handlers: dict[str, ModuleType], sent_requests: list[dict[str, Any]], lambda_context: Any
) -> None:
    capture_trial_hours("AllTraffic")
    capture_trial_hours("Challenger-v4", hours=("10",))
    put(DATA_BUCKET, "ground-truth/credit-eu/labels.csv")  # another dataset's labels share the key's start

    handlers["analyse"].lambda_handler(load_event("analyse_trial"), lambda_context)

    [request] = sent_requests
    paths = inputs(request)
    assert "/opt/ml/processing/labels" not in paths
    assert [path for path in paths if "Challenger" in path] == ["/opt/ml/processing/capture/Challenger-v4/2"]
    assert len(paths) == 6


def test_a_retried_analyse_trial_finds_its_job_and_starts_no_other(
    handlers: dict[str, ModuleType], sent_requests: list[dict[str, Any]], lambda_context: Any
) -> None:
    capture_trial_hours("AllTraffic", "Challenger-v4")
    event = load_event("analyse_trial")
    from tests.integration.pipeline_resources import set_moto_job_status

    handlers["analyse"].lambda_handler(event, lambda_context)
    set_moto_job_status("trial", JOB, "InProgress")
    retried = handlers["analyse"].lambda_handler(event | {"task_token": "retried-token"}, lambda_context)

    assert retried["job_name"] == JOB
    assert len(sent_requests) == 1
    item = stored_token(JOB)
    assert item is not None and item["task_token"]["S"] == "retried-token"


def trial_document(decision: str, finding: str, **overrides: Any) -> dict[str, Any]:
    """The fields of ``ml/trial_analysis.py``'s trial.json that the decision reads, as the job writes them."""
    document: dict[str, Any] = {
        "schema_version": 1,
        "decision": decision,
        "finding": finding,
        "reason": f"The trial found {finding.replace('_', ' ')}.",
        "mode": "split",
        "metric": "auc",
        "higher_is_better": True,
        "alpha": 0.05,
        "champion": {"variant": "AllTraffic", "compared_rows": 812, "metric_value": 0.781},
        "challenger": {"variant": "Challenger-v4", "compared_rows": 798, "metric_value": 0.823},
        "test": {"name": "permutation_test", "label": "permutation test", "p_value": 0.0085, "significant": True},
    }
    return document | overrides


def write_trial(document: Any) -> None:
    body = document if isinstance(document, str) else json.dumps(document)
    put(ARTIFACT_BUCKET, f"{TRIAL_PREFIX}trial.json", body)


@pytest.mark.parametrize(
    ("decision", "finding", "winner"),
    [
        ("challenger", "challenger_better", "challenger"),
        ("champion", "champion_better", "champion"),
        ("champion", "no_significant_difference", "champion"),
    ],
)
def test_decide_trial_promotes_the_challenger_only_when_it_was_significantly_better(
    handlers: dict[str, ModuleType], lambda_context: Any, decision: str, finding: str, winner: str
) -> None:
    write_trial(trial_document(decision, finding))

    result = handlers["decide"].lambda_handler(load_event("decide_trial"), lambda_context)

    assert TrialDecision.model_validate(result) == TrialDecision(
        decision=decision,  # type: ignore[arg-type]
        winner=winner,  # type: ignore[arg-type]
        reason=f"The trial found {finding.replace('_', ' ')}.",
        metric="auc",
        champion_value=0.781,
        challenger_value=0.823,
        champion_rows=812,
        challenger_rows=798,
        p_value=0.0085,
        test="permutation test",
        trial_uri=f"s3://{ARTIFACT_BUCKET}/{TRIAL_PREFIX}trial.json",
        report_uri=f"s3://{ARTIFACT_BUCKET}/{TRIAL_PREFIX}trial_report.html",
    )


def test_decide_trial_keeps_the_champion_when_the_evidence_is_not_enough(
    handlers: dict[str, ModuleType], lambda_context: Any
) -> None:
    write_trial(
        trial_document(
            "not_enough_evidence",
            "not_enough_evidence",
            reason="Challenger-v4 has 12 labelled rows, fewer than the 200 the trial needs; nothing is decided.",
            challenger={"variant": "Challenger-v4", "compared_rows": 12, "metric_value": None},
            test=None,
        )
    )

    result = handlers["decide"].lambda_handler(load_event("decide_trial"), lambda_context)

    assert (result["decision"], result["winner"]) == ("not_enough_evidence", "champion")
    assert result["reason"].startswith("Challenger-v4 has 12 labelled rows")
    assert (result["challenger_rows"], result["challenger_value"]) == (12, None)
    assert (result["p_value"], result["test"]) == (None, "")


def test_decide_trial_without_a_trial_json_names_the_file_and_the_job(
    handlers: dict[str, ModuleType], lambda_context: Any
) -> None:
    from driftline_core.deployment.trial_decision import TrialReportInvalid

    with pytest.raises(TrialReportInvalid, match=rf"no trial.json at s3://{ARTIFACT_BUCKET}/{TRIAL_PREFIX}trial.json"):
        handlers["decide"].lambda_handler(load_event("decide_trial"), lambda_context)


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ("{not json", "is not valid JSON"),
        ([1, 2], "is not a JSON object"),
        (trial_document("promote", "challenger_better"), "has decision 'promote'"),
        (trial_document("champion", "champion_better", reason=""), "has no 'reason' text"),
        (trial_document("champion", "champion_better", champion=None), "has no 'champion' section"),
        (
            trial_document("champion", "champion_better", champion={"compared_rows": "many", "metric_value": 0.7}),
            "champion.compared_rows in",
        ),
    ],
)
def test_decide_trial_refuses_a_trial_json_it_cannot_read_naming_what_is_wrong(
    handlers: dict[str, ModuleType], lambda_context: Any, document: Any, named: str
) -> None:
    from driftline_core.deployment.trial_decision import TrialReportInvalid

    write_trial(document)

    with pytest.raises(TrialReportInvalid, match=named):
        handlers["decide"].lambda_handler(load_event("decide_trial"), lambda_context)


def test_decide_trial_without_the_jobs_output_says_so(handlers: dict[str, ModuleType], lambda_context: Any) -> None:
    from driftline_core.deployment.trial_decision import TrialReportInvalid

    event = load_event("decide_trial")
    event["trial_analysis"]["outputs"] = {}

    with pytest.raises(TrialReportInvalid, match="reported no 'trial' output"):
        handlers["decide"].lambda_handler(event, lambda_context)
