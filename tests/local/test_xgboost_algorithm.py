"""SageMaker's XGBoost algorithm in local mode: run as the executor runs it, on instance folders laid out like
``/opt/ml``, and judged by what a user sees: the model it saves, the lines it logs, the reason it fails with."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

MODULE = "driftline.local.xgboost_algorithm"
RUN_TIMEOUT_SECONDS = 90
BINARY = {"num_round": "20", "objective": "binary:logistic", "eval_metric": "logloss", "max_depth": "4"}
CSV_CHANNELS = {"train": "text/csv", "validation": "text/csv"}
ACCURACY_FLOOR = 0.85


@dataclass(frozen=True)
class Dataset:
    """Seeded rows: three numeric features, one with missing values, one category as integer codes."""

    features: np.ndarray
    binary: np.ndarray
    classes: np.ndarray
    target: np.ndarray

    def table(self, label: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
        return np.column_stack([label[rows], self.features[rows]])


TRAIN, VALIDATION, HELD_OUT = slice(0, 2500), slice(2500, 3000), slice(3000, 3500)


@pytest.fixture(scope="module")
def data() -> Dataset:
    rng = np.random.default_rng(7)
    rows = 3500
    numeric = rng.normal(size=(rows, 3))
    sometimes = np.where(rng.random(rows) < 0.15, np.nan, rng.normal(size=rows))
    category = rng.integers(0, 4, size=rows).astype(float)
    score = (
        1.5 * numeric[:, 0]
        - numeric[:, 1]
        + 0.5 * numeric[:, 2]
        + 0.8 * np.nan_to_num(sometimes)
        + np.select([category == 2, category == 0], [1.0, -0.7], 0.0)
        + rng.normal(scale=0.3, size=rows)
    )
    return Dataset(
        features=np.column_stack([numeric, sometimes, category]),
        binary=(score > 0).astype(float),
        classes=np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(float),
        target=10 * score + 3,
    )


# -- helpers ---------------------------------------------------------------------------------------------------


def csv_text(table: np.ndarray) -> str:
    """No header; an empty field for a missing value, as SageMaker's CSV input has it."""
    return pd.DataFrame(table).to_csv(header=False, index=False, na_rep="", float_format="%.6g")


def instance(
    root: Path,
    hyperparameters: dict[str, str],
    files: dict[str, str],
    channels: dict[str, str] | None = None,
    host: str = "algo-1",
    hosts: tuple[str, ...] = ("algo-1",),
) -> Path:
    """An instance folder as the executor lays it out: config files, channel files, empty model and output."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": list(hosts)}))
    channel_types = CSV_CHANNELS if channels is None else channels
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: {"ContentType": content_type} for name, content_type in channel_types.items()})
    )
    for name in channel_types:
        (root / "input" / "data" / name).mkdir(parents=True)
    for relative, text in files.items():
        path = root / "input" / "data" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root


def run(job: Path, *roots: Path) -> subprocess.CompletedProcess[str]:
    """The executor's command, with the job folder as working directory."""
    arguments = [argument for root in roots for argument in ("--instance-root", str(root))]
    return subprocess.run(
        [sys.executable, "-m", MODULE, *arguments],
        cwd=job,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def failure(result: subprocess.CompletedProcess[str], root: Path) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    reason = (root / "output" / "failure").read_text()
    assert reason and "\n" not in reason
    assert reason in result.stdout  # the log says it too
    return reason


def model(root: Path) -> xgb.Booster:
    return xgb.Booster(model_file=str(root / "model" / "xgboost-model"))


def predict(booster: xgb.Booster, data: Dataset, rows: slice = HELD_OUT) -> np.ndarray:
    return booster.predict(xgb.DMatrix(data.features[rows], missing=np.nan))


def accuracy(booster: xgb.Booster, data: Dataset) -> float:
    return float(np.mean((predict(booster, data) > 0.5) == data.binary[HELD_OUT]))


def metric(line: str, name: str) -> float:
    """A value of an evaluation line: ``metric("[3]\ttrain-logloss:0.25\t...", "train-logloss")``."""
    found = re.search(rf"\t{re.escape(name)}:([\d.]+)", line)
    assert found, f"no {name} in {line!r}"
    return float(found.group(1))


def first_train_logloss(lines: list[str], prefix: str = "") -> float:
    return metric(next(line for line in lines if line.startswith(f"{prefix}[0]\t")), "train-logloss")


def binary_files(data: Dataset) -> dict[str, str]:
    return {
        "train/train.csv": csv_text(data.table(data.binary, TRAIN)),
        "validation/validation.csv": csv_text(data.table(data.binary, VALIDATION)),
    }


# -- one instance ----------------------------------------------------------------------------------------------


def test_one_instance_learns_binary_classes_from_csv_with_missing_values(tmp_path: Path, data: Dataset) -> None:
    files = binary_files(data)
    assert ",," in files["train/train.csv"]  # empty fields are missing values
    root = instance(tmp_path, BINARY, files)

    lines = succeeded(run(tmp_path, root))

    assert re.fullmatch(r"\[0\]\ttrain-logloss:[\d.]+\tvalidation-logloss:[\d.]+", _round(lines, 0))
    assert _round(lines, 19)
    booster = model(root)
    assert booster.num_boosted_rounds() == 20
    assert accuracy(booster, data) > ACCURACY_FLOOR
    assert not (root / "output" / "failure").exists()


def _round(lines: list[str], number: int) -> str:
    return next(line for line in lines if line.startswith(f"[{number}]\t"))


def test_multiclass_softprob_predicts_a_probability_per_class(tmp_path: Path, data: Dataset) -> None:
    hyperparameters = {"num_round": "25", "objective": "multi:softprob", "num_class": "3", "eval_metric": "mlogloss"}
    files = {
        "train/train.csv": csv_text(data.table(data.classes, TRAIN)),
        "validation/validation.csv": csv_text(data.table(data.classes, VALIDATION)),
    }
    root = instance(tmp_path, hyperparameters, files)

    lines = succeeded(run(tmp_path, root))

    assert "validation-mlogloss:" in _round(lines, 24)
    probabilities = predict(model(root), data)
    assert probabilities.shape == (500, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probabilities.argmax(axis=1) == data.classes[HELD_OUT]) > 0.75


def test_regression_predicts_the_target(tmp_path: Path, data: Dataset) -> None:
    hyperparameters = {"num_round": "40", "objective": "reg:squarederror", "eval_metric": "rmse,mae"}
    files = {
        "train/train.csv": csv_text(data.table(data.target, TRAIN)),
        "validation/validation.csv": csv_text(data.table(data.target, VALIDATION)),
    }
    root = instance(tmp_path, hyperparameters, files)

    lines = succeeded(run(tmp_path, root))

    assert re.search(r"validation-rmse:[\d.]+\tvalidation-mae:[\d.]+$", _round(lines, 39))
    residual = predict(model(root), data) - data.target[HELD_OUT]
    r_squared = 1 - np.var(residual) / np.var(data.target[HELD_OUT])
    assert r_squared > 0.85


def test_libsvm_is_read_when_the_channel_has_no_content_type(tmp_path: Path, data: Dataset) -> None:
    def libsvm(rows: slice) -> str:
        lines = []
        for label, features in zip(data.binary[rows], data.features[rows], strict=True):
            pairs = " ".join(f"{index}:{value:.6g}" for index, value in enumerate(features) if not np.isnan(value))
            lines.append(f"{label:g} {pairs}")
        return "\n".join(lines) + "\n"

    files = {"train/part-1": libsvm(slice(0, 1200)), "train/part-2": libsvm(slice(1200, 2500))}
    files["validation/validation.libsvm"] = libsvm(VALIDATION)
    root = instance(tmp_path, BINARY, files, channels={"train": "", "validation": ""})

    lines = succeeded(run(tmp_path, root))

    assert "Train matrix has 2500 rows and 5 columns" in "\n".join(lines)
    assert accuracy(model(root), data) > ACCURACY_FLOOR


def test_csv_weights_make_the_second_column_instance_weights(tmp_path: Path, data: Dataset) -> None:
    # Rows with a high second feature get the wrong label and a near-zero weight: weighted, they do not count.
    corrupted = data.features[TRAIN, 1] > 0.5
    labels = np.where(corrupted, 1 - data.binary[TRAIN], data.binary[TRAIN])
    weights = np.where(corrupted, 1e-3, 1.0)
    table = np.column_stack([labels, weights, data.features[TRAIN]])
    hyperparameters = {**BINARY, "csv_weights": "1"}
    root = instance(tmp_path, hyperparameters, {"train/train.csv": csv_text(table)}, channels={"train": "text/csv"})

    succeeded(run(tmp_path, root))

    booster = model(root)
    assert booster.num_features() == 5  # the weight column is not a feature
    affected = data.features[HELD_OUT, 1] > 0.5
    right = (predict(booster, data) > 0.5) == data.binary[HELD_OUT]
    assert np.mean(right[affected]) > 0.8


def test_early_stopping_keeps_the_best_round_of_the_last_eval_metric(tmp_path: Path, data: Dataset) -> None:
    hyperparameters = {
        "num_round": "300",
        "objective": "binary:logistic",
        "eval_metric": "error,logloss",
        "early_stopping_rounds": "5",
        "eta": "0.5",
    }
    root = instance(tmp_path, hyperparameters, binary_files(data))

    lines = succeeded(run(tmp_path, root))

    rounds = [line for line in lines if re.match(r"\[\d+\]\t", line)]
    logloss = [metric(line, "validation-logloss") for line in rounds]
    best = int(np.argmin(logloss))
    assert len(rounds) == best + 6  # five rounds without improvement, then it stops
    assert model(root).num_boosted_rounds() == best + 1


# -- several instances -----------------------------------------------------------------------------------------


def test_two_instances_train_one_model_on_both_shards(tmp_path: Path, data: Dataset) -> None:
    # Sharded by S3 key: one file each, split by the first feature so that each shard alone is lopsided.
    train = data.table(data.binary, TRAIN)
    order = np.argsort(train[:, 1])
    shards = [train[order[:1250]], train[order[1250:]]]
    validation = csv_text(data.table(data.binary, VALIDATION))
    hosts = ("algo-1", "algo-2")
    roots = [
        instance(
            tmp_path / "job" / host,
            BINARY,
            {f"train/shard-{index}/part.csv": csv_text(shard), "validation/validation.csv": validation},
            host=host,
            hosts=hosts,
        )
        for index, (host, shard) in enumerate(zip(hosts, shards, strict=True))
    ]
    union = instance(
        tmp_path / "union",
        BINARY,
        {"train/a.csv": csv_text(shards[0]), "train/b.csv": csv_text(shards[1]), "validation/v.csv": validation},
    )

    started = time.monotonic()
    lines = succeeded(run(tmp_path / "job", *roots))
    elapsed = time.monotonic() - started
    union_lines = succeeded(run(tmp_path, union))

    assert elapsed < 60
    assert any(line.startswith("algo-1: ") for line in lines) and any(line.startswith("algo-2: ") for line in lines)
    assert any(re.search(r"^algo-1: .*algo-1 is rank 0 of world size 2", line) for line in lines)
    assert any(re.search(r"^algo-2: .*algo-2 is rank 1 of world size 2", line) for line in lines)
    assert any(line.startswith("algo-1: [19]\ttrain-logloss:") for line in lines)
    assert not any(line.startswith("algo-2: [0]") for line in lines)  # the master prints the evaluation
    assert (roots[0] / "model" / "xgboost-model").is_file()
    assert not any((roots[1] / "model").iterdir())
    distributed, alone = model(roots[0]), model(union)
    assert distributed.num_boosted_rounds() == alone.num_boosted_rounds() == 20
    assert abs(accuracy(distributed, data) - accuracy(alone, data)) < 0.03
    # The first round's train metric is over both shards' rows: the union's, not algo-1's shard's.
    local_only: dict[str, Any] = {}
    shard = xgb.DMatrix(shards[0][:, 1:], label=shards[0][:, 0], missing=np.nan)
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 4}
    xgb.train(params, shard, 1, evals=[(shard, "train")], evals_result=local_only, verbose_eval=False)
    union_first = first_train_logloss(union_lines)
    assert abs(local_only["train"]["logloss"][0] - union_first) > 0.05
    assert abs(first_train_logloss(lines, "algo-1: ") - union_first) < 0.01


def test_an_instance_without_training_data_is_left_out(tmp_path: Path, data: Dataset) -> None:
    hosts = ("algo-1", "algo-2")
    roots = [
        instance(tmp_path / "algo-1", BINARY, binary_files(data), host="algo-1", hosts=hosts),
        instance(tmp_path / "algo-2", BINARY, {"validation/v.csv": "1,2,3\n"}, host="algo-2", hosts=hosts),
    ]

    lines = succeeded(run(tmp_path, *roots))

    assert any(line.startswith("algo-2: Host algo-2 does not have train data") for line in lines)
    assert accuracy(model(roots[0]), data) > ACCURACY_FLOOR


def test_algo_1_without_training_data_is_refused_since_the_job_keeps_its_model(tmp_path: Path, data: Dataset) -> None:
    hosts = ("algo-1", "algo-2")
    roots = [
        instance(tmp_path / "algo-1", BINARY, {"validation/v.csv": "1,2,3\n"}, host="algo-1", hosts=hosts),
        instance(tmp_path / "algo-2", BINARY, binary_files(data), host="algo-2", hosts=hosts),
    ]

    reason = failure(run(tmp_path, *roots), roots[0])

    assert reason.startswith("Instance algo-1 has no train data.")
    assert not any((roots[1] / "model").iterdir())


def test_a_failing_worker_stops_the_other_and_the_failure_names_it(tmp_path: Path, data: Dataset) -> None:
    # algo-2 fails reading its data; algo-1 would wait for it forever at the tracker if nothing stopped it.
    hosts = ("algo-1", "algo-2")
    files = binary_files(data)
    broken = dict(files, **{"train/train.csv": "1,0.5,2\n0,abc,1\n"})
    roots = [
        instance(tmp_path / "algo-1", BINARY, files, host="algo-1", hosts=hosts),
        instance(tmp_path / "algo-2", BINARY, broken, host="algo-2", hosts=hosts),
    ]

    started = time.monotonic()
    reason = failure(run(tmp_path, *roots), roots[0])

    assert time.monotonic() - started < 30
    assert reason.startswith("train/train.csv line 2, column 2: 'abc' is not a number.")
    assert reason.endswith("(instance algo-2 of 2)")
    assert not (roots[0] / "model" / "xgboost-model").exists()


def test_a_worker_failing_in_training_is_named_rather_than_the_peer_it_took_down(tmp_path: Path, data: Dataset) -> None:
    hosts = ("algo-1", "algo-2")
    files = binary_files(data)
    labels = data.binary[TRAIN].copy()
    labels[10] = 2.0  # outside [0, 1]: XGBoost refuses it once both instances are training
    broken = dict(files, **{"train/train.csv": csv_text(np.column_stack([labels, data.features[TRAIN]]))})
    roots = [
        instance(tmp_path / "algo-1", BINARY, files, host="algo-1", hosts=hosts),
        instance(tmp_path / "algo-2", BINARY, broken, host="algo-2", hosts=hosts),
    ]

    reason = failure(run(tmp_path, *roots), roots[0])

    assert reason == "XGBoost failed to train: label must be in [0,1] for logistic regression (instance algo-2 of 2)"


def test_a_system_without_network_namespaces_gets_a_reason_and_the_way_out(tmp_path: Path) -> None:
    # unshare refuses a process with threads (EINVAL), as a system that forbids namespaces refuses with EPERM.
    script = textwrap.dedent(
        f"""
        import threading
        from {MODULE} import TrainingFailure, enter_private_network
        threading.Thread(target=threading.Event().wait, daemon=True).start()
        try:
            enter_private_network()
        except TrainingFailure as failure:
            print(failure)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=True
    )

    assert "only inside a private network namespace" in result.stdout
    assert "Invalid argument (EINVAL)" in result.stdout
    assert '"instance_count": 1' in result.stdout


# -- refusals --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyperparameters", "expected"),
    [
        pytest.param({"objective": "binary:logistic"}, "Missing required hyperparameter: num_round", id="num_round"),
        pytest.param({**BINARY, "max_dept": "3"}, "Extraneous hyperparameter found: max_dept", id="unknown"),
        pytest.param(
            {**BINARY, "objective": "binary:logit"},
            "binary:logit is not allowed; objective takes one of",
            id="objective",
        ),
        pytest.param(
            {"num_round": "5", "objective": "multi:softprob"}, "objective=multi:softprob needs num_class", id="classes"
        ),
        pytest.param({**BINARY, "eta": "1.5"}, "eta: 1.5 is not allowed; eta takes a number in [0, 1]", id="eta"),
        pytest.param({**BINARY, "max_depth": "deep"}, "max_depth: could not parse 'deep'", id="max_depth"),
        pytest.param(
            {**BINARY, "eval_metric": "logloss,gini"}, "eval_metric: logloss,gini is not allowed", id="metric"
        ),
        pytest.param(
            {**BINARY, "tree_method": "gpu_hist"}, "local mode trains XGBoost on this machine's CPU", id="gpu"
        ),
        pytest.param({**BINARY, "_kfold": "5"}, "cross-validation, which local mode does not emulate", id="kfold"),
    ],
)
def test_hyperparameters_are_refused_with_a_reason_naming_them(
    tmp_path: Path, hyperparameters: dict[str, str], expected: str
) -> None:
    root = instance(tmp_path, hyperparameters, {"train/train.csv": "1,0.5\n0,0.1\n"}, channels={"train": "text/csv"})

    assert expected in failure(run(tmp_path, root), root)


def test_the_unknown_hyperparameter_reason_suggests_the_known_one(tmp_path: Path) -> None:
    root = instance(tmp_path, {**BINARY, "max_dept": "3"}, {"train/t.csv": "1,0.5\n"}, channels={"train": "text/csv"})

    assert failure(run(tmp_path, root), root).endswith("Did you mean max_depth?")


@pytest.mark.parametrize(
    ("channels", "files", "expected"),
    [
        pytest.param(
            {"train": "text/csv", "test": "text/csv"},
            {"train/t.csv": "1,0.5\n"},
            "Extraneous channel found: test.",
            id="unknown-channel",
        ),
        pytest.param(
            {"train": "application/x-parquet"},
            {"train/t.parquet": "PAR1"},
            "local mode reads CSV and LIBSVM only",
            id="parquet",
        ),
        pytest.param(
            {"train": "text/csv;label_size=2"}, {"train/t.csv": "1,0.5\n"}, "label_size must be equal to 1", id="labels"
        ),
        pytest.param(
            {"train": "text/csv"},
            {"train/t.csv": "1,0.5,2\n0,0.1,3\n1,abc,4\n"},
            "train/t.csv line 3, column 2: 'abc' is not a number.",
            id="non-numeric",
        ),
        pytest.param({"train": "text/csv"}, {}, "No data in training channel path", id="empty-folder"),
        pytest.param({"train": "text/csv"}, {"train/t.csv": ""}, "No data in training channel path", id="empty-file"),
        pytest.param(
            {"train": "text/csv", "validation": "text/csv"},
            {"train/t.csv": "1,0.5\n0,0.1\n"},
            "No data in validation channel path",
            id="empty-validation",
        ),
        pytest.param(
            {"train": "text/libsvm"},
            {"train/t.csv": "1,0.5,2\n"},
            "set the channel's ContentType to text/csv",
            id="csv-as-libsvm",
        ),
    ],
)
def test_channels_and_data_are_refused_with_a_reason_naming_them(
    tmp_path: Path, channels: dict[str, str], files: dict[str, str], expected: str
) -> None:
    root = instance(tmp_path, BINARY, files, channels=channels)

    assert expected in failure(run(tmp_path, root), root)
