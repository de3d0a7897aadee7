"""Preprocessing job: turn the run's uploaded CSVs into train, validation and test splits a model can learn from.

Runs as a SageMaker Processing job (``python3 preprocess.py``) with the uploaded file (or, for a drift
retrain, every upload of the labelled data window, read in name order as one table), the run's resolved
config and this code as inputs. Categorical features become ordinal codes learned from the training split
(values the training split never saw, and missing values, are left empty), class labels become codes
0..k-1 in sorted label order, and ``preprocessing.json`` records both so training, evaluation and serving
decode them the same way. The test split's feature values are also kept as uploaded (``test_features.csv``):
evaluation scores the approved model on them through that model's own encodings.

The data is read twice, a block of rows at a time, so memory stays bounded whatever the data's size: first
the target and the text columns of every row, which decide the labels, the split of each row and the
categories; then every column of this instance's rows, which are encoded and written out.

Several instances: the job may run on several instances (``/opt/ml/config/resourceconfig.json``), each given
every data file. The files are cut into one line-aligned byte range per instance (a compressed file, or one
holding a quote character, which may hide a line break, stays whole), every instance makes the first pass over
all the data, so all decide the same split, and each makes the second pass over its own range only, writing
``train-<instance>.csv`` and so on. Read in name order, those parts hold exactly the rows a single instance
writes to ``train.csv``. ``preprocessing.json`` (written by the first instance) lists each split's files.

A run trained by SageMaker's XGBoost algorithm (``model_algorithm`` in the run config) also gets the train and
validation splits in the algorithm's CSV format (no header, the target first) under the ``xgboost`` output:
``train/part-<instance>-<shard>.csv``, the train split's rows dealt out in turn to one shard per training
instance, so the training job's ``ShardedByS3Key`` channel gives each instance a share that looks like the
whole; ``validation/part-<instance>.csv``, which every training instance reads.

A run whose model is the dataset's own container image (``model_image``) also gets the test rows as uploaded
without a header under the ``transform`` output (``part-<instance>.csv``): the batch transform that has the
container answer them sends each line as one ``text/csv`` record.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from driftline_ml.jobs import (
    JobInputError,
    find_input_file,
    find_input_files,
    hosts,
    output_dir,
    processing_dir,
    read_json,
    run_job,
    write_json,
)
from driftline_ml.parallel import Span, SpanReader, spans, total_bytes
from driftline_ml.tabular import PREPROCESSING_FILE, PROBLEM_TYPES, RAW_TEST_FILE, SPLIT_FILES, is_classification
from driftline_ml.values import class_label, is_missing, is_number, label_sort_key

DEFAULT_SPLIT = {"train": 0.7, "validation": 0.15, "test": 0.15}
MIN_ROWS_PER_CLASS_TO_STRATIFY = 3
"""A class with fewer rows cannot appear in all three splits, so such data is split without stratifying."""
DATA_SUFFIXES = (".csv", ".csv.gz")
"""Uploads are CSV files, or gzip-compressed CSV files (any letter case)."""
DELIMITERS = (",", ";", "\t", "|")
RESOURCE_CONFIG = "resourceconfig.json"
"""Where SageMaker names a processing job's instances (in ``/opt/ml/config``)."""
BLOCK_ROWS = 200_000
"""Rows read, encoded and written at a time: memory stays bounded whatever the data's size."""


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
    parser.add_argument("--transform-dir", type=Path, default=outputs / "transform")
    parser.add_argument("--message-file", type=Path, default=output_dir() / "message")
    parser.add_argument("--resource-config", type=Path, default=processing_dir().parent / "config" / RESOURCE_CONFIG)
    parser.add_argument("--block-rows", type=int, default=BLOCK_ROWS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_job(lambda: preprocess(args), what="Preprocessing", reason_file=args.message_file)


@dataclass(frozen=True)
class Source:
    """One data file as the job reads it: its header and how to parse it."""

    path: Path
    header: list[str]
    options: dict[str, Any]


@dataclass(frozen=True)
class Columns:
    """The columns the job reads and how: the target, the features, and which features are held as text."""

    target: str
    features: list[str]
    declared: dict[str, str]

    @property
    def text_features(self) -> list[str]:
        """Features not declared numeric: categorical, or typed by their values in the first pass."""
        return [name for name in self.features if self.declared.get(name) != "numeric"]


@dataclass
class Plan:
    """What the first pass decides for every row of the data, identically on every instance."""

    labels: list[str] | None
    target_values: np.ndarray
    """Per row: the class code or the number (NaN: no target value; the row is dropped)."""
    split_of_row: np.ndarray
    """Per row: the index in SPLITS of its split, -1 for a dropped row."""
    train_position: np.ndarray
    """Per row: its position in the train split (to deal train rows out to XGBoost's shards), -1 elsewhere."""
    categorical: dict[str, list[str]]
    counts: dict[str, int]
    dropped: int
    stratified: bool
    span_rows: list[int]
    """Rows of each span, in the data's order."""


SPLITS = tuple(SPLIT_FILES)


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
    sources: list[Source] = []
    features: list[str] = []
    for data_file in data_files:
        options = csv_options(config, data_file)
        header = read_header(data_file, options)
        features = features or feature_columns(config, target, header, data_file.name)
        feature_columns({**config, "feature_columns": features}, target, header, data_file.name)
        sources.append(Source(data_file, header, options))
    columns = Columns(target, features, declared)
    host, all_hosts = hosts(args.resource_config)
    instance = all_hosts.index(host) if host in all_hosts else 0
    shares = instance_spans(sources, len(all_hosts))
    every_span = [span for share in shares for span in share]
    started = time.perf_counter()
    plan = make_plan(config, problem_type, columns, sources, every_span, args.block_rows)
    print(f"First pass (every row's target and text columns) took {time.perf_counter() - started:.1f} s")
    if len(all_hosts) > 1:
        first = sum(len(share) for share in shares[:instance])
        rows = sum(plan.span_rows[first : first + len(shares[instance])])
        print(f"Instance {host} ({instance + 1} of {len(all_hosts)}) encodes {rows} rows of the data")
    writer = SplitWriter(args, len(all_hosts) > 1, instance, xgboost_shards(config), bool(config.get("model_image")))
    started = time.perf_counter()
    write_rows(plan, columns, sources, shares, instance, writer, args.block_rows)
    print(f"Second pass (this instance's rows encoded and written) took {time.perf_counter() - started:.1f} s")
    if instance == 0:
        write_json(
            args.metadata_dir / PREPROCESSING_FILE,
            {
                "target": target,
                "problem_type": problem_type,
                "feature_columns": features,
                "categorical": plan.categorical,
                "class_labels": plan.labels,
                "rows": plan.counts,
                "dropped_rows": plan.dropped,
                "seed": int(config.get("seed", 42)),
                "stratified": plan.stratified,
                "source_file": data_files[0].name if len(data_files) == 1 else None,
                "source_files": source_rows(sources, every_span, plan.span_rows),
                "split_files": split_files(plan, shares, len(all_hosts) > 1),
            },
        )


def instance_spans(sources: list[Source], instances: int) -> list[list[Span]]:
    """Each instance's share of the data, in the data's order: about the same number of bytes each, cut at line
    ends where a file can be cut (never a compressed file, nor one holding a quote, which may span lines)."""
    paths = [source.path for source in sources]
    if instances == 1:
        return [[Span(path) for path in paths]]
    piece_bytes = max(1, -(-total_bytes(paths) // instances))
    pieces = [span for piece in spans(paths, piece_bytes, splittable=can_cut) for span in piece]
    shares: list[list[Span]] = [[] for _ in range(instances)]
    total = max(1, total_bytes(paths))
    start = 0
    for span in pieces:
        end = span.path.stat().st_size if span.end is None else span.end
        shares[min(instances - 1, start * instances // total)].append(span)
        start += end - span.start
    return shares


def can_cut(path: Path) -> bool:
    """Whether the file may be cut at any line end: not compressed, and no quote anywhere in it."""
    if path.name.lower().endswith(".gz"):
        return False
    with path.open("rb") as handle:
        while block := handle.read(8 * 2**20):
            if b'"' in block:
                return False
    return True


def read_blocks(source: Source, span: Span, usecols: list[str], block_rows: int) -> Iterator[pd.DataFrame]:
    """The span's rows, ``block_rows`` at a time, every column read as text (numbers are parsed when encoded)."""
    whole = span.start == 0 and span.end is None
    if whole:
        handle: Any = span.path
        placement: dict[str, Any] = {}
    else:
        handle = io.BufferedReader(SpanReader(span), buffer_size=2**20)
        # Only the file's first span holds the header; the others are named by it.
        placement = {"header": 0} if span.start == 0 else {"header": None, "names": source.header}
    options = source.options if whole else {k: v for k, v in source.options.items() if k != "compression"}
    try:
        with pd.read_csv(
            handle, usecols=usecols, dtype="object", chunksize=block_rows, **placement, **options
        ) as reader:
            yield from reader
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise JobInputError(f"{span.path.name} cannot be read as CSV ({error})") from error
    finally:
        if not whole:
            handle.close()


class ValueIds:
    """Ids for the distinct values of a column, given in order of first sight, the same on every instance."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def of(self, values: pd.Series) -> np.ndarray:
        codes, uniques = pd.factorize(values)
        lookup = np.array([self.ids.setdefault(str(value), len(self.ids)) for value in uniques], dtype=np.int32)
        if not len(lookup):
            return np.full(len(values), -1, dtype=np.int32)
        return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1).astype(np.int32)

    def values(self) -> list[str]:
        return list(self.ids)


@dataclass
class FirstPass:
    """What the first pass read: per row, the target (an id of its label, or its number) and each text feature's
    value id; each span's rows; which undeclared features hold only numbers."""

    target_ids: ValueIds = field(default_factory=lambda: ValueIds())
    targets: list[np.ndarray] = field(default_factory=list)
    feature_ids: dict[str, ValueIds] = field(default_factory=dict)
    features: dict[str, list[np.ndarray]] = field(default_factory=dict)
    numeric: dict[str, bool] = field(default_factory=dict)
    span_rows: list[int] = field(default_factory=list)


def read_first_pass(
    columns: Columns, sources: list[Source], every_span: list[Span], classifying: bool, block_rows: int
) -> FirstPass:
    by_path = {source.path: source for source in sources}
    read = FirstPass(
        feature_ids={name: ValueIds() for name in columns.text_features},
        features={name: [] for name in columns.text_features},
        numeric=dict.fromkeys(columns.text_features, True),
    )
    for span in every_span:
        rows = 0
        for block in read_blocks(by_path[span.path], span, [columns.target, *columns.text_features], block_rows):
            rows += len(block)
            values = block[columns.target]
            if classifying:
                read.targets.append(read.target_ids.of(values.map(class_label)))
            else:
                read.targets.append(target_numbers(values, columns.target))
            for name in columns.text_features:
                text = block[name]
                if read.numeric[name] and columns.declared.get(name) != "categorical":
                    read.numeric[name] = bool(pd.to_numeric(text.dropna(), errors="coerce").notna().all())
                read.features[name].append(read.feature_ids[name].of(stripped(text)))
        read.span_rows.append(rows)
    for source in sources:
        rows = sum(n for span, n in zip(every_span, read.span_rows) if span.path == source.path)  # noqa: B905
        print(f"Read {rows} rows and {len(source.header)} columns from {source.path.name}")
    if len(sources) > 1:
        print(f"Read {sum(read.span_rows)} rows from {len(sources)} files, in name order")
    return read


def make_plan(
    config: dict[str, Any],
    problem_type: str,
    columns: Columns,
    sources: list[Source],
    every_span: list[Span],
    block_rows: int,
) -> Plan:
    """The first pass: read the target and the text features of every row, then decide labels, splits and
    categories as one instance holding all the data would."""
    classifying = is_classification(problem_type)
    read = read_first_pass(columns, sources, every_span, classifying, block_rows)
    labels: list[str] | None = None
    joined = np.concatenate(read.targets) if read.targets else np.zeros(0)
    if classifying:
        labels = sorted(read.target_ids.values(), key=label_sort_key)
        check_labels(labels, columns.target, problem_type)
        code = {label: float(index) for index, label in enumerate(labels)}
        code_of_id = np.array([code[value] for value in read.target_ids.values()] or [0.0], dtype=np.float64)
        target_values = np.where(joined >= 0, code_of_id[np.maximum(joined, 0).astype(np.int64)], np.nan)
    else:
        target_values = joined.astype(np.float64)
    has_target = ~np.isnan(target_values)
    dropped = int((~has_target).sum())
    if dropped:
        print(f"Dropped {dropped} rows without a value in target column {columns.target!r}")
    kept = np.flatnonzero(has_target)
    if not len(kept):
        raise JobInputError(
            f"no row of {', '.join(source.path.name for source in sources)} has a value in target column "
            f"{columns.target!r}"
        )
    seed = int(config.get("seed", 42))
    kept_values = target_values[kept]
    splits, stratified = split_rows(
        len(kept), config.get("split") or DEFAULT_SPLIT, seed, kept_values if labels else None
    )
    split_of_row = np.full(len(target_values), -1, dtype=np.int8)
    for index, split in enumerate(SPLITS):
        split_of_row[kept[splits[split]]] = index
    train_position = np.full(len(target_values), -1, dtype=np.int64)
    train_position[kept[splits["train"]]] = np.arange(len(splits["train"]))
    categorical: dict[str, list[str]] = {}
    for name in columns.features:
        if name not in read.feature_ids or (read.numeric[name] and columns.declared.get(name) != "categorical"):
            continue  # numeric: declared so, or every value a number
        ids = np.concatenate(read.features[name])[kept[splits["train"]]]
        known = read.feature_ids[name].values()
        categorical[name] = sorted(v for v in (known[i] for i in np.unique(ids[ids >= 0])) if v != "")
    counts = {split: len(rows) for split, rows in splits.items()}
    print(f"Split {'with' if stratified else 'without'} stratification: {counts}")
    return Plan(
        labels, target_values, split_of_row, train_position, categorical, counts, dropped, stratified, read.span_rows
    )


def stripped(values: pd.Series) -> pd.Series:
    """Text without surrounding spaces; missing values stay missing."""
    return values.map(lambda value: value.strip() if isinstance(value, str) else value)


def target_numbers(values: pd.Series, target: str) -> np.ndarray:
    """A regression target's numbers (NaN where missing); a value that is not a number fails the job."""
    present = ~values.map(is_missing)
    text = values.map(lambda v: str(v).strip())
    numbers = text.where(present).map(lambda t: float(t) if isinstance(t, str) and is_number(t) else np.nan)
    numbers = numbers.astype(float)
    unreadable = text[present & numbers.isna()]
    if len(unreadable):
        examples = ", ".join(repr(v) for v in unreadable.unique()[:3])
        raise JobInputError(
            f"target column {target!r} holds non-numeric values ({examples}) but the problem type is "
            "regression; fix the values or set a classification problem_type in the dataset config"
        )
    return numbers.to_numpy(dtype=np.float64)


def check_labels(labels: list[str], target: str, problem_type: str) -> None:
    if len(labels) < 2:
        raise JobInputError(
            f"target column {target!r} holds {len(labels)} class(es) {labels}; a classifier needs two or more"
        )
    if problem_type == "binary_classification" and len(labels) != 2:
        raise JobInputError(
            f"target column {target!r} holds {len(labels)} classes but the problem type is binary "
            "classification; set problem_type to multiclass_classification in the dataset config"
        )


class SplitWriter:
    """This instance's output files, opened as rows arrive: the splits (one file each, or this instance's part
    of each when several instances share the job), the test rows as uploaded, and XGBoost's headerless files."""

    def __init__(
        self, args: argparse.Namespace, parts: bool, instance: int, xgboost: int | None, transform: bool
    ) -> None:
        self.folders = {"train": args.train_dir, "validation": args.validation_dir, "test": args.test_dir}
        self.xgboost_dir: Path = args.xgboost_dir
        self.transform_dir: Path | None = args.transform_dir if transform else None
        self.parts = parts
        self.instance = instance
        self.xgboost = xgboost
        self.handles: dict[Path, TextIO] = {}

    def split(self, split: str, rows: pd.DataFrame) -> list[str]:
        """Write the encoded rows to their split; their CSV lines, which the XGBoost files reuse."""
        lines = rows.to_csv(header=False, index=False, lineterminator="\n").splitlines(keepends=True)
        path = self.folders[split] / split_file_name(SPLIT_FILES[split], self.parts, self.instance)
        self._append(path, lines, rows.head(0).to_csv(index=False, lineterminator="\n"))
        return lines

    def raw_test(self, rows: pd.DataFrame) -> None:
        """The test rows as uploaded, with their header; for a model in its own container, also without it, as the
        batch transform that answers them sends each line."""
        lines = rows.to_csv(header=False, index=False, lineterminator="\n").splitlines(keepends=True)
        path = self.folders["test"] / split_file_name(RAW_TEST_FILE, self.parts, self.instance)
        self._append(path, lines, rows.head(0).to_csv(index=False, lineterminator="\n"))
        if self.transform_dir is not None:
            self._append(self.transform_dir / f"part-{self.instance:05d}.csv", lines, None)

    def xgboost_rows(self, split: str, lines: list[str], train_positions: np.ndarray) -> None:
        """The algorithm's train rows, each to shard (its position in the train split) mod (training instances),
        and its validation rows; it is not given the test split."""
        if self.xgboost is None or split == "test":
            return
        if split == "validation":
            self._append(self.xgboost_dir / "validation" / f"part-{self.instance:05d}.csv", lines, None)
            return
        shard_of_row = train_positions % self.xgboost
        for shard in np.unique(shard_of_row):
            name = f"part-{self.instance:05d}-{int(shard):05d}.csv"
            self._append(
                self.xgboost_dir / "train" / name, [lines[i] for i in np.flatnonzero(shard_of_row == shard)], None
            )

    def _append(self, path: Path, lines: list[str], header: str | None) -> None:
        if not lines:
            return
        handle = self.handles.get(path)
        if handle is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.handles[path] = path.open("w", encoding="utf-8", newline="")
            if header is not None:
                handle.write(header)
        handle.writelines(lines)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        if self.xgboost is not None:
            print(f"Wrote the XGBoost train split dealt out to {self.xgboost} shard(s), one per training instance")


def split_file_name(file_name: str, parts: bool, instance: int) -> str:
    """``train.csv`` on one instance; ``train-00001.csv`` for the second instance's part on several."""
    if not parts:
        return file_name
    stem, suffix = file_name.rsplit(".", 1)
    return f"{stem}-{instance:05d}.{suffix}"


def write_rows(
    plan: Plan,
    columns: Columns,
    sources: list[Source],
    shares: list[list[Span]],
    instance: int,
    writer: SplitWriter,
    block_rows: int,
) -> None:
    """The second pass: encode this instance's rows and write each to its split."""
    by_path = {source.path: source for source in sources}
    first = sum(len(share) for share in shares[:instance])
    offset = sum(plan.span_rows[:first])
    unreadable = dict.fromkeys(columns.features, 0)
    positions = {name: {value: code for code, value in enumerate(values)} for name, values in plan.categorical.items()}
    try:
        for number, span in enumerate(shares[instance], start=first):
            rows = 0
            for block in read_blocks(by_path[span.path], span, columns.features, block_rows):
                at = np.arange(offset + rows, offset + rows + len(block))
                rows += len(block)
                if rows > plan.span_rows[number]:
                    break
                kept = plan.split_of_row[at] >= 0
                block, at = block[kept], at[kept]
                encoded = encode_block(block, columns, plan, positions, unreadable, at)
                split_of_row = plan.split_of_row[at]
                for index, split in enumerate(SPLITS):
                    chosen = split_of_row == index
                    if not chosen.any():
                        continue
                    lines = writer.split(split, encoded[chosen])
                    writer.xgboost_rows(split, lines, plan.train_position[at[chosen]])
                    if split == "test":
                        writer.raw_test(block.loc[chosen, columns.features])
            if rows != plan.span_rows[number]:
                raise JobInputError(
                    f"{span.path.name} read {rows} rows the second time and {plan.span_rows[number]} the first; "
                    "the data input changed while the job ran"
                )
            offset += rows
    finally:
        writer.close()
    for name, count in unreadable.items():
        if count:
            print(f"Column {name!r}: {count} non-numeric values treated as missing")


def encode_block(
    block: pd.DataFrame,
    columns: Columns,
    plan: Plan,
    positions: dict[str, dict[str, int]],
    unreadable: dict[str, int],
    rows: np.ndarray,
) -> pd.DataFrame:
    """The target first, then numeric features as floats and categorical ones as codes (unseen or missing:
    empty)."""
    target = plan.target_values[rows]
    encoded = pd.DataFrame({columns.target: target.astype(np.int64) if plan.labels else target}, index=block.index)
    for name in columns.features:
        values = block[name]
        if name in positions:
            codes = stripped(values).map(positions[name])
            encoded[name] = pd.Series(codes, index=block.index, dtype="float64").astype("Int64")
        else:
            numbers = pd.to_numeric(values, errors="coerce").astype("float64")
            unreadable[name] += int(numbers.isna().sum() - values.isna().sum())
            encoded[name] = numbers
    return encoded


def xgboost_shards(config: dict[str, Any]) -> int | None:
    """How many shards the XGBoost train split is dealt to (its training instances); None: no XGBoost output."""
    if config.get("model_algorithm") != "xgboost":
        return None
    count = config.get("instance_count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise JobInputError(f"the run config's instance_count {count!r} is not a whole number of at least 1")
    return count


def source_rows(sources: list[Source], every_span: list[Span], span_rows: list[int]) -> list[dict[str, Any]]:
    rows = dict.fromkeys((source.path for source in sources), 0)
    for span, count in zip(every_span, span_rows):  # noqa: B905 (Python 3.9)
        rows[span.path] += count
    return [{"file": path.name, "rows": count} for path, count in rows.items()]


def split_files(plan: Plan, shares: list[list[Span]], parts: bool) -> dict[str, list[str]]:
    """Each split's files in the order their rows go, as the instances write them: only those with rows."""
    listed: dict[str, list[str]] = {name: [] for name in (*SPLITS, "test_features")}
    offset = 0
    first = 0
    for instance, share in enumerate(shares):
        rows = sum(plan.span_rows[first : first + len(share)])
        held = set(np.unique(plan.split_of_row[offset : offset + rows]).tolist())
        for index, split in enumerate(SPLITS):
            if index in held:
                listed[split].append(split_file_name(SPLIT_FILES[split], parts, instance))
                if split == "test":
                    listed["test_features"].append(split_file_name(RAW_TEST_FILE, parts, instance))
        offset += rows
        first += len(share)
    return listed


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
