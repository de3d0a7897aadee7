"""The preprocessing job script run as SageMaker runs it: a subprocess with its paths passed as arguments."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

ML_DIR = Path(__file__).resolve().parents[2] / "ml"
OUTPUTS = ("train", "validation", "test", "metadata", "xgboost", "transform")


def job_env(**overrides: str) -> dict[str, str]:
    """This environment minus any ``SM_*``; one OpenMP thread, since the scenarios run side by side."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return {**inherited, "OMP_NUM_THREADS": "1", **overrides}


def start_preprocess(
    root: Path,
    frame: pd.DataFrame | dict[str, bytes],
    config: dict[str, Any],
    *,
    container_layout: bool = False,
    instance: tuple[str, list[str]] | None = None,
    block_rows: int | None = None,
) -> subprocess.Popen[str]:
    """Lay out the job's inputs under ``root`` and start the script without waiting for it.

    ``frame`` is the upload, or the data input's files by name (a drift retrain's window). By default every
    path is an argument. With ``container_layout`` no argument is given: ``root`` stands in for ``/opt/ml``
    (inputs under ``processing/input``) and only ``SM_OUTPUT_DIR`` says where it is. ``instance`` (this host, all
    hosts) is the resource config of one instance of a job on several; ``block_rows`` the rows read at a time.
    """
    inputs = root / "processing" / "input" if container_layout else root
    (inputs / "data").mkdir(parents=True)
    (inputs / "config").mkdir()
    if isinstance(frame, pd.DataFrame):
        frame.to_csv(inputs / "data" / "upload.csv", index=False)
    else:
        for name, body in frame.items():
            (inputs / "data" / name).write_bytes(body)
    (inputs / "config" / "config.json").write_text(json.dumps(config))
    args = ["--data-dir", str(root / "data"), "--config-dir", str(root / "config")]
    for output in OUTPUTS:
        args += [f"--{output}-dir", str(root / "out" / output)]
    args += ["--message-file", str(root / "message")]
    if instance is not None:
        (root / "resourceconfig.json").write_text(json.dumps({"current_host": instance[0], "hosts": instance[1]}))
        args += ["--resource-config", str(root / "resourceconfig.json")]
    if block_rows is not None:
        args += ["--block-rows", str(block_rows)]
    if container_layout:
        (root / "output").mkdir()
        args = []
    return subprocess.Popen(
        [sys.executable, str(ML_DIR / "preprocess.py"), *args],
        env=job_env(SM_OUTPUT_DIR=str(root / "output")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def churn_frame() -> pd.DataFrame:
    rows = 240
    rng = np.random.default_rng(7)
    plan = rng.choice(["basic", "plus", "pro"], size=rows, p=[0.5, 0.3, 0.2]).astype(object)
    plan[[5, 50]] = None
    tenure = rng.integers(1, 60, size=rows).astype(float)
    tenure[[3, 30, 90]] = np.nan
    churn = np.where(rng.random(rows) < np.where(plan == "basic", 0.45, 0.15), "yes", "no")
    return pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "plan": plan,
            "churn": churn,
            "tenure_months": tenure,
            "monthly_spend": np.round(rng.uniform(10, 100, rows), 2) + np.arange(rows) * 1e-4,
        }
    )


def churn_config() -> dict[str, Any]:
    return {
        "dataset": "churn",
        "target": "churn",
        "problem_type": "binary_classification",
        "metric": "auc",
        "columns": [
            {"name": "customer_id", "type": "numeric"},
            {"name": "plan", "type": "categorical"},
            {"name": "churn", "type": "categorical"},
            {"name": "tenure_months", "type": "numeric"},
            {"name": "monthly_spend", "type": "numeric"},
        ],
        "feature_columns": ["tenure_months", "plan", "monthly_spend"],
        "seed": 11,
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15},
    }


def churn_window() -> dict[str, bytes]:
    """The churn rows as a retrain window: three uploads, one compressed, one with its columns in another order,
    named so their sorted order is the rows' order (written here out of that order)."""
    frame = churn_frame()
    reordered = frame.iloc[100:180][["churn", "monthly_spend", "plan", "customer_id", "tenure_months"]]
    return {
        "0003-march.csv": frame.iloc[180:].to_csv(index=False).encode(),
        "0001-january.csv": frame.iloc[:100].to_csv(index=False).encode(),
        "0002-february.csv.gz": gzip.compress(reordered.to_csv(index=False).encode()),
    }


def price_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    size = rng.uniform(30, 200, 60)
    price = (size * 3000 + rng.normal(0, 1e4, 60)).round(2).astype(object)
    price[[0, 1, 2, 3]] = None
    return pd.DataFrame({"size_m2": size, "city": rng.choice(["lyon", "paris"], 60), "price": price})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every scenario's job runs at once (each is a separate process), then the tests read the results."""
    base = tmp_path_factory.mktemp("preprocess")
    scenarios: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {
        "churn": (churn_frame(), churn_config()),
        "churn_again": (churn_frame(), churn_config()),
        "price": (
            price_frame(),
            {
                "target": "price",
                "problem_type": "regression",
                "feature_columns": ["size_m2", "city"],
                "seed": 1,
                "split": {"train": 0.6, "validation": 0.2, "test": 0.2},
            },
        ),
        "churn_in_container": (churn_frame(), churn_config()),
        "no_target": (churn_frame().head(40), {**churn_config(), "target": "cancelled"}),
        "churn_window": (churn_window(), churn_config()),
        "window_missing_column": (
            {
                "0001-a.csv": churn_frame().head(40).to_csv(index=False).encode(),
                "0002-b.csv": churn_frame().head(40).drop(columns=["plan"]).to_csv(index=False).encode(),
            },
            churn_config(),
        ),
    }
    processes = {
        name: start_preprocess(base / name, *inputs, container_layout=name.endswith("container"))
        for name, inputs in scenarios.items()
    }
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=60)
        (base / name / "rc").write_text(str(process.returncode))
        (base / name / "log").write_text(stdout + stderr)
    return {name: base / name for name in scenarios}


def read_outputs(root: Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    assert (root / "rc").read_text() == "0", (root / "log").read_text()
    splits = {name: pd.read_csv(root / "out" / name / f"{name}.csv") for name in ("train", "validation", "test")}
    metadata = json.loads((root / "out" / "metadata" / "preprocessing.json").read_text())
    return splits, metadata


def test_splits_have_target_first_then_features_in_config_order(runs: dict[str, Path]) -> None:
    splits, metadata = read_outputs(runs["churn"])

    for frame in splits.values():
        assert list(frame.columns) == ["churn", "tenure_months", "plan", "monthly_spend"]
    assert metadata["target"] == "churn"
    assert metadata["feature_columns"] == ["tenure_months", "plan", "monthly_spend"]
    assert metadata["problem_type"] == "binary_classification"


def test_split_sizes_follow_the_config_and_keep_the_class_balance(runs: dict[str, Path]) -> None:
    splits, metadata = read_outputs(runs["churn"])
    original = churn_frame()

    assert metadata["rows"] == {"train": 168, "validation": 36, "test": 36}
    assert {name: len(frame) for name, frame in splits.items()} == metadata["rows"]
    spend = pd.concat([frame["monthly_spend"] for frame in splits.values()])
    assert spend.is_unique and np.allclose(np.sort(spend), np.sort(original["monthly_spend"]))
    overall = (original["churn"] == "yes").mean()
    for frame in splits.values():
        assert abs(frame["churn"].mean() - overall) < 0.04
    assert metadata["stratified"] is True


def test_labels_and_categories_are_codes_that_decode_to_the_original_values(runs: dict[str, Path]) -> None:
    splits, metadata = read_outputs(runs["churn"])
    original = churn_frame().set_index(churn_frame()["monthly_spend"].round(6))

    assert metadata["class_labels"] == ["no", "yes"]
    assert metadata["categorical"] == {"plan": ["basic", "plus", "pro"]}
    rows = pd.concat(splits.values()).set_index("monthly_spend")
    rows.index = rows.index.round(6)
    source = original.loc[rows.index]
    decoded_churn = [metadata["class_labels"][code] for code in rows["churn"]]
    assert decoded_churn == source["churn"].tolist()
    decoded_plan = [metadata["categorical"]["plan"][int(c)] if pd.notna(c) else None for c in rows["plan"]]
    assert decoded_plan == [p if isinstance(p, str) else None for p in source["plan"]]
    assert rows["plan"].isna().sum() == 2


def test_missing_numeric_values_stay_empty(runs: dict[str, Path]) -> None:
    splits, _ = read_outputs(runs["churn"])

    assert sum(int(frame["tenure_months"].isna().sum()) for frame in splits.values()) == 3
    raw_line = (runs["churn"] / "out" / "train" / "train.csv").read_text().splitlines()[1]
    assert "nan" not in raw_line.lower()


def test_same_config_and_seed_give_identical_files(runs: dict[str, Path]) -> None:
    for output, file in (("train", "train.csv"), ("test", "test.csv"), ("metadata", "preprocessing.json")):
        first = (runs["churn"] / "out" / output / file).read_bytes()
        assert first == (runs["churn_again"] / "out" / output / file).read_bytes()


def test_without_path_arguments_the_container_layout_under_sm_output_dir_is_used(
    runs: dict[str, Path],
) -> None:
    root = runs["churn_in_container"]
    assert (root / "rc").read_text() == "0", (root / "log").read_text()

    for output, file in (("train", "train.csv"), ("test", "test.csv"), ("metadata", "preprocessing.json")):
        written = (root / "processing" / "output" / output / file).read_bytes()
        assert written == (runs["churn"] / "out" / output / file).read_bytes()


def test_regression_keeps_numeric_target_and_drops_rows_without_one(runs: dict[str, Path]) -> None:
    splits, metadata = read_outputs(runs["price"])

    assert metadata["class_labels"] is None
    assert metadata["dropped_rows"] == 4
    assert metadata["rows"] == {"train": 34, "validation": 11, "test": 11}
    assert metadata["categorical"] == {"city": ["lyon", "paris"]}
    assert list(splits["train"].columns) == ["price", "size_m2", "city"]
    assert splits["train"]["price"].min() > 1000


def test_missing_target_column_fails_with_a_reason_naming_it(runs: dict[str, Path]) -> None:
    root = runs["no_target"]

    assert (root / "rc").read_text() == "1"
    reason = (root / "message").read_text()
    assert "'cancelled'" in reason and "lacks column" in reason
    assert not (root / "out" / "train" / "train.csv").exists()


def test_a_retrain_window_s_files_are_read_as_one_table_in_name_order(runs: dict[str, Path]) -> None:
    """The window's rows, split across three files (one gzip, one with its columns reordered), split exactly as
    the same rows uploaded as one file."""
    _, metadata = read_outputs(runs["churn_window"])

    for output, file in (
        ("train", "train.csv"),
        ("validation", "validation.csv"),
        ("test", "test.csv"),
        ("test", "test_features.csv"),
    ):
        assert (runs["churn_window"] / "out" / output / file).read_bytes() == (
            runs["churn"] / "out" / output / file
        ).read_bytes()
    assert metadata["rows"] == {"train": 168, "validation": 36, "test": 36}
    assert metadata["source_files"] == [
        {"file": "0001-january.csv", "rows": 100},
        {"file": "0002-february.csv.gz", "rows": 80},
        {"file": "0003-march.csv", "rows": 60},
    ]
    assert metadata["source_file"] is None
    log = (runs["churn_window"] / "log").read_text()
    assert "Read 240 rows from 3 files, in name order" in log


def test_one_uploaded_file_is_recorded_as_the_only_source(runs: dict[str, Path]) -> None:
    _, metadata = read_outputs(runs["churn"])

    assert metadata["source_file"] == "upload.csv"
    assert metadata["source_files"] == [{"file": "upload.csv", "rows": 240}]


def test_a_window_file_lacking_a_column_fails_naming_the_file(runs: dict[str, Path]) -> None:
    root = runs["window_missing_column"]

    assert (root / "rc").read_text() == "1"
    reason = (root / "message").read_text()
    assert reason.startswith("Preprocessing failed: 0002-b.csv lacks column(s) 'plan'")
    assert not (root / "out" / "train" / "train.csv").exists()


# Several instances -------------------------------------------------------------------------------------------------


def animals_frame() -> pd.DataFrame:
    """Three classes, rows without a label, a category only a few rows have, and a stray text in a numeric column."""
    rows = 900
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "weight": rng.normal(30, 8, rows).round(3).astype(object),
            "habitat": rng.choice(
                np.array(["forest", "river", "plain", None], dtype=object), rows, p=[0.4, 0.3, 0.28, 0.02]
            ),
            "legs": rng.choice([2, 4, 6], rows).astype(str),
            "kind": rng.choice(["bird", "mammal", "insect"], rows),
        }
    )
    frame.loc[rng.choice(rows, 12, replace=False), "kind"] = None
    frame.loc[rng.choice(rows, 3, replace=False), "habitat"] = "cave"
    frame.loc[17, "weight"] = "heavy"
    return frame


def animals_files() -> dict[str, bytes]:
    """The rows as four uploads: a large one that can be cut, a compressed one, one with quoted values (never cut)
    and one with its columns in another order."""
    frame = animals_frame()
    quoted = frame.iloc[500:650].to_csv(index=False).replace("forest,", '"forest",')
    return {
        "0001.csv": frame.iloc[:400].to_csv(index=False).encode(),
        "0002.csv.gz": gzip.compress(frame.iloc[400:500].to_csv(index=False).encode()),
        "0003.csv": quoted.encode(),
        "0004.csv": frame.iloc[650:][["kind", "legs", "weight", "habitat"]].to_csv(index=False).encode(),
    }


def animals_config() -> dict[str, Any]:
    return {
        "target": "kind",
        "problem_type": "multiclass_classification",
        "feature_columns": ["weight", "habitat", "legs"],
        "columns": [
            {"name": "weight", "type": "numeric"},
            {"name": "habitat", "type": "categorical"},
            {"name": "kind", "type": "categorical"},
        ],
        "seed": 9,
        "model_algorithm": "xgboost",
        "instance_count": 2,
    }


SHARDED_SCENARIOS: dict[str, tuple[dict[str, bytes], int]] = {
    "one": (animals_files(), 1),
    "two": (animals_files(), 2),
    "three": (animals_files(), 3),
    "gzip_alone_on_three": ({"all.csv.gz": gzip.compress(animals_frame().to_csv(index=False).encode())}, 3),
    "gzip_alone_on_one": ({"all.csv.gz": gzip.compress(animals_frame().to_csv(index=False).encode())}, 1),
}


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Each scenario's job on its instances (one process each, as SageMaker runs them), reading 37 rows at a time."""
    base = tmp_path_factory.mktemp("sharded")
    roots: dict[str, list[Path]] = {}
    processes = []
    for name, (files, count) in SHARDED_SCENARIOS.items():
        hosts = [f"algo-{index}" for index in range(1, count + 1)]
        roots[name] = [base / name / host for host in hosts]
        for host, root in zip(hosts, roots[name], strict=True):
            processes.append(
                (root, start_preprocess(root, files, animals_config(), instance=(host, hosts), block_rows=37))
            )
    for root, process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stdout + stderr
        (root / "log").write_text(stdout + stderr)
    return roots


def joined(roots: list[Path], output: str, file_name: str) -> list[str]:
    """The lines of the one file a single instance writes, or of every instance's part read in order, one header."""
    stem, suffix = file_name.rsplit(".", 1)
    lines: list[str] = []
    for index, root in enumerate(roots):
        for name in (file_name, f"{stem}-{index:05d}.{suffix}"):
            path = root / "out" / output / name
            if path.is_file():
                part = path.read_text().splitlines()
                assert not lines or part[0] == lines[0]
                lines += part if not lines else part[1:]
    return lines


SPLIT_OUTPUTS = [
    ("train", "train.csv"),
    ("validation", "validation.csv"),
    ("test", "test.csv"),
    ("test", "test_features.csv"),
]


@pytest.mark.parametrize("scenario", ["two", "three"])
def test_several_instances_write_exactly_the_rows_one_instance_writes(
    sharded: dict[str, list[Path]], scenario: str
) -> None:
    one = sharded["one"]
    for output, file_name in SPLIT_OUTPUTS:
        assert joined(sharded[scenario], output, file_name) == joined(one, output, file_name), file_name
    single = json.loads((one[0] / "out" / "metadata" / "preprocessing.json").read_text())
    several = json.loads((sharded[scenario][0] / "out" / "metadata" / "preprocessing.json").read_text())
    assert {**several, "split_files": None} == {**single, "split_files": None}
    assert single["class_labels"] == ["bird", "insect", "mammal"]
    assert single["dropped_rows"] == 12
    # Only the first instance writes the metadata; the others' outputs hold their parts alone.
    for root in sharded[scenario][1:]:
        assert not (root / "out" / "metadata").exists() or not any((root / "out" / "metadata").iterdir())


def test_the_instances_share_the_rows_and_the_metadata_lists_every_part_in_order(
    sharded: dict[str, list[Path]],
) -> None:
    roots = sharded["three"]
    metadata = json.loads((roots[0] / "out" / "metadata" / "preprocessing.json").read_text())
    assert metadata["split_files"]["train"] == ["train-00000.csv", "train-00001.csv", "train-00002.csv"]
    assert metadata["split_files"]["test_features"] == [
        "test_features-00000.csv",
        "test_features-00001.csv",
        "test_features-00002.csv",
    ]
    sizes = [len(pd.read_csv(root / "out" / "train" / f"train-{index:05d}.csv")) for index, root in enumerate(roots)]
    assert sum(sizes) == metadata["rows"]["train"] and min(sizes) > 0
    for index, root in enumerate(roots):
        assert f"Instance algo-{index + 1} ({index + 1} of 3) encodes" in (root / "log").read_text()
    single = json.loads((sharded["one"][0] / "out" / "metadata" / "preprocessing.json").read_text())
    assert single["split_files"]["train"] == ["train.csv"]


def test_a_file_that_cannot_be_cut_is_encoded_by_one_instance_and_the_others_write_nothing(
    sharded: dict[str, list[Path]],
) -> None:
    roots = sharded["gzip_alone_on_three"]
    for output, file_name in SPLIT_OUTPUTS:
        assert joined(roots, output, file_name) == joined(sharded["gzip_alone_on_one"], output, file_name)
    metadata = json.loads((roots[0] / "out" / "metadata" / "preprocessing.json").read_text())
    assert metadata["split_files"]["train"] == ["train-00000.csv"]
    for root in roots[1:]:
        assert not any(path.is_file() for path in (root / "out").rglob("*"))


def test_the_xgboost_shards_of_several_instances_hold_the_train_split_dealt_as_one_instance_deals_it(
    sharded: dict[str, list[Path]],
) -> None:
    def shards(roots: list[Path]) -> dict[int, list[str]]:
        dealt: dict[int, list[str]] = {}
        for root in roots:
            for path in sorted((root / "out" / "xgboost" / "train").glob("part-*.csv")):
                dealt.setdefault(int(path.stem.rsplit("-", 1)[1]), []).extend(path.read_text().splitlines())
        return dealt

    one, three = shards(sharded["one"]), shards(sharded["three"])
    assert set(one) == {0, 1}
    assert one == three  # shard k: the same rows in the same order, whichever instance encoded them
    train = joined(sharded["one"], "train", "train.csv")[1:]
    assert sorted(one[0] + one[1]) == sorted(train) and abs(len(one[0]) - len(one[1])) <= 1
    names = sorted(path.name for root in sharded["three"] for path in (root / "out" / "xgboost" / "train").iterdir())
    assert names == [f"part-{i:05d}-{k:05d}.csv" for i in range(3) for k in range(2)]


def test_a_model_in_its_own_container_gets_the_test_rows_without_their_header_for_its_batch_transform(
    tmp_path: Path,
) -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/driftline/churn:1"
    process = start_preprocess(tmp_path, churn_frame(), {**churn_config(), "model_image": image})
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stdout + stderr

    raw = (tmp_path / "out" / "test" / "test_features.csv").read_text().splitlines()
    assert (tmp_path / "out" / "transform" / "part-00000.csv").read_text().splitlines() == raw[1:]


def test_runs_trained_any_other_way_get_no_transform_output(runs: dict[str, Path]) -> None:
    read_outputs(runs["churn"])
    assert not (runs["churn"] / "out" / "transform").exists()
