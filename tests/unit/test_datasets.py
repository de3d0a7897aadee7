"""Sample datasets: the shapes the demos and benchmarks rely on, determinism, and the drift knob."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.datasets import CREDIT_COLUMNS, main, write_breast_cancer_csv, write_credit_csv

REPO_ROOT = Path(__file__).resolve().parents[2]
NUMERIC_CREDIT_FEATURES = [c for c in CREDIT_COLUMNS if c not in ("home_ownership", "default")]


def credit(
    tmp_path: Path,
    rows: int,
    name: str = "credit.csv",
    *,
    seed: int = 0,
    drift: float = 0.0,
    chunk_rows: int = 50_000,
) -> pd.DataFrame:
    path = tmp_path / name
    assert write_credit_csv(path, rows, seed=seed, drift=drift, chunk_rows=chunk_rows) == rows
    return pd.read_csv(path)


def test_breast_cancer_has_569_rows_snake_case_columns_and_text_diagnosis(tmp_path: Path) -> None:
    path = tmp_path / "breast-cancer.csv"

    assert write_breast_cancer_csv(path) == 569
    frame = pd.read_csv(path)

    assert frame.shape == (569, 31)
    assert frame.columns[-1] == "diagnosis"
    assert {"mean_radius", "worst_concave_points", "radius_error"} <= set(frame.columns)
    assert all(name == name.lower() and " " not in name for name in frame.columns)
    assert frame["diagnosis"].value_counts().to_dict() == {"benign": 357, "malignant": 212}


def test_credit_writes_the_requested_rows_across_chunks(tmp_path: Path) -> None:
    frame = credit(tmp_path, 250, chunk_rows=100)

    assert len(frame) == 250
    assert list(frame.columns) == list(CREDIT_COLUMNS)
    assert set(frame["home_ownership"]) == {"rent", "own", "mortgage"}
    assert set(frame["default"]) == {0, 1}
    assert frame[NUMERIC_CREDIT_FEATURES].dtypes.map(pd.api.types.is_numeric_dtype).all()


def test_credit_with_zero_rows_is_a_header_only_file(tmp_path: Path) -> None:
    frame = credit(tmp_path, 0)

    assert frame.empty and list(frame.columns) == list(CREDIT_COLUMNS)


def test_credit_is_deterministic_by_seed(tmp_path: Path) -> None:
    write_credit_csv(tmp_path / "a.csv", 300, seed=4)
    write_credit_csv(tmp_path / "b.csv", 300, seed=4)
    write_credit_csv(tmp_path / "c.csv", 300, seed=5)

    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_credit_values_are_plausible_and_default_is_predictable(tmp_path: Path) -> None:
    frame = credit(tmp_path, 6000, seed=1)

    assert frame["age"].between(21, 80).all()
    assert frame["utilization"].between(0, 1).all()
    assert 0.08 < frame["default"].mean() < 0.25
    assert 0.005 < frame["employment_years"].isna().mean() < 0.05
    risk_by_late_payments = frame.groupby(frame["late_payments_12m"].clip(upper=2))["default"].mean()
    assert risk_by_late_payments.is_monotonic_increasing

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    features = pd.get_dummies(frame.drop(columns="default"), dtype=float).fillna(0.0)
    features = (features - features.mean()) / features.std()
    train, test = slice(0, 4000), slice(4000, None)
    model = LogisticRegression(max_iter=500).fit(features[train], frame["default"][train])
    auc = roc_auc_score(frame["default"][test], model.predict_proba(features[test])[:, 1])
    assert 0.72 < auc < 0.9


def test_drift_moves_income_down_and_utilization_debt_and_renting_up(tmp_path: Path) -> None:
    reference = credit(tmp_path, 3000, "reference.csv", seed=1)
    same_market = credit(tmp_path, 3000, "same.csv", seed=2)
    drifted = credit(tmp_path, 3000, "drifted.csv", seed=3, drift=0.5)

    def shifts(other: pd.DataFrame) -> dict[str, float]:
        return {
            "income": float(np.log(other["income"]).mean() - np.log(reference["income"]).mean()),
            "utilization": float(other["utilization"].mean() - reference["utilization"].mean()),
            "debt_to_income": float(other["debt_to_income"].mean() - reference["debt_to_income"].mean()),
            "renters": float(
                (other["home_ownership"] == "rent").mean() - (reference["home_ownership"] == "rent").mean()
            ),
        }

    moved, noise = shifts(drifted), shifts(same_market)
    assert moved["income"] < -0.2 and moved["utilization"] > 0.05
    assert moved["debt_to_income"] > 0.03 and moved["renters"] > 0.08
    assert all(abs(noise[name]) < abs(moved[name]) / 4 for name in moved)


def test_credit_rejects_negative_rows_and_drift(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows"):
        write_credit_csv(tmp_path / "x.csv", -1)
    with pytest.raises(ValueError, match="drift"):
        write_credit_csv(tmp_path / "x.csv", 10, drift=-0.5)


def test_cli_writes_both_datasets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["credit", "--rows", "120", "--drift", "0.2", "--seed", "3", str(tmp_path / "out" / "c.csv")]) == 0
    assert main(["breast-cancer", str(tmp_path / "bc.csv")]) == 0

    assert len(pd.read_csv(tmp_path / "out" / "c.csv")) == 120
    assert len(pd.read_csv(tmp_path / "bc.csv")) == 569
    assert "Wrote 120 rows" in capsys.readouterr().out


@pytest.mark.parametrize(("sample", "target"), [("breast-cancer", "diagnosis"), ("credit", "default")])
def test_sample_dataset_configs_name_the_target_and_gate(sample: str, target: str) -> None:
    config = json.loads((REPO_ROOT / "samples" / sample / "dataset.json").read_text())

    assert config["target"] == target
    assert config["problem_type"] == "binary_classification"
    assert config["metric"] == "auc"
    assert 0.5 < config["threshold"] < 1.0
