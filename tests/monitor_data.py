"""The drift monitor tests' data: credit-like rows, the baseline the real baseline job makes of them, and
requests as SageMaker's data capture records them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ML_DIR = Path(__file__).resolve().parents[1] / "ml"
PLANS = ["basic", "plus", "pro"]
FEATURES = ["income", "age", "ratio", "plan"]
BASELINE_ROWS = 6000


def features(rows: int, seed: int, *, shifted: bool = False) -> pd.DataFrame:
    """Credit-like rows; ``shifted`` moves income up one standard deviation and turns the plan mix around."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(60 if shifted else 50, 10, rows),
            "age": rng.integers(18, 80, rows).astype(float),
            "ratio": rng.uniform(0, 1, rows),
            "plan": rng.choice(3, rows, p=[0.2, 0.3, 0.5] if shifted else [0.5, 0.3, 0.2]),
        }
    )


def capture_record(
    data: str,
    *,
    content_type: str = "text/csv",
    encoding: str = "CSV",
    inference_time: str | None = "2026-11-20T10:15:00Z",
    compact: bool = False,
) -> str:
    """One capture line; ``compact`` writes it as SageMaker does (no blanks), else as ``json.dumps`` spaces it (which
    the monitor reads through the JSON decoder). ``inference_time`` None leaves the record without one."""
    metadata = {"eventId": "3f1e2d4c-0000-4000-8000-000000000000"}
    if inference_time is not None:
        metadata["inferenceTime"] = inference_time
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.1", "encoding": "CSV"},
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":") if compact else None) + "\n"


def csv_rows(frame: pd.DataFrame) -> list[str]:
    return [f"{r.income:.6f},{int(r.age)},{r.ratio:.6f},{PLANS[r.plan]}" for r in frame.itertuples(index=False)]


def build_baseline(root: Path) -> Path:
    """The drift baseline the real baseline job makes of a credit-like train split; its output folder."""
    frame = features(BASELINE_ROWS, seed=1)
    frame.insert(0, "default", np.random.default_rng(0).integers(0, 2, BASELINE_ROWS))
    (root / "train").mkdir()
    (root / "metadata").mkdir()
    frame.to_csv(root / "train" / "train.csv", index=False)
    metadata = {
        "target": "default",
        "problem_type": "binary_classification",
        "feature_columns": FEATURES,
        "categorical": {"plan": PLANS},
        "class_labels": ["0", "1"],
    }
    (root / "metadata" / "preprocessing.json").write_text(json.dumps(metadata))
    args = ["--train-dir", root / "train", "--metadata-dir", root / "metadata", "--output-dir", root / "out"]
    subprocess.run([sys.executable, str(ML_DIR / "baseline.py"), *map(str, args)], check=True, capture_output=True)
    return root / "out"
