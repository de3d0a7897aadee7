"""Local mode end to end with ABTestMode Split: an approved, better model joins the serving one for a trial, live
traffic is split between them, labels arrive under ground-truth/, the analysis job names the challenger, and the
challenger, promoted by a person with ``driftline approve``, ends up alone on the endpoint with the drift monitor
following it."""

from __future__ import annotations

import contextlib
import csv
import getpass
import html
import io
import json
import re
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable

import pytest

from driftline import datasets
from driftline.cli import main
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution
from driftline.run_status import PROMOTION_STATE

pytestmark = pytest.mark.e2e

DATASET = "trial"
ENDPOINT = f"driftline-{DATASET}"
TARGET = "diagnosis"
SHARE = 0.5
SHARE_TOLERANCE = 0.1
"""569 requests at 50/50: the challenger's share is within 0.1 of 0.5 in all but about 1 run in 10^6."""


@pytest.fixture(scope="module")
def cloud_parameters() -> dict[str, str]:
    return {
        "ABTestMode": "Split",
        "ABTestChallengerShare": str(SHARE),
        "ABTestTrialMinutes": "1",
        "ABTestMinLabelledRows": "50",
    }


@pytest.fixture(scope="module")
def cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("trial") / "cancer.csv"
    datasets.write_breast_cancer_csv(path)
    return path.read_bytes()


def _rows(body: bytes) -> tuple[list[str], list[str]]:
    """Each row's features as a CSV line (the target left out), and its label."""
    reader = csv.DictReader(io.StringIO(body.decode()))
    features, labels = [], []
    for row in reader:
        labels.append(row.pop(TARGET))
        features.append(",".join(row.values()))
    return features, labels


def _run(
    cloud: LocalCloud,
    name: str,
    body: bytes,
    hyperparameters: dict[str, int],
    during_trial: list[object],
    *,
    dataset: str = DATASET,
    ab_test: dict[str, object] | None = None,
    promoted: list[str] | None = None,
    promote: Callable[[LocalCloud, str], str] | None = None,
) -> RunRecord:
    promoted = [] if promoted is None else promoted
    decide_promotion = promote or _promote_from_the_terminal
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    config: dict[str, object] = {
        "target": TARGET,
        "metric": "accuracy",
        "threshold": 0.5,
        "hyperparameters": hyperparameters,
    }
    if ab_test is not None:
        config["ab_test"] = ab_test
    s3.put_object(Bucket=bucket, Key=f"data/{dataset}/dataset.json", Body=json.dumps(config).encode())
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.put_object(Bucket=bucket, Key=f"data/{dataset}/{name}", Body=body)
    arn = wait_for_execution(sfn, machine, known=known)

    def approve() -> bool:
        link, _ = approval_links(cloud.settings.outbox, arn)
        decide_as_a_person(link, approver="reviewer@example.com")
        return True

    def live_traffic_and_labels() -> bool:
        """While the trial runs: every row sent with an InferenceId, then the labels of those ids uploaded."""
        features, labels = _rows(body)
        runtime = cloud.client("sagemaker-runtime")
        answered: Counter[str] = Counter()
        lines = ["inference_id," + TARGET]
        for index, (row, label) in enumerate(zip(features, labels, strict=True)):
            inference_id = f"{name}-{index}"
            response = runtime.invoke_endpoint(
                EndpointName=f"driftline-{dataset}", ContentType="text/csv", Body=row.encode(), InferenceId=inference_id
            )
            answered[response["InvokedProductionVariant"]] += 1
            lines.append(f"{inference_id},{label}")
        s3.put_object(
            Bucket=bucket, Key=f"ground-truth/{dataset}/{name}-labels.csv", Body="\n".join(lines).encode() + b"\n"
        )
        during_trial.append(answered)
        return True

    def promote_the_winner() -> bool:
        promoted.append(decide_promotion(cloud, arn.rsplit(":", 1)[-1]))
        return True

    return follow(
        sfn,
        arn,
        show=lambda _: None,
        timeout=600,
        on_enter={
            APPROVAL_STATE: approve,
            "WaitForTrialEnd": live_traffic_and_labels,
            PROMOTION_STATE: promote_the_winner,
        },
    )


def _promote_from_the_terminal(cloud: LocalCloud, run: str) -> str:
    """The winner's promotion, decided with ``driftline approve`` as an engineer would; what it printed."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = main(["approve", run, "--local", "--state-dir", str(cloud.settings.state_dir), "--by", "lee"])
    assert code == 0
    return printed.getvalue()


def _promote_in_the_console(cloud: LocalCloud, run: str) -> str:
    """The winner's promotion, decided in the console on local mode's port as a browser would: the run's page (its
    session cookie and the form's token), then the form; the notice of the page it is sent back to."""
    console = cloud.settings.console_url.rstrip("/")
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with browser.open(f"{console}/runs/{run}") as answer:
        page = answer.read().decode()
    assert "won its A/B trial and waits for a person" in page
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    form = urllib.parse.urlencode({"csrf": token.group(1), "decision": "promote", "reason": "better on live rows"})
    post = urllib.request.Request(
        f"{console}/runs/{run}/decide", data=form.encode(), headers={"Origin": cloud.settings.endpoint_url}
    )
    with browser.open(post) as answer:  # the 303 back to the run's page is followed
        assert answer.url.startswith(f"{console}/runs/{run}?notice=")
        notice = re.search(r'<p class="message">(.*?)</p>', answer.read().decode())
    assert notice is not None
    return html.unescape(notice.group(1))


def test_a_better_challenger_wins_its_split_trial_on_labelled_live_traffic_and_then_serves_alone(
    cloud: LocalCloud, cancer_csv: bytes
) -> None:
    during_trial: list[object] = []
    first = _run(cloud, "first.csv", cancer_csv, {"max_iter": 1, "max_depth": 1}, during_trial)
    assert first.status == "SUCCEEDED", first.output
    assert first.output["deployment"]["action"] == "created"  # nothing served yet: no trial
    assert during_trial == []

    promoted: list[str] = []
    second = _run(cloud, "second.csv", cancer_csv, {}, during_trial, promoted=promoted)

    assert second.status == "SUCCEEDED", (second.error, second.cause)
    # The win was promoted by a person, from the terminal, through the promotion's approval page.
    assert promoted == [
        "The promotion of trial model version 2 is approved by lee. Model version 2 takes all of the endpoint's "
        "traffic and its trial ends.\n"
    ]
    assert second.output["promotion"]["reason"] == ""
    assert (second.output["promotion"]["decision"], second.output["promotion"]["decided_by"]) == ("approved", "lee")
    (answered,) = during_trial
    assert isinstance(answered, Counter)
    total = sum(answered.values())
    assert set(answered) == {"AllTraffic", "Challenger-v2"}
    assert abs(answered["Challenger-v2"] / total - SHARE) <= SHARE_TOLERANCE, answered
    trial = second.output["trial"]
    assert trial["decision"] == "challenger" and trial["winner"] == "challenger", trial["reason"]
    assert trial["champion_rows"] + trial["challenger_rows"] == total
    assert trial["challenger_value"] > trial["champion_value"]
    # The challenger serves alone on its own config; its model is the one the endpoint serves now.
    sagemaker = cloud.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointConfigName"] == f"{ENDPOINT}-v2"
    assert [variant["VariantName"] for variant in endpoint["ProductionVariants"]] == ["AllTraffic"]
    assert second.output["deployment"]["action"] == "concluded"
    # The trial's report was written, and the emails said when the trial started and who won.
    report = trial["report_uri"]
    bucket, _, key = report[len("s3://") :].partition("/")
    assert b"<html" in cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().lower()
    subjects = [path.read_text(errors="replace") for path in sorted(cloud.settings.outbox.glob("*.eml"))]
    assert any("A/B trial of model version 2 started" in text for text in subjects)
    assert any("model version 2 won its A/B trial and is live" in text for text in subjects)
    assert any("model version 2 won its A/B trial: promote it?" in text for text in subjects)


def test_a_shadow_challenger_never_answers_a_caller_and_still_wins_on_paired_labelled_answers(
    cloud: LocalCloud, cancer_csv: bytes
) -> None:
    dataset = "shadowed"
    shadow = {"mode": "shadow", "challenger_share": 0.9, "promotion": "automatic"}
    during_trial: list[object] = []
    first = _run(cloud, "first.csv", cancer_csv, {"max_iter": 1, "max_depth": 1}, [], dataset=dataset, ab_test=shadow)
    assert first.status == "SUCCEEDED", first.output

    second = _run(cloud, "second.csv", cancer_csv, {}, during_trial, dataset=dataset, ab_test=shadow)

    assert second.status == "SUCCEEDED", (second.error, second.cause)
    (answered,) = during_trial
    assert isinstance(answered, Counter)
    # Every caller got the serving model's answer; the challenger only answered copies.
    assert set(answered) == {"AllTraffic"}
    trial = second.output["trial"]
    assert trial["decision"] == "challenger", trial["reason"]
    assert "McNemar" in trial["test"] or "mcnemar" in trial["test"].lower()
    endpoint = cloud.client("sagemaker").describe_endpoint(EndpointName=f"driftline-{dataset}")
    assert endpoint["EndpointConfigName"] == f"driftline-{dataset}-v2"
    assert not endpoint.get("ShadowProductionVariants")


def test_a_trial_winner_promoted_in_the_console_serves_alone(cloud: LocalCloud, cancer_csv: bytes) -> None:
    """The console's Promote goes through the promotion's approval page, as the email's link and the CLI do."""
    dataset = "consoled-trial"
    first = _run(cloud, "first.csv", cancer_csv, {"max_iter": 1, "max_depth": 1}, [], dataset=dataset)
    assert first.status == "SUCCEEDED", first.output
    promoted: list[str] = []

    second = _run(
        cloud, "second.csv", cancer_csv, {}, [], dataset=dataset, promoted=promoted, promote=_promote_in_the_console
    )

    assert second.status == "SUCCEEDED", (second.error, second.cause)
    user = getpass.getuser()
    assert promoted == [
        f"The promotion of {dataset} model version 2 is approved by {user}. Model version 2 takes all of the "
        "endpoint's traffic and its trial ends."
    ]
    promotion = second.output["promotion"]
    assert (promotion["decision"], promotion["decided_by"], promotion["reason"]) == (
        "approved",
        user,
        "better on live rows",
    )
    endpoint = cloud.client("sagemaker").describe_endpoint(EndpointName=f"driftline-{dataset}")
    assert endpoint["EndpointConfigName"] == f"driftline-{dataset}-v2"
