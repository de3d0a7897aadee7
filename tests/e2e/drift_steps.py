"""Steps the local drift tests share: upload a dataset's data and decide its run, send traffic, wait, look."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution


def upload(cloud: LocalCloud, dataset: str, name: str, body: bytes, *, approve: bool) -> RunRecord:
    """Upload ``body`` as data/<dataset>/<name> and follow its run, approving or rejecting its model."""
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    config = {"target": "diagnosis", "metric": "auc", "threshold": 0.5}
    s3.put_object(Bucket=bucket, Key=f"data/{dataset}/dataset.json", Body=json.dumps(config).encode())
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.put_object(Bucket=bucket, Key=f"data/{dataset}/{name}", Body=body)
    arn = wait_for_execution(sfn, machine, known=known)

    def decide() -> bool:
        approve_link, reject_link = approval_links(cloud.settings.outbox, arn)
        decide_as_a_person(approve_link if approve else reject_link, approver="reviewer@example.com", reason="hold")
        return True

    return follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: decide})


def send(cloud: LocalCloud, endpoint: str, rows: list[str]) -> None:
    runtime = cloud.client("sagemaker-runtime")
    for start in range(0, len(rows), 50):
        runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body="\n".join(rows[start : start + 50]).encode()
        )


def wait_for(what: str, check: Callable[[], Any], timeout: float = 240.0) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def alarm_state(cloud: LocalCloud, alarm: str) -> str:
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    return str(alarms[0]["StateValue"]) if alarms else ""


def feature_rows(csv: bytes, scale: float = 1.0) -> list[str]:
    """The CSV's feature values (its last column is the target), each multiplied by ``scale``."""
    rows = [line.split(",")[:-1] for line in csv.decode().splitlines()[1:]]
    return [",".join(f"{float(value) * scale:g}" for value in row) for row in rows]


def new_runs(cloud: LocalCloud, known: set[str]) -> list[str]:
    sfn, machine = cloud.client("stepfunctions"), cloud.outputs["PipelineStateMachineArn"]
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [e["executionArn"] for e in listed if e["executionArn"] not in known]


def runs(cloud: LocalCloud) -> set[str]:
    return set(new_runs(cloud, set()))
