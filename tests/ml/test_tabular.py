"""Reading a preprocessed split: its one file, or the parts several preprocessing instances wrote, as one table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from driftline_ml.jobs import JobInputError
from driftline_ml.split_summary import summarise_split
from driftline_ml.tabular import load_split, split_files
from tests.ml.summary_checks import assert_same_summary

METADATA = {
    "target": "kind",
    "problem_type": "multiclass_classification",
    "feature_columns": ["weight", "habitat"],
    "categorical": {"habitat": ["forest", "river"]},
    "class_labels": ["bird", "insect", "mammal"],
}
HEADER = "kind,weight,habitat\n"
ROWS = ["0,1.5,0\n", "2,3.25,\n", "1,,1\n", "0,7.0,1\n", "2,0.5,0\n"]


def _write(folder: Path, files: dict[str, list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        (folder / name).write_text(HEADER + "".join(rows))
    return folder


def test_parts_read_in_order_give_the_table_the_one_file_gives(tmp_path: Path) -> None:
    one = _write(tmp_path / "one", {"train.csv": ROWS})
    # Written out of order, and more than ten parts: the order is the parts' numbers.
    parts = _write(
        tmp_path / "parts",
        {"train-00010.csv": ROWS[4:], "train-00002.csv": ROWS[2:4], "train-00000.csv": ROWS[:2]},
    )

    assert [path.name for path in split_files(parts, "train")] == [
        "train-00000.csv",
        "train-00002.csv",
        "train-00010.csv",
    ]
    x_one, y_one = load_split(one, "train", METADATA)
    x_parts, y_parts = load_split(parts, "train", METADATA)
    np.testing.assert_array_equal(x_parts, x_one)
    np.testing.assert_array_equal(y_parts, y_one)
    assert_same_summary(
        summarise_split(split_files(parts, "train"), METADATA, workers=1),
        summarise_split(split_files(one, "train"), METADATA, workers=1),
    )


def test_the_one_file_wins_over_parts_and_other_files_are_not_parts(tmp_path: Path) -> None:
    folder = _write(tmp_path / "test", {"test.csv": ROWS, "test-00000.csv": ROWS[:1], "test_features-00000.csv": []})
    assert split_files(folder, "test") == [folder / "test.csv"]
    (folder / "test.csv").unlink()
    assert split_files(folder, "test") == [folder / "test-00000.csv"]


def test_parts_with_other_columns_are_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path / "train", {"train-00000.csv": ROWS[:2]})
    (folder / "train-00001.csv").write_text("weight,kind,habitat\n1.0,0,0\n")
    with pytest.raises(JobInputError, match=r"train-00000\.csv and its 1 other part\(s\) has parts with other columns"):
        load_split(folder, "train", METADATA)
    with pytest.raises(JobInputError, match="has parts with other columns"):
        summarise_split(split_files(folder, "train"), METADATA, workers=1)
