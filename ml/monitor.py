"""Drift monitor job: compare a window of endpoint data capture with the baseline, as Model Monitor does.

Runs as a SageMaker Processing job (``python3 monitor.py``) with the capture files of one window, the
baseline's ``statistics.json`` and ``constraints.json`` (written by ``baseline.py``) as inputs. It reads the
same environment Model Monitor gives a monitoring container, so it can also run as one:
``dataset_source`` (capture folder), ``output_path``, ``baseline_statistics``, ``baseline_constraints``,
``sagemaker_endpoint_name``, ``sagemaker_monitoring_schedule_name``, ``start_time``, ``end_time`` and
``publish_cloudwatch_metrics``; arguments override the folders.

The window is [``start_time``, ``end_time``): capture files sit in clock-hour folders, so the job is given every
hour folder the window touches and analyses only the records whose ``eventMetadata.inferenceTime`` falls in it.
Records outside it are counted in the outputs, a record whose inferenceTime cannot be read is counted as
unreadable, and a window with neither variable set analyses every record it is given.

Outputs, in the output folder: ``constraint_violations.json``, the window's ``statistics.json``,
``drift_report.html`` (self-contained) and ``cloudwatch_metrics.json`` (a PutMetricData request:
``feature_baseline_drift_<feature>`` with the dimensions Endpoint and MonitoringSchedule, and
``drifted_features``, how many features failed the drift check, which drift alarms watch). When
``DRIFTLINE_METRICS_NAMESPACE`` is set the job publishes those metrics to CloudWatch itself; when
``publish_cloudwatch_metrics`` is ``Enabled`` it also writes them where Model Monitor collects a container's
metrics (``/opt/ml/output/metrics/cloudwatch``).

Sharding: with several instances and the capture input distributed ``ShardedByS3Key``, each instance reads
its share. ``--mode auto`` (the default) then writes only the shard's summary, ``shards/statistics-<host>.json``
(hosts from ``/opt/ml/config/resourceconfig.json``), and a second job with ``--mode merge`` reads every
shard's summary and writes the outputs above. On one instance ``auto`` writes the outputs directly.
Summaries merge exactly (counts, moments) or within the sketch's error bound (quantiles), so a sharded
window gets the single-instance verdict.

Bad records never fail the job, whatever a client sent (see ``driftline_ml/capture.py``): they are counted by
reason, the first of them named by file and line, in ``statistics.json`` (``driftline.malformed_records`` and
``malformed_examples``), the report and the job's log. A window with no readable rows in it reports "no data" and
publishes no drift metric.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

from driftline_ml.capture import TimeWindow, capture_files, summarise_capture
from driftline_ml.drift import (
    Analysis,
    DriftInputError,
    WindowSummary,
    compare,
    metric_data,
    statistics_document,
    summary_from_statistics,
    violations_document,
)
from driftline_ml.drift_report import render
from driftline_ml.jobs import JobInputError, hosts, output_dir, processing_dir, read_json, run_job, write_json

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
REPORT_FILE = "drift_report.html"
METRICS_FILE = "cloudwatch_metrics.json"
SHARDS_FOLDER = "shards"
NAMESPACE_VARIABLE = "DRIFTLINE_METRICS_NAMESPACE"
DRIFTED_FEATURES_METRIC = "drifted_features"
"""Features failing the baseline drift check in a window; driftline_core.drift.alarms alarms on it."""
METRICS_PER_REQUEST = 1000
"""PutMetricData takes at most 1,000 metrics per request."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    environ = os.environ
    inputs = processing_dir() / "input"
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--mode", choices=("auto", "shard", "merge"), default="auto")
    parser.add_argument("--capture-dir", type=Path, default=Path(environ.get("dataset_source") or inputs / "capture"))
    parser.add_argument("--shards-dir", type=Path, default=inputs / SHARDS_FOLDER)
    parser.add_argument("--baseline-dir", type=Path, default=inputs / "baseline")
    parser.add_argument(
        "--output-dir", type=Path, default=Path(environ.get("output_path") or processing_dir() / "output" / "monitor")
    )
    parser.add_argument("--message-file", type=Path, default=output_dir() / "message")
    parser.add_argument("--resource-config", type=Path, default=output_dir().parent / "config" / "resourceconfig.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_job(lambda: monitor(args), what="Drift monitoring", reason_file=args.message_file)


def baseline_files(folder: Path) -> tuple[Path, Path]:
    """The baseline's statistics and constraints: Model Monitor's variables first, else the baseline folder."""
    environ = os.environ
    statistics = Path(environ.get("baseline_statistics") or folder / STATISTICS_FILE)
    constraints = Path(environ.get("baseline_constraints") or folder / CONSTRAINTS_FILE)
    for path, what in ((statistics, "statistics"), (constraints, "constraints")):
        if not path.is_file():
            raise JobInputError(
                f"the baseline {what} file {path} does not exist; run the baseline job (baseline.py) for the "
                "deployed model and give its output as the monitor's baseline input"
            )
    return statistics, constraints


def monitor(args: argparse.Namespace) -> None:
    statistics_path, constraints_path = baseline_files(args.baseline_dir)
    try:
        baseline = summary_from_statistics(read_json(statistics_path), statistics_path.name)
    except DriftInputError as error:
        raise JobInputError(str(error)) from error
    constraints = read_json(constraints_path)
    if not isinstance(constraints, dict):
        raise JobInputError(f"{constraints_path.name} must be a JSON object in Model Monitor's constraints format")

    if args.mode == "merge":
        current = merge_shards(args.shards_dir, baseline)
    else:
        window = capture_window()
        files = capture_files(args.capture_dir)
        within = f", records from {window.describe()}" if window else ""
        print(f"Reading {len(files)} capture files from {args.capture_dir}{within}")
        current = summarise_capture(files, baseline.specs, window=window)
        host, all_hosts = hosts(args.resource_config)
        if args.mode == "shard" or len(all_hosts) > 1:
            shard = args.output_dir / SHARDS_FOLDER / f"statistics-{host}.json"
            write_json(shard, statistics_document(current))
            print(f"Shard {host} of {len(all_hosts)}: {current.rows} rows summarised to {shard}")
            return
    analysis = write_outputs(args.output_dir, baseline, constraints, current)
    if analysis.violations:
        # Model Monitor's analyzer ends a window with violations this way; the job's ExitMessage shows it.
        args.message_file.parent.mkdir(parents=True, exist_ok=True)
        args.message_file.write_text(
            f"CompletedWithViolations: Job completed successfully with {len(analysis.violations)} violations.",
            encoding="utf-8",
        )


def capture_window() -> TimeWindow | None:
    """The window Model Monitor's ``start_time`` and ``end_time`` name; None when neither is set."""
    environ = os.environ
    try:
        return TimeWindow.between(environ.get("start_time"), environ.get("end_time"))
    except ValueError as error:
        raise JobInputError(
            f"{error}: the monitoring job's environment must name its window in ISO 8601 UTC times"
        ) from error


def merge_shards(folder: Path, baseline: WindowSummary) -> WindowSummary:
    shards = sorted(folder.rglob("statistics*.json")) if folder.is_dir() else []
    if not shards:
        raise JobInputError(
            f"no shard summaries (statistics-<host>.json) under {folder}; give the shard jobs' output as the "
            "merge job's shards input"
        )
    merged = WindowSummary.empty_like(baseline.specs)
    for path in shards:
        try:
            merged.merge(summary_from_statistics(read_json(path), path.name))
        except DriftInputError as error:
            raise JobInputError(f"shard summary {path.name}: {error}") from error
    print(f"Merged {len(shards)} shard summaries: {merged.rows} rows")
    return merged


def write_outputs(
    folder: Path, baseline: WindowSummary, constraints: dict[str, Any], current: WindowSummary
) -> Analysis:
    try:
        analysis = compare(baseline, constraints, current)
    except DriftInputError as error:
        raise JobInputError(str(error)) from error
    environ = os.environ
    endpoint = environ.get("sagemaker_endpoint_name", "")
    schedule = environ.get("sagemaker_monitoring_schedule_name", "")
    window = " to ".join(t for t in (environ.get("start_time", ""), environ.get("end_time", "")) if t)
    write_json(folder / VIOLATIONS_FILE, violations_document(analysis))
    write_json(folder / STATISTICS_FILE, statistics_document(current))
    (folder / REPORT_FILE).write_text(
        render(analysis, baseline, current, endpoint=endpoint, schedule=schedule, window=window), encoding="utf-8"
    )
    emit = (constraints.get("monitoring_config") or {}).get("emit_metrics", "Enabled") != "Disabled"
    data = metric_data(analysis, endpoint, schedule, metric_timestamp()) if emit else []
    if data:
        data.append(drifted_features_datum(analysis, data[0]))
    namespace = environ.get(NAMESPACE_VARIABLE, "")
    write_json(folder / METRICS_FILE, {"Namespace": namespace, "MetricData": data})
    if environ.get("publish_cloudwatch_metrics") == "Enabled":
        collected = output_dir() / "metrics" / "cloudwatch" / "metrics.jsonl"
        collected.parent.mkdir(parents=True, exist_ok=True)
        collected.write_text("".join(json.dumps(datum) + "\n" for datum in data), encoding="utf-8")

    outside = f" ({current.outside_window} of them outside the window {window})" if current.outside_window else ""
    if analysis.no_data:
        print(f"No data: {current.records} capture records read{outside}, none with rows to analyse in the window")
    else:
        if outside:
            print(f"{current.records} capture records read{outside}")
        drifted = analysis.drifted_features
        print(f"{current.rows} rows analysed; drift in {len(drifted)} features: {', '.join(drifted) or 'none'}")
    if current.malformed:
        print(f"{current.malformed_records} capture records could not be read: {current.malformed}")
        for example in current.malformed_examples:
            print(f"  not read: {example}")
    print(f"{len(analysis.violations)} violations; outputs in {folder}")
    if namespace and data:
        publish_metrics(data, namespace)
        print(f"Published {len(data)} metrics to CloudWatch namespace {namespace}")
    return analysis


def drifted_features_datum(analysis: Analysis, like: dict[str, Any]) -> dict[str, Any]:
    """How many features failed the baseline drift check: the one metric a drift alarm watches.

    Per-feature metric names differ by dataset and thresholds differ by feature (constraints.json), so an
    alarm on the monitor's own verdict needs one aggregate; it is published with every analysed window,
    0 included, so the alarm returns to OK when drift ends.
    """
    drifted = {v["feature_name"] for v in analysis.violations if v["constraint_check_type"] == "baseline_drift_check"}
    return {**like, "MetricName": DRIFTED_FEATURES_METRIC, "Value": float(len(drifted)), "Unit": "Count"}


def metric_timestamp() -> str:
    """The window's end (Model Monitor's ``end_time``) or, when unset or unreadable, now; in UTC."""
    environ = os.environ
    end = environ.get("end_time", "").replace(" ", "")
    try:
        parsed = datetime.datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        parsed = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (Python 3.9 has no datetime.UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)  # noqa: UP017
    return parsed.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017


def publish_metrics(data: list[dict[str, Any]], namespace: str, cloudwatch: Any = None) -> None:
    """PutMetricData in batches, timestamps as datetimes (boto3 serialises them)."""
    if cloudwatch is None:
        import boto3

        cloudwatch = boto3.client("cloudwatch")
    for start in range(0, len(data), METRICS_PER_REQUEST):
        batch = [
            {**datum, "Timestamp": datetime.datetime.fromisoformat(datum["Timestamp"].replace("Z", "+00:00"))}
            for datum in data[start : start + METRICS_PER_REQUEST]
        ]
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)


if __name__ == "__main__":
    sys.exit(main())
