"""Benchmark: local wall time from an upload to the first prediction of the model it trained.

Run: ``.venv/bin/python benchmarks/first_prediction.py``. Prints a Markdown section and, with ``--record``,
appends it to ``benchmarks/RESULTS.md`` with the machine and date.

One upload of the breast cancer sample into a freshly started local mode: the run trains, evaluates and
registers the model, its approval link is followed as soon as the email arrives (page, then form), the
endpoint is created, and the clock stops when InvokeEndpoint first answers with a prediction. The time is
split by pipeline state (from the run's history), with the SageMaker jobs and the endpoint's start named.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from machine import RESULTS, publish

from driftline import datasets
from driftline.local.console import Console
from driftline.local.demo import upload_and_follow
from driftline.local.emulator import LocalCloud
from driftline.local.settings import LocalSettings

DATASET = "breast-cancer"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def first_prediction() -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        csv_path = Path(scratch) / "breast_cancer.csv"
        rows = datasets.write_breast_cancer_csv(csv_path)
        first_row = csv_path.read_text().splitlines()[1].rsplit(",", 1)[0]
        console = Console()
        console.quiet = True
        cloud = LocalCloud(LocalSettings(port=free_port(), state_dir=Path(scratch) / "state"), console)
        cloud.start()
        try:
            runtime = cloud.client("sagemaker-runtime")
            uploaded = time.perf_counter()
            record = upload_and_follow(cloud, DATASET, csv_path, timeout=900, approve=True)
            run_ended = time.perf_counter()
            if record.status != "SUCCEEDED" or "deployment" not in record.output:
                raise RuntimeError(f"the run did not deploy: {record.status} {record.error} {record.cause}")
            endpoint = record.output["deployment"]["endpoint_name"]
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=first_row.encode()
            )["Body"].read()
            answered = time.perf_counter()
            jobs = dict(cloud.jobs.durations)
        finally:
            cloud.stop()
    total = answered - uploaded
    states = record.state_seconds
    in_states = sum(states.values())
    started = (run_ended - uploaded) - record.wall_seconds
    lines = [
        f"- data: the breast cancer sample, {rows} rows; approval: its emailed link followed at once",
        f"- upload -> first prediction: **{total:.1f} s** wall (answer: `{answer.decode().strip()[:40]}`)",
        f"  - upload -> run started (S3 event, EventBridge rule, StartRun): {started:.1f} s",
        f"  - run started -> run ended: {record.wall_seconds:.1f} s, of which {in_states:.1f} s inside states",
        f"  - run ended -> first answer (InvokeEndpoint, one row): {(answered - run_ended) * 1000:.0f} ms",
        "  - by state (seconds):",
    ]
    for state, seconds in sorted(states.items(), key=lambda item: -item[1]):
        if seconds >= 0.05:
            lines.append(f"    - {state}: {seconds:.2f}")
    for name, seconds in sorted(jobs.items()):
        lines.append(f"    - job {name}: {seconds:.1f} s")
    lines.append(
        "  - Deploy includes the endpoint's start (model.tar.gz downloaded and unpacked, server up, "
        "/ping healthy); RequestApproval includes fetching the email's link and posting its form"
    )
    lines.append(f"- load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    lines.append(
        f"- state transitions: {record.transitions}; local stack deploy (not counted): {cloud.deploy_seconds:.1f} s"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help=f"append the results to {RESULTS.name}")
    args = parser.parse_args()
    publish(
        ["### Upload to first prediction (benchmarks/first_prediction.py)", *first_prediction()], record=args.record
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
