"""Benchmark: the console's pages with history: 1,000 runs and a model group of 100 versions.

Run: ``.venv/bin/python benchmarks/console.py [--runs N] [--versions N] [--repeat N] [--record]``. Prints a Markdown
section; ``--record`` appends it to ``benchmarks/RESULTS.md`` with the machine and date.

The AWS side is moto's server on a loopback port (the emulator local mode runs, without local mode's executors):
the pipeline's state machine with ``--runs`` executions started (moto records them and answers their history
without running them; each is then marked ended as a run that deployed to the dataset's endpoint ends), one model
package group with ``--versions`` versions carrying the lineage Register writes (metric, value, run), every one
approved but the newest, and the dataset's endpoint. Each page is rendered by the console's own route
handler, which reads those APIs over HTTP as it does for a user; the figure is the median of ``--repeat`` renders
after one warm-up, beside the time of one ListExecutions call as a peer measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from machine import publish
from moto.server import ThreadedMotoServer

from driftline.console.app import ConsoleApp, Request
from driftline.stack_target import StackTarget

REPO_ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "driftline"
DATASET = "credit"
TARGET_SECONDS = 1.0


def seed(endpoint: str, runs: int, versions: int) -> tuple[str, str, str]:
    """The state machine with ``runs`` executions and a group with ``versions`` versions: (machine, a run, group)."""
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name=REGION)
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    definition = re.sub(r"\$\{[A-Za-z]+\}", "0", (REPO_ROOT / "statemachine" / "pipeline.asl.json").read_text())
    machine = sfn.create_state_machine(
        name=f"{STACK}-pipeline", definition=definition, roleArn="arn:aws:iam::123456789012:role/states"
    )["stateMachineArn"]
    names = []
    for index in range(runs):
        name = f"{DATASET}-{index:012x}"
        names.append(name)
        sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"dataset": DATASET}))
    sagemaker = session.client("sagemaker", endpoint_url=endpoint)
    group = f"{STACK}-{DATASET}"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    for index in range(versions):
        arn = sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [
                    {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1", "ModelDataUrl": "s3://b/m"}
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            CustomerMetadataProperties={
                "metric": "auc",
                "metric_value": repr(0.8 + 0.15 * index / max(versions, 1)),
                "execution_arn": f"{machine.replace(':stateMachine:', ':execution:')}:{names[index % len(names)]}",
            },
        )["ModelPackageArn"]
        if index < versions - 1:
            sagemaker.update_model_package(
                ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="Approved by ann"
            )
    serve(sagemaker, group)
    end_runs(group)
    return machine, names[-1], group


def serve(sagemaker: Any, endpoint: str) -> None:
    """The dataset's endpoint, serving its model on one variant."""
    model = f"{endpoint}-v1"
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1", "ModelDataUrl": "s3://b/m"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=model,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=model)


def end_runs(endpoint: str) -> None:
    """moto records executions without running them: each is marked ended as a run that deployed to ``endpoint``
    ends (its output's ``deployment``), so the endpoint's page finds every run of the dataset a deployment."""
    from moto.stepfunctions.models import stepfunctions_backends

    executions = [
        execution
        for machine in stepfunctions_backends[ACCOUNT][REGION].state_machines
        for execution in machine.executions
    ]
    for index, execution in enumerate(executions):
        execution.status = "SUCCEEDED"
        execution.stop_date = execution.start_date
        package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{endpoint}/{index + 1}"
        execution.output = json.dumps(
            {"deployment": {"endpoint_name": endpoint, "action": "updated", "model_package_arn": package}}
        )


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    action()  # warm-up: clients made, connections open
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        started = time.perf_counter()
        machine, run, group = seed(endpoint, args.runs, args.versions)
        seeded = time.perf_counter() - started
        session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name=REGION)
        target = StackTarget(
            stack_name=STACK,
            region=REGION,
            outputs={"PipelineStateMachineArn": machine, "ModelPackageGroupPrefix": STACK},
            session=session,
            endpoint_url=endpoint,
            state_dir=Path("/nonexistent"),
        )
        console = ConsoleApp(target, 8766, user="bench")

        def render(path: str) -> Callable[[], object]:
            def go() -> object:
                answer = console.route(Request("GET", path, {}, {}, b"", "s" * 32))
                if answer.status != 200:
                    raise SystemExit(f"{path} answered {answer.status}: {answer.body[:300]!r}")
                return answer

            return go

        sfn = target.client("stepfunctions")
        peer = median_seconds(lambda: sfn.list_executions(stateMachineArn=machine, maxResults=1000), args.repeat)
        pages = {
            f"/runs ({args.runs} runs, the newest 100 listed)": "/runs",
            "/runs/<run> (moto's own short history, drawn on the graph of 42 states)": f"/runs/{run}",
            "/models": "/models",
            f"/models/<group> ({args.versions} versions plotted)": f"/models/{group}",
            "/endpoints/<endpoint> (its variant's metrics; its deployments: 60 of the newest 200 runs described)": (
                f"/endpoints/{group}"
            ),
        }
        lines = [
            f"### Console pages with history (benchmarks/console.py, moto server on loopback, median of {args.repeat})",
            f"- seeded {args.runs} runs and {args.versions} model versions in {seeded:.1f} s (not counted)",
            f"- peer: one ListExecutions call of 1,000 runs: {peer * 1000:.0f} ms",
        ]
        slowest = 0.0
        for shown, path in pages.items():
            seconds = median_seconds(render(path), args.repeat)
            slowest = max(slowest, seconds)
            lines.append(f"- {shown}: **{seconds * 1000:.0f} ms** ({seconds / peer:.1f}x the peer)")
        verdict = "under" if slowest < TARGET_SECONDS else "OVER"
        lines.append(f"- slowest page {slowest * 1000:.0f} ms: {verdict} the {TARGET_SECONDS:.0f} s target")
        publish(lines, record=args.record)
        return 0 if slowest < TARGET_SECONDS else 1
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
