"""Evaluation job: score the trained model on the held-out test split and write ``evaluation.json``.

Runs as a SageMaker Processing job with the training job's ``model.tar.gz``, the test split and the run
config as inputs. The report uses SageMaker Model Monitor's model-quality statistics format (so the Model
Registry shows it as model quality) plus a ``driftline`` block naming the metric the quality gate reads.

When a model of the dataset is approved, the job also gets that model's ``model.tar.gz`` (input
``incumbent``) and its package ARN (``DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN``) and scores it on the same test
rows, read as uploaded and encoded through the approved model's own metadata, as its endpoint would encode
them. The report's ``incumbent`` section holds its metrics in the same format, or, when it cannot be scored
(no artifact, a model that does not load, features this data lacks), why not: that never fails the job.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from driftline_ml.jobs import (
    JobInputError,
    find_input_file,
    output_dir,
    processing_dir,
    read_json,
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
    InvalidRequest,
    ServingModel,
    encode_rows,
    load_estimator,
    load_serving_model,
    predict,
)
from driftline_ml.tabular import MODEL_FILE, MODEL_METADATA_FILE, RAW_TEST_FILE, check_metadata, load_split

EVALUATION_FILE = "evaluation.json"
INCUMBENT_SECTION = "incumbent"
INCUMBENT_ARN_VARIABLE = "DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"
INCUMBENT_NOT_GIVEN_VARIABLE = "DRIFTLINE_INCUMBENT_NOT_GIVEN"
"""Why the pipeline did not give the job the approved model's artifact, when it did not."""
BOOTSTRAP_RESAMPLES = 20
SAFE_EXTRACT: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
"""Python versions with extraction filters get the strict one; older ones rely on the member checks below."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    inputs = processing_dir() / "input"
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--model-dir", type=Path, default=inputs / "model")
    parser.add_argument("--test-dir", type=Path, default=inputs / "test")
    parser.add_argument("--incumbent-dir", type=Path, default=inputs / "incumbent")
    parser.add_argument("--config-dir", type=Path, default=inputs / "config")
    parser.add_argument("--output-dir", type=Path, default=processing_dir() / "output" / "evaluation")
    parser.add_argument("--message-file", type=Path, default=output_dir() / "message")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_job(lambda: evaluate(args), what="Evaluation", reason_file=args.message_file)


def evaluate(args: argparse.Namespace) -> None:
    config = read_config(args.config_dir)
    with tempfile.TemporaryDirectory() as scratch:
        model_folder = unpack_model(args.model_dir, Path(scratch))
        metadata = check_metadata(read_json(model_folder / MODEL_METADATA_FILE), MODEL_METADATA_FILE)
        problem_type = metadata["problem_type"]
        metric = str(config.get("metric") or DEFAULT_METRIC[problem_type])
        if metric not in METRIC_NAMES[problem_type]:
            raise JobInputError(
                f"metric {metric!r} is not reported for {problem_type}; choose one of "
                f"{', '.join(METRIC_NAMES[problem_type])} in the dataset config"
            )
        model = load_estimator(model_folder / MODEL_FILE, metadata.get("sklearn_version"))

    x_test, y_test = load_split(args.test_dir, "test", metadata)
    predictions = np.asarray(model.predict(x_test))
    scores = None
    if problem_type == "binary_classification":
        classes = list(model.classes_)
        scores = model.predict_proba(x_test)[:, classes.index(1)] if 1 in classes else np.zeros(len(y_test))
    report = model_quality_report(problem_type, y_test, predictions, scores, resamples=BOOTSTRAP_RESAMPLES)
    block = report[BLOCK_NAMES[problem_type]]
    if metric not in block:
        raise JobInputError(
            f"metric {metric!r} is undefined on the test split ({len(y_test)} rows"
            f"{', one class only' if scores is not None else ''}); upload more rows or choose another metric"
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
    write_json(args.output_dir / EVALUATION_FILE, report)
    for name, entry in block.items():
        print(f"test:{name}={entry['value']:.6f}")
    print(f"Wrote {EVALUATION_FILE}: {metric}={block[metric]['value']:.6f} on {len(y_test)} test rows")


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
    header, rows = read_raw_test_rows(test_dir, len(y_test))
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


def read_raw_test_rows(test_dir: Path, expected: int) -> tuple[list[str], list[list[str]]]:
    """The test rows' feature values as uploaded, which preprocessing keeps beside the encoded split."""
    path = test_dir / RAW_TEST_FILE
    if not path.is_file():
        raise IncumbentNotScored(
            f"this run's preprocessing kept no {RAW_TEST_FILE} (the uploaded test rows) to score it on"
        )
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader, [])
        # A lone feature's missing value is an empty line, which the reader gives as no fields.
        rows = [row if row or len(header) != 1 else [""] for row in reader]
    if len(rows) != expected or any(len(row) != len(header) for row in rows):
        raise IncumbentNotScored(f"{RAW_TEST_FILE} does not hold the {expected} rows of the test split")
    return header, rows


def read_config(folder: Path) -> dict[str, Any]:
    """The run config when the job has one (it names the gate metric); an empty config otherwise."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return {}
    config = read_json(find_input_file(folder, ".json", "config"))
    if not isinstance(config, dict):
        raise JobInputError("the run config must be a JSON object")
    return config


def unpack_model(folder: Path, scratch: Path) -> Path:
    """The folder holding the model files: ``model.tar.gz`` as training uploads it, or already unpacked."""
    if (folder / MODEL_FILE).is_file():
        return folder
    archive = find_input_file(folder, ".tar.gz", "model")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and is_safe_member(m.name)]
            for member in members:
                tar.extract(member, scratch, **SAFE_EXTRACT)
    except tarfile.TarError as error:
        raise JobInputError(f"{archive.name} is not a readable model archive ({error})") from error
    for candidate in (scratch, *sorted(p.parent for p in scratch.rglob(MODEL_FILE))):
        if (candidate / MODEL_FILE).is_file() and (candidate / MODEL_METADATA_FILE).is_file():
            return candidate
    raise JobInputError(
        f"{archive.name} lacks {MODEL_FILE} and {MODEL_METADATA_FILE}; it must come from the training step"
    )


def is_safe_member(name: str) -> bool:
    """Archive members stay inside the scratch folder: no absolute paths and no ``..``."""
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts


if __name__ == "__main__":
    sys.exit(main())
