"""Preprocessing job: turn the run's uploaded CSVs into train, validation and test splits a model can learn from.

Runs as a SageMaker Processing job (``python3 preprocess.py``) with the uploaded file (or, for a drift
retrain, every upload of the labelled data window, read in name order as one table), the run's resolved
config and this code as inputs. Categorical features become ordinal codes learned from the training split
(values the training split never saw, and missing values, are left empty), class labels become codes
0..k-1 in sorted label order, and ``preprocessing.json`` records both so training, evaluation and serving
decode them the same way. The test split's feature values are also kept as uploaded (``test_features.csv``):
evaluation scores the approved model on them through that model's own encodings.

A run trained by SageMaker's XGBoost algorithm (``model_algorithm`` in the run config) also gets the train and
validation splits in the algorithm's CSV format (no header, the target first) under the ``xgboost`` output:
``train/`` as one file per training instance, rows dealt out in turn so each instance's share looks like the
whole, for the training job's ``ShardedByS3Key`` channel; ``validation/`` as one file every instance reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline_ml.jobs import (
    JobInputError,
    find_input_file,
    find_input_files,
    output_dir,
    processing_dir,
    read_json,
    run_job,
    write_json,
)
from driftline_ml.tabular import PREPROCESSING_FILE, PROBLEM_TYPES, RAW_TEST_FILE, SPLIT_FILES, is_classification
from driftline_ml.values import class_label, is_missing, is_number, label_sort_key

DEFAULT_SPLIT = {"train": 0.7, "validation": 0.15, "test": 0.15}
MIN_ROWS_PER_CLASS_TO_STRATIFY = 3
"""A class with fewer rows cannot appear in all three splits, so such data is split without stratifying."""
DATA_SUFFIXES = (".csv", ".csv.gz")
"""Uploads are CSV files, or gzip-compressed CSV files (any letter case)."""
DELIMITERS = (",", ";", "\t", "|")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    inputs, outputs = processing_dir() / "input", processing_dir() / "output"
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--data-dir", type=Path, default=inputs / "data")
    parser.add_argument("--config-dir", type=Path, default=inputs / "config")
    parser.add_argument("--train-dir", type=Path, default=outputs / "train")
    parser.add_argument("--validation-dir", type=Path, default=outputs / "validation")
    parser.add_argument("--test-dir", type=Path, default=outputs / "test")
    parser.add_argument("--metadata-dir", type=Path, default=outputs / "metadata")
    parser.add_argument("--xgboost-dir", type=Path, default=outputs / "xgboost")
    parser.add_argument("--message-file", type=Path, default=output_dir() / "message")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_job(lambda: preprocess(args), what="Preprocessing", reason_file=args.message_file)


def preprocess(args: argparse.Namespace) -> None:
    config = read_json(find_input_file(args.config_dir, ".json", "config"))
    if not isinstance(config, dict):
        raise JobInputError("the run config must be a JSON object")
    target = str(config.get("target") or "")
    if not target:
        raise JobInputError("the run config names no target column; set 'target' in the dataset config")
    problem_type = str(config.get("problem_type") or "")
    if problem_type not in PROBLEM_TYPES:
        raise JobInputError(
            f"the run config names problem type {problem_type or 'none'!r}; use one of {', '.join(PROBLEM_TYPES)}"
        )
    data_files = find_input_files(args.data_dir, DATA_SUFFIXES, "data")
    declared = {str(c["name"]): str(c.get("type", "")) for c in config.get("columns") or [] if "name" in c}
    features: list[str] = []
    parts = []
    sources: list[dict[str, Any]] = []
    for data_file in data_files:
        options = csv_options(config, data_file)
        header = read_header(data_file, options)
        features = features or feature_columns(config, target, header, data_file.name)
        feature_columns({**config, "feature_columns": features}, target, header, data_file.name)
        part = pd.read_csv(
            data_file,
            usecols=[target, *features],
            # Text stays text: categories like "1" must not become numbers; labels are read by class_label.
            dtype={name: "object" for name in [target, *features] if name == target or declared.get(name) != "numeric"},
            **options,
        )
        print(f"Read {len(part)} rows and {len(part.columns)} columns from {data_file.name}")
        parts.append(part)
        sources.append({"file": data_file.name, "rows": len(part)})
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    if len(parts) > 1:
        print(f"Read {len(frame)} rows from {len(parts)} files, in name order")

    labels, y = encode_target(frame[target], target, problem_type)
    has_target = ~np.isnan(y)
    dropped = int((~has_target).sum())
    if dropped:
        print(f"Dropped {dropped} rows without a value in target column {target!r}")
    frame, y = frame[has_target].reset_index(drop=True), y[has_target]
    if frame.empty:
        raise JobInputError(
            f"no row of {', '.join(path.name for path in data_files)} has a value in target column {target!r}"
        )

    seed = int(config.get("seed", 42))
    splits, stratified = split_rows(len(frame), config.get("split") or DEFAULT_SPLIT, seed, y if labels else None)
    encoded, categorical = encode_features(frame, features, declared, splits["train"])
    encoded.insert(0, target, y.astype(np.int64) if labels else y)

    folders = {"train": args.train_dir, "validation": args.validation_dir, "test": args.test_dir}
    for split, rows in splits.items():
        folders[split].mkdir(parents=True, exist_ok=True)
        encoded.iloc[rows].to_csv(folders[split] / SPLIT_FILES[split], index=False)
    frame[features].iloc[splits["test"]].to_csv(args.test_dir / RAW_TEST_FILE, index=False)
    if config.get("model_algorithm") == "xgboost":
        write_xgboost_splits(encoded, splits, args.xgboost_dir, instance_count(config))
    counts = {split: len(rows) for split, rows in splits.items()}
    print(f"Split {'with' if stratified else 'without'} stratification: {counts}")
    write_json(
        args.metadata_dir / PREPROCESSING_FILE,
        {
            "target": target,
            "problem_type": problem_type,
            "feature_columns": features,
            "categorical": categorical,
            "class_labels": labels,
            "rows": counts,
            "dropped_rows": dropped,
            "seed": seed,
            "stratified": stratified,
            "source_file": data_files[0].name if len(data_files) == 1 else None,
            "source_files": sources,
        },
    )


def instance_count(config: dict[str, Any]) -> int:
    count = config.get("instance_count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise JobInputError(f"the run config's instance_count {count!r} is not a whole number of at least 1")
    return count


def write_xgboost_splits(encoded: pd.DataFrame, splits: dict[str, np.ndarray], folder: Path, shards: int) -> None:
    """The train split as ``shards`` headerless files (rows dealt out in turn), the validation split as one."""
    train = encoded.iloc[splits["train"]]
    (folder / "train").mkdir(parents=True, exist_ok=True)
    (folder / "validation").mkdir(parents=True, exist_ok=True)
    for shard in range(min(shards, len(train))):
        train.iloc[shard::shards].to_csv(folder / "train" / f"part-{shard:05d}.csv", header=False, index=False)
    encoded.iloc[splits["validation"]].to_csv(folder / "validation" / "part-00000.csv", header=False, index=False)
    print(f"Wrote the XGBoost train split in {min(shards, len(train))} part(s), one per training instance")


def feature_columns(config: dict[str, Any], target: str, header: list[str], file_name: str) -> list[str]:
    """The config's feature columns (every other column when it names none), all present in the file."""
    features = [str(name) for name in config.get("feature_columns") or [c for c in header if c != target]]
    if target in features:
        raise JobInputError(f"the target column {target!r} is also listed as a feature; remove it from the features")
    if not features:
        raise JobInputError(f"{file_name} has no feature columns besides the target {target!r}")
    missing = [name for name in [target, *features] if name not in header]
    if missing:
        raise JobInputError(
            f"{file_name} lacks column(s) {', '.join(map(repr, missing))} named by the dataset config "
            f"(target {target!r}); upload a file with these columns or change data/<dataset>/dataset.json"
        )
    return features


def encode_features(
    frame: pd.DataFrame, features: list[str], declared: dict[str, str], train_rows: np.ndarray
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Numeric features as floats, categorical ones as codes of the categories seen in the training split."""
    encoded = pd.DataFrame(index=frame.index)
    categorical: dict[str, list[str]] = {}
    for name in features:
        values = frame[name]
        if feature_type(values, declared.get(name)) == "numeric":
            numbers = pd.to_numeric(values, errors="coerce").astype("float64")
            unreadable = int(numbers.isna().sum() - values.isna().sum())
            if unreadable:
                print(f"Column {name!r}: {unreadable} non-numeric values treated as missing")
            encoded[name] = numbers
        else:
            categorical[name] = learn_categories(values.iloc[train_rows])
            encoded[name] = encode_categories(values, categorical[name])
    return encoded, categorical


def csv_options(config: dict[str, Any], data_file: Path) -> dict[str, Any]:
    """How to read the upload as Validate read it: its delimiter, gzip by name, spaces after a delimiter skipped."""
    delimiter = str(config.get("delimiter") or ",")
    if delimiter not in DELIMITERS:
        raise JobInputError(
            f"the run config's delimiter {delimiter!r} is not one of {', '.join(map(repr, DELIMITERS))}; "
            "start a new run so Validate writes the config again"
        )
    compression = "gzip" if data_file.name.lower().endswith(".gz") else None
    return {"sep": delimiter, "compression": compression, "skipinitialspace": True}


def read_header(path: Path, options: dict[str, Any]) -> list[str]:
    try:
        return [str(name) for name in pd.read_csv(path, nrows=0, **options).columns]
    except pd.errors.EmptyDataError as error:
        raise JobInputError(f"{path.name} is empty; upload a CSV file with a header row and data rows") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise JobInputError(f"{path.name} cannot be read as CSV ({error})") from error


def encode_target(values: pd.Series, target: str, problem_type: str) -> tuple[list[str] | None, np.ndarray]:
    """Class labels (sorted, see ``class_label``) and codes for classification; numbers for regression.

    NaN marks a row without a target.
    """
    if not is_classification(problem_type):
        present = ~values.map(is_missing)
        text = values.map(lambda v: str(v).strip())
        numbers = (
            text.where(present).map(lambda t: float(t) if isinstance(t, str) and is_number(t) else np.nan).astype(float)
        )
        unreadable = text[present & numbers.isna()]
        if len(unreadable):
            examples = ", ".join(repr(v) for v in unreadable.unique()[:3])
            raise JobInputError(
                f"target column {target!r} holds non-numeric values ({examples}) but the problem type is "
                "regression; fix the values or set a classification problem_type in the dataset config"
            )
        return None, numbers.to_numpy(dtype=np.float64)
    text = values.map(class_label)
    labels = sorted(text.dropna().unique().tolist(), key=label_sort_key)
    if len(labels) < 2:
        raise JobInputError(
            f"target column {target!r} holds {len(labels)} class(es) {labels}; a classifier needs two or more"
        )
    if problem_type == "binary_classification" and len(labels) != 2:
        raise JobInputError(
            f"target column {target!r} holds {len(labels)} classes but the problem type is binary "
            "classification; set problem_type to multiclass_classification in the dataset config"
        )
    codes = text.map({label: float(code) for code, label in enumerate(labels)})
    return labels, codes.to_numpy(dtype=np.float64)


def feature_type(values: pd.Series, declared: str | None) -> str:
    if declared in ("numeric", "categorical"):
        return declared
    present = values.dropna()
    parsed = pd.to_numeric(present, errors="coerce")
    return "numeric" if parsed.notna().all() else "categorical"


def learn_categories(values: pd.Series) -> list[str]:
    text = values.dropna().map(lambda v: str(v).strip())
    return sorted(v for v in text.unique().tolist() if v != "")


def encode_categories(values: pd.Series, categories: list[str]) -> pd.Series:
    """Ordinal codes by position in ``categories``; unseen and missing values become empty (NA)."""
    positions = {category: code for code, category in enumerate(categories)}
    codes = values.map(lambda v: positions.get(str(v).strip()) if not pd.isna(v) else None)
    return pd.Series(codes, index=values.index, dtype="float64").astype("Int64")


def split_rows(rows: int, fractions: Any, seed: int, labels: np.ndarray | None) -> tuple[dict[str, np.ndarray], bool]:
    """Row indices per split, shuffled by ``seed``; stratified by class when every class can fill each split.

    Systematic sampling over a shuffled, class-grouped order gives each split its exact size and each class
    its proportional share, without needing every class to be large.
    """
    shares = parse_split(fractions)
    test_rows = max(1, round(rows * shares["test"]))
    validation_rows = max(1, round(rows * shares["validation"]))
    if rows - test_rows - validation_rows < 2:
        raise JobInputError(
            f"only {rows} rows have a target value: too few for train, validation and test splits; upload more rows"
        )
    stratified = (
        labels is not None and int(np.bincount(labels.astype(np.int64)).min()) >= MIN_ROWS_PER_CLASS_TO_STRATIFY
    )
    order = np.random.default_rng(seed).permutation(rows)
    if stratified and labels is not None:
        order = order[np.argsort(labels[order], kind="stable")]
    in_test = systematic_pick(rows, test_rows)
    rest = order[~in_test]
    in_validation = systematic_pick(len(rest), validation_rows)
    splits = {
        "train": np.sort(rest[~in_validation]),
        "validation": np.sort(rest[in_validation]),
        "test": np.sort(order[in_test]),
    }
    return splits, stratified


def systematic_pick(total: int, wanted: int) -> np.ndarray:
    """A mask choosing exactly ``wanted`` of ``total`` positions, evenly spaced."""
    position = np.arange(total)
    return ((position + 1) * wanted // total) > (position * wanted // total)


def parse_split(fractions: Any) -> dict[str, float]:
    if not isinstance(fractions, dict):
        raise JobInputError(
            'the run config\'s "split" must be an object like {"train": 0.7, "validation": 0.15, "test": 0.15}'
        )
    try:
        shares = {name: float(fractions.get(name, 0.0)) for name in SPLIT_FILES}
    except (TypeError, ValueError) as error:
        raise JobInputError(f'the run config\'s "split" holds a value that is not a number ({error})') from error
    total = sum(shares.values())
    if any(share < 0 for share in shares.values()) or shares["train"] <= 0 or total <= 0:
        raise JobInputError(
            f'the run config\'s "split" {fractions} must give train a positive share and none a negative one'
        )
    return {name: share / total for name, share in shares.items()}


if __name__ == "__main__":
    sys.exit(main())
