"""Evaluation job: score the trained model on the held-out test split and write ``evaluation.json``.

Runs as a SageMaker Processing job with the training job's ``model.tar.gz``, the test split and the run
config as inputs. The report uses SageMaker Model Monitor's model-quality statistics format (so the Model
Registry shows it as model quality) plus a ``driftline`` block naming the metric the quality gate reads.

Beside the report, ``predictions.csv`` holds the model's answer to each held-out row of ``test_features.csv``, in
that file's order, written exactly as the endpoint answers it in ``text/csv`` (the serving module's own
formatting): the staging test sends the same rows to the candidate's staging endpoint and compares the answers.

A model SageMaker's XGBoost algorithm trained arrives as its booster alone (``xgboost-model``): the job reads the
preprocessing metadata (input ``metadata``) for it and writes ``model.tar.gz`` with both (output ``model``), the
model the run registers and serves.

A model in the dataset's own container is not loaded here at all: a batch transform of that container has answered
the held-out rows (input ``answers``, one ``text/csv`` line per row), and the job scores those answers against the
test split with the preprocessing metadata's class labels; ``predictions.csv`` is then those answers.

When a model of the dataset is approved, the job also gets that model's ``model.tar.gz`` (input
``incumbent``) and its package ARN (``DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN``) and scores it on the same test
rows, read as uploaded and encoded through the approved model's own metadata, as its endpoint would encode
them. The report's ``incumbent`` section holds its metrics in the same format, or, when it cannot be scored
(no artifact, a model that does not load, features this data lacks), why not: that never fails the job.

When that model has a drift baseline (``statistics.json`` and ``constraints.json``, input ``baseline``, its URI
in ``DRIFTLINE_BASELINE_URI``), the job also summarises this run's rows (the ``train`` input and the test
split, categorical codes decoded as the baseline job decodes them) and compares them with it as the drift
monitor compares a window: ``data_drift.json`` and ``data_drift.html`` beside the report, and a short
``data_drift`` section in it. Serverless endpoints capture no requests and batch scoring sends none, so this
comparison is their drift signal. Without a baseline, or with one the job cannot read, the section says why;
that never fails the job either.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftline_ml.drift import (
    Analysis,
    FeatureDrift,
    WindowSummary,
    compare,
    summary_from_statistics,
)
from driftline_ml.drift_report import render
from driftline_ml.jobs import (
    JobInputError,
    find_input_file,
    output_dir,
    processing_dir,
    read_json,
    read_run_config,
    run_job,
    write_json,
)
from driftline_ml.metrics import (
    BLOCK_NAMES,
    DEFAULT_METRIC,
    METRIC_NAMES,
    higher_is_better,
    model_quality_report,
)
from driftline_ml.serving import (
    CSV,
    InvalidRequest,
    ServingModel,
    encode_rows,
    format_prediction,
    load_model_file,
    load_serving_model,
    predict,
)
from driftline_ml.split_summary import summarise_split
from driftline_ml.tabular import (
    MODEL_FILE,
    MODEL_METADATA_FILE,
    RAW_TEST_FILE,
    check_metadata,
    is_classification,
    load_split,
    part_files,
    split_files,
)
from driftline_ml.xgboost_model import BOOSTER_FILE, load_booster, pack_model

EVALUATION_FILE = "evaluation.json"
PREDICTIONS_FILE = "predictions.csv"
INCUMBENT_SECTION = "incumbent"
INCUMBENT_ARN_VARIABLE = "DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"
INCUMBENT_NOT_GIVEN_VARIABLE = "DRIFTLINE_INCUMBENT_NOT_GIVEN"
"""Why the pipeline did not give the job the approved model's artifact, when it did not."""
BASELINE_URI_VARIABLE = "DRIFTLINE_BASELINE_URI"
BASELINE_NOT_GIVEN_VARIABLE = "DRIFTLINE_BASELINE_NOT_GIVEN"
"""The approved model's baseline given as the ``baseline`` input, or why it was not given."""
DATA_DRIFT_SECTION = "data_drift"
DATA_DRIFT_FILE = "data_drift.json"
DATA_DRIFT_REPORT_FILE = "data_drift.html"
BASELINE_STATISTICS_FILE = "statistics.json"
BASELINE_CONSTRAINTS_FILE = "constraints.json"
COMPARED_SPLITS = ("train", "test")
BOOTSTRAP_RESAMPLES = 20
SAFE_EXTRACT: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
"""Python versions with extraction filters get the strict one; older ones rely on the member checks below."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    inputs = processing_dir() / "input"
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--model-dir", type=Path, default=inputs / "model")
    parser.add_argument("--test-dir", type=Path, default=inputs / "test")
    parser.add_argument("--incumbent-dir", type=Path, default=inputs / "incumbent")
    parser.add_argument("--train-dir", type=Path, default=inputs / "train")
    parser.add_argument("--baseline-dir", type=Path, default=inputs / "baseline")
    parser.add_argument("--config-dir", type=Path, default=inputs / "config")
    parser.add_argument("--metadata-dir", type=Path, default=inputs / "metadata")
    parser.add_argument("--answers-dir", type=Path, default=inputs / "answers")
    parser.add_argument("--output-dir", type=Path, default=processing_dir() / "output" / "evaluation")
    parser.add_argument("--packed-model-dir", type=Path, default=processing_dir() / "output" / "model")
    parser.add_argument("--message-file", type=Path, default=output_dir() / "message")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_job(lambda: evaluate(args), what="Evaluation", reason_file=args.message_file)


def evaluate(args: argparse.Namespace) -> None:
    config = read_run_config(args.config_dir)
    # A model in its own container answered the held-out rows in a batch transform; any other is loaded here.
    candidate = candidate_from_answers(args) if has_files(args.answers_dir) else candidate_from_model(args)
    metadata, y_test = candidate.metadata, candidate.y_test
    problem_type = metadata["problem_type"]
    metric = str(config.get("metric") or DEFAULT_METRIC[problem_type])
    if metric not in METRIC_NAMES[problem_type]:
        raise JobInputError(
            f"metric {metric!r} is not reported for {problem_type}; choose one of "
            f"{', '.join(METRIC_NAMES[problem_type])} in the dataset config"
        )
    report = model_quality_report(
        problem_type, y_test, candidate.predictions, candidate.scores, resamples=BOOTSTRAP_RESAMPLES
    )
    block = report[BLOCK_NAMES[problem_type]]
    if metric not in block:
        raise JobInputError(
            f"metric {metric!r} is undefined on the test split ({len(y_test)} rows"
            f"{', one class only' if candidate.scores is not None else ''}); upload more rows or choose another metric"
        )
    report["driftline"] = {
        "problem_type": problem_type,
        "metric": metric,
        "higher_is_better": higher_is_better(metric),
        "target": metadata["target"],
        "test_rows": len(y_test),
        "class_labels": metadata.get("class_labels"),
    }
    incumbent = incumbent_section(args, metadata, metric, y_test)
    if incumbent is not None:
        report[INCUMBENT_SECTION] = incumbent
    report[DATA_DRIFT_SECTION] = data_drift_section(args, metadata)
    write_json(args.output_dir / EVALUATION_FILE, report)
    candidate.write_answers(args.output_dir / PREDICTIONS_FILE)
    for name, entry in block.items():
        print(f"test:{name}={entry['value']:.6f}")
    print(f"Wrote {EVALUATION_FILE}: {metric}={block[metric]['value']:.6f} on {len(y_test)} test rows")


@dataclass
class Candidate:
    """The candidate's answers on the test split: codes or numbers, scores of the positive class for a binary
    problem, and how to write what its endpoint answers for each held-out row."""

    metadata: dict[str, Any]
    y_test: np.ndarray
    predictions: np.ndarray
    scores: np.ndarray | None
    write_answers: Callable[[Path], None]


def candidate_from_model(args: argparse.Namespace) -> Candidate:
    """Load the trained model and score it on the encoded test split."""
    with tempfile.TemporaryDirectory() as scratch:
        model_folder = unpack_model(args.model_dir, Path(scratch))
        booster_only = not (model_folder / MODEL_METADATA_FILE).is_file()
        if booster_only:
            # SageMaker's XGBoost algorithm saved the booster alone: the preprocessing metadata completes it.
            metadata = read_preprocessing_metadata(args.metadata_dir)
        else:
            metadata = check_metadata(read_json(model_folder / MODEL_METADATA_FILE), MODEL_METADATA_FILE)
        model: Any
        if booster_only:
            model = load_booster(model_folder / BOOSTER_FILE, metadata)
            pack_model(model_folder / BOOSTER_FILE, metadata, args.packed_model_dir)
        else:
            model = load_model_file(model_folder, metadata)
    x_test, y_test = load_split(args.test_dir, "test", metadata)
    predictions = np.asarray(model.predict(x_test))
    scores = None
    if metadata["problem_type"] == "binary_classification":
        classes = list(model.classes_)
        scores = model.predict_proba(x_test)[:, classes.index(1)] if 1 in classes else np.zeros(len(y_test))
    serving = ServingModel(model, metadata)
    return Candidate(
        metadata, y_test, predictions, scores, lambda path: write_predictions(serving, args.test_dir, len(y_test), path)
    )


def candidate_from_answers(args: argparse.Namespace) -> Candidate:
    """A model in its own container answered the held-out rows in a batch transform: score its answers.

    Each line is its ``text/csv`` answer to one row, in the rows' order: the predicted value, or the predicted
    class label followed by each class's probability in ``preprocessing.json``'s ``class_labels`` order.
    """
    metadata = read_preprocessing_metadata(args.metadata_dir)
    _, y_test = load_split(args.test_dir, "test", metadata)
    lines = answer_lines(args.answers_dir)
    if len(lines) != len(y_test):
        raise JobInputError(
            f"the model's container answered {len(lines)} of the test split's {len(y_test)} rows; it must answer "
            "each text/csv row with one line"
        )
    answers = [next(csv.reader([line]), []) for line in lines]
    scores = None
    if not is_classification(metadata["problem_type"]):
        predictions = np.array([answer_number(answer, number) for number, answer in enumerate(answers, 1)])
    else:
        labels = [str(label) for label in metadata["class_labels"]]
        codes = {label: code for code, label in enumerate(labels)}
        for number, answer in enumerate(answers, 1):
            if len(answer) != 1 + len(labels):
                raise JobInputError(
                    f"the model's container answered row {number} with {len(answer)} field(s); a classifier answers "
                    f"its label and one probability for each of the {len(labels)} classes ({', '.join(labels)})"
                )
        # A label this run does not have is a wrong answer, never a match.
        predictions = np.array([codes.get(answer[0].strip(), -1) for answer in answers], dtype=np.int64)
        if metadata["problem_type"] == "binary_classification":
            scores = np.array([answer_number(answer[1:], number, 1) for number, answer in enumerate(answers, 1)])

    def write(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="")
        print(f"Wrote {PREDICTIONS_FILE}: the container's text/csv answer to each of the {len(lines)} held-out rows")

    return Candidate(metadata, y_test, predictions, scores, write)


def answer_lines(folder: Path) -> list[str]:
    """The batch transform's output lines, its files read in name order (one per input part, ``<part>.out``)."""
    lines: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        lines += path.read_text(encoding="utf-8").splitlines()
    return lines


def answer_number(answer: list[str], row: int, position: int = 0) -> float:
    try:
        value = float(answer[position])
    except (IndexError, ValueError):
        raise JobInputError(
            f"the model's container answered row {row} with {','.join(answer)!r}, where a number belongs"
        ) from None
    if not np.isfinite(value):
        raise JobInputError(f"the model's container answered row {row} with {value}, which is not a finite number")
    return value


def read_preprocessing_metadata(folder: Path) -> dict[str, Any]:
    metadata_file = find_input_file(folder, ".json", "metadata")
    return check_metadata(read_json(metadata_file), metadata_file.name)


def has_files(folder: Path) -> bool:
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))


def write_predictions(model: ServingModel, test_dir: Path, expected: int, path: Path) -> None:
    """What the endpoint answers (``text/csv``) for each row of ``test_features.csv``, one line per row, in its order.

    The rows go through the serving path itself (their text encoded by ``encode_rows``, answered by ``predict``,
    written by ``format_prediction``), so the file is the endpoint's answer, not the encoded split's predictions.
    """
    header, rows = read_raw_test_rows(test_dir, expected)
    missing = [name for name in model.features if name not in header]
    if missing:
        raise JobInputError(f"{RAW_TEST_FILE} lacks the feature column(s) {', '.join(map(repr, missing))}")
    positions = [header.index(name) for name in model.features]
    try:
        x = encode_rows(model, [[row[position] for position in positions] for row in rows])
    except InvalidRequest as error:
        raise JobInputError(f"{RAW_TEST_FILE} holds a row the endpoint would refuse ({error.message})") from error
    body, _ = format_prediction(predict(model, x), CSV)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8", newline="")
    print(f"Wrote {PREDICTIONS_FILE}: the endpoint's text/csv answer to each of the {len(rows)} held-out rows")


class IncumbentNotScored(Exception):
    """Why the approved model could not be scored on this run's test rows (a clause: "its model ...")."""


def incumbent_section(
    args: argparse.Namespace, metadata: dict[str, Any], metric: str, y_test: np.ndarray
) -> dict[str, Any] | None:
    """The approved model's metrics on the candidate's test rows, or why it has none; None without one."""
    arn = os.environ.get(INCUMBENT_ARN_VARIABLE, "").strip()
    if not arn:
        return None
    section: dict[str, Any] = {"model_package_arn": arn}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            model = load_incumbent(args.incumbent_dir, Path(scratch))
        block = score_incumbent(model, args.test_dir, metadata, metric, y_test)
    except IncumbentNotScored as error:
        print(f"The approved model {arn} was not scored: {error}")
        return {**section, "scored": False, "reason": str(error)}
    except Exception as error:
        # Whatever the approved model does wrong, the candidate's evaluation stands; the gate says why.
        print(f"The approved model {arn} failed while being scored: {type(error).__name__}: {error}")
        return {
            **section,
            "scored": False,
            "reason": f"its model failed while scoring ({type(error).__name__}: {error})",
        }
    for name, entry in block.items():
        print(f"incumbent:{name}={entry['value']:.6f}")
    return {**section, "scored": True, BLOCK_NAMES[metadata["problem_type"]]: block, "test_rows": len(y_test)}


def load_incumbent(folder: Path, scratch: Path) -> ServingModel:
    if not folder.is_dir() or not any(path.is_file() for path in folder.rglob("*")):
        raise IncumbentNotScored(
            os.environ.get(INCUMBENT_NOT_GIVEN_VARIABLE, "").strip()
            or "its model artifact was not given to the evaluation job"
        )
    try:
        return load_serving_model(unpack_model(folder, scratch))
    except JobInputError as error:
        raise IncumbentNotScored(f"its model cannot be loaded ({error})") from error
    except Exception as error:
        raise IncumbentNotScored(f"its model cannot be loaded ({type(error).__name__}: {error})") from error


def score_incumbent(
    model: ServingModel, test_dir: Path, metadata: dict[str, Any], metric: str, y_test: np.ndarray
) -> dict[str, Any]:
    """Score the approved model as its endpoint would answer: raw feature values through its own encodings.

    Its predicted labels are turned into this run's class codes by label text, so both models are judged
    against the same targets whatever codes each was trained with.
    """
    problem_type = metadata["problem_type"]
    if model.problem_type != problem_type:
        raise IncumbentNotScored(
            f"it is a {model.problem_type.replace('_', ' ')} model and this run's is {problem_type.replace('_', ' ')}"
        )
    try:
        header, rows = read_raw_test_rows(test_dir, len(y_test))
    except JobInputError as error:
        raise IncumbentNotScored(str(error)) from error
    missing = [name for name in model.features if name not in header]
    if missing:
        raise IncumbentNotScored(
            f"it takes feature column(s) {', '.join(map(repr, missing))} that this run's data does not have"
        )
    positions = [header.index(name) for name in model.features]
    try:
        x = encode_rows(model, [[row[position] for position in positions] for row in rows])
    except InvalidRequest as error:
        raise IncumbentNotScored(f"this run's test rows do not fit its features ({error.message})") from error
    prediction = predict(model, x)
    scores = None
    if "values" in prediction:
        predictions = np.asarray(prediction["values"], dtype=np.float64)
    else:
        labels = [str(label) for label in metadata["class_labels"]]
        if problem_type == "binary_classification" and sorted(model.class_labels) != sorted(labels):
            raise IncumbentNotScored(
                f"it predicts the classes {', '.join(map(repr, model.class_labels))} and this run's target holds "
                f"{', '.join(map(repr, labels))}"
            )
        codes = {label: code for code, label in enumerate(labels)}
        # A label this run does not have (a class that disappeared) is a wrong answer, never a match.
        predictions = np.array([codes.get(str(label), -1) for label in prediction["labels"]], dtype=np.int64)
        if problem_type == "binary_classification":
            scores = prediction["probabilities"][:, model.class_labels.index(labels[1])]
    report = model_quality_report(problem_type, y_test, predictions, scores, resamples=BOOTSTRAP_RESAMPLES)
    block: dict[str, Any] = report[BLOCK_NAMES[problem_type]]
    if metric not in block:
        raise IncumbentNotScored(f"its {metric} is undefined on this run's test rows")
    return block


class DriftNotCompared(Exception):
    """Why this run's rows were not compared with the approved model's baseline (a clause: "its baseline ...")."""


def data_drift_section(args: argparse.Namespace, metadata: dict[str, Any]) -> dict[str, Any]:
    """Compare this run's rows with the approved model's baseline and write the drift report; the report's short
    ``data_drift`` section says what was found, or why nothing was compared."""
    arn = os.environ.get(INCUMBENT_ARN_VARIABLE, "").strip()
    if not arn:
        return {"compared": False, "reason": "no model of this dataset is approved yet"}
    section: dict[str, Any] = {"model_package_arn": arn}
    baseline_uri = os.environ.get(BASELINE_URI_VARIABLE, "").strip()
    if not baseline_uri:
        reason = os.environ.get(BASELINE_NOT_GIVEN_VARIABLE, "").strip() or "its baseline was not given to the job"
        print(f"This run's data was not compared with the baseline of {arn}: {reason}")
        return {**section, "compared": False, "reason": reason}
    section["baseline_uri"] = baseline_uri
    try:
        baseline, constraints = read_baseline(args.baseline_dir)
        rows = summarise_run_rows(args, metadata)
        current, columns = aligned_to_baseline(rows, baseline)
        analysis = compare(baseline, constraints, current)
        document = data_drift_document(arn, baseline_uri, analysis, current, baseline, columns)
        write_json(args.output_dir / DATA_DRIFT_FILE, document)
        page = render(analysis, baseline, current, window=f"this run's {' and '.join(COMPARED_SPLITS)} splits")
        (args.output_dir / DATA_DRIFT_REPORT_FILE).write_text(page, encoding="utf-8")
    except DriftNotCompared as error:
        print(f"This run's data was not compared with the baseline of {arn}: {error}")
        return {**section, "compared": False, "reason": str(error)}
    except Exception as error:
        # Drift informs the people deciding; it never costs the candidate its evaluation.
        print(f"Comparing this run's data with the baseline of {arn} failed: {type(error).__name__}: {error}")
        return {
            **section,
            "compared": False,
            "reason": f"the comparison with its baseline failed ({type(error).__name__}: {error})",
        }
    drifted = [drift for drift in analysis.features if drift.drifted]
    for drift in analysis.features:
        shown = "-" if drift.distance is None else f"{drift.distance:.4f}"
        print(f"drift:{drift.name}={shown} (threshold {drift.threshold:g}{' drifted' if drift.drifted else ''})")
    print(
        f"Wrote {DATA_DRIFT_FILE} and {DATA_DRIFT_REPORT_FILE}: drift in {len(drifted)} of "
        f"{len(analysis.features)} features against the baseline of {arn}"
    )
    return {
        **section,
        "compared": True,
        "rows_compared": current.rows,
        "baseline_rows": baseline.rows,
        "features": len(analysis.features),
        "drifted_features": [feature_entry(drift) for drift in drifted],
        "missing_columns": columns["missing_columns"],
        "extra_columns": columns["extra_columns"],
        "report_file": DATA_DRIFT_REPORT_FILE,
        "details_file": DATA_DRIFT_FILE,
    }


def read_baseline(folder: Path) -> tuple[WindowSummary, dict[str, Any]]:
    """The baseline job's statistics.json and constraints.json, as the drift monitor reads them."""
    documents = []
    for name in (BASELINE_STATISTICS_FILE, BASELINE_CONSTRAINTS_FILE):
        path = folder / name
        if not path.is_file():
            raise DriftNotCompared(f"its baseline lacks {name}; rerun its baseline job (baseline.py)")
        try:
            documents.append(read_json(path))
        except JobInputError as error:
            raise DriftNotCompared(f"its baseline cannot be read ({error})") from error
    statistics, constraints = documents
    if not isinstance(constraints, dict):
        raise DriftNotCompared(f"its baseline's {BASELINE_CONSTRAINTS_FILE} is not a JSON object")
    try:
        baseline = summary_from_statistics(statistics, BASELINE_STATISTICS_FILE)
    except ValueError as error:
        raise DriftNotCompared(f"its baseline cannot be read ({error})") from error
    return baseline, constraints


def summarise_run_rows(args: argparse.Namespace, metadata: dict[str, Any]) -> WindowSummary:
    """This run's train and test rows summarised in one, the way the baseline job summarises a train split."""
    folders = {"train": args.train_dir, "test": args.test_dir}
    summary: WindowSummary | None = None
    for split in COMPARED_SPLITS:
        try:
            part = summarise_split(split_files(folders[split], split), metadata, split)
        except JobInputError as error:
            raise DriftNotCompared(f"this run's {split} split cannot be summarised ({error})") from error
        if summary is None:
            summary = part
        else:
            summary.merge(part)
    assert summary is not None
    return summary


def aligned_to_baseline(rows: WindowSummary, baseline: WindowSummary) -> tuple[WindowSummary, dict[str, Any]]:
    """This run's summary feature by feature in the baseline's order; a baseline feature this run lacks, or holds
    with another type, has no values here (so no distance), and the columns that differ are listed."""
    current = WindowSummary.empty_like(baseline.specs)
    current.rows = current.records = rows.rows
    missing: list[str] = []
    changed: dict[str, str] = {}
    for index, (name, kind) in enumerate(baseline.specs):
        feature = rows.feature(name)
        if feature is None or feature.kind != kind:
            current.features[index].missing = rows.rows
            if feature is None:
                missing.append(name)
            else:
                changed[name] = f"{kind} in the baseline, {feature.kind} in this run"
        else:
            current.features[index] = feature
    extra = [name for name, _ in rows.specs if baseline.feature(name) is None]
    return current, {"missing_columns": missing, "extra_columns": extra, "changed_types": changed}


def feature_entry(drift: FeatureDrift) -> dict[str, Any]:
    return {
        "name": drift.name,
        "kind": drift.kind,
        "distance": drift.distance,
        "threshold": drift.threshold,
        "margin": drift.margin,
        "method": drift.method,
        "drifted": drift.drifted,
    }


def data_drift_document(
    arn: str,
    baseline_uri: str,
    analysis: Analysis,
    current: WindowSummary,
    baseline: WindowSummary,
    columns: dict[str, Any],
) -> dict[str, Any]:
    """``data_drift.json``: what was compared with what, each feature's distance against its threshold (a feature
    drifts when its distance less the Robust method's sampling-noise margin exceeds the threshold)."""
    return {
        "model_package_arn": arn,
        "baseline_uri": baseline_uri,
        "splits": list(COMPARED_SPLITS),
        "rows_compared": current.rows,
        "baseline_rows": baseline.rows,
        "features": [
            {**feature_entry(drift), "baseline_values": drift.baseline_count, "run_values": drift.current_count}
            for drift in analysis.features
        ],
        "drifted_features": analysis.drifted_features,
        **columns,
        "violations": analysis.violations,
    }


def read_raw_test_rows(test_dir: Path, expected: int) -> tuple[list[str], list[list[str]]]:
    """The test rows' feature values as uploaded, which preprocessing keeps beside the encoded split."""
    named = test_dir / RAW_TEST_FILE
    paths = [named] if named.is_file() else part_files(test_dir, RAW_TEST_FILE)
    if not paths:
        raise JobInputError(
            f"this run's preprocessing kept no {RAW_TEST_FILE} (the uploaded test rows); run the pipeline again so "
            "the preprocessing job writes it"
        )
    header: list[str] = []
    rows: list[list[str]] = []
    for path in paths:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            part_header = next(reader, [])
            if header and part_header != header:
                raise JobInputError(f"{path.name} has other columns than {paths[0].name}; rerun the preprocessing step")
            header = part_header
            # A lone feature's missing value is an empty line, which the reader gives as no fields.
            rows += [row if row or len(header) != 1 else [""] for row in reader]
    if len(rows) != expected or any(len(row) != len(header) for row in rows):
        raise JobInputError(f"{RAW_TEST_FILE} does not hold the {expected} rows of the test split")
    return header, rows


def unpack_model(folder: Path, scratch: Path) -> Path:
    """The folder holding the model files: ``model.tar.gz`` as training uploads it, or already unpacked. A model
    is ``model_metadata.json`` with the file it names, or the booster alone that SageMaker's XGBoost algorithm saves."""
    if any((folder / name).is_file() for name in (MODEL_FILE, MODEL_METADATA_FILE, BOOSTER_FILE)):
        return folder
    archive = find_input_file(folder, ".tar.gz", "model")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and is_safe_member(m.name)]
            for member in members:
                tar.extract(member, scratch, **SAFE_EXTRACT)
    except tarfile.TarError as error:
        raise JobInputError(f"{archive.name} is not a readable model archive ({error})") from error
    marked = (p.parent for name in (MODEL_METADATA_FILE, BOOSTER_FILE) for p in scratch.rglob(name))
    for candidate in (scratch, *sorted(marked)):
        if (candidate / MODEL_METADATA_FILE).is_file() or (candidate / BOOSTER_FILE).is_file():
            return candidate
    raise JobInputError(
        f"{archive.name} lacks {MODEL_METADATA_FILE} (or an XGBoost {BOOSTER_FILE}); it must come from the "
        "training step"
    )


def is_safe_member(name: str) -> bool:
    """Archive members stay inside the scratch folder: no absolute paths and no ``..``."""
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts


if __name__ == "__main__":
    sys.exit(main())
