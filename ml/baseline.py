"""Drift baseline job: summarise the training data as Model Monitor's statistics.json and constraints.json.

Runs as a SageMaker Processing job (``python3 baseline.py``) with the preprocessing job's train split and
its ``preprocessing.json`` as inputs. The baseline is the train split, not the uploaded CSV: it is exactly
the rows the model learned from (rows without a target already dropped, validation and test rows held
out), its feature order and types were decided once by the preprocessing job, and reading it needs none of
the upload's delimiter, compression or value rules again. Categorical features are decoded from their codes
back to their values (``driftline_ml.split_summary``, which the evaluation job shares to compare a later
upload with this baseline), so the baseline speaks the same values as the requests an endpoint captures.

Outputs, in the output folder: ``statistics.json`` (each feature's counts, moments, 10-bucket histogram and
KLL sketch, or its value counts) and ``constraints.json`` (types, completeness, domains and Model Monitor's
default thresholds, which a user may edit before the monitor reads them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftline_ml.drift import constraints_document, statistics_document
from driftline_ml.jobs import (
    find_input_file,
    output_dir,
    processing_dir,
    read_json,
    run_job,
    write_json,
)
from driftline_ml.split_summary import summarise_split
from driftline_ml.tabular import PREPROCESSING_FILE, SPLIT_FILES, check_metadata, files_name, split_files

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"


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


def baseline(args: argparse.Namespace) -> None:
    metadata = check_metadata(read_json(find_input_file(args.metadata_dir, ".json", "metadata")), PREPROCESSING_FILE)
    train_files = split_files(args.train_dir, "train")
    if train_files[0].name != SPLIT_FILES["train"]:
        print(f"Reading the train split from {files_name(train_files)}")
    summary = summarise_split(train_files, metadata)
    write_json(args.output_dir / STATISTICS_FILE, statistics_document(summary))
    write_json(args.output_dir / CONSTRAINTS_FILE, constraints_document(summary))
    print(
        f"Baseline of {summary.rows} rows and {len(summary.features)} features written to "
        f"{args.output_dir / STATISTICS_FILE} and {CONSTRAINTS_FILE}"
    )


if __name__ == "__main__":
    sys.exit(main())
