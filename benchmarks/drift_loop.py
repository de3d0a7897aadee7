"""Benchmark: local time from a drifted window's metric landing in CloudWatch to the retrain run starting.

Run: ``.venv/bin/python benchmarks/drift_loop.py``. Prints a Markdown section and, with ``--record``, appends
it to ``benchmarks/RESULTS.md`` with the machine and date.

In one local session (alarm periods scaled as local mode scales them, ``LocalSettings.alarm_period_scale``):
deploy the breast cancer sample, send in-distribution traffic (one window, alarm OK), upload a drifted labelled
copy (its run rejected, so the retrain has fresh data and no run in progress), then send the drifted copy as
traffic. Measured:

- metric landed: the first moment the emulator's CloudWatch holds a ``drifted_features`` datapoint above 0
  (PutMetricData of the drifted window), seen by polling its store every ``POLL_SECONDS``, so this moment is
  late by at most that much;
- alarm: the drift alarm's StateUpdatedTimestamp when it went to ALARM;
- retrain started: the retrain execution's ``startDate`` (DescribeExecution).

Goal: metric landed -> retrain started under 5 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import RESULTS, publish
from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

from driftline.local.console import Console
from driftline.local.demo import (
    DriftLoop,
    _model_data_url,
    read_model_metadata,
    send_traffic,
    traffic_rows,
    upload_and_follow,
    upload_held_back,
    write_drifted_sample,
    write_sample,
)
from driftline.local.emulator import LocalCloud
from driftline.local.settings import ACCOUNT_ID, LocalSettings

POLL_SECONDS = 0.01
GOAL_SECONDS = 5.0
DATASET = "breast-cancer"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MetricWatch:
    """Notes the first moment a ``drifted_features`` datapoint above 0 is in the emulator's CloudWatch."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.landed: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        backend = cloudwatch_backends[ACCOUNT_ID][self.region]
        while not self._stop.is_set() and self.landed is None:
            for datum in list(backend.metric_data):
                if isinstance(datum, MetricDatum) and datum.name == "drifted_features" and float(datum.value) > 0:
                    self.landed = time.time()
                    break
            time.sleep(POLL_SECONDS)


def measure() -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        settings = LocalSettings(port=free_port(), state_dir=folder / "state")
        cloud = LocalCloud(settings, Console(open(os.devnull, "w")))  # noqa: SIM115 - closed at exit
        cloud.start()
        try:
            csv_path = write_sample(DATASET, folder, 0)
            record = upload_and_follow(cloud, DATASET, csv_path)
            if record.status != "SUCCEEDED" or not record.output.get("deployment"):
                raise RuntimeError(f"the first run did not deploy: {record.status} {record.cause}")
            endpoint = str(record.output["deployment"]["endpoint_name"])
            model_uri = _model_data_url(cloud, record.output["registration"]["model_package_arn"])
            model = read_model_metadata(cloud, model_uri)
            loop = DriftLoop(cloud, DATASET, endpoint)
            send_traffic(cloud, endpoint, traffic_rows(csv_path, model))
            loop.next_window(drifted=False)
            loop.wait_for_alarm("OK")
            drifted = write_drifted_sample(DATASET, folder, 0)
            upload_held_back(cloud, DATASET, drifted)

            sfn, machine_arn = cloud.client("stepfunctions"), cloud.outputs["PipelineStateMachineArn"]
            known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine_arn)["executions"]}
            watch = MetricWatch(settings.region)
            watch.start()
            rows = traffic_rows(drifted, model)
            send_traffic(cloud, endpoint, rows * 2)
            loop.wait_for_alarm("ALARM")
            deadline = time.time() + 120
            retrain = None
            while retrain is None and time.time() < deadline:
                for execution in sfn.list_executions(stateMachineArn=machine_arn)["executions"]:
                    if execution["executionArn"] not in known:
                        retrain = execution["executionArn"]
                time.sleep(0.2)
            watch.stop()
            if retrain is None or watch.landed is None:
                raise RuntimeError("no retrain run started, or no drifted metric was seen")
            started = _epoch(sfn.describe_execution(executionArn=retrain)["startDate"])
            alarm = cloud.client("cloudwatch").describe_alarms(AlarmNames=[loop.alarm])["MetricAlarms"][0]
            alarmed = _epoch(alarm["StateUpdatedTimestamp"])
            period = float(alarm["Period"]) * settings.alarm_period_scale
        finally:
            cloud.stop()
    total = started - watch.landed
    verdict = "meets" if total < GOAL_SECONDS else "misses"
    return [
        f"- alarm {alarm['AlarmName']}: Period {alarm['Period']} s, {alarm['EvaluationPeriods']} evaluation "
        f"period(s); locally {period:g} s (scale {settings.alarm_period_scale:g})",
        f"- drifted window's metric landed -> retrain run started: **{total:.2f} s** ({verdict} the "
        f"{GOAL_SECONDS:g} s goal; the landing is seen by polling every {POLL_SECONDS * 1000:.0f} ms)",
        f"  - metric landed -> alarm ALARM (its StateUpdatedTimestamp): {(alarmed - watch.landed) * 1000:.0f} ms",
        f"  - alarm ALARM -> execution start: {(started - alarmed) * 1000:.0f} ms",
        f"- load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}",
    ]


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help=f"append the results to {RESULTS.name}")
    args = parser.parse_args()
    publish(["### Drift loop (local mode): drifted window's metric to retrain run", *measure()], record=args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
