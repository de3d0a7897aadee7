"""The local demo: the first loop on a sample dataset, from the upload to predictions of the live endpoint.

Upload, train, evaluate, register; the approval email's link (printed, then followed as a person would);
the endpoint in service; a handful of the uploaded rows sent to it through InvokeEndpoint beside their
labels; the captured requests in S3. Then the drift loop: in-distribution traffic leaves the drift alarm OK;
drifted traffic and a drifted labelled upload move it to ALARM, which starts a retrain run.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import shutil
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from driftline.approval_pages import decide_as_a_person
from driftline.layer_modules import layer_module
from driftline.local import s3_mirror
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution
from driftline.local.s3_uris import split_s3_uri
from driftline.local.settings import REPO_ROOT
from driftline.run_status import PROMOTION_STATE
from driftline.stepfunctions_history import execution_history

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


APPROVAL_STATE = "RequestApproval"
PROMOTION_SUBJECT = "won its A/B trial: promote it?"
DEMO_APPROVER = "demo@localhost"
_LINK = re.compile(r"(https?://\S+/approvals/\S+)")


def approval_links(
    outbox: Path, execution_arn: str, *, promotion: bool = False, timeout: float = 60
) -> tuple[str, str]:
    """The approve and reject links of the run's approval email (``promotion``: of its promotion email), once the
    outbox has it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in sorted(outbox.glob("*.eml"), reverse=True):
            text = path.read_text(errors="replace")
            if execution_arn not in text or "/approvals/" not in text:
                continue
            subject = str(message_from_bytes(path.read_bytes(), policy=email_policy.default)["Subject"] or "")
            if (PROMOTION_SUBJECT in subject) is promotion:
                links = _LINK.findall(text)
                return links[0], links[1]
        time.sleep(0.2)
    what = "promotion" if promotion else "approval"
    raise TimeoutError(f"no {what} email for {execution_arn} arrived within {timeout:.0f} s")


def upload_and_follow(
    cloud: LocalCloud,
    dataset: str,
    csv_path: Path,
    *,
    timeout: float = 900,
    approve: bool = True,
    config: bytes | None = None,
    on_enter: dict[str, Callable[[str], bool]] | None = None,
) -> RunRecord:
    """Put the dataset's config (``config``, else the sample's) and the CSV into the data bucket, then follow the
    run the upload starts.

    When the run waits for approval (or for a trial winner's promotion), the approve link from its email is printed
    for a person and, with ``approve``, followed as a person would (the page, then its form); without, following
    stops there.
    ``on_enter`` adds what to do (given the run's ARN) once the run enters other states.
    """
    outputs = cloud.outputs
    bucket = outputs["DataBucketName"]
    s3 = cloud.client("s3")
    sfn = cloud.client("stepfunctions")
    sample_config = SAMPLES_DIR / dataset / "dataset.json"
    if config is None and sample_config.exists():
        config = sample_config.read_bytes()
    if config is not None:
        s3.put_object(Bucket=bucket, Key=f"data/{dataset}/dataset.json", Body=config)
    machine = outputs["PipelineStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    key = f"data/{dataset}/{csv_path.name}"
    s3.upload_file(str(csv_path), bucket, key)
    cloud.console.line("demo", f"uploaded {csv_path.name} to s3://{bucket}/{key}")
    execution_arn = wait_for_execution(sfn, machine, known=known)
    cloud.console.line("pipeline", f"run started: {execution_arn.rsplit(':', 1)[-1]}")

    def at_approval(promotion: bool = False) -> bool:
        approve_url, reject_url = approval_links(cloud.settings.outbox, execution_arn, promotion=promotion)
        what, other = ("promote", "keep") if promotion else ("approve", "reject")
        cloud.console.line("approval", f"{what + ':':<9}{approve_url}")
        cloud.console.line("approval", f"{other + ':':<9}{reject_url}")
        if not approve:
            return False
        answer = decide_as_a_person(approve_url, approver=DEMO_APPROVER)
        cloud.console.line("approval", f"opened the {what} link and confirmed as {DEMO_APPROVER}: {answer}")
        return True

    return follow(
        sfn,
        execution_arn,
        show=lambda text: cloud.console.line("pipeline", text),
        timeout=timeout,
        on_enter={
            APPROVAL_STATE: at_approval,
            PROMOTION_STATE: functools.partial(at_approval, promotion=True),
            **{state: functools.partial(hook, execution_arn) for state, hook in (on_enter or {}).items()},
        },
    )


DEMO_ROWS = 6
"""How many of the uploaded rows the demo sends to the live endpoint."""
CAPTURE_WAIT_SECONDS = 30.0


DEMO_SOURCES = ("local", "demo", "pipeline", "approval", "email", "run", "drift")
"""What the demo's terminal shows: its own steps, each state's progress, emails and run outcomes. Handler and job
output (and any source's errors and warnings, which stay shown) is in CloudWatch Logs and the jobs' logs;
``driftline local up`` shows it all."""


def run_demo(
    cloud: LocalCloud, *, dataset: str, rows: int, scratch: Path, approve: bool = True, drift: bool = True
) -> bool:
    cloud.console.only(DEMO_SOURCES)
    cloud.console.line(
        "demo", "showing each step's progress; the functions' and jobs' own output is in their logs (make up shows it)"
    )
    csv_path = write_sample(dataset, scratch, rows)
    record = upload_and_follow(cloud, dataset, csv_path, approve=approve)
    print()
    print(summary(cloud, record))
    if not approve:
        return record.status == "RUNNING"
    deployment = record.output.get("deployment")
    if record.status != "SUCCEEDED" or "registration" not in record.output or not deployment:
        return False
    endpoint = str(deployment["endpoint_name"])
    model = read_model_metadata(cloud, _model_data_url(cloud, record.output["registration"]["model_package_arn"]))
    sample = sample_rows(csv_path, model, count=DEMO_ROWS)
    predictions = predict_rows(cloud, endpoint, sample.rows)
    print()
    print(prediction_table(endpoint, csv_path.name, model, sample, predictions))
    capture_uri = deployment.get("data_capture_uri")
    if capture_uri:
        keys, records = wait_for_captures(cloud, str(capture_uri), endpoint, len(sample.rows))
        print()
        print(capture_listing(str(capture_uri), endpoint, keys, records))
    if len(predictions) != len(sample.rows):
        return False
    report: Path | None = None
    if drift:
        print()
        retrained = run_drift_loop(
            cloud, dataset=dataset, rows=rows, scratch=scratch, endpoint=endpoint, model=model, usual=csv_path
        )
        if not retrained.started:
            return False
        report = retrained.report
    print()
    print(what_next(cloud, report))
    return True


def what_next(cloud: LocalCloud, drift_report: Path | None) -> str:
    """Where a newcomer goes from the demo: local mode that stays up, their own data, following and approving."""
    settings = cloud.settings
    bucket = cloud.outputs.get("DataBucketName", "<DataBucketName>")
    command = driftline_command()
    lines = [
        "What next:",
        "  Start local mode and leave it running (from this folder):",
        "    make up",
        "  From another terminal, upload your own CSV (a header row, the target among its columns):",
        f"    export AWS_ENDPOINT_URL={settings.endpoint_url} AWS_DEFAULT_REGION={settings.region} "
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local",
        f"    aws s3 cp my.csv s3://{bucket}/data/my-dataset/my.csv",
        f"  Follow the run it starts ({command} runs lists them) and approve its model:",
        f"    {command} status <run> --follow",
        f"    {command} approve <run>",
        "  Or, while local mode runs, follow runs, approve models and watch endpoints and drift in its web console:",
        f"    {settings.console_url}",
        f"  Its emails: {settings.outbox}/",
    ]
    if drift_report is not None:
        lines.append(f"  This demo's drift report: {drift_report}")
    return "\n".join(lines)


def driftline_command() -> str:
    """The ``driftline`` command as it runs from this folder: its virtual environment is rarely activated, so the
    demo names ``.venv/bin/driftline`` rather than a bare name the shell may not find."""
    script = Path(sys.executable).parent / "driftline"
    if shutil.which("driftline") == str(script):
        return "driftline"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


class ModelSample:
    """Rows of the uploaded CSV as a client would send them: the model's features in its order, no target."""

    def __init__(self, line_numbers: list[int], rows: list[list[str]], labels: list[str]) -> None:
        self.line_numbers = line_numbers
        self.rows = rows
        self.labels = labels


def read_model_metadata(cloud: LocalCloud, model_uri: str) -> dict[str, Any]:
    """``model_metadata.json`` from the model's ``model.tar.gz``: its target, feature order and class labels."""
    bucket, key = split_s3_uri(model_uri)
    archive = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("model_metadata.json")
        if member is None:
            raise RuntimeError(f"{model_uri} holds no model_metadata.json; it was not written by the training step")
        return dict(json.loads(member.read()))


def sample_rows(csv_path: Path, model: dict[str, Any], *, count: int) -> ModelSample:
    """``count`` rows spread evenly over the file, their features in the model's order and their target apart."""
    with csv_path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        table = list(reader)
    target = str(model["target"])
    positions = [header.index(str(name)) for name in model["feature_columns"]]
    step = max(1, len(table) // count)
    chosen = list(range(0, len(table), step))[:count]
    return ModelSample(
        line_numbers=[index + 2 for index in chosen],  # the header is line 1
        rows=[[table[index][position] for position in positions] for index in chosen],
        labels=[table[index][header.index(target)] for index in chosen],
    )


def predict_rows(cloud: LocalCloud, endpoint: str, rows: list[list[str]]) -> list[list[str]]:
    """One InvokeEndpoint per row (``text/csv`` in and out), as separate clients would call; each answer's fields."""
    runtime = cloud.client("sagemaker-runtime")
    answers = []
    for row in rows:
        body = io.StringIO()
        csv.writer(body, lineterminator="\n").writerow(row)
        response = runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=body.getvalue().encode()
        )
        answer = response["Body"].read().decode()
        answers.append(next(csv.reader(io.StringIO(answer))))
    return answers


def prediction_table(
    endpoint: str, file_name: str, model: dict[str, Any], sample: ModelSample, predictions: list[list[str]]
) -> str:
    labels = [str(label) for label in model.get("class_labels") or []]
    lines = [
        f"Predictions of {endpoint} (InvokeEndpoint, text/csv) for {len(sample.rows)} rows of {file_name}, "
        f"sent without {model['target']!r}:",
        f"  {'line':>5}  {'expected':<12} {'predicted':<12} " + ("probability" if labels else ""),
    ]
    matched = 0
    for line, expected, answer in zip(sample.line_numbers, sample.labels, predictions, strict=True):
        predicted = answer[0] if answer else ""
        matched += predicted == expected
        shown = ""
        if labels and predicted in labels and len(answer) == len(labels) + 1:
            shown = f"{float(answer[1 + labels.index(predicted)]):.3f}"
        lines.append(f"  {line:>5}  {expected:<12} {predicted:<12} {shown}".rstrip())
    lines.append(f"  {matched} of {len(sample.rows)} predictions match the uploaded labels")
    return "\n".join(lines)


def wait_for_captures(
    cloud: LocalCloud, capture_uri: str, endpoint: str, expected: int, *, timeout: float = CAPTURE_WAIT_SECONDS
) -> tuple[list[str], int]:
    """The capture files under ``<capture prefix>/<endpoint>/`` once they hold ``expected`` records (or the timeout)."""
    bucket, prefix = split_s3_uri(capture_uri)
    s3 = cloud.client("s3")
    deadline = time.time() + timeout
    sizes: dict[str, int] = {}
    while True:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix.rstrip('/')}/{endpoint}/")
        keys = sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        for key in keys:
            if key not in sizes:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                sizes[key] = sum(1 for line in body.splitlines() if line.strip())
        records = sum(sizes.values())
        if records >= expected or time.time() >= deadline:
            return keys, records
        time.sleep(0.5)


def capture_listing(capture_uri: str, endpoint: str, keys: list[str], records: int) -> str:
    bucket, _ = split_s3_uri(capture_uri)
    if not keys:
        return f"No captured requests under {capture_uri}/{endpoint}/ yet."
    lines = [f"Captured requests ({records} records, SageMaker's data capture JSON lines) in s3://{bucket}/:"]
    lines += [f"  {key}" for key in keys]
    return "\n".join(lines)


def _model_data_url(cloud: LocalCloud, package_arn: str) -> str:
    package = cloud.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    return str(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])


def summary(cloud: LocalCloud, record: RunRecord) -> str:
    """What a user wants to see when a run ends: the outcome, the model and where everything is."""
    settings = cloud.settings
    out = record.output
    name = record.execution_arn.rsplit(":", 1)[-1]
    if record.status == "RUNNING":
        return "\n".join(
            [
                f"Run {name} waits for approval. Open the approve or reject link above, or, from this folder, run:",
                f"  {driftline_command()} approve {name}",
                f'  {driftline_command()} reject {name} --reason "<why>"',
                f"(from another folder, add --local --state-dir {settings.state_dir})",
            ]
        )
    lines = [f"Run {name}: {record.status} in {record.wall_seconds:.1f} s"]
    if record.status != "SUCCEEDED":
        lines.append(f"  {record.error}: {record.cause}")
        return "\n".join(lines)
    gate = out.get("gate", {})
    registration = out.get("registration")
    if registration:
        package = cloud.client("sagemaker").describe_model_package(ModelPackageName=registration["model_package_arn"])
        described = package.get("ApprovalDescription") or package["ModelApprovalStatus"]
        lines.append(f"  model package {registration['model_package_arn']}: {described}")
    else:
        lines.append("  The candidate did not pass the quality gate; nothing was registered.")
    lines += [f"  gate: {reason}" for reason in gate.get("reasons", [])]
    evaluation_uri = gate.get("evaluation_uri")
    if evaluation_uri:
        report = _read_json(cloud, evaluation_uri)
        for group, metrics in report.items():
            if group.endswith("_metrics") and isinstance(metrics, dict):
                values = ", ".join(f"{name}={m['value']:.4f}" for name, m in metrics.items() if isinstance(m, dict))
                lines.append(f"  on the test split: {values}")
    deployment = out.get("deployment")
    if deployment:
        endpoint = cloud.client("sagemaker").describe_endpoint(EndpointName=deployment["endpoint_name"])
        lines.append(
            f"  endpoint {endpoint['EndpointName']}: {endpoint['EndpointStatus']}, serving "
            f"{endpoint['EndpointConfigName']} ({deployment['action']})"
        )
    model_uri = out.get("training", {}).get("outputs", {}).get("model")
    lines.append("Files (S3 objects have a copy on disk):")
    for label, uri in (("model", model_uri), ("evaluation report", evaluation_uri)):
        if uri:
            lines.append(f"  {label}: {_mirror_path(settings.s3_dir, uri)}")
    jobs = [out.get(step, {}).get("job_name") for step in ("preprocess", "training", "evaluation")]
    if any(jobs):
        lines.append(f"  job logs: {settings.jobs_dir}/<job>/job.log for {', '.join(job for job in jobs if job)}")
    mails = sorted(settings.outbox.glob("*.eml"))
    if mails:
        lines.append(f"  notification email: {mails[-1]}")
    return "\n".join(lines)


def _read_json(cloud: LocalCloud, uri: str) -> dict[str, Any]:
    bucket, key = split_s3_uri(uri)
    body = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def _mirror_path(s3_dir: Path, uri: str) -> Path:
    bucket, key = split_s3_uri(uri)
    return s3_mirror.mirror_path(s3_dir, bucket, key)


WINDOW_WAIT = "waiting for the drift monitor's next window (it runs every local minute) ..."
DRIFT_WAIT_SECONDS = 120.0
"""How long the demo waits for each step of the drift loop (a window, the alarm, the retrain, its email)."""
TRAFFIC_ROWS = 600
"""At most this many rows of a file are sent as traffic, 50 to an InvokeEndpoint call."""
DRIFT_SCALE = 3.0
"""The breast cancer sample's drifted copy: every feature value times this (a different instrument)."""
_DISTANCE = re.compile(r"distance: (?P<distance>[0-9.eE+-]+).*?threshold: (?P<threshold>[0-9.eE+-]+)")


def write_drifted_sample(dataset: str, folder: Path, rows: int) -> Path:
    """Fresh labelled data from a shifted population: what the demo uploads once the traffic has drifted."""
    from driftline import datasets

    path = folder / ("breast_cancer_drifted.csv" if dataset == "breast-cancer" else "credit_drifted.csv")
    if dataset != "breast-cancer":
        datasets.write_credit_csv(path, rows, seed=8, drift=1.0)
        return path
    source = write_sample(dataset, folder, rows)
    with source.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        target = header.index("diagnosis")
        table = [
            [value if column == target else f"{float(value) * DRIFT_SCALE:g}" for column, value in enumerate(row)]
            for row in reader
        ]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(table)
    return path


def traffic_rows(csv_path: Path, model: dict[str, Any], *, limit: int = TRAFFIC_ROWS) -> list[str]:
    """The file's first ``limit`` rows as a client sends them: CSV lines of the model's features, no target."""
    with csv_path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        positions = [header.index(str(name)) for name in model["feature_columns"]]
        return [",".join(row[p] for p in positions) for _, row in zip(range(limit), reader, strict=False)]


def send_traffic(cloud: LocalCloud, endpoint: str, rows: list[str]) -> None:
    runtime = cloud.client("sagemaker-runtime")
    for start in range(0, len(rows), 50):
        runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body="\n".join(rows[start : start + 50]).encode()
        )


def _wait(what: str, check: Any, timeout: float = DRIFT_WAIT_SECONDS) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s; see the console lines above")


class DriftLoop:
    """The drift part of the demo: the monitor's windows, the drift alarm and the retrain it starts."""

    def __init__(self, cloud: LocalCloud, dataset: str, endpoint: str) -> None:
        self.cloud = cloud
        self.dataset = dataset
        self.endpoint = endpoint
        self.bucket = cloud.outputs["ArtifactBucketName"]
        self.alarm = f"{cloud.settings.stack_name}-drift-{dataset}"
        self.seen: dict[str, str] = self.reports()

    def say(self, text: str) -> None:
        self.cloud.console.line("drift", text)

    def reports(self) -> dict[str, str]:
        """Each window report's key and ETag (the windows of one hour share a folder, so a report is rewritten)."""
        pages = (
            self.cloud.client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=f"monitoring/{self.dataset}/")
        )
        items = [item for page in pages for item in page.get("Contents", [])]
        return {i["Key"]: i["ETag"] for i in items if i["Key"].endswith("/constraint_violations.json")}

    def next_window(self, *, drifted: bool) -> tuple[str, list[dict[str, Any]]]:
        """The next window's report (with drift violations when ``drifted``): its key and its drift violations."""

        def found() -> tuple[str, list[dict[str, Any]]] | None:
            for key, etag in self.reports().items():
                if self.seen.get(key) == etag:
                    continue
                self.seen[key] = etag
                document = _read_json(self.cloud, f"s3://{self.bucket}/{key}")
                violations = [
                    v
                    for v in document.get("violations", [])
                    if v.get("constraint_check_type") == "baseline_drift_check"
                ]
                if bool(violations) == drifted:
                    return key, violations
            return None

        result: tuple[str, list[dict[str, Any]]] = _wait(
            "a drifted monitoring window" if drifted else "a monitoring window", found
        )
        return result

    def alarm_state(self) -> str:
        alarms = self.cloud.client("cloudwatch").describe_alarms(AlarmNames=[self.alarm])["MetricAlarms"]
        return str(alarms[0]["StateValue"]) if alarms else ""

    def wait_for_alarm(self, state: str) -> None:
        _wait(f"the alarm {self.alarm} going to {state}", lambda: self.alarm_state() == state)
        self.say(f"alarm {self.alarm}: {state}")


@dataclass(frozen=True)
class Retrain:
    """How the demo's drift loop ended: whether drift started a retrain, and the drift report that says why."""

    started: bool
    report: Path | None


def run_drift_loop(
    cloud: LocalCloud, *, dataset: str, rows: int, scratch: Path, endpoint: str, model: dict[str, Any], usual: Path
) -> Retrain:
    """In-distribution traffic (alarm OK), then drifted traffic and a drifted upload (ALARM, retrain, its email)."""
    loop = DriftLoop(cloud, dataset, endpoint)
    sfn = cloud.client("stepfunctions")
    machine = cloud.outputs["PipelineStateMachineArn"]

    usual_rows = traffic_rows(usual, model)
    send_traffic(cloud, endpoint, usual_rows)
    loop.say(f"sent {len(usual_rows)} rows of {usual.name} (in distribution) to {endpoint}")
    loop.say(WINDOW_WAIT)
    key, _ = loop.next_window(drifted=False)
    loop.say(f"monitor window analysed, no violation (s3://{loop.bucket}/{key})")
    loop.wait_for_alarm("OK")

    drifted = write_drifted_sample(dataset, scratch, rows)
    held = upload_held_back(cloud, dataset, drifted)
    loop.say(f"uploaded fresh labelled data {drifted.name}; its own run {held} was rejected to leave it to the alarm")

    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    shifted = traffic_rows(drifted, model)
    send_traffic(cloud, endpoint, shifted * 2)
    loop.say(f"sent {2 * len(shifted)} rows of {drifted.name} (drifted) to {endpoint}")
    loop.say(WINDOW_WAIT)
    key, violations = loop.next_window(drifted=True)
    loop.say(f"monitor window analysed, violation: {len(violations)} drifted features")
    for violation in violations[:5]:
        match = _DISTANCE.search(str(violation.get("description", "")))
        shown = f"distance {float(match['distance']):.3f} > {match['threshold']}" if match else "drifted"
        loop.say(f"  {violation.get('feature_name')}: {shown}")
    if len(violations) > 5:
        loop.say(f"  ... and {len(violations) - 5} more (see the report)")
    loop.wait_for_alarm("ALARM")

    def new_run() -> str | None:
        for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
            if execution["executionArn"] not in known:
                return str(execution["executionArn"])
        return None

    retrain: str = _wait("the retrain run", new_run)
    trigger = json.loads(sfn.describe_execution(executionArn=retrain)["input"]).get("trigger", {})
    loop.say(f"retrain run started: {retrain.rsplit(':', 1)[-1]} (reason: {trigger.get('source')}, {loop.alarm})")
    mail = approval_email(cloud.settings.outbox, retrain, timeout=DRIFT_WAIT_SECONDS)
    loop.say(f"its approval email is in the outbox: {mail}")
    report_uri = trigger.get("report_uri")
    report = _mirror_path(cloud.settings.s3_dir, str(report_uri)) if report_uri else None
    if report is not None:
        loop.say(f"drift report: {report}")
    return Retrain(started=trigger.get("source") == "drift", report=report)


def upload_held_back(cloud: LocalCloud, dataset: str, csv_path: Path) -> str:
    """Upload labelled data; its run's model is rejected through the email's link. Returns the run's name."""
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.upload_file(str(csv_path), bucket, f"data/{dataset}/{csv_path.name}")
    execution_arn = wait_for_execution(sfn, machine, known=known)

    def reject() -> bool:
        _, reject_url = approval_links(cloud.settings.outbox, execution_arn)
        decide_as_a_person(reject_url, approver=DEMO_APPROVER, reason="held back: the drift alarm decides")
        return True

    follow(sfn, execution_arn, show=lambda _: None, timeout=600, on_enter={APPROVAL_STATE: reject})
    return execution_arn.rsplit(":", 1)[-1]


def approval_email(outbox: Path, execution_arn: str, *, timeout: float = 60) -> Path:
    """The run's approval email in the outbox, once it is there."""
    approval_links(outbox, execution_arn, timeout=timeout)
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        text = path.read_text(errors="replace")
        if execution_arn in text and "/approvals/" in text:
            return path
    raise FileNotFoundError(f"the approval email of {execution_arn} left {outbox}")


AB_DEMO_PARAMETERS = {
    "ABTestMode": "Split",
    "ABTestChallengerShare": "0.5",
    "ABTestTrialMinutes": "1",
    "ABTestMinLabelledRows": "50",
}
"""What ``driftline demo --ab`` deploys the template with, on top of local mode's own parameters: an approved model
joins the serving one for a one-minute 50/50 trial, decided once each variant has 50 labelled rows."""
WEAK_HYPERPARAMETERS = {"max_iter": 1, "max_depth": 1}
"""The A/B demo's first model: one boosting round of a single split, which the default hyperparameters beat."""
AB_DEMO_METRIC = "accuracy"
AB_DEMO_THRESHOLD = 0.6
"""Low enough for the weak first model to pass the quality gate: the trial, not the gate, tells the models apart."""
AB_DEMO_SOURCES = (*DEMO_SOURCES, "trial")
TRIAL_STATE = "WaitForTrialEnd"
JOB_ENDED = ("Completed", "Failed", "Stopped")
"""The state a run waits in while its trial serves live traffic."""


class DemoFailed(Exception):
    """A step of the demo did not happen; the message says which, in one line, and what to do."""


def ab_dataset_config(dataset: str, hyperparameters: dict[str, int] | None) -> bytes:
    """The sample's ``dataset.json`` judged on accuracy (the trial's metric), with ``hyperparameters`` if given."""
    config = json.loads((SAMPLES_DIR / dataset / "dataset.json").read_text(encoding="utf-8"))
    config.update(metric=AB_DEMO_METRIC, threshold=AB_DEMO_THRESHOLD)
    if hyperparameters:
        config["hyperparameters"] = hyperparameters
    return (json.dumps(config, indent=2) + "\n").encode()


@dataclass(frozen=True)
class LabelledRequest:
    inference_id: str
    body: str
    """The row's features as a CSV line, in the model's order, without the target."""
    label: str


def labelled_requests(csv_path: Path, model: dict[str, Any], *, prefix: str, limit: int) -> list[LabelledRequest]:
    """The file's first ``limit`` rows as requests with an InferenceId each (``<prefix>-<line>``) and their label."""
    with csv_path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        positions = [header.index(str(name)) for name in model["feature_columns"]]
        target = header.index(str(model["target"]))
        return [
            LabelledRequest(f"{prefix}-{line}", ",".join(row[p] for p in positions), row[target])
            for line, row in zip(range(2, limit + 2), reader, strict=False)  # the header is line 1
        ]


def ground_truth_csv(target: str, requests: list[LabelledRequest]) -> bytes:
    """The labels as the trial analysis reads them: a CSV with ``inference_id`` and the target column."""
    body = io.StringIO()
    writer = csv.writer(body, lineterminator="\n")
    writer.writerow(["inference_id", target])
    writer.writerows([request.inference_id, request.label] for request in requests)
    return body.getvalue().encode()


def split_line(answered: dict[str, int]) -> str:
    """``AllTraffic answered 284 (49.9%), Challenger-v2 answered 285 (50.1%)``, variants in name order."""
    total = sum(answered.values()) or 1
    return ", ".join(f"{name} answered {count} ({count / total:.1%})" for name, count in sorted(answered.items()))


def local_clock(timestamp: str) -> str:
    """An ISO 8601 UTC time as the console's own stamps show time: the local ``HH:MM:SS``."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")


def _version(package_arn: str | None, model_name: str) -> str:
    return f"model version {package_arn.rsplit('/', 1)[-1]}" if package_arn else model_name


def trial_summary(trial: dict[str, Any], plan: dict[str, Any], endpoint: str, report: Path | None) -> str:
    """The run's ``trial`` (what the analysis decided) beside the trial it ran (``deployment.trial``)."""
    metric = str(trial["metric"])
    champion = (
        str(plan["champion_variant"]),
        "champion",
        _version(plan.get("champion_model_package_arn"), str(plan["champion_model_name"])),
    )
    challenger = (
        str(plan["challenger_variant"]),
        "challenger",
        _version(plan.get("challenger_model_package_arn"), str(plan["challenger_model_name"])),
    )
    minutes = int(plan["trial_minutes"])
    lines = [
        f"A/B trial on {endpoint}: {plan['mode']}, {plan['challenger_variant']} answered "
        f"{float(plan['challenger_share']):.0%} of requests for {minutes} minute{'s' if minutes != 1 else ''}",
    ]
    width = max(len(champion[0]), len(challenger[0]))
    for (variant, role, version), side in ((champion, "champion"), (challenger, "challenger")):
        value = trial.get(f"{side}_value")
        shown = f"{metric} {value:.4f}" if isinstance(value, int | float) else f"{metric} not measured"
        lines.append(
            f"  {variant:<{width}}  {role} ({version}): {shown} on {trial.get(f'{side}_rows', 0)} labelled rows"
        )
    p_value = trial.get("p_value")
    test = trial.get("test") or "no test"
    lines.append(f"  test: {test}" + (f", p-value {p_value:.3g}" if isinstance(p_value, int | float) else ""))
    lines.append(f"  decision: {trial['decision']}. {trial['reason']}")
    winner = challenger if trial["winner"] == "challenger" else champion
    lines.append(f"  winner: {winner[0]} ({winner[2]}), the {winner[1]}")
    lines.append(f"  report: {trial['report_uri']}")
    if report is not None:
        lines.append(f"          {report}")
    return "\n".join(lines)


def serving_line(cloud: LocalCloud, endpoint: str, winner_model: str) -> str:
    """What DescribeEndpoint (and its config's models) says the endpoint serves; DemoFailed unless the winner alone."""
    sagemaker = cloud.client("sagemaker")
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    models = {variant["VariantName"]: variant["ModelName"] for variant in config["ProductionVariants"]}
    variants = [variant["VariantName"] for variant in described["ProductionVariants"]]
    if described["EndpointStatus"] != "InService" or len(variants) != 1 or models.get(variants[0]) != winner_model:
        raise DemoFailed(
            f"{endpoint} is {described['EndpointStatus']} with variants {', '.join(variants)} "
            f"({', '.join(f'{name}: {model}' for name, model in models.items())}), not {winner_model} alone"
        )
    return (
        f"Endpoint {endpoint} (DescribeEndpoint): InService, config {described['EndpointConfigName']}, one variant "
        f"{variants[0]} serving {winner_model}: the winner alone"
    )


def what_next_after_trial(cloud: LocalCloud, dataset: str, target: str, report: Path | None) -> str:
    """Where to go from the A/B demo: local mode up with the same parameters (its saved state restores), then
    uploads and labels of one's own."""
    from driftline.local.settings import DEFAULT_PORT, LOCAL_PARAMETERS

    settings = cloud.settings
    bucket = cloud.outputs.get("DataBucketName", "<DataBucketName>")
    command = driftline_command()
    up = [command, "local", "up"]
    if settings.port != DEFAULT_PORT:
        up += ["--port", str(settings.port)]
    if settings.state_dir != (Path.cwd() / ".driftline").resolve():
        up += ["--state-dir", str(settings.state_dir)]
    overrides = [f"{key}={value}" for key, value in settings.parameters.items() if LOCAL_PARAMETERS.get(key) != value]
    if overrides:
        up += ["--parameter-overrides", *overrides]
    lines = ["What next:"]
    if report is not None:
        lines.append(f"  Open this trial's report: {report}")
    lines += [
        "  Keep local mode running with what the demo left (the same parameters, so its saved state restores):",
        f"    {' '.join(up)}",
        "  From another terminal, upload data to train a challenger to the model serving on its endpoint:",
        f"    export AWS_ENDPOINT_URL={settings.endpoint_url} AWS_DEFAULT_REGION={settings.region} "
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local",
        f"    aws s3 cp my.csv s3://{bucket}/data/{dataset}/my.csv",
        f"  Approve it ({command} approve <run>); while its trial runs, send requests with an InferenceId and "
        f"upload their labels (a CSV with the header inference_id,{target}); if it wins, promote it with the same "
        "command:",
        f"    aws s3 cp labels.csv s3://{bucket}/{_ground_truth_prefix(dataset)}labels.csv",
        f"  Its emails: {settings.outbox}/",
    ]
    return "\n".join(lines)


def _ground_truth_prefix(dataset: str) -> str:
    return str(layer_module("driftline_core.layout").ground_truth_prefix(dataset))


def run_ab_demo(cloud: LocalCloud, *, dataset: str, rows: int, scratch: Path) -> bool:
    """Two models of one dataset: the first serves, the second joins it for a split trial on labelled live traffic
    and the analysis decides who serves alone. False, with a line on stderr saying why, when a step fails."""
    cloud.console.only(AB_DEMO_SOURCES)
    try:
        trial = ABTrialDemo(cloud, dataset, scratch)
        report = trial.run(rows)
    except (DemoFailed, TimeoutError, OSError, ClientError, BotoCoreError) as error:
        print(f"driftline: demo --ab: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
        return False
    print()
    print(what_next_after_trial(cloud, dataset, trial.target, report))
    return True


class ABTrialDemo:
    """The steps of ``driftline demo --ab``, each saying what it did in a line."""

    def __init__(self, cloud: LocalCloud, dataset: str, scratch: Path) -> None:
        self.cloud = cloud
        self.dataset = dataset
        self.scratch = scratch
        self.bucket = cloud.outputs["DataBucketName"]
        self.prefix = cloud.outputs["ModelPackageGroupPrefix"]
        self.target = ""
        self.endpoint = ""
        self.model: dict[str, Any] = {}
        self.traffic_csv = scratch
        """The uploaded rows the trial's live traffic is made of."""
        self.traffic: list[LabelledRequest] = []
        self.answered: dict[str, int] = {}

    def say(self, source: str, text: str) -> None:
        self.cloud.console.line(source, text)

    def run(self, rows: int) -> Path | None:
        self.say(
            "demo",
            "an A/B trial end to end takes a few minutes: two runs of the pipeline, and a one-minute trial of the "
            "second model beside the first on the endpoint",
        )
        self.refuse_a_serving_endpoint()
        csv_path = write_sample(self.dataset, self.scratch, rows)
        self.say("demo", f"first model: {AB_DEMO_METRIC}, hyperparameters {json.dumps(WEAK_HYPERPARAMETERS)}")
        first = upload_and_follow(
            self.cloud, self.dataset, csv_path, config=ab_dataset_config(self.dataset, WEAK_HYPERPARAMETERS)
        )
        print()
        print(summary(self.cloud, first))
        print()
        deployment = self.succeeded(first, "the first run").get("deployment")
        if not deployment:
            raise DemoFailed(f"the first run {_name(first)} did not deploy its model: see its summary above")
        self.endpoint = str(deployment["endpoint_name"])
        registration = first.output["registration"]
        self.model = read_model_metadata(self.cloud, _model_data_url(self.cloud, registration["model_package_arn"]))
        self.target = str(self.model["target"])

        second_csv = self.scratch / f"{csv_path.stem}_v2{csv_path.suffix}"
        shutil.copyfile(csv_path, second_csv)
        self.traffic_csv = second_csv
        self.say("demo", f"second model: {AB_DEMO_METRIC}, the default hyperparameters")
        second = upload_and_follow(
            self.cloud,
            self.dataset,
            second_csv,
            config=ab_dataset_config(self.dataset, None),
            on_enter={TRIAL_STATE: self.during_trial},
        )
        print()
        print(summary(self.cloud, second))
        output = self.succeeded(second, "the second run")
        decided = output.get("trial")
        plan = (output.get("deployment") or {}).get("trial")
        if not self.answered or not decided or not plan:
            raise DemoFailed(
                f"the second run {_name(second)} ran no A/B trial: start the demo with --fresh, and leave ABTestMode "
                "out of --parameter-overrides"
            )
        report_uri = str(decided["report_uri"])
        report = _mirror_path(self.cloud.settings.s3_dir, report_uri)
        print()
        print(trial_summary(decided, plan, self.endpoint, report if report.exists() else None))
        winner_model = (
            plan["challenger_model_name"] if decided["winner"] == "challenger" else plan["champion_model_name"]
        )
        print(serving_line(self.cloud, self.endpoint, str(winner_model)))
        if decided["winner"] == "challenger":
            self.winner_baselined(str(plan["challenger_model_package_arn"]))
        return report if report.exists() else None

    def refuse_a_serving_endpoint(self) -> None:
        """The demo starts from a dataset with no endpoint: its first model must serve alone before the trial."""
        endpoint = layer_module("driftline_core.layout").endpoint_name(self.prefix, self.dataset)
        listed = self.cloud.client("sagemaker").list_endpoints(NameContains=endpoint)["Endpoints"]
        if any(item["EndpointName"] == endpoint for item in listed):
            raise DemoFailed(
                f"{endpoint} already serves a model in the state restored from {self.cloud.settings.state_dir}; "
                "the A/B demo starts from none: add --fresh"
            )

    def winner_baselined(self, package_arn: str) -> None:
        """A winning challenger's drift baseline job starts as its run ends; the demo waits for it, since stopping
        local mode stops its jobs and would leave the drift monitor nothing to compare the winner's traffic to."""
        version = int(package_arn.rsplit("/", 1)[-1])
        job = layer_module("driftline_core.layout").baseline_job_name(self.endpoint, version, stack=self.prefix)
        sagemaker = self.cloud.client("sagemaker")

        def summary() -> dict[str, Any] | None:
            listed = sagemaker.list_processing_jobs(NameContains=job)["ProcessingJobSummaries"]
            return next((item for item in listed if item["ProcessingJobName"] == job), None)

        def ended() -> dict[str, Any] | None:
            found = summary()
            return found if found and found["ProcessingJobStatus"] in JOB_ENDED else None

        if summary() is None:
            return  # no drift monitor on this stack
        self.say("demo", f"the drift monitor follows the winner: waiting for its baseline job {job} ...")
        ended_job: dict[str, Any] = _wait(f"the baseline job {job} ending", ended)
        if ended_job["ProcessingJobStatus"] != "Completed":
            reason = sagemaker.describe_processing_job(ProcessingJobName=job).get("FailureReason", "")
            status = ended_job["ProcessingJobStatus"]
            raise DemoFailed(f"the winner's drift baseline job {job} ended {status}: {reason}")
        self.say("demo", f"baseline job {job}: Completed")

    def succeeded(self, record: RunRecord, which: str) -> dict[str, Any]:
        if record.status != "SUCCEEDED":
            raise DemoFailed(f"{which} {_name(record)} ended {record.status}: {record.error}: {record.cause}")
        return record.output

    def during_trial(self, execution_arn: str) -> bool:
        """Live traffic while the trial runs: every row with an InferenceId, the variant that answered each counted,
        then the rows' labels uploaded where the trial analysis reads them."""
        sfn = self.cloud.client("stepfunctions")
        plan = _entered_input(sfn, execution_arn, TRIAL_STATE).get("deployment", {}).get("trial") or {}
        if not plan:
            raise DemoFailed(f"the run {execution_arn.rsplit(':', 1)[-1]} waits for a trial it does not describe")
        self.say(
            "trial",
            f"{plan['challenger_variant']} serves beside {plan['champion_variant']} on {self.endpoint} and answers "
            f"{float(plan['challenger_share']):.0%} of its requests until {local_clock(plan['ends_at'])}",
        )
        self.traffic = labelled_requests(
            self.traffic_csv, self.model, prefix=execution_arn.rsplit(":", 1)[-1], limit=TRAFFIC_ROWS
        )
        runtime = self.cloud.client("sagemaker-runtime")
        started = time.time()
        answered: dict[str, int] = {}
        for request in self.traffic:
            response = runtime.invoke_endpoint(
                EndpointName=self.endpoint,
                ContentType="text/csv",
                Body=request.body.encode(),
                InferenceId=request.inference_id,
            )
            variant = str(response["InvokedProductionVariant"])
            answered[variant] = answered.get(variant, 0) + 1
        self.answered = answered
        self.say(
            "trial",
            f"sent {len(self.traffic)} rows, each with an InferenceId, in {time.time() - started:.1f} s: "
            f"{split_line(answered)}",
        )
        key = f"{_ground_truth_prefix(self.dataset)}{execution_arn.rsplit(':', 1)[-1]}-labels.csv"
        self.cloud.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=ground_truth_csv(self.target, self.traffic)
        )
        self.say("trial", f"uploaded their labels (inference_id,{self.target}) to s3://{self.bucket}/{key}")
        self.say("trial", f"the trial ends at {local_clock(plan['ends_at'])}; then the analysis job decides ...")
        return True


def _entered_input(sfn: Any, execution_arn: str, state: str) -> dict[str, Any]:
    """The input of the run's latest entry into ``state``, from its history."""
    for event in reversed(execution_history(sfn, execution_arn)):
        details = event.get("stateEnteredEventDetails") or {}
        if details.get("name") == state:
            return dict(json.loads(details.get("input") or "{}"))
    return {}


def _name(record: RunRecord) -> str:
    return record.execution_arn.rsplit(":", 1)[-1]
