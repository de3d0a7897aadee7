"""The drift baseline job run as SageMaker runs it, on a train split and preprocessing.json as preprocess.py
writes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftline_ml import parallel
from driftline_ml.jobs import JobInputError
from driftline_ml.split_summary import summarise_split
from tests.ml.summary_checks import assert_same_summary

ML_DIR = Path(__file__).resolve().parents[2] / "ml"
PLANS = ["basic", "plus", "pro"]


def write_preprocessed(root: Path, rows: int = 2000, seed: int = 1) -> dict[str, Any]:
    """A train split (target first, the categorical feature as codes, a few values missing) and its metadata."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "churn": rng.integers(0, 2, rows),
            "income": rng.normal(50, 10, rows),
            "age": rng.integers(18, 80, rows).astype(float),
            "plan": rng.choice(3, rows, p=[0.5, 0.3, 0.2]).astype(float),
        }
    )
    frame.loc[[3, 7], "income"] = np.nan
    frame.loc[[5], "plan"] = np.nan
    metadata = {
        "target": "churn",
        "problem_type": "binary_classification",
        "feature_columns": ["income", "age", "plan"],
        "categorical": {"plan": PLANS},
        "class_labels": ["no", "yes"],
    }
    (root / "train").mkdir(parents=True)
    (root / "metadata").mkdir()
    frame.to_csv(root / "train" / "train.csv", index=False)
    (root / "metadata" / "preprocessing.json").write_text(json.dumps(metadata))
    return {"frame": frame, "metadata": metadata}


def run_baseline(root: Path) -> subprocess.CompletedProcess[str]:
    args = ["--train-dir", root / "train", "--metadata-dir", root / "metadata", "--output-dir", root / "out"]
    args += ["--message-file", root / "message"]
    return subprocess.run(
        [sys.executable, str(ML_DIR / "baseline.py"), *map(str, args)], capture_output=True, text=True, check=False
    )


def test_baseline_writes_statistics_and_constraints_in_model_monitors_schemas(tmp_path: Path) -> None:
    data = write_preprocessed(tmp_path)
    result = run_baseline(tmp_path)
    assert result.returncode == 0, result.stderr
    statistics = json.loads((tmp_path / "out" / "statistics.json").read_text())
    constraints = json.loads((tmp_path / "out" / "constraints.json").read_text())

    assert statistics["version"] == 0 and statistics["dataset"] == {"item_count": 2000}
    by_name = {f["name"]: f for f in statistics["features"]}
    assert [f["name"] for f in statistics["features"]] == ["income", "age", "plan"]
    income = by_name["income"]
    assert income["inferred_type"] == "Fractional" and by_name["age"]["inferred_type"] == "Integral"
    numbers = income["numerical_statistics"]
    assert numbers["common"] == {"num_present": 1998, "num_missing": 2}
    assert set(numbers) >= {"mean", "sum", "std_dev", "min", "max", "distribution"}
    assert numbers["mean"] == pytest.approx(data["frame"]["income"].mean(), rel=1e-12)
    kll = numbers["distribution"]["kll"]
    assert len(kll["buckets"]) == 10 and set(kll["buckets"][0]) == {"lower_bound", "upper_bound", "count"}
    assert sum(b["count"] for b in kll["buckets"]) == pytest.approx(1998)
    assert set(kll["sketch"]["parameters"]) == {"c", "k"}
    assert sum(len(level) * 2**i for i, level in enumerate(kll["sketch"]["data"])) == 1998

    plan = by_name["plan"]
    assert plan["inferred_type"] == "String"
    strings = plan["string_statistics"]
    assert strings["common"] == {"num_present": 1999, "num_missing": 1}
    counts = {b["value"]: b["count"] for b in strings["distribution"]["categorical"]["buckets"]}
    expected = data["frame"]["plan"].dropna().astype(int).map(dict(enumerate(PLANS))).value_counts().to_dict()
    assert counts == expected and strings["distinct_count"] == 3

    assert constraints["version"] == 0
    constrained = {f["name"]: f for f in constraints["features"]}
    assert constrained["income"]["completeness"] == 1998 / 2000
    assert constrained["income"]["num_constraints"] == {"is_non_negative": True}
    assert constrained["plan"]["string_constraints"] == {"domains": PLANS}
    config = constraints["monitoring_config"]
    assert config["evaluate_constraints"] == "Enabled" and config["emit_metrics"] == "Enabled"
    assert config["distribution_constraints"] == {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    }


def test_a_train_split_with_codes_the_metadata_does_not_list_fails_with_a_readable_reason(tmp_path: Path) -> None:
    write_preprocessed(tmp_path)
    frame = pd.read_csv(tmp_path / "train" / "train.csv")
    frame.loc[0, "plan"] = 7
    frame.to_csv(tmp_path / "train" / "train.csv", index=False)
    result = run_baseline(tmp_path)
    assert result.returncode == 1
    reason = (tmp_path / "message").read_text()
    assert "'plan'" in reason and "rerun the preprocessing step" in reason


def test_a_missing_train_split_fails_naming_the_input(tmp_path: Path) -> None:
    write_preprocessed(tmp_path)
    (tmp_path / "train" / "train.csv").unlink()
    result = run_baseline(tmp_path)
    assert result.returncode == 1
    assert "train input folder" in (tmp_path / "message").read_text()


def test_the_split_read_in_parallel_pieces_gives_the_whole_files_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_preprocessed(tmp_path, rows=20_000)
    split = tmp_path / "train" / "train.csv"
    monkeypatch.setattr(parallel, "PIECE_BYTES", 64 * 1024)
    assert len(parallel.spans([split])) > 4

    pieces = summarise_split([split], data["metadata"], workers=2)

    assert pieces.rows == 20_000
    assert_same_summary(pieces, summarise_split([split], data["metadata"], workers=1))


def test_a_bad_code_in_a_later_piece_fails_with_the_same_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_preprocessed(tmp_path, rows=20_000)
    split = tmp_path / "train" / "train.csv"
    frame = pd.read_csv(split)
    frame.loc[19_990, "plan"] = 7
    frame.to_csv(split, index=False)
    monkeypatch.setattr(parallel, "PIECE_BYTES", 64 * 1024)

    with pytest.raises(JobInputError, match="'plan' holds codes outside the 3 categories"):
        summarise_split([split], data["metadata"], workers=2)


def test_a_split_with_a_quoted_line_break_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value quoted across a line break would put a piece's cut inside a row; such a split is read in one go."""
    data = write_preprocessed(tmp_path, rows=20_000)
    split = tmp_path / "train" / "train.csv"
    frame = pd.read_csv(split)
    frame.insert(1, "note", "two\nlines, quoted")
    frame.to_csv(split, index=False)
    monkeypatch.setattr(parallel, "PIECE_BYTES", 64 * 1024)

    pieces = summarise_split([split], data["metadata"], workers=2)

    assert pieces.rows == 20_000
    assert_same_summary(pieces, summarise_split([split], data["metadata"], workers=1))
