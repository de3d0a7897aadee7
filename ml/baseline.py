"""Drift baseline job: summarise the training data as Model Monitor's statistics.json and constraints.json.

Runs as a SageMaker Processing job (``python3 baseline.py``) with the preprocessing job's train split and
its ``preprocessing.json`` as inputs. The baseline is the train split, not the uploaded CSV: it is exactly
the rows the model learned from (rows without a target already dropped, validation and test rows held
out), its feature order and types were decided once by the preprocessing job, and reading it needs none of
the upload's delimiter, compression or value rules again. Categorical features are stored there as codes;
they are decoded back to their values (``preprocessing.json`` lists them), so the baseline speaks the same
values as the requests an endpoint captures. Values the training split never saw were never coded and are
missing here, as in training.

Outputs, in the output folder: ``statistics.json`` (each feature's counts, moments, 10-bucket histogram and
KLL sketch, or its value counts) and ``constraints.json`` (types, completeness, domains and Model Monitor's
default thresholds, which a user may edit before the monitor reads them).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline_ml.drift import WindowSummary, constraints_document, statistics_document
from driftline_ml.jobs import (
    JobInputError,
    find_input_file,
    output_dir,
    processing_dir,
    read_json,
    run_job,
    write_json,
)
from driftline_ml.parallel import Span, map_pieces, read_span, spans, total_bytes, workers_for
from driftline_ml.tabular import PREPROCESSING_FILE, SPLIT_FILES, check_metadata

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
BLOCK_ROWS = 100_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    inputs = processing_dir() / "input"
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--train-dir", type=Path, default=inputs / "train")
    parser.add_argument("--metadata-dir", type=Path, default=inputs / "metadata")
    parser.add_argument("--output-dir", type=Path, default=processing_dir() / "output" / "baseline")
    parser.add_argument("--message-file", type=Path, default=output_dir() / "message")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_job(lambda: baseline(args), what="Drift baseline", reason_file=args.message_file)


def feature_specs(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, "numeric" | "categorical") for each feature, in the training order."""
    categorical = metadata.get("categorical") or {}
    return [(name, "categorical" if name in categorical else "numeric") for name in metadata["feature_columns"]]


def summarise_train_split(path: Path, metadata: dict[str, Any], workers: int | None = None) -> WindowSummary:
    """The train split's summary, read in parallel pieces on an instance with several CPUs (see parallel.py)."""
    specs = feature_specs(metadata)
    categories = {name: list(values) for name, values in (metadata.get("categorical") or {}).items()}
    summary = WindowSummary.empty_like(specs)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            columns = next(csv.reader([handle.readline()]), [])
        pieces = spans([path])
        workers = workers or workers_for(total_bytes([path]), len(pieces))
        parts = None
        if workers > 1:
            read = partial(_summarise_piece, columns, specs, categories)
            parts = list(map_pieces(read, pieces, workers))
        if parts is None or any(part is None for part in parts):
            parts = [_summarise_piece(columns, specs, categories, [Span(path)])]
        for part in parts:
            if part is not None:
                summary.merge(part)
    except ValueError as error:
        if isinstance(error, JobInputError):
            raise
        raise JobInputError(
            f"the train split {path.name} cannot be read as the preprocessing step writes it ({error}); "
            "rerun the preprocessing step"
        ) from error
    if not summary.rows:
        raise JobInputError(f"the train split {path.name} has no rows; upload more data")
    return summary


def _summarise_piece(
    columns: list[str], specs: list[tuple[str, str]], categories: dict[str, list[str]], piece: list[Span]
) -> WindowSummary | None:
    """A piece of the split (its first piece starts with the header); None when the piece holds a quoted value,
    which may hide a line break, so line-aligned pieces cannot be trusted and the file is read whole."""
    summary = WindowSummary.empty_like(specs)
    names = [name for name, _ in specs]
    for span in piece:
        source: Any = span.path
        if span.start or span.end is not None:
            text = read_span(span)
            if b'"' in text:
                return None
            source = io.BytesIO(text)
        blocks = pd.read_csv(
            source,
            header=None,
            names=columns,
            skiprows=1 if span.start == 0 else 0,
            usecols=names,
            dtype=np.float64,
            chunksize=BLOCK_ROWS,
        )
        for block in blocks:
            _add_block(summary, block, categories)
    return summary


def _add_block(summary: WindowSummary, block: pd.DataFrame, categories: dict[str, list[str]]) -> None:
    summary.rows += len(block)
    summary.records += len(block)
    for feature in summary.features:
        values = block[feature.name].to_numpy()
        present = ~np.isnan(values)
        missing = int(len(values) - present.sum())
        if feature.kind == "numeric":
            feature.add(values[present], missing=missing)
            continue
        codes, counts = np.unique(values[present].astype(np.int64), return_counts=True)
        known = categories[feature.name]
        if len(codes) and (codes.min() < 0 or codes.max() >= len(known)):
            raise JobInputError(
                f"the train split's column {feature.name!r} holds codes outside the "
                f"{len(known)} categories {PREPROCESSING_FILE} lists; rerun the preprocessing step"
            )
        feature.add({known[int(c)]: int(n) for c, n in zip(codes, counts)}, missing=missing)  # noqa: B905


def baseline(args: argparse.Namespace) -> None:
    metadata = check_metadata(read_json(find_input_file(args.metadata_dir, ".json", "metadata")), PREPROCESSING_FILE)
    train_file = find_input_file(args.train_dir, ".csv", "train")
    if train_file.name != SPLIT_FILES["train"]:
        print(f"Reading the train split from {train_file.name}")
    summary = summarise_train_split(train_file, metadata)
    write_json(args.output_dir / STATISTICS_FILE, statistics_document(summary))
    write_json(args.output_dir / CONSTRAINTS_FILE, constraints_document(summary))
    print(
        f"Baseline of {summary.rows} rows and {len(summary.features)} features written to "
        f"{args.output_dir / STATISTICS_FILE} and {CONSTRAINTS_FILE}"
    )


if __name__ == "__main__":
    sys.exit(main())
