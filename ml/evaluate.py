"""Evaluation job: score the trained model on the held-out test split and write ``evaluation.json``.

Runs as a SageMaker Processing job with the training job's ``model.tar.gz``, the test split and the run
config as inputs. The report uses SageMaker Model Monitor's model-quality statistics format (so the Model
Registry shows it as model quality) plus a ``driftline`` block naming the metric the quality gate reads.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import joblib
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
from driftline_ml.tabular import MODEL_FILE, MODEL_METADATA_FILE, check_metadata, load_split

EVALUATION_FILE = "evaluation.json"
BOOTSTRAP_RESAMPLES = 20
SAFE_EXTRACT: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
"""Python versions with extraction filters get the strict one; older ones rely on the member checks below."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    inputs = processing_dir() / "input"
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--model-dir", type=Path, default=inputs / "model")
    parser.add_argument("--test-dir", type=Path, default=inputs / "test")
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
        model = load_model(model_folder / MODEL_FILE, metadata.get("sklearn_version"))

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
    write_json(args.output_dir / EVALUATION_FILE, report)
    for name, entry in block.items():
        print(f"test:{name}={entry['value']:.6f}")
    print(f"Wrote {EVALUATION_FILE}: {metric}={block[metric]['value']:.6f} on {len(y_test)} test rows")


def load_model(path: Path, trained_with: str | None) -> Any:
    """The pickled estimator; a scikit-learn version mismatch is named, as pickles do not cross versions."""
    import sklearn

    try:
        return joblib.load(path)
    except Exception as error:
        if trained_with and trained_with != sklearn.__version__:
            raise JobInputError(
                f"the model was trained with scikit-learn {trained_with} but this job runs "
                f"{sklearn.__version__}, which cannot load it ({type(error).__name__}: {error}); "
                "run training and evaluation on the same scikit-learn image"
            ) from error
        raise


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
