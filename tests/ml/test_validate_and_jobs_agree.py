"""Validate (the Lambda layer) and the job scripts (``ml/``, which import nothing from it) read data alike.

Each rule written on both sides is checked here on one table of cases: the job side runs as the jobs run, a
Python process inside ``ml/``, so it sees only what a SageMaker container would.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from driftline_core.ingest.dataset_config import DELIMITERS, MIN_ROWS_PER_CLASS, SplitFractions, minimum_rows
from driftline_core.ingest.hyperparameters import HYPERPARAMETERS, RESERVED, as_string
from driftline_core.ingest.values import class_label

ML_DIR = Path(__file__).resolve().parents[2] / "ml"

LABEL_CASES = [
    "0", "1", "1.0", "01", " 1", "1 ", "+1", "-0", "1e0", "0.50", ".5", "2.5e-3", "1e400", "007",
    "yes", "Yes", " no ", "TRUE", "inf", "-inf", "Infinity", "nan", "NaN", "NA", "N/A", "null", "None", "",
    "1_000", "\u0661", "1,5", "0x10", "caf\u00e9",
]  # fmt: skip


def in_ml(code: str, payload: Any = None) -> Any:
    """Run ``code`` in a Python process inside ml/ with ``payload`` as ``PAYLOAD``; its printed JSON comes back."""
    program = f"import json, sys\nPAYLOAD = json.loads(sys.stdin.read())\n{code}"
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ML_DIR,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    return json.loads(done.stdout)


def test_validate_and_preprocessing_name_every_target_value_the_same_class() -> None:
    text = "x,y\n" + "".join(f'{i},"{value}"\n' if "," in value else f"{i},{value}\n" for i, value in
                             enumerate(LABEL_CASES))  # fmt: skip
    rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))[1:]
    by_validate = [class_label(row[1]) for row in rows]
    by_preprocessing = in_ml(
        """
import io
from pathlib import Path
import pandas as pd
import preprocess
from driftline_ml.values import class_label
options = preprocess.csv_options({}, Path("upload.csv"))
frame = pd.read_csv(io.StringIO(PAYLOAD), dtype={"y": "object"}, **options)
print(json.dumps([class_label(value) for value in frame["y"]]))
""",
        text,
    )
    assert by_preprocessing == by_validate
    assert by_validate[:8] == ["0", "1", "1", "1", "1", "1", "1", "0"]
    assert by_validate[LABEL_CASES.index("nan")] is None


def test_the_hyperparameter_catalogue_is_what_the_training_script_parses() -> None:
    options = in_ml(
        """
import train
print(json.dumps([option for action in train.build_parser()._actions for option in action.option_strings]))
"""
    )
    names = {option.lstrip("-").replace("-", "_") for option in options} - {"h", "help"}
    assert names == set(HYPERPARAMETERS) | set(RESERVED)
    assert in_ml("import train\nprint(json.dumps(list(train.HYPERPARAMETER_DEFAULTS)))") == list(HYPERPARAMETERS)


def test_the_catalogue_accepts_exactly_the_values_the_training_script_accepts() -> None:
    numbers: list[Any] = [-1, 0, 1e-9, 0.5, 1, 2, 2.0, 2.5, 31, 2**32 - 1, 2**32, None, True, False]
    choices: list[Any] = [True, False, "auto", "AUTO", "True", "false", "sometimes", ""]
    cases = [
        (name, value)
        for name, spec in HYPERPARAMETERS.items()
        for value in (choices if spec.kind == "auto_or_boolean" else numbers)
    ]
    by_training = in_ml(
        """
import train
from driftline_ml.jobs import JobInputError
accepted = []
for name, text in PAYLOAD:
    try:
        train.convert(name, train.decode_value(text))
        accepted.append(True)
    except JobInputError:
        accepted.append(False)
print(json.dumps(accepted))
""",
        [[name, as_string(value)] for name, value in cases],
    )
    by_validate = [HYPERPARAMETERS[name].accepts(value) for name, value in cases]
    disagreements = [case for case, a, b in zip(cases, by_validate, by_training, strict=True) if a != b]
    assert disagreements == []


@pytest.mark.parametrize(
    "split",
    [
        SplitFractions(),
        SplitFractions(train=0.8, validation=0.1, test=0.1),
        SplitFractions(train=6, validation=2, test=2),
    ],
)
def test_the_fewest_rows_validate_accepts_are_the_fewest_the_split_can_serve(split: SplitFractions) -> None:
    served = in_ml(
        """
import preprocess
from driftline_ml.jobs import JobInputError
served = []
for rows in range(1, 40):
    try:
        preprocess.split_rows(rows, PAYLOAD, 42, None)
        served.append(rows)
    except JobInputError:
        pass
print(json.dumps(served))
""",
        split.model_dump(),
    )
    assert served == list(range(minimum_rows(split), 40))


def test_classes_of_the_size_validate_requires_reach_every_split() -> None:
    assert (
        in_ml("import preprocess\nprint(json.dumps(preprocess.MIN_ROWS_PER_CLASS_TO_STRATIFY))") == MIN_ROWS_PER_CLASS
    )
    smallest_per_split = in_ml(
        """
import numpy as np
import preprocess
smallest = {"train": 99, "validation": 99, "test": 99}
for classes in range(2, 8):
    for seed in range(20):
        labels = np.repeat(np.arange(classes), PAYLOAD).astype(float)
        splits, stratified = preprocess.split_rows(len(labels), preprocess.DEFAULT_SPLIT, seed, labels)
        assert stratified
        smallest["train"] = min(smallest["train"], int(np.bincount(labels[splits["train"]].astype(int)).min()))
print(json.dumps(smallest))
""",
        MIN_ROWS_PER_CLASS,
    )
    assert smallest_per_split["train"] >= 1


def test_the_split_and_delimiters_validate_assumes_are_the_jobs() -> None:
    jobs = in_ml("import preprocess\nprint(json.dumps([preprocess.DEFAULT_SPLIT, list(preprocess.DELIMITERS)]))")
    assert jobs == [SplitFractions().model_dump(), list(DELIMITERS)]


def test_preprocessing_reads_a_gzip_upload_with_a_declared_delimiter(tmp_path: Path) -> None:
    rows = "".join(f"{i % 7};{['a', 'b'][i % 2]};{['0', '1', '1.0'][i % 3]}\n" for i in range(60))
    (tmp_path / "data").mkdir()
    (tmp_path / "config").mkdir()
    (tmp_path / "data" / "june.CSV.GZ").write_bytes(gzip.compress(("x;kind;y\n" + rows).encode()))
    config = {"target": "y", "problem_type": "binary_classification", "delimiter": ";",
              "columns": [{"name": "x", "type": "numeric"}, {"name": "kind", "type": "categorical"},
                          {"name": "y", "type": "numeric"}]}  # fmt: skip
    (tmp_path / "config" / "config.json").write_text(json.dumps(config))
    args = ["--data-dir", str(tmp_path / "data"), "--config-dir", str(tmp_path / "config")]
    for output in ("train", "validation", "test", "metadata"):
        args += [f"--{output}-dir", str(tmp_path / "out" / output)]
    done = subprocess.run(
        [sys.executable, "preprocess.py", *args, "--message-file", str(tmp_path / "message")],
        cwd=ML_DIR,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "SM_OUTPUT_DIR": str(tmp_path / "output")},
    )
    assert done.returncode == 0, done.stderr
    metadata = json.loads((tmp_path / "out" / "metadata" / "preprocessing.json").read_text())
    assert metadata["class_labels"] == ["0", "1"]
    assert metadata["feature_columns"] == ["x", "kind"]
    assert sum(metadata["rows"].values()) == 60
