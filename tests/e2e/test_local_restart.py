"""Local mode across restarts: what a run left behind is there when local mode starts again in the same folder.

One state folder and one port for the module, and three local modes on them, one after another: the first leaves a
run waiting for approval and stops; the second approves it through the link emailed before the restart, and the
run deploys its model; the third finds that model answering and the run in the history.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from driftline import datasets
from driftline.local.console import Console
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution
from driftline.local.settings import LocalSettings

pytestmark = pytest.mark.e2e

TARGET = "diagnosis"


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """A free port kept bound (not listening) for the module, so each local mode of the module can take it."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("driftline-state")


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "breast_cancer.csv"
    datasets.write_breast_cancer_csv(path)
    return path


def _start(state_dir: Path, port: int) -> LocalCloud:
    cloud = LocalCloud(LocalSettings(port=port, state_dir=state_dir), Console())
    cloud.start()
    return cloud


def _history(cloud: LocalCloud, arn: str) -> list[dict[str, Any]]:
    return list(cloud.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"])


def _approval_emails(state_dir: Path) -> list[Path]:
    return sorted((state_dir / "outbox").glob("*-waits-for-your-appro*.eml"))


@dataclass(frozen=True)
class WaitingRun:
    arn: str
    approve_link: str
    outputs: dict[str, str]
    history: list[dict[str, Any]]


@pytest.fixture(scope="module")
def waiting_run(state_dir: Path, port: int, csv_path: Path) -> WaitingRun:
    """An upload whose run waits for approval when local mode stops."""
    cloud = _start(state_dir, port)
    try:
        sfn = cloud.client("stepfunctions")
        cloud.client("s3").upload_file(
            str(csv_path), cloud.outputs["DataBucketName"], "data/breast-cancer/breast_cancer.csv"
        )
        arn = wait_for_execution(sfn, cloud.outputs["PipelineStateMachineArn"], known=set())
        follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: lambda: False})
        approve, _ = approval_links(cloud.settings.outbox, arn)
        history = _history(cloud, arn)
        return WaitingRun(arn=arn, approve_link=approve, outputs=dict(cloud.outputs), history=history)
    finally:
        cloud.stop()


@dataclass(frozen=True)
class ApprovedAfterRestart:
    status_after_restart: str
    history_after_restart: list[dict[str, Any]]
    answer: str
    record: RunRecord
    history: list[dict[str, Any]]
    outputs: dict[str, str]


@pytest.fixture(scope="module")
def approved_after_restart(waiting_run: WaitingRun, state_dir: Path, port: int) -> ApprovedAfterRestart:
    """Local mode started again; the link emailed before the restart opened, and the run followed to its end."""
    cloud = _start(state_dir, port)
    try:
        sfn = cloud.client("stepfunctions")
        status = sfn.describe_execution(executionArn=waiting_run.arn)["status"]
        history = _history(cloud, waiting_run.arn)
        answer = decide_as_a_person(waiting_run.approve_link, approver="reviewer@example.com")
        record = follow(sfn, waiting_run.arn, show=lambda _: None, timeout=300)
        return ApprovedAfterRestart(status, history, answer, record, _history(cloud, waiting_run.arn), cloud.outputs)
    finally:
        cloud.stop()


def test_a_run_waiting_for_approval_is_approved_after_a_restart_through_the_link_emailed_before_it_and_deploys(
    waiting_run: WaitingRun, approved_after_restart: ApprovedAfterRestart, state_dir: Path
) -> None:
    after = approved_after_restart
    assert after.status_after_restart == "RUNNING"
    assert after.history_after_restart == waiting_run.history
    assert after.answer == "Approved"
    assert after.record.status == "SUCCEEDED", after.record.cause
    assert after.record.output["approval"]["decided_by"] == "reviewer@example.com"
    deployment = after.record.output["deployment"]
    assert (deployment["endpoint_name"], deployment["action"]) == ("driftline-breast-cancer", "created")
    assert after.history[: len(waiting_run.history)] == waiting_run.history  # its history goes on from where it was
    entered = [e["stateEnteredEventDetails"]["name"] for e in after.history if "stateEnteredEventDetails" in e]
    assert entered.count(APPROVAL_STATE) == 1
    assert len(_approval_emails(state_dir)) == 1  # the old link worked: no second approval email
    assert after.outputs == waiting_run.outputs


@pytest.fixture(scope="module")
def restarted_again(approved_after_restart: ApprovedAfterRestart, state_dir: Path, port: int) -> Iterator[LocalCloud]:
    cloud = _start(state_dir, port)
    try:
        yield cloud
    finally:
        cloud.stop()


def test_a_model_deployed_before_a_restart_answers_invoke_endpoint_after_it_and_its_run_is_still_listed(
    restarted_again: LocalCloud, waiting_run: WaitingRun, approved_after_restart: ApprovedAfterRestart, csv_path: Path
) -> None:
    cloud = restarted_again
    header, *rows = csv_path.read_text().splitlines()
    target = header.split(",").index(TARGET)
    labels = {row.split(",")[target] for row in rows}
    features = [",".join(value for column, value in enumerate(row.split(",")) if column != target) for row in rows[:3]]
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="driftline-breast-cancer", ContentType="text/csv", Accept="text/csv", Body="\n".join(features)
    )
    predicted = [line.split(",") for line in answer["Body"].read().decode().splitlines()]
    assert len(predicted) == 3
    assert all(
        label in labels and abs(sum(map(float, probabilities)) - 1) < 1e-6 for label, *probabilities in predicted
    )
    sfn = cloud.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=cloud.outputs["PipelineStateMachineArn"])["executions"]
    assert [(e["executionArn"], e["status"]) for e in listed] == [(waiting_run.arn, "SUCCEEDED")]
    assert _history(cloud, waiting_run.arn) == approved_after_restart.history
    assert cloud.outputs == waiting_run.outputs
