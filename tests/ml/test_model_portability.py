"""A model trained in local mode is one the SageMaker scikit-learn container loads: local mode runs the default
container's library versions, and the saved model reloads in a fresh process and predicts as it did in training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from driftline.image_registries import REPO_ROOT
from driftline.sklearn_container import (
    CONTAINER_LIBRARIES,
    DEFAULT_CONTAINER_VERSION,
    LOCAL_LIBRARY_EXCEPTIONS,
    local_libraries,
)

ML_DIR = REPO_ROOT / "ml"

RELOAD_AND_SCORE = """
import json, sys, warnings
from pathlib import Path
import joblib
from sklearn.exceptions import InconsistentVersionWarning
sys.path.insert(0, sys.argv[1])
from driftline_ml.metrics import compute_metrics
from driftline_ml.tabular import load_split
from train import positive_class_scores

warnings.simplefilter("error", InconsistentVersionWarning)
root = Path(sys.argv[2])
metadata = json.loads((root / "model" / "model_metadata.json").read_text())
model = joblib.load(root / "model" / "model.joblib")
x, y = load_split(root / "validation", "validation", metadata)
print(json.dumps(compute_metrics(metadata["problem_type"], y, model.predict(x), positive_class_scores(model, x))))
"""


def pinned_dependencies() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = (line.split(";")[0].strip() for line in project["dependencies"])
    return dict(pin.split("==", 1) for pin in pins if "==" in pin)


def test_local_mode_runs_the_default_containers_library_versions() -> None:
    container = CONTAINER_LIBRARIES[DEFAULT_CONTAINER_VERSION]
    local = local_libraries()

    assert {name: version(name) for name in local} == local
    assert {name: pinned_dependencies().get(name) for name in local} == local
    # Every difference from the container is a recorded one, with its reason.
    assert {name for name in container if local[name] != container[name]} == set(LOCAL_LIBRARY_EXCEPTIONS)
    assert local["scikit-learn"] == container["scikit-learn"] and local["pandas"] == container["pandas"]


def write_channels(root: Path) -> None:
    """Train, validation and metadata channels as the preprocessing job writes them."""
    rng = np.random.default_rng(11)
    rows = 300
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    x2[::20] = np.nan
    label = (1.3 * x1 - 0.8 * np.nan_to_num(x2) + rng.normal(0, 0.5, rows) > 0).astype(int)
    frame = pd.DataFrame({"label": label, "x1": x1, "x2": x2})
    for channel, part in (("train", frame.iloc[:220]), ("validation", frame.iloc[220:])):
        (root / channel).mkdir(parents=True)
        part.to_csv(root / channel / f"{channel}.csv", index=False)
    (root / "metadata").mkdir()
    metadata = {
        "target": "label",
        "problem_type": "binary_classification",
        "feature_columns": ["x1", "x2"],
        "categorical": {},
        "class_labels": ["no", "yes"],
        "rows": {"train": 220, "validation": 80, "test": 0},
        "seed": 3,
    }
    (root / "metadata" / "preprocessing.json").write_text(json.dumps(metadata))


def test_model_trained_locally_reloads_in_a_fresh_process_and_predicts_as_in_training(tmp_path: Path) -> None:
    write_channels(tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SM_")}
    env.update(
        OMP_NUM_THREADS="1",
        SM_MODEL_DIR=str(tmp_path / "model"),
        SM_CHANNEL_TRAIN=str(tmp_path / "train"),
        SM_CHANNEL_VALIDATION=str(tmp_path / "validation"),
        SM_CHANNEL_METADATA=str(tmp_path / "metadata"),
        SM_OUTPUT_DIR=str(tmp_path / "output"),
        SM_OUTPUT_DATA_DIR=str(tmp_path / "output" / "data"),
    )
    (tmp_path / "output").mkdir()
    trained = subprocess.run(
        [sys.executable, str(ML_DIR / "train.py"), "--max_iter", "50"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    metadata = json.loads((tmp_path / "model" / "model_metadata.json").read_text())
    # The model names the scikit-learn it needs: the default container's.
    assert metadata["sklearn_version"] == CONTAINER_LIBRARIES[DEFAULT_CONTAINER_VERSION]["scikit-learn"]

    reloaded = subprocess.run(
        [sys.executable, "-c", RELOAD_AND_SCORE, str(ML_DIR), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert reloaded.returncode == 0, reloaded.stderr
    assert json.loads(reloaded.stdout) == metadata["validation_metrics"]
    assert metadata["validation_metrics"]["auc"] > 0.8
