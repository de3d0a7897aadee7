"""A small model trained by the real preprocessing and training scripts, for the serving tests.

Binary classification with labels ``no`` and ``yes`` on two numeric features and one categorical feature
(``color``: blue, green, red), so requests exercise both encodings. Trained once per test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

ML_DIR = Path(__file__).resolve().parents[1] / "ml"
FEATURES = ["x1", "x2", "color"]


def _run(script: str, args: list[str], env: dict[str, str]) -> None:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    result = subprocess.run(
        [sys.executable, str(ML_DIR / script), *args],
        env={**inherited, "OMP_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def train_serving_model(root: Path, *, seed: int = 5, flip: bool = False) -> Path:
    """Train on generated rows; return the model folder (``model.tar.gz`` is written beside it).

    ``flip`` swaps what the numeric signal means, so two models answer the same row differently.
    """
    rng = np.random.default_rng(seed)
    rows = 300
    x1 = rng.normal(size=rows)
    x2 = rng.normal(size=rows)
    color = rng.choice(["blue", "green", "red"], rows)
    signal = (-1.0 if flip else 1.0) * 2.0 * x1 + 1.5 * (color == "red") + rng.normal(0, 0.2, rows)
    label = np.where(signal > 0.5, "yes", "no")
    (root / "data").mkdir(parents=True)
    pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label}).to_csv(root / "data" / "d.csv", index=False)
    (root / "config").mkdir()
    config = {"target": "label", "problem_type": "binary_classification", "seed": 3}
    (root / "config" / "config.json").write_text(json.dumps(config))
    out = root / "out"
    _run(
        "preprocess.py",
        ["--data-dir", str(root / "data"), "--config-dir", str(root / "config")]
        + [arg for name in ("train", "validation", "test", "metadata") for arg in (f"--{name}-dir", str(out / name))]
        + ["--message-file", str(root / "preprocess-message")],
        {},
    )
    _run(
        "train.py",
        ["--max_iter", "30", "--min_samples_leaf", "5"],
        {
            "SM_MODEL_DIR": str(root / "model"),
            "SM_CHANNEL_TRAIN": str(out / "train"),
            "SM_CHANNEL_VALIDATION": str(out / "validation"),
            "SM_CHANNEL_METADATA": str(out / "metadata"),
            "SM_OUTPUT_DIR": str(root / "output"),
        },
    )
    with tarfile.open(root / "model.tar.gz", "w:gz") as archive:
        for file in sorted((root / "model").iterdir()):
            archive.add(file, arcname=file.name)
    return root / "model"
