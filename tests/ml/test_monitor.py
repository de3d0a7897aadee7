"""The drift monitor job run as SageMaker runs it, on data capture files in SageMaker's record format."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from driftline_ml.drift import CHECK_TYPES, distance_error_bound
from tests.monitor_data import FEATURES, ML_DIR, PLANS, capture_record, csv_rows, features


def write_capture(folder: Path, lines: list[str], files: int = 1) -> None:
    """Lines spread over ``files`` files in SageMaker's <endpoint>/<variant>/yyyy/mm/dd/hh/ layout."""
    hour = folder / "credit-endpoint" / "AllTraffic" / "2026" / "11" / "20" / "10"
    hour.mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(np.array_split(np.array(lines, dtype=object), files)):
        (hour / f"capture-{index}.jsonl").write_text("".join(part))


def run_monitor(
    root: Path, baseline: Path, *extra: str, env: dict[str, str] | None = None, resource_hosts: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    config = root / "resourceconfig.json"
    hosts = resource_hosts or ["algo-1"]
    config.write_text(json.dumps({"current_host": hosts[0], "hosts": hosts}))
    args = ["--capture-dir", root / "capture", "--baseline-dir", baseline, "--output-dir", root / "out"]
    args += ["--message-file", root / "message", "--resource-config", config]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AWS_"))}
    environ |= {
        "sagemaker_endpoint_name": "credit-endpoint",
        "sagemaker_monitoring_schedule_name": "credit-hourly",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, str(ML_DIR / "monitor.py"), *map(str, args), *extra],
        capture_output=True,
        text=True,
        check=False,
        env=environ,
    )


def outputs(root: Path) -> dict[str, Any]:
    out = root / "out"
    return {
        "violations": json.loads((out / "constraint_violations.json").read_text())["violations"],
        "statistics": json.loads((out / "statistics.json").read_text()),
        "metrics": json.loads((out / "cloudwatch_metrics.json").read_text()),
        "report": (out / "drift_report.html").read_text(),
    }


def drift_values(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        d["MetricName"].removeprefix("feature_baseline_drift_"): d["Value"]
        for d in metrics["MetricData"]
        if d["MetricName"].startswith("feature_baseline_drift_")
    }


def drifted_features_count(metrics: dict[str, Any]) -> float:
    (count,) = [d["Value"] for d in metrics["MetricData"] if d["MetricName"] == "drifted_features"]
    return float(count)


def test_in_distribution_traffic_reports_no_violation(tmp_path: Path, baseline_dir: Path) -> None:
    write_capture(tmp_path / "capture", [capture_record(row) for row in csv_rows(features(3000, seed=2))], files=3)
    result = run_monitor(tmp_path, baseline_dir)
    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    assert found["violations"] == []
    assert all(value < 0.1 for value in drift_values(found["metrics"]).values())
    assert drifted_features_count(found["metrics"]) == 0  # published at 0 too, so a drift alarm returns to OK
    assert "No drift" in found["report"]
    assert not (tmp_path / "message").exists()  # the job's exit message stays empty


def test_shifted_traffic_is_a_baseline_drift_violation_naming_the_shifted_features(
    tmp_path: Path, baseline_dir: Path
) -> None:
    write_capture(tmp_path / "capture", [capture_record(row) for row in csv_rows(features(3000, seed=3, shifted=True))])
    result = run_monitor(tmp_path, baseline_dir)
    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    drifted = {v["feature_name"] for v in found["violations"] if v["constraint_check_type"] == "baseline_drift_check"}
    assert drifted == {"income", "plan"}
    assert all("exceeds threshold: 0.1" in v["description"] for v in found["violations"])
    values = drift_values(found["metrics"])
    assert values["income"] > 0.3 and values["plan"] > 0.25 and values["age"] < 0.1 and values["ratio"] < 0.1
    assert drifted_features_count(found["metrics"]) == 2
    assert "Drift in 2 of 4 features: income, plan" in found["report"]
    # the exit message Model Monitor's analyzer gives a window with violations
    assert (
        tmp_path / "message"
    ).read_text() == "CompletedWithViolations: Job completed successfully with 2 violations."


def test_outputs_parse_in_model_monitors_formats(tmp_path: Path, baseline_dir: Path) -> None:
    write_capture(tmp_path / "capture", [capture_record(row) for row in csv_rows(features(500, seed=4, shifted=True))])
    env = {"end_time": "2026-11-20T11:00:00Z"}
    assert run_monitor(tmp_path, baseline_dir, env=env).returncode == 0
    found = outputs(tmp_path)
    for violation in found["violations"]:
        assert set(violation) == {"feature_name", "constraint_check_type", "description"}
        assert violation["constraint_check_type"] in CHECK_TYPES
    statistics = found["statistics"]
    assert statistics["version"] == 0 and statistics["dataset"]["item_count"] == 500
    for feature in statistics["features"]:
        assert {"name", "inferred_type"} <= set(feature)
        block = (
            feature["numerical_statistics"] if feature["inferred_type"] != "String" else feature["string_statistics"]
        )
        assert set(block["common"]) == {"num_present", "num_missing"}
    metrics = found["metrics"]
    assert set(metrics) == {"Namespace", "MetricData"}
    assert [d["MetricName"] for d in metrics["MetricData"]] == [
        *(f"feature_baseline_drift_{f}" for f in FEATURES),
        "drifted_features",
    ]
    for datum in metrics["MetricData"]:
        assert datum["Dimensions"] == [
            {"Name": "Endpoint", "Value": "credit-endpoint"},
            {"Name": "MonitoringSchedule", "Value": "credit-hourly"},
        ]
        assert datum["Timestamp"] == "2026-11-20T11:00:00Z" and isinstance(datum["Value"], float)
    report = found["report"]
    assert report.startswith("<!DOCTYPE html>") and report.count("<svg") == len(FEATURES)
    assert "<script" not in report and "http://" not in report.replace("http://www.w3.org/2000/svg", "")


def test_malformed_records_are_counted_and_the_rest_analysed(tmp_path: Path, baseline_dir: Path) -> None:
    good = [capture_record(row) for row in csv_rows(features(400, seed=5))]
    bad = [
        "{not json\n",
        json.dumps({"captureData": {"endpointOutput": {"data": "0.3"}}}) + "\n",
        capture_record("!!!", encoding="BASE64"),
        capture_record("x", content_type="image/png"),
    ]
    write_capture(tmp_path / "capture", good[:200] + bad + good[200:])
    result = run_monitor(tmp_path, baseline_dir)
    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    extra = found["statistics"]["driftline"]
    assert extra["records"] == 404 and found["statistics"]["dataset"]["item_count"] == 400
    assert extra["malformed_records"] == {
        "endpointInput.data is not base64-encoded UTF-8 text": 1,
        "no captureData.endpointInput.data": 1,
        "not a JSON object": 1,
        "unsupported content type 'image/png'": 1,
    }
    assert "4 capture records could not be read" in found["report"]
    assert "capture-0.jsonl line 201" in found["report"]


def test_an_empty_window_reports_no_data_not_drift(tmp_path: Path, baseline_dir: Path) -> None:
    (tmp_path / "capture").mkdir()
    result = run_monitor(tmp_path, baseline_dir)
    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    assert found["violations"] == [] and found["metrics"]["MetricData"] == []
    assert "No data" in found["report"] and found["statistics"]["dataset"]["item_count"] == 0


def test_rows_with_too_few_or_too_many_columns_are_missing_and_extra_column_violations(
    tmp_path: Path, baseline_dir: Path
) -> None:
    rows = csv_rows(features(300, seed=6))
    short = [capture_record(",".join(row.split(",")[:2])) for row in rows[:20]]
    long = [capture_record(row + ",1,2") for row in rows[20:25]]
    write_capture(tmp_path / "capture", short + long + [capture_record(row) for row in rows[25:]])
    result = run_monitor(tmp_path, baseline_dir)
    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    checks = {(v["constraint_check_type"], v["feature_name"]): v["description"] for v in found["violations"]}
    assert set(checks) == {
        ("missing_column_check", "ratio"),
        ("missing_column_check", "plan"),
        ("extra_column_check", "column 5"),
        ("extra_column_check", "column 6"),
    }
    assert checks[("missing_column_check", "ratio")].startswith("20 of 300 rows lack column 'ratio'")
    assert found["statistics"]["dataset"]["item_count"] == 275


def test_json_and_base64_requests_are_read_like_csv_ones(tmp_path: Path, baseline_dir: Path) -> None:
    frame = features(300, seed=7)
    rows = csv_rows(frame)
    lines = [capture_record(base64.b64encode(r.encode()).decode(), encoding="BASE64") for r in rows[:100]]
    instances = [[float(v) if i < 3 else v for i, v in enumerate(r.split(","))] for r in rows[100:200]]
    lines.append(capture_record(json.dumps({"instances": instances}), content_type="application/json", encoding="JSON"))
    objects = [dict(zip(FEATURES, r.split(","), strict=True)) for r in rows[200:]]
    lines.append(capture_record(json.dumps(objects), content_type="application/json", encoding="JSON"))
    write_capture(tmp_path / "capture", lines)
    assert run_monitor(tmp_path, baseline_dir).returncode == 0
    statistics = outputs(tmp_path)["statistics"]
    assert statistics["dataset"]["item_count"] == 300 and statistics["driftline"]["malformed_records"] == {}
    income = next(f for f in statistics["features"] if f["name"] == "income")["numerical_statistics"]
    assert income["mean"] == pytest.approx(frame["income"].mean(), abs=1e-5)
    plan = next(f for f in statistics["features"] if f["name"] == "plan")["string_statistics"]
    counts = {b["value"]: b["count"] for b in plan["distribution"]["categorical"]["buckets"]}
    assert counts == frame["plan"].map(dict(enumerate(PLANS))).value_counts().to_dict()


def test_three_shards_merged_give_the_single_instance_verdict_within_the_sketch_bound(
    tmp_path: Path, baseline_dir: Path
) -> None:
    lines = [capture_record(row) for row in csv_rows(features(9000, seed=8, shifted=True))]
    single = tmp_path / "single"
    write_capture(single / "capture", lines, files=3)
    assert run_monitor(single, baseline_dir).returncode == 0
    hosts = ["algo-1", "algo-2", "algo-3"]
    merge = tmp_path / "merge"
    for index, host in enumerate(hosts):
        shard = tmp_path / host
        write_capture(shard / "capture", lines[index::3])
        ordered = [host, *[h for h in hosts if h != host]]
        result = run_monitor(shard, baseline_dir, resource_hosts=ordered)
        assert result.returncode == 0, result.stderr
        assert not (shard / "out" / "constraint_violations.json").exists()
        shard_file = shard / "out" / "shards" / f"statistics-{host}.json"
        (merge / "capture").mkdir(parents=True, exist_ok=True)
        (merge / "shards").mkdir(exist_ok=True)
        (merge / "shards" / shard_file.name).write_bytes(shard_file.read_bytes())
    result = run_monitor(merge, baseline_dir, "--mode", "merge", "--shards-dir", str(merge / "shards"))
    assert result.returncode == 0, result.stderr

    one, merged = outputs(single), outputs(merge)
    verdict = {(v["feature_name"], v["constraint_check_type"]) for v in one["violations"]}
    assert verdict == {(v["feature_name"], v["constraint_check_type"]) for v in merged["violations"]}
    assert verdict == {("income", "baseline_drift_check"), ("plan", "baseline_drift_check")}
    single_values, merged_values = drift_values(one["metrics"]), drift_values(merged["metrics"])
    for name in FEATURES:
        assert abs(single_values[name] - merged_values[name]) <= 2 * distance_error_bound()
    assert merged["statistics"]["dataset"] == one["statistics"]["dataset"] == {"item_count": 9000}


@pytest.fixture
def cloudwatch(aws: None) -> Iterator[Any]:
    yield boto3.client("cloudwatch")


def test_metrics_are_published_to_cloudwatch_under_the_given_namespace(
    tmp_path: Path, baseline_dir: Path, cloudwatch: Any
) -> None:
    import monitor

    write_capture(tmp_path / "capture", [capture_record(row) for row in csv_rows(features(300, seed=9))])
    assert run_monitor(tmp_path, baseline_dir).returncode == 0
    data = outputs(tmp_path)["metrics"]["MetricData"]
    monitor.publish_metrics(data, "Driftline/DataDrift", cloudwatch)
    listed = cloudwatch.list_metrics(Namespace="Driftline/DataDrift")["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == sorted(
        ["drifted_features", *(f"feature_baseline_drift_{f}" for f in FEATURES)]
    )
    assert all(
        m["Dimensions"]
        == [{"Name": "Endpoint", "Value": "credit-endpoint"}, {"Name": "MonitoringSchedule", "Value": "credit-hourly"}]
        for m in listed
    )


def test_requests_the_endpoint_answers_are_read_as_it_reads_them(tmp_path: Path, baseline_dir: Path) -> None:
    """A header row naming the features is skipped, and a JSON object that leaves a feature out has a missing
    value there, as the serving program treats them; neither is a column violation."""
    rows = csv_rows(features(300, seed=8))
    lines = [capture_record(",".join(FEATURES) + "\n" + row) for row in rows[:100]]
    objects = [dict(zip(FEATURES[:3], row.split(",")[:3], strict=True)) for row in rows[100:150]]
    lines.append(capture_record(json.dumps({"instances": objects}), content_type="application/json", encoding="JSON"))
    lines += [capture_record(row) for row in rows[150:]]
    write_capture(tmp_path / "capture", lines)

    result = run_monitor(tmp_path, baseline_dir)

    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    assert found["statistics"]["dataset"]["item_count"] == 300
    assert {v["constraint_check_type"] for v in found["violations"]} <= {"completeness_check"}
    plan = next(f for f in found["statistics"]["features"] if f["name"] == "plan")
    assert plan["string_statistics"]["common"]["num_missing"] == 50
    income = next(f for f in found["statistics"]["features"] if f["name"] == "income")
    assert income["numerical_statistics"]["common"]["num_missing"] == 0


# Windows: records selected by their inferenceTime --------------------------------------------------------

SENT_PER_MINUTE = {(10, 57): 30, (10, 58): 0, (10, 59): 50, (11, 0): 40, (11, 1): 20}
"""Requests sent in each minute around 11:00 UTC on 20 November 2026 (none at 10:58)."""


def _inference_time(hour: int, minute: int, second: int, index: int) -> str:
    """The time as SageMaker writes it, with now and then a fraction or an offset the decoder has to read."""
    text = f"2026-11-20T{hour:02d}:{minute:02d}:{second:02d}"
    if index % 11 == 3:
        return text + ".5Z"
    if index % 13 == 4:
        return text + "+00:00"
    return text + "Z"


@pytest.fixture(scope="module")
def boundary_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[datetime]]:
    """The requests of ``SENT_PER_MINUTE`` as data capture files them: each in the folder of its hour, except a
    file of the 10 o'clock folder that also holds the first requests after 11:00 (a file spans a few minutes);
    most in SageMaker's compact layout, some spaced (read by the JSON decoder). Returns the capture's root
    folder and when each request was sent."""
    root = tmp_path_factory.mktemp("boundary")
    rows = iter(csv_rows(features(sum(SENT_PER_MINUTE.values()), seed=11)))
    files: dict[str, list[str]] = {}
    sent: list[datetime] = []
    index = 0
    for (hour, minute), count in SENT_PER_MINUTE.items():
        for i in range(count):
            second = i * 60 // count
            moment = datetime(2026, 11, 20, hour, minute, second, tzinfo=UTC)
            sent.append(moment)
            line = capture_record(
                next(rows), inference_time=_inference_time(hour, minute, second, index), compact=index % 5 != 0
            )
            # the late file holds 10:59:45 to 11:00:14: written before the 10 o'clock file was closed
            late = (hour, minute, second // 15) in {(10, 59, 3), (11, 0, 0)}
            name = "10/capture-late.jsonl" if late else f"{hour}/a.jsonl"
            files.setdefault(name, []).append(line)
            index += 1
    for name, lines in files.items():
        path = root / "capture" / "credit-endpoint" / "AllTraffic" / "2026" / "11" / "20" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines))
    return root / "capture", sent


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-20T10:57:00Z", "2026-11-20T10:58:00Z"),
        ("2026-11-20T10:59:00Z", "2026-11-20T11:00:00Z"),
        ("2026-11-20T11:00:00Z", "2026-11-20T11:01:00Z"),
        ("2026-11-20T10:59:30Z", "2026-11-20T11:00:30Z"),  # a scaled window across the hour
        ("2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z"),  # the whole hour before 11:00
    ],
)
def test_each_window_analyses_exactly_the_requests_sent_in_it(
    tmp_path: Path, baseline_dir: Path, boundary_capture: tuple[Path, list[datetime]], start: str, end: str
) -> None:
    capture, sent = boundary_capture
    (tmp_path / "capture").symlink_to(capture, target_is_directory=True)
    low, high = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, end))
    expected = sum(1 for moment in sent if low <= moment < high)

    result = run_monitor(tmp_path, baseline_dir, env={"start_time": start, "end_time": end})

    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    statistics = found["statistics"]
    assert statistics["dataset"]["item_count"] == expected
    assert statistics["driftline"]["records"] == len(sent)
    assert statistics["driftline"]["records_outside_window"] == len(sent) - expected
    assert statistics["driftline"]["malformed_records"] == {}
    assert [d["Timestamp"] for d in found["metrics"]["MetricData"] if d["MetricName"] == "drifted_features"] == [end]
    assert f"{len(sent) - expected} capture records outside the window, not analysed" in found["report"]


def test_a_window_without_requests_is_no_data_though_its_hour_has_some(
    tmp_path: Path, baseline_dir: Path, boundary_capture: tuple[Path, list[datetime]]
) -> None:
    capture, sent = boundary_capture
    (tmp_path / "capture").symlink_to(capture, target_is_directory=True)

    result = run_monitor(
        tmp_path, baseline_dir, env={"start_time": "2026-11-20T10:58:00Z", "end_time": "2026-11-20T10:59:00Z"}
    )

    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    assert found["metrics"]["MetricData"] == []  # nothing published: the alarm treats the window as missing data
    assert found["violations"] == [] and not (tmp_path / "message").exists()
    assert found["statistics"]["dataset"]["item_count"] == 0
    assert found["statistics"]["driftline"]["records_outside_window"] == len(sent)
    assert "No data" in found["report"]
    assert f"No data: {len(sent)} capture records read ({len(sent)} of them outside the window" in result.stdout


def test_records_without_a_readable_inference_time_are_named_and_the_window_read(
    tmp_path: Path, baseline_dir: Path
) -> None:
    rows = csv_rows(features(300, seed=12))
    lines = [capture_record(row, inference_time="2026-11-20T10:15:00Z", compact=True) for row in rows]
    lines[10] = capture_record(rows[10], inference_time=None, compact=True)
    lines[20] = capture_record(rows[20], inference_time="yesterday")
    lines[30] = capture_record(rows[30], inference_time="2026-11-20T09:59:59Z", compact=True)
    write_capture(tmp_path / "capture", lines)

    env = {"start_time": "2026-11-20T10:00:00Z", "end_time": "2026-11-20T11:00:00Z"}
    result = run_monitor(tmp_path, baseline_dir, env=env)

    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    extra = found["statistics"]["driftline"]
    assert found["statistics"]["dataset"]["item_count"] == 297
    assert extra["records_outside_window"] == 1
    assert extra["malformed_records"] == {
        "no readable eventMetadata.inferenceTime, so it cannot be placed in the window": 2
    }
    assert "2 capture records could not be read" in found["report"]
    assert "capture-0.jsonl line 11" in found["report"] and "capture-0.jsonl line 21" in found["report"]


def test_a_window_bound_that_is_not_a_time_fails_the_job_saying_which(tmp_path: Path, baseline_dir: Path) -> None:
    write_capture(tmp_path / "capture", [capture_record(row) for row in csv_rows(features(10, seed=13))])

    result = run_monitor(
        tmp_path, baseline_dir, env={"start_time": "the last hour", "end_time": "2026-11-20T11:00:00Z"}
    )

    assert result.returncode == 1
    assert "start_time 'the last hour' is not an ISO 8601 time" in (tmp_path / "message").read_text()


# Whatever a client sent -------------------------------------------------------------------------------


def test_records_the_monitor_cannot_read_are_named_and_the_window_still_publishes(
    tmp_path: Path, baseline_dir: Path
) -> None:
    """One accepted request with valid features and 980 levels of padding once failed every window of its hour."""
    good = [capture_record(row, compact=True).encode() for row in csv_rows(features(400, seed=14))]
    padded = '{"instances": [[50.0, 40, 0.5, "pro"]], "pad": ' + "[" * 980 + "]" * 980 + "}"
    unreadable = {
        "endpointInput.data is JSON nested too deeply to read": capture_record(
            padded, content_type="application/json", encoding="JSON"
        ).encode(),
        "JSON nested too deeply to read": b"[" * 1000 + b"]" * 1000 + b"\n",
        "not UTF-8 text": capture_record("50.0,40,0.5,basic", compact=True)
        .replace("basic", "b\xe1sic")
        .encode("latin-1"),
        "endpointInput.data is not valid Unicode text (a lone surrogate escape)": capture_record(
            "50.0,40,0.5,\ud800"
        ).encode(),
    }
    lines = list(good)
    for number, line in enumerate(unreadable.values()):
        lines.insert(50 + 100 * number, line)
    hour = tmp_path / "capture" / "credit-endpoint" / "AllTraffic" / "2026" / "11" / "20" / "10"
    hour.mkdir(parents=True)
    (hour / "capture-0.jsonl").write_bytes(b"".join(lines))
    (hour / "capture-1.jsonl.gz").write_bytes(b"not gzip at all\n")

    result = run_monitor(tmp_path, baseline_dir, env={"end_time": "2026-11-20T11:00:00Z"})

    assert result.returncode == 0, result.stderr
    found = outputs(tmp_path)
    assert found["statistics"]["dataset"]["item_count"] == 400
    assert found["statistics"]["driftline"]["malformed_records"] == {
        **dict.fromkeys(unreadable, 1),
        "a compressed capture file that cannot be decompressed (not read from there on)": 1,
    }
    assert "5 capture records could not be read" in found["report"]
    for number, reason in enumerate(unreadable):
        assert f"capture-0.jsonl line {51 + 100 * number}: {reason}" in found["report"]
    assert "capture-1.jsonl.gz line 1: a compressed capture file" in found["report"]
    assert drifted_features_count(found["metrics"]) == 0  # the window is analysed: the drift alarm can move


def test_values_near_the_largest_double_give_statistics_that_are_json(tmp_path: Path, baseline_dir: Path) -> None:
    rows = csv_rows(features(300, seed=15))
    rows[:3] = ["1e308,40,0.5,basic", "1e308,41,0.5,plus", "-1e308,42,0.5,pro"]
    write_capture(tmp_path / "capture", [capture_record(row, compact=True) for row in rows])

    result = run_monitor(tmp_path, baseline_dir)

    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "statistics.json").read_text()

    def refuse(constant: str) -> None:
        raise AssertionError(f"statistics.json holds {constant}, which is not JSON")

    income = next(f for f in json.loads(text, parse_constant=refuse)["features"] if f["name"] == "income")
    assert 1e306 < income["numerical_statistics"]["std_dev"] < 1e308
    assert income["numerical_statistics"]["sum"] is None
    assert "income: sum is beyond the largest number JSON can hold" in outputs(tmp_path)["report"]
