"""``driftline demo --ab``'s own pieces: the two dataset configs, the labelled traffic and its labels file, and what
the demo prints about the trial and where to go next."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from driftline.cli import main
from driftline.local.demo import (
    AB_DEMO_PARAMETERS,
    WEAK_HYPERPARAMETERS,
    ab_dataset_config,
    driftline_command,
    ground_truth_csv,
    labelled_requests,
    local_clock,
    split_line,
    trial_summary,
    what_next_after_trial,
    write_sample,
)
from driftline.local.settings import LocalSettings
from driftline_core.ingest.dataset_config import parse_dataset_config
from driftline_ml.trial_data import read_labels

BUCKET = "driftline-databucket-3pwkrssgj2cv"
MODEL = {"target": "diagnosis", "feature_columns": ["mean_texture", "mean_radius"]}


def test_the_first_model_gets_the_weak_hyperparameters_and_the_second_the_defaults_both_judged_on_accuracy() -> None:
    first = parse_dataset_config(ab_dataset_config("breast-cancer", WEAK_HYPERPARAMETERS))
    second = parse_dataset_config(ab_dataset_config("breast-cancer", None))

    assert first.target == second.target == "diagnosis"
    assert first.metric == second.metric == "accuracy"
    assert first.hyperparameters == {"max_iter": 1, "max_depth": 1}
    assert second.hyperparameters == {}
    assert first.threshold is not None and first.threshold <= 0.62  # the weak model predicts the majority class


def test_each_request_carries_the_models_features_in_its_order_and_its_id_names_its_line(tmp_path: Path) -> None:
    sample = write_sample("breast-cancer", tmp_path, 0)
    with sample.open(newline="") as file:
        table = list(csv.DictReader(file))

    requests = labelled_requests(sample, MODEL, prefix="run-1", limit=600)

    assert len(requests) == len(table) == 569
    assert requests[0].inference_id == "run-1-2" and requests[-1].inference_id == "run-1-570"
    assert requests[3].body == f"{table[3]['mean_texture']},{table[3]['mean_radius']}"
    assert [request.label for request in requests] == [row["diagnosis"] for row in table]
    assert len(labelled_requests(sample, MODEL, prefix="run-1", limit=10)) == 10


def test_the_labels_file_is_read_by_the_trial_analysis_as_each_requests_label(tmp_path: Path) -> None:
    requests = labelled_requests(write_sample("breast-cancer", tmp_path, 0), MODEL, prefix="run-1", limit=600)
    labels_dir = tmp_path / "ground-truth"
    labels_dir.mkdir()
    (labels_dir / "run-1-labels.csv").write_bytes(ground_truth_csv("diagnosis", requests))

    labels = read_labels(labels_dir, "diagnosis")

    assert labels.files == 1 and labels.repeated == 0
    assert labels.values == {request.inference_id: [request.label] for request in requests}
    assert next(csv.reader(io.StringIO(ground_truth_csv("diagnosis", requests[:1]).decode()))) == [
        "inference_id",
        "diagnosis",
    ]


def test_the_split_names_each_variant_with_its_count_and_share() -> None:
    assert split_line({"Challenger-v2": 296, "AllTraffic": 273}) == (
        "AllTraffic answered 273 (48.0%), Challenger-v2 answered 296 (52.0%)"
    )


@pytest.fixture
def kolkata() -> Iterator[None]:
    """A local time zone that is not UTC, with no daylight saving (UTC+05:30)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        yield
    time.tzset()


def test_the_trials_end_is_shown_on_the_local_clock_the_console_stamps_use(kolkata: None) -> None:
    assert local_clock("2026-12-07T09:01:49Z") == "14:31:49"


DECIDED = {
    "decision": "challenger",
    "winner": "challenger",
    "reason": "The challenger is significantly better: accuracy 0.9797 against 0.6081. Promote the challenger.",
    "metric": "accuracy",
    "champion_value": 0.60806,
    "challenger_value": 0.97973,
    "champion_rows": 273,
    "challenger_rows": 296,
    "p_value": 1.2234e-28,
    "test": "two-proportion z-test",
    "trial_uri": "s3://artifacts/runs/r2/trial/trial.json",
    "report_uri": "s3://artifacts/runs/r2/trial/trial_report.html",
}
PLAN = {
    "mode": "split",
    "champion_variant": "AllTraffic",
    "challenger_variant": "Challenger-v2",
    "champion_model_name": "driftline-breast-cancer-v1",
    "champion_model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-breast-cancer/1",
    "challenger_model_name": "driftline-breast-cancer-v2",
    "challenger_model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-breast-cancer/2",
    "challenger_share": 0.5,
    "trial_minutes": 1,
}


def test_the_trial_summary_gives_each_variants_metric_and_rows_the_test_the_decision_and_the_report() -> None:
    report = Path("/state/s3/artifacts/runs/r2/trial/trial_report.html")

    lines = trial_summary(DECIDED, PLAN, "driftline-breast-cancer", report).splitlines()

    assert lines == [
        "A/B trial on driftline-breast-cancer: split, Challenger-v2 answered 50% of requests for 1 minute",
        "  AllTraffic     champion (model version 1): accuracy 0.6081 on 273 labelled rows",
        "  Challenger-v2  challenger (model version 2): accuracy 0.9797 on 296 labelled rows",
        "  test: two-proportion z-test, p-value 1.22e-28",
        f"  decision: challenger. {DECIDED['reason']}",
        "  winner: Challenger-v2 (model version 2), the challenger",
        "  report: s3://artifacts/runs/r2/trial/trial_report.html",
        f"          {report}",
    ]


def test_a_trial_without_enough_labels_says_so_and_names_the_champion_that_stays() -> None:
    undecided = {
        **DECIDED,
        "decision": "not_enough_evidence",
        "winner": "champion",
        "reason": "Too few labelled rows.",
        "champion_value": None,
        "challenger_rows": 0,
        "p_value": None,
        "test": "",
    }
    plan = {**PLAN, "champion_model_package_arn": None, "trial_minutes": 30}

    text = trial_summary(undecided, plan, "driftline-breast-cancer", None)

    assert "for 30 minutes" in text
    assert "AllTraffic     champion (driftline-breast-cancer-v1): accuracy not measured on 273 labelled rows" in text
    assert "Challenger-v2  challenger (model version 2): accuracy 0.9797 on 0 labelled rows" in text
    assert "  test: no test\n" in text
    assert "  winner: AllTraffic (driftline-breast-cancer-v1), the champion" in text
    assert text.endswith("report: s3://artifacts/runs/r2/trial/trial_report.html")


def _cloud(settings: LocalSettings) -> Any:
    return SimpleNamespace(settings=settings, outputs={"DataBucketName": BUCKET})


def test_what_next_restarts_local_mode_as_the_demo_ran_it_so_its_saved_state_restores(tmp_path: Path) -> None:
    settings = LocalSettings(port=47911, state_dir=tmp_path / "state")
    settings.parameters.update(AB_DEMO_PARAMETERS)
    settings.parameters["DriftMonitor"] = "ModelMonitor"
    report = tmp_path / "trial_report.html"

    lines = [
        line.strip()
        for line in what_next_after_trial(_cloud(settings), "breast-cancer", "diagnosis", report).splitlines()
    ]

    assert lines[0] == "What next:"
    assert f"Open this trial's report: {report}" in lines
    assert (
        f"{driftline_command()} local up --port 47911 --state-dir {tmp_path / 'state'} --parameter-overrides "
        "ABTestMode=Split ABTestChallengerShare=0.5 ABTestTrialMinutes=1 ABTestMinLabelledRows=50 "
        "DriftMonitor=ModelMonitor"
    ) in lines
    assert f"aws s3 cp my.csv s3://{BUCKET}/data/breast-cancer/my.csv" in lines
    assert f"aws s3 cp labels.csv s3://{BUCKET}/ground-truth/breast-cancer/labels.csv" in lines
    assert any("inference_id,diagnosis" in line for line in lines)


def test_what_next_leaves_out_the_port_and_state_folder_local_up_uses_anyway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = LocalSettings(state_dir=(tmp_path / ".driftline").resolve())
    settings.parameters.update(AB_DEMO_PARAMETERS)

    text = what_next_after_trial(_cloud(settings), "breast-cancer", "diagnosis", None)

    assert f"{driftline_command()} local up --parameter-overrides ABTestMode=Split " in text
    assert "--port" not in text and "--state-dir" not in text and "report" not in text


def test_the_ab_demo_refuses_no_approve_since_it_approves_both_models_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--ab", "--no-approve"])

    assert exited.value.code == 2
    assert "--ab approves both of its models itself; leave out --no-approve" in capsys.readouterr().err
