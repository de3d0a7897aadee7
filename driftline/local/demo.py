"""The local demo: upload a sample dataset, watch the run, show the registered model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution
from driftline.local.settings import REPO_ROOT

SAMPLES_DIR = REPO_ROOT / "samples"


def write_sample(dataset: str, folder: Path, rows: int) -> Path:
    from driftline import datasets

    if dataset == "breast-cancer":
        path = folder / "breast_cancer.csv"
        datasets.write_breast_cancer_csv(path)
    else:
        path = folder / "credit.csv"
        datasets.write_credit_csv(path, rows, seed=7)
    return path


def upload_and_follow(cloud: LocalCloud, dataset: str, csv_path: Path, *, timeout: float = 900) -> RunRecord:
    """Put the dataset's config and the CSV into the data bucket, then follow the run the upload starts."""
    outputs = cloud.outputs
    bucket = outputs["DataBucketName"]
    s3 = cloud.client("s3")
    sfn = cloud.client("stepfunctions")
    config = SAMPLES_DIR / dataset / "dataset.json"
    if config.exists():
        s3.put_object(Bucket=bucket, Key=f"data/{dataset}/dataset.json", Body=config.read_bytes())
    machine = outputs["PipelineStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    key = f"data/{dataset}/{csv_path.name}"
    s3.upload_file(str(csv_path), bucket, key)
    cloud.console.line("demo", f"uploaded {csv_path.name} to s3://{bucket}/{key}")
    execution_arn = wait_for_execution(sfn, machine, known=known)
    cloud.console.line("pipeline", f"run started: {execution_arn.rsplit(':', 1)[-1]}")
    return follow(sfn, execution_arn, show=lambda text: cloud.console.line("pipeline", text), timeout=timeout)


def run_demo(cloud: LocalCloud, *, dataset: str, rows: int, scratch: Path) -> bool:
    csv_path = write_sample(dataset, scratch, rows)
    record = upload_and_follow(cloud, dataset, csv_path)
    print()
    print(summary(cloud, record))
    return record.status == "SUCCEEDED" and "registration" in record.output


def summary(cloud: LocalCloud, record: RunRecord) -> str:
    """What a user wants to see when a run ends: the outcome, the model and where everything is."""
    settings = cloud.settings
    out = record.output
    lines = [f"Run {record.execution_arn.rsplit(':', 1)[-1]}: {record.status} in {record.wall_seconds:.1f} s"]
    if record.status != "SUCCEEDED":
        lines.append(f"  {record.error}: {record.cause}")
        return "\n".join(lines)
    gate = out.get("gate", {})
    registration = out.get("registration")
    if registration:
        package = cloud.client("sagemaker").describe_model_package(ModelPackageName=registration["model_package_arn"])
        lines.append(f"Registered model package: {registration['model_package_arn']}")
        lines.append(f"  approval status: {package['ModelApprovalStatus']}")
    else:
        lines.append("The candidate did not pass the quality gate; nothing was registered.")
    for reason in gate.get("reasons", []):
        lines.append(f"  gate: {reason}")
    evaluation_uri = gate.get("evaluation_uri")
    if evaluation_uri:
        report = _read_json(cloud, evaluation_uri)
        for group, metrics in report.items():
            if group.endswith("_metrics") and isinstance(metrics, dict):
                values = ", ".join(f"{name}={m['value']:.4f}" for name, m in metrics.items() if isinstance(m, dict))
                lines.append(f"  metrics ({group}): {values}")
    model_uri = out.get("training", {}).get("outputs", {}).get("model")
    lines.append("Artifacts (S3 in local mode, and their copies on disk):")
    for label, uri in (("model", model_uri), ("evaluation report", evaluation_uri)):
        if uri:
            lines.append(f"  {label}: {uri}\n    -> {_mirror_path(settings.s3_dir, uri)}")
    for step in ("preprocess", "training", "evaluation"):
        job = out.get(step, {}).get("job_name")
        if job:
            lines.append(f"  {step} job log: {settings.jobs_dir / job / 'job.log'}")
    mails = sorted(settings.outbox.glob("*.eml"))
    if mails:
        lines.append(f"  notification email: {mails[-1]}")
    return "\n".join(lines)


def _read_json(cloud: LocalCloud, uri: str) -> dict[str, Any]:
    bucket, _, key = uri[5:].partition("/")
    body = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def _mirror_path(s3_dir: Path, uri: str) -> Path:
    bucket, _, key = uri[5:].partition("/")
    return s3_dir / bucket / key
