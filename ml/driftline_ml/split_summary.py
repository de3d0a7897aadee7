"""A preprocessed split summarised as drift statistics, in the values an endpoint receives.

The baseline job summarises a run's train split into the serving model's baseline, and the evaluation job
summarises a later run's splits the same way to compare them with it, so both read the split through this one
function. Categorical features are stored in a split as codes; they are decoded back to their values
(``preprocessing.json``, and the model metadata that copies it, list them), so a summary speaks the same values
as the requests an endpoint captures. Values the training split never saw were never coded and are missing
here, as in training.
"""

from __future__ import annotations

import csv
import io
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline_ml.drift import WindowSummary
from driftline_ml.jobs import JobInputError
from driftline_ml.parallel import Span, map_pieces, read_span, spans, total_bytes, workers_for
from driftline_ml.tabular import PREPROCESSING_FILE, files_name

BLOCK_ROWS = 100_000


def feature_specs(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, "numeric" | "categorical") for each feature, in the training order."""
    categorical = metadata.get("categorical") or {}
    return [(name, "categorical" if name in categorical else "numeric") for name in metadata["feature_columns"]]


def summarise_split(
    paths: list[Path], metadata: dict[str, Any], split: str = "train", workers: int | None = None
) -> WindowSummary:
    """The split's summary (its one file, or its parts in order), read in parallel pieces on an instance with
    several CPUs (see parallel.py)."""
    specs = feature_specs(metadata)
    categories = {name: list(values) for name, values in (metadata.get("categorical") or {}).items()}
    summary = WindowSummary.empty_like(specs)
    name = files_name(paths)
    try:
        headers = [_header(path) for path in paths]
        columns = headers[0]
        if any(header != columns for header in headers):
            raise JobInputError(f"the {split} split {name} has parts with other columns; rerun the preprocessing step")
        pieces = spans(paths)
        workers = workers or workers_for(total_bytes(paths), len(pieces))
        parts = None
        if workers > 1:
            read = partial(_summarise_piece, columns, specs, categories, split)
            parts = list(map_pieces(read, pieces, workers))
        if parts is None or any(part is None for part in parts):
            parts = [_summarise_piece(columns, specs, categories, split, [Span(path) for path in paths])]
        for part in parts:
            if part is not None:
                summary.merge(part)
    except ValueError as error:
        if isinstance(error, JobInputError):
            raise
        raise JobInputError(
            f"the {split} split {name} cannot be read as the preprocessing step writes it ({error}); "
            "rerun the preprocessing step"
        ) from error
    if not summary.rows:
        raise JobInputError(f"the {split} split {name} has no rows; upload more data")
    return summary


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader([handle.readline()]), [])


def _summarise_piece(
    columns: list[str], specs: list[tuple[str, str]], categories: dict[str, list[str]], split: str, piece: list[Span]
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
            _add_block(summary, block, categories, split)
    return summary


def _add_block(summary: WindowSummary, block: pd.DataFrame, categories: dict[str, list[str]], split: str) -> None:
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
                f"the {split} split's column {feature.name!r} holds codes outside the "
                f"{len(known)} categories {PREPROCESSING_FILE} lists; rerun the preprocessing step"
            )
        feature.add({known[int(c)]: int(n) for c, n in zip(codes, counts)}, missing=missing)  # noqa: B905
