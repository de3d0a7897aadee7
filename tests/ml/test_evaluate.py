"""The evaluation script on a model trained by the real preprocessing and training scripts.

Each chain runs preprocess -> train -> evaluate as subprocesses, handing files over the way SageMaker
does (the model folder travels as ``model.tar.gz``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftline.datasets import write_breast_cancer_csv

ML_DIR = Path(__file__).resolve().parents[2] / "ml"


def job_env(**overrides: str) -> dict[str, str]:
    """This environment minus any ``SM_*``; one OpenMP thread, since the scenarios run side by side."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return {**inherited, "OMP_NUM_THREADS": "1", **overrides}


def run_script(script: str, args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [sys.executable, str(ML_DIR / script), *args],
        env=job_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


INCUMBENT_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1"


def start_evaluation(
    root: Path,
    config: dict[str, Any],
    name: str,
    incumbent: Path | None = None,
    env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> subprocess.Popen[str]:
    """Start evaluate.py on ``root``'s model and test split with ``config`` as the run config.

    ``incumbent`` is the approved model's input folder, given with its package ARN as the pipeline gives it.
    """
    config_dir = root / f"{name}-config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps(config))
    args = [
        "--model-dir",
        str(root / "model-input"),
        "--test-dir",
        str(root / "out" / "test"),
        "--config-dir",
        str(config_dir),
        "--output-dir",
        str(root / name),
        "--message-file",
        str(root / f"{name}-message"),
        "--incumbent-dir",
        str(incumbent or root / "no-incumbent"),
        *(extra_args or []),
    ]
    variables = dict(env or {})
    if incumbent is not None:
        variables.setdefault("DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN", INCUMBENT_ARN)
    return subprocess.Popen(
        [sys.executable, str(ML_DIR / "evaluate.py"), *args],
        env=job_env(**variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def preprocess_data(root: Path, config: dict[str, Any]) -> Path:
    """Run preprocess.py on ``root/data`` with ``config`` as the run config; the folder of its outputs."""
    (root / "config").mkdir()
    (root / "config" / "config.json").write_text(json.dumps(config))
    out = root / "out"
    outputs = ("train", "validation", "test", "metadata", "xgboost", "transform")
    run_script(
        "preprocess.py",
        ["--data-dir", str(root / "data"), "--config-dir", str(root / "config")]
        + [arg for name in outputs for arg in (f"--{name}-dir", str(out / name))]
        + ["--message-file", str(root / "preprocess-message")],
    )
    return out


def train_model(root: Path, config: dict[str, Any], hyperparameters: list[str]) -> None:
    """Preprocess ``root/data`` and train on it; leave ``model-input/model.tar.gz`` as SageMaker would."""
    out = preprocess_data(root, config)
    run_script(
        "train.py",
        hyperparameters,
        {
            "SM_MODEL_DIR": str(root / "model"),
            "SM_CHANNEL_TRAIN": str(out / "train"),
            "SM_CHANNEL_VALIDATION": str(out / "validation"),
            "SM_CHANNEL_METADATA": str(out / "metadata"),
            "SM_OUTPUT_DIR": str(root / "output"),
        },
    )
    (root / "model-input").mkdir()
    with tarfile.open(root / "model-input" / "model.tar.gz", "w:gz") as archive:
        for file in sorted((root / "model").iterdir()):
            archive.add(file, arcname=file.name)


def binary_chain(root: Path) -> dict[str, tuple[int, str]]:
    (root / "data").mkdir(parents=True)
    write_breast_cancer_csv(root / "data" / "breast-cancer.csv")
    config = {"target": "diagnosis", "problem_type": "binary_classification", "metric": "auc", "seed": 42}
    train_model(root, {**config, "split": {"train": 0.7, "validation": 0.15, "test": 0.15}}, ["--max_iter", "60"])
    # An earlier model of the same data: another split (seed), fewer trees.
    earlier = root / "earlier"
    (earlier / "data").mkdir(parents=True)
    write_breast_cancer_csv(earlier / "data" / "breast-cancer.csv")
    train_model(earlier, {**config, "seed": 7}, ["--max_iter", "3", "--max_depth", "1"])
    processes = {
        "evaluation": start_evaluation(root, config, "evaluation"),
        "wrong_metric": start_evaluation(root, {**config, "metric": "log_loss"}, "wrong_metric"),
        "itself": start_evaluation(root, config, "itself", incumbent=root / "model-input"),
        "earlier": start_evaluation(root, config, "earlier", incumbent=earlier / "model-input"),
    }
    return {name: finish(process) for name, process in processes.items()}


def category_frame(rng: np.random.Generator, rows: int, categories: list[str]) -> pd.DataFrame:
    """The class follows the category alone (alpha and gamma are "yes"); ``noise`` carries no signal."""
    kind = rng.choice(categories, rows)
    return pd.DataFrame(
        {
            "kind": kind,
            "noise": rng.normal(0, 1, rows).round(3),
            "answer": np.where(np.isin(kind, ["alpha", "gamma"]), "yes", "no"),
        }
    )


def incumbent_chain(root: Path) -> dict[str, tuple[int, str]]:
    """A candidate and approved models that each encode the data their own way, scored on the candidate's rows."""
    rng = np.random.default_rng(3)
    config = {"target": "answer", "problem_type": "binary_classification", "metric": "accuracy", "seed": 5}
    hyperparameters = ["--max_iter", "20", "--min_samples_leaf", "5"]
    folders = {name: root / name for name in ("candidate", "old-codes", "other-columns")}
    for folder in folders.values():
        (folder / "data").mkdir(parents=True)
    # The candidate's categories are beta, gamma, zeta (codes 0, 1, 2); the approved model knew alpha, beta,
    # gamma (codes 0, 1, 2): read through the candidate's codes, every one of its answers would be wrong.
    category_frame(rng, 300, ["beta", "gamma", "zeta"]).to_csv(folders["candidate"] / "data" / "d.csv", index=False)
    category_frame(rng, 300, ["alpha", "beta", "gamma"]).to_csv(folders["old-codes"] / "data" / "d.csv", index=False)
    wider = category_frame(rng, 300, ["alpha", "beta", "gamma"])
    wider.insert(0, "region", rng.choice(["north", "south"], 300))
    wider.to_csv(folders["other-columns"] / "data" / "d.csv", index=False)
    for folder in folders.values():
        train_model(folder, config, hyperparameters)
    candidate = folders["candidate"]
    (root / "broken").mkdir()
    (root / "broken" / "model.tar.gz").write_bytes(b"not a gzip archive")
    processes = {
        "old_codes": start_evaluation(candidate, config, "old_codes", incumbent=folders["old-codes"] / "model-input"),
        "other_columns": start_evaluation(
            candidate, config, "other_columns", incumbent=folders["other-columns"] / "model-input"
        ),
        "broken": start_evaluation(candidate, config, "broken", incumbent=root / "broken"),
        "not_given": start_evaluation(
            candidate,
            config,
            "not_given",
            env={
                "DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN": INCUMBENT_ARN,
                "DRIFTLINE_INCUMBENT_NOT_GIVEN": "its model artifact is in another bucket",
            },
        ),
    }
    return {name: finish(process) for name, process in processes.items()}


def regression_chain(root: Path) -> dict[str, tuple[int, str]]:
    rng = np.random.default_rng(9)
    size = rng.uniform(30, 200, 300)
    city = rng.choice(["lyon", "paris", "nantes"], 300)
    price = size * 3000 + np.where(city == "paris", 150_000, 0) + rng.normal(0, 20_000, 300)
    (root / "data").mkdir(parents=True)
    pd.DataFrame({"size_m2": size, "city": city, "price": price}).to_csv(root / "data" / "homes.csv", index=False)
    config = {"target": "price", "problem_type": "regression", "metric": "rmse", "seed": 1}
    train_model(root, config, ["--max_iter", "80", "--min_samples_leaf", "5"])
    return {"evaluation": finish(start_evaluation(root, config, "evaluation"))}


def churn_frame(rng: np.random.Generator, rows: int, income_mean: float, plans: list[float]) -> pd.DataFrame:
    """Customers whose churn follows their income and plan; ``plans`` are the shares of basic, plus and pro."""
    income = rng.normal(income_mean, 10, rows).round(2)
    plan = rng.choice(["basic", "plus", "pro"], rows, p=plans)
    age = rng.integers(18, 80, rows)
    churn = np.where((income < income_mean) ^ (plan == "pro"), "yes", "no")
    return pd.DataFrame({"income": income, "plan": plan, "age": age, "churn": churn})


SERVING_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-churn/1"
BASELINE_URI = "s3://driftline-artifacts/runs/churn-serving/baseline/"


def drift_chain(root: Path) -> dict[str, tuple[int, str]]:
    """A serving model with its drift baseline (baseline.py on its train split), then candidates trained on a new
    sample of the same population and on a shifted one (income up, pro plans common, ``age`` gone, ``region``
    new), each evaluated with that baseline as the pipeline gives it."""
    rng = np.random.default_rng(11)
    config = {"target": "churn", "problem_type": "binary_classification", "metric": "accuracy", "seed": 3}
    hyperparameters = ["--max_iter", "10"]
    samples = {
        "serving": churn_frame(rng, 3000, 50, [0.5, 0.3, 0.2]),
        "same": churn_frame(rng, 3000, 50, [0.5, 0.3, 0.2]),
        "shifted": churn_frame(rng, 3000, 60, [0.2, 0.3, 0.5]).drop(columns="age"),
    }
    samples["shifted"].insert(0, "region", rng.choice(["north", "south"], 3000))
    for name, frame in samples.items():
        (root / name / "data").mkdir(parents=True)
        frame.to_csv(root / name / "data" / "customers.csv", index=False)
        train_model(root / name, config, hyperparameters)
    serving = root / "serving"
    run_script(
        "baseline.py",
        [
            *("--train-dir", str(serving / "out" / "train"), "--metadata-dir", str(serving / "out" / "metadata")),
            *("--output-dir", str(root / "baseline"), "--message-file", str(root / "baseline-message")),
        ],
    )
    (root / "unreadable").mkdir()
    (root / "unreadable" / "statistics.json").write_text('{"features": "not a list"}')
    (root / "unreadable" / "constraints.json").write_text("{}")
    given = {"DRIFTLINE_BASELINE_URI": BASELINE_URI, "DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN": SERVING_ARN}

    def evaluation(candidate: str, name: str, baseline: Path, env: dict[str, str]) -> subprocess.Popen[str]:
        return start_evaluation(
            root / candidate,
            config,
            name,
            incumbent=serving / "model-input",
            env=env,
            extra_args=["--train-dir", str(root / candidate / "out" / "train"), "--baseline-dir", str(baseline)],
        )

    processes = {
        "same": evaluation("same", "same", root / "baseline", given),
        "shifted": evaluation("shifted", "shifted", root / "baseline", given),
        "unreadable": evaluation("same", "unreadable", root / "unreadable", given),
        "not_given": evaluation(
            "same",
            "not_given",
            root / "no-baseline",
            {
                "DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN": SERVING_ARN,
                "DRIFTLINE_BASELINE_NOT_GIVEN": "its baseline is not written yet",
            },
        ),
    }
    return {name: finish(process) for name, process in processes.items()}


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout + stderr


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, tuple[int, str]]]]:
    base = tmp_path_factory.mktemp("evaluate")
    with ThreadPoolExecutor(max_workers=2) as pool:
        binary = pool.submit(binary_chain, base / "binary")
        regression = pool.submit(regression_chain, base / "regression")
        incumbents = pool.submit(incumbent_chain, base / "incumbents")
        drift = pool.submit(drift_chain, base / "drift")
        return {
            "drift": (base / "drift", drift.result()),
            "binary": (base / "binary", binary.result()),
            "regression": (base / "regression", regression.result()),
            "incumbents": (base / "incumbents" / "candidate", incumbents.result()),
        }


def read_report(root: Path, runs: dict[str, tuple[int, str]], name: str = "evaluation") -> dict[str, Any]:
    code, log = runs[name]
    assert code == 0, log
    report: dict[str, Any] = json.loads((root / name / "evaluation.json").read_text())
    return report


def test_binary_report_uses_model_monitor_format_with_a_plausible_auc(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    report = read_report(root, runs)

    metrics = report["binary_classification_metrics"]
    assert set(metrics) == {"auc", "accuracy", "precision", "recall", "f1"}
    assert metrics["auc"]["value"] > 0.95
    for entry in metrics.values():
        assert set(entry) == {"value", "standard_deviation"}
        assert 0.0 <= entry["value"] <= 1.0
        assert isinstance(entry["standard_deviation"], float) and 0.0 <= entry["standard_deviation"] < 0.2


def test_driftline_block_names_the_gate_metric_and_test_rows(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    report = read_report(root, runs)
    preprocessing = json.loads((root / "out" / "metadata" / "preprocessing.json").read_text())

    assert report["driftline"]["problem_type"] == "binary_classification"
    assert report["driftline"]["metric"] == "auc"
    assert report["driftline"]["higher_is_better"] is True
    assert report["driftline"]["target"] == "diagnosis"
    assert report["driftline"]["test_rows"] == preprocessing["rows"]["test"] == 85
    assert report["driftline"]["class_labels"] == ["benign", "malignant"]


def test_regression_report_holds_error_metrics_and_r2(chains: dict[str, Any]) -> None:
    root, runs = chains["regression"]
    report = read_report(root, runs)

    metrics = report["regression_metrics"]
    assert set(metrics) == {"mse", "rmse", "mae", "r2"}
    assert math.isclose(metrics["rmse"]["value"], math.sqrt(metrics["mse"]["value"]))
    assert metrics["r2"]["value"] > 0.7
    assert report["driftline"]["metric"] == "rmse"
    assert report["driftline"]["higher_is_better"] is False


CSV = "text/csv"


def endpoint_answers(model_folder: Path, test_dir: Path) -> list[str]:
    """What the serving program answers (text/csv) for each held-out row sent alone, as the staging test sends it."""
    import serve

    model = serve.model_fn(str(model_folder))
    with (test_dir / "test_features.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))[1:]
    answers = []
    for row in rows:
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(row)
        body, content_type = serve.output_fn(serve.predict_fn(serve.input_fn(line.getvalue(), CSV), model), CSV)
        assert content_type == CSV
        answers.append(body)
    return answers


@pytest.mark.parametrize(
    ("chain", "name"), [("binary", "evaluation"), ("regression", "evaluation"), ("incumbents", "old_codes")]
)
def test_predictions_hold_the_endpoints_answer_to_each_held_out_row_in_order(
    chains: dict[str, Any], chain: str, name: str
) -> None:
    """Numeric features (binary), a categorical one (regression, incumbents): the serving path's own answers."""
    root, runs = chains[chain]
    report = read_report(root, runs, name)

    written = (root / name / "predictions.csv").read_text(encoding="utf-8")

    expected = endpoint_answers(root / "model", root / "out" / "test")
    assert written == "".join(expected)
    assert len(written.splitlines()) == len(expected) == report["driftline"]["test_rows"]


def test_binary_predictions_are_the_label_then_each_class_probability(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    read_report(root, runs)

    lines = (root / "evaluation" / "predictions.csv").read_text().splitlines()

    labels = {line.split(",")[0] for line in lines}
    assert labels == {"benign", "malignant"}
    for line in lines:
        probabilities = [float(value) for value in line.split(",")[1:]]
        assert len(probabilities) == 2 and math.isclose(sum(probabilities), 1.0)


def test_regression_predictions_are_one_number_a_line(chains: dict[str, Any]) -> None:
    root, runs = chains["regression"]
    read_report(root, runs)

    lines = (root / "evaluation" / "predictions.csv").read_text().splitlines()

    assert all(float(line) > 0 for line in lines)


def test_metric_not_reported_for_the_problem_fails_with_the_choices(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    code, _ = runs["wrong_metric"]

    assert code == 1
    reason = (root / "wrong_metric-message").read_text()
    assert "'log_loss'" in reason and "auc" in reason
    assert not (root / "wrong_metric" / "evaluation.json").exists()


def test_without_an_approved_model_the_report_has_no_incumbent_section(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    assert "incumbent" not in read_report(root, runs)


def test_the_approved_model_is_scored_on_the_candidates_test_rows(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    candidate = read_report(root, runs)["binary_classification_metrics"]

    # The candidate given as its own approved model scores exactly its own numbers: same rows, same targets.
    itself = read_report(root, runs, "itself")
    assert itself["binary_classification_metrics"] == candidate
    assert itself["incumbent"] == {
        "model_package_arn": INCUMBENT_ARN,
        "scored": True,
        "binary_classification_metrics": candidate,
        "test_rows": 85,
    }
    # A weaker model trained on another split is scored on this one, in Model Monitor's format.
    earlier = read_report(root, runs, "earlier")
    assert earlier["binary_classification_metrics"] == candidate
    scored = earlier["incumbent"]["binary_classification_metrics"]
    assert set(scored) == set(candidate)
    assert scored["auc"]["value"] < candidate["auc"]["value"]
    assert isinstance(scored["auc"]["standard_deviation"], float)


def test_an_approved_model_with_other_category_codes_is_scored_through_its_own_encoding(
    chains: dict[str, Any],
) -> None:
    root, runs = chains["incumbents"]
    report = read_report(root, runs, "old_codes")

    assert report["binary_classification_metrics"]["accuracy"]["value"] > 0.95
    incumbent = report["incumbent"]
    assert incumbent["scored"] is True
    # alpha/gamma -> yes is learnt by both; zeta is unknown to the approved model (missing, as at its endpoint)
    # and beta and gamma are right: read through the candidate's codes instead, it would score about 0.
    assert 0.6 < incumbent["binary_classification_metrics"]["accuracy"]["value"] < 0.95


def test_an_approved_model_needing_a_column_this_data_lacks_is_reported_not_fatal(chains: dict[str, Any]) -> None:
    root, runs = chains["incumbents"]
    report = read_report(root, runs, "other_columns")

    assert report["binary_classification_metrics"]["accuracy"]["value"] > 0.95
    assert report["incumbent"] == {
        "model_package_arn": INCUMBENT_ARN,
        "scored": False,
        "reason": "it takes feature column(s) 'region' that this run's data does not have",
    }


def test_an_approved_model_that_does_not_load_is_reported_not_fatal(chains: dict[str, Any]) -> None:
    root, runs = chains["incumbents"]
    report = read_report(root, runs, "broken")

    assert "accuracy" in report["binary_classification_metrics"]
    assert report["incumbent"]["scored"] is False
    assert report["incumbent"]["reason"].startswith("its model cannot be loaded (model.tar.gz is not a readable")


def test_an_approved_model_the_pipeline_could_not_give_is_reported_with_its_reason(chains: dict[str, Any]) -> None:
    root, runs = chains["incumbents"]
    report = read_report(root, runs, "not_given")

    assert report["incumbent"] == {
        "model_package_arn": INCUMBENT_ARN,
        "scored": False,
        "reason": "its model artifact is in another bucket",
    }


def test_without_an_approved_model_the_report_says_there_is_nothing_to_compare_the_data_with(
    chains: dict[str, Any],
) -> None:
    root, runs = chains["binary"]
    report = read_report(root, runs)

    assert report["data_drift"] == {"compared": False, "reason": "no model of this dataset is approved yet"}
    assert not (root / "evaluation" / "data_drift.json").exists()


def test_shifted_data_names_its_drifted_features_and_the_columns_that_changed(chains: dict[str, Any]) -> None:
    root, runs = chains["drift"]
    section = read_report(root / "shifted", runs, "shifted")["data_drift"]
    details = json.loads((root / "shifted" / "shifted" / "data_drift.json").read_text())

    assert section["compared"] is True
    assert (section["model_package_arn"], section["baseline_uri"]) == (SERVING_ARN, BASELINE_URI)
    # Every row of the upload the model learnt from or was tested on: 70% train and 15% test of 3000.
    assert section["rows_compared"] == details["rows_compared"] == 2550
    assert section["baseline_rows"] == 2100
    assert [feature["name"] for feature in section["drifted_features"]] == ["income", "plan"]
    income = section["drifted_features"][0]
    # Incomes 1 standard deviation higher: the CDFs are about 0.38 apart (the KS statistic of the shift).
    assert income["distance"] == pytest.approx(0.38, abs=0.05)
    assert (income["threshold"], income["drifted"]) == (0.1, True)
    plan = section["drifted_features"][1]
    assert plan["distance"] == pytest.approx(0.3, abs=0.05)  # pro plans went from 20% to 50%
    assert (section["missing_columns"], section["extra_columns"]) == (["age"], ["region"])
    assert details["drifted_features"] == ["income", "plan"]
    by_name = {feature["name"]: feature for feature in details["features"]}
    assert by_name["age"]["distance"] is None and by_name["age"]["run_values"] == 0
    page = (root / "shifted" / "shifted" / "data_drift.html").read_text()
    assert "Drift in 2 of 3 features: income, plan." in page


def test_data_from_the_same_population_drifts_in_no_feature(chains: dict[str, Any]) -> None:
    root, runs = chains["drift"]
    report = read_report(root / "same", runs, "same")
    section = report["data_drift"]

    assert section["compared"] is True and section["features"] == 3
    assert section["drifted_features"] == []
    assert (section["missing_columns"], section["extra_columns"]) == ([], [])
    details = json.loads((root / "same" / "same" / "data_drift.json").read_text())
    assert all(feature["distance"] < 0.1 for feature in details["features"])
    assert "No drift: every feature is within its threshold" in (root / "same" / "same" / "data_drift.html").read_text()
    # The comparison informs; the candidate's own evaluation is unchanged by it.
    assert report["incumbent"]["scored"] is True and "accuracy" in report["binary_classification_metrics"]


def test_an_approved_model_without_a_baseline_gets_no_drift_section_and_the_report_says_why(
    chains: dict[str, Any],
) -> None:
    root, runs = chains["drift"]
    report = read_report(root / "same", runs, "not_given")

    assert report["data_drift"] == {
        "model_package_arn": SERVING_ARN,
        "compared": False,
        "reason": "its baseline is not written yet",
    }
    assert not (root / "same" / "not_given" / "data_drift.json").exists()
    assert not (root / "same" / "not_given" / "data_drift.html").exists()


def test_a_baseline_that_cannot_be_read_is_reported_and_the_evaluation_still_stands(chains: dict[str, Any]) -> None:
    root, runs = chains["drift"]
    report = read_report(root / "same", runs, "unreadable")

    section = report["data_drift"]
    assert (section["compared"], section["baseline_uri"]) == (False, BASELINE_URI)
    assert section["reason"] == (
        "its baseline cannot be read (statistics.json is not a statistics document (no 'features' list))"
    )
    assert "accuracy" in report["binary_classification_metrics"]
    assert not (root / "same" / "unreadable" / "data_drift.json").exists()


# A model in its own container: its batch transform's answers ----------------------------------------------------


def evaluate_answers(root: Path, name: str, answers: list[str], config: dict[str, Any]) -> tuple[int, str]:
    """evaluate.py without a model: the container's answers, as a batch transform writes them (one output file per
    input part, ``<part>.out``), and the preprocessing metadata."""
    folder = root / f"{name}-answers"
    folder.mkdir()
    half = len(answers) // 2
    (folder / "test_rows-00001.csv.out").write_text("".join(line + "\n" for line in answers[half:]))
    (folder / "test_rows-00000.csv.out").write_text("".join(line + "\n" for line in answers[:half]))
    extra = ["--answers-dir", str(folder), "--metadata-dir", str(root / "out" / "metadata")]
    process = start_evaluation(root, config, name, extra_args=[*extra, "--model-dir", str(root / f"{name}-no-model")])
    return finish(process)


@pytest.mark.parametrize(("chain", "metric"), [("binary", "auc"), ("regression", "rmse")])
def test_a_container_s_answers_are_scored_as_the_model_that_gave_them_is(
    chains: dict[str, Any], chain: str, metric: str
) -> None:
    root, runs = chains[chain]
    from_model = read_report(root, runs)
    answers = (root / "evaluation" / "predictions.csv").read_text().splitlines()
    config = {"target": from_model["driftline"]["target"], "metric": metric}

    runs = {**runs, f"answers_{chain}": evaluate_answers(root, f"answers_{chain}", answers, config)}

    from_answers = read_report(root, runs, f"answers_{chain}")
    block = "binary_classification_metrics" if chain == "binary" else "regression_metrics"
    for name, entry in from_model[block].items():
        assert from_answers[block][name]["value"] == pytest.approx(entry["value"], rel=1e-9), name
    assert (root / f"answers_{chain}" / "predictions.csv").read_text().splitlines() == answers


@pytest.mark.parametrize(
    ("name", "change", "says"),
    [
        ("short", lambda lines: lines[:-1], r"answered (\d+) of the test split's (\d+) rows; it must answer each"),
        ("label_only", lambda lines: [lines[0].split(",")[0], *lines[1:]], r"row 1 with 1 field\(s\); a classifier"),
        ("text", lambda lines: ["malignant,high,low", *lines[1:]], r"row 1 with 'high,low', where a number belongs"),
    ],
)
def test_answers_that_break_the_container_contract_fail_the_evaluation_saying_how(
    chains: dict[str, Any], name: str, change: Any, says: str
) -> None:
    root, _ = chains["binary"]
    answers = change((root / "evaluation" / "predictions.csv").read_text().splitlines())
    name = f"broken_{name}"

    code, log = evaluate_answers(root, name, answers, {"target": "diagnosis", "metric": "auc"})

    assert code == 1, log
    assert re.search(says, (root / f"{name}-message").read_text())
