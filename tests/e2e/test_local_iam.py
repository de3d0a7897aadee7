"""IAM in local mode: a permission missing from the template fails the run as AWS would, naming what was refused.

The cloud here deploys a copy of template.yaml with one action taken out of one function's policy; everything
else (code, layers, ml/ jobs, the state machine) is the application's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.emulator import LocalCloud
from driftline.local.runs import follow, wait_for_execution
from driftline.local.settings import REPO_ROOT
from tests.e2e.conftest import application_copy, running_cloud

pytestmark = pytest.mark.e2e

# The Train function's statement, with sagemaker:CreateTrainingJob taken out.
GRANTED = "Action: [sagemaker:CreateTrainingJob, sagemaker:DescribeTrainingJob, sagemaker:AddTags]"
WITHOUT_CREATE = "Action: [sagemaker:DescribeTrainingJob, sagemaker:AddTags]"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    template = (REPO_ROOT / "template.yaml").read_text()
    assert template.count(GRANTED) == 1, "the Train function's job statement changed: update this test"
    changed = application_copy(tmp_path_factory.mktemp("template"), template=template.replace(GRANTED, WITHOUT_CREATE))
    with running_cloud(tmp_path_factory, template=changed) as local:
        yield local


def test_a_permission_missing_from_a_functions_role_fails_the_run_naming_the_role_action_and_resource(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "breast_cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    bucket = cloud.outputs["DataBucketName"]
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    machine = cloud.outputs["PipelineStateMachineArn"]
    s3.put_object(Bucket=bucket, Key="data/denied/dataset.json", Body=json.dumps({"target": "diagnosis"}).encode())
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.put_object(Bucket=bucket, Key="data/denied/breast_cancer.csv", Body=csv_path.read_bytes())

    record = follow(sfn, wait_for_execution(sfn, machine, known=known), show=lambda _: None, timeout=300)

    assert record.status == "FAILED"
    cause = record.cause or ""
    assert "AccessDeniedException" in cause or record.error == "AccessDeniedException", (record.error, cause)
    assert "is not authorized to perform: sagemaker:CreateTrainingJob on resource: " in cause
    assert ":training-job/denied-" in cause
    assert "assumed-role/" in cause and "TrainFunctionRole" in cause
    assert "because no identity-based policy allows the sagemaker:CreateTrainingJob action" in cause
    # The steps before training ran with their own, complete, permissions.
    assert any(job.startswith("denied-") for job in cloud.jobs.durations), "preprocessing never ran"
