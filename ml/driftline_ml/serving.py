"""Inference on a trained model: request parsing, feature encoding, prediction and response formats.

One definition ``serve.py`` (the SageMaker serving program) and the local endpoints share. A request
holds rows of the dataset's feature columns in the training order, without the target, with the
values as they appear in the uploaded CSV: numbers for numeric features, the category text for
categorical ones. Categorical values are encoded as the preprocessing job encoded them (their
position in the training split's sorted categories); a category the training split never saw, and a
missing value, become missing, as they were in training.

Request formats (``Content-Type``):

- ``text/csv``: one row per line, values separated by commas, no header (SageMaker sends none).
  A first line that names exactly the feature columns, in order, is read as a header and skipped.
- ``application/json``: ``{"instances": [...]}`` where each instance is either a list of values in
  the feature order or an object keyed by feature name (a feature it leaves out is missing; a key
  that is not a feature is refused, so a misspelt name never passes silently).

Response formats (``Accept``; ``*/*`` or none means ``application/json``):

- ``text/csv``: one line per row. Classifiers write the predicted class label followed by the
  probability of each class in ``class_labels`` order; regressors write the predicted value.
- ``application/json``: ``{"predictions": [...]}``, one object per row: ``{"predicted_label": ...,
  "probabilities": {label: probability, ...}}`` for classifiers, ``{"predicted_value": ...}`` for
  regressors.

Runs in SageMaker's scikit-learn 1.2-1 container too (Python 3.9, numpy 1.24): numpy and the standard
library only, no pandas on the request path.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from driftline_ml.jobs import JobInputError
from driftline_ml.json_text import JsonTooDeep, loads_bounded
from driftline_ml.tabular import MODEL_FILE, MODEL_METADATA_FILE, check_metadata, is_classification
from driftline_ml.values import MISSING_VALUES, is_number

CSV = "text/csv"
JSON = "application/json"
CONTENT_TYPES = (CSV, JSON)
DEFAULT_ACCEPT = JSON
ANY = "*/*"
MAX_ROWS = 100_000
"""More rows than one request should carry (SageMaker caps a request at 6 MB anyway)."""


class InvalidRequest(Exception):
    """A request the model cannot answer, with the HTTP status that says why (400, 406 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ServingModel:
    """The estimator with everything needed to read requests and write answers in the dataset's terms."""

    def __init__(self, estimator: Any, metadata: dict[str, Any]) -> None:
        self.estimator = estimator
        self.metadata = metadata
        self.problem_type = str(metadata["problem_type"])
        self.features: list[str] = [str(name) for name in metadata["feature_columns"]]
        categorical = metadata.get("categorical") or {}
        self.codes: dict[str, dict[str, float]] = {
            name: {str(category): float(code) for code, category in enumerate(categorical[name])}
            for name in self.features
            if name in categorical
        }
        self.class_labels: list[str] = [str(label) for label in metadata.get("class_labels") or []]
        self.classifier = is_classification(self.problem_type)
        if self.classifier:
            # Columns of predict_proba are the class codes the estimator saw, a subset of 0..k-1.
            self.class_columns = [int(code) for code in getattr(estimator, "classes_", [])]


def load_serving_model(model_dir: Path) -> ServingModel:
    """The model folder as training writes it (``model_metadata.json`` and the model file it names:
    ``model.joblib``, or an XGBoost booster packed by the evaluation job)."""
    metadata_path = model_dir / MODEL_METADATA_FILE
    if not metadata_path.is_file():
        raise JobInputError(
            f"the model folder {model_dir} lacks {MODEL_METADATA_FILE}; the model must be a model.tar.gz written by "
            "the training step"
        )
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise JobInputError(f"{MODEL_METADATA_FILE} is not valid JSON ({error})") from error
    metadata = check_metadata(metadata, MODEL_METADATA_FILE)
    return ServingModel(load_model_file(model_dir, metadata), metadata)


def load_model_file(model_dir: Path, metadata: dict[str, Any]) -> Any:
    """The estimator the metadata names: a scikit-learn pickle, or an XGBoost booster or exported PyTorch module
    answering as one."""
    from driftline_ml import torch_model
    from driftline_ml.xgboost_model import BOOSTER_FILE, MODEL_FORMAT, load_booster

    xgboost = metadata.get("model_format") == MODEL_FORMAT
    name = str(metadata.get("model_file") or (BOOSTER_FILE if xgboost else MODEL_FILE))
    path = model_dir / name
    if Path(name).name != name or not path.is_file():
        raise JobInputError(
            f"the model folder {model_dir} lacks {name}, the model file its {MODEL_METADATA_FILE} names; the model "
            "must be a model.tar.gz written by the training step"
        )
    if xgboost:
        return load_booster(path, metadata)
    if metadata.get("model_format") == torch_model.MODEL_FORMAT:
        return torch_model.load_module(path, metadata)
    return load_estimator(path, metadata.get("sklearn_version"))


def load_estimator(path: Path, trained_with: str | None) -> Any:
    """The pickled estimator; a scikit-learn version mismatch is named, as pickles do not cross versions."""
    import joblib
    import sklearn

    from driftline_ml.model_packages import add_model_packages

    add_model_packages(path.parent)
    try:
        return joblib.load(path)
    except Exception as error:
        if trained_with and trained_with != sklearn.__version__:
            raise JobInputError(
                f"the model was trained with scikit-learn {trained_with} but this container has "
                f"{sklearn.__version__}, which cannot load it ({type(error).__name__}: {error}); evaluate and "
                "serve it on the scikit-learn image it was trained on (the SklearnContainerVersion parameter)"
            ) from error
        raise


# Requests ---------------------------------------------------------------------------------------


def media_type(header: str | None) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``."""
    return (header or "").split(";", 1)[0].strip().lower()


def parse_request(model: ServingModel, body: Any, content_type: str | None) -> np.ndarray:
    """The request's rows as the float matrix the estimator takes; ``InvalidRequest`` says what is wrong."""
    kind = media_type(content_type)
    if kind not in CONTENT_TYPES:
        raise InvalidRequest(
            415,
            f"content type {content_type or '(none)'!r} is not supported; send text/csv (rows of "
            f"{len(model.features)} values in the order {', '.join(model.features)}) or application/json "
            '({"instances": [...]})',
        )
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidRequest(400, f"the request body is not UTF-8 text ({error})") from error
    text = str(body)
    rows = csv_rows(model, text) if kind == CSV else json_rows(model, text)
    if not rows:
        raise InvalidRequest(400, "the request holds no rows; send at least one row of feature values")
    if len(rows) > MAX_ROWS:
        raise InvalidRequest(400, f"the request holds {len(rows)} rows; send at most {MAX_ROWS} per request")
    return encode_rows(model, rows)


def csv_rows(model: ServingModel, text: str) -> list[Sequence[Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if '"' in text:
        try:
            rows: list[Sequence[Any]] = [row for row in csv.reader(io.StringIO("\n".join(lines)))]
        except csv.Error as error:  # a quoted value over the reader's field limit (128 KiB), say
            raise InvalidRequest(400, f"the request body is CSV that cannot be read ({error})") from error
    else:
        rows = [line.split(",") for line in lines]
    if rows and [str(value).strip() for value in rows[0]] == model.features:
        rows = rows[1:]
    width = len(model.features)
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise InvalidRequest(
                400,
                f"CSV row {number} has {_count(len(row), 'value')} but the model takes {width} features "
                f"({', '.join(model.features)}), in that order and without the target "
                f"{model.metadata['target']!r}",
            )
    return rows


def json_rows(model: ServingModel, text: str) -> list[Sequence[Any]]:
    try:
        document = loads_bounded(text)
    except JsonTooDeep as error:
        raise InvalidRequest(
            400,
            f'the request body is JSON nested too deeply to read ({error}); send {{"instances": [...]}} with flat rows',
        ) from error
    except ValueError as error:
        raise InvalidRequest(400, f"the request body is not valid JSON ({error})") from error
    instances = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(instances, list):
        raise InvalidRequest(
            400,
            'a JSON request must be {"instances": [...]} with each instance a list of feature values or an '
            "object keyed by feature name",
        )
    width = len(model.features)
    positions = {name: position for position, name in enumerate(model.features)}
    rows: list[Sequence[Any]] = []
    for number, instance in enumerate(instances, start=1):
        if isinstance(instance, dict):
            unknown = [str(key) for key in instance if key not in positions]
            if unknown:
                raise InvalidRequest(
                    400,
                    f"instance {number} names {', '.join(map(repr, unknown))}, which the model does not take; "
                    f"its features are {', '.join(model.features)}",
                )
            rows.append([instance.get(name) for name in model.features])
        elif isinstance(instance, list):
            if len(instance) != width:
                raise InvalidRequest(
                    400,
                    f"instance {number} has {_count(len(instance), 'value')} but the model takes {width} features "
                    f"({', '.join(model.features)}), in that order and without the target",
                )
            rows.append(instance)
        else:
            raise InvalidRequest(400, f"instance {number} must be a list of feature values or an object")
    return rows


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def encode_rows(model: ServingModel, rows: list[Sequence[Any]]) -> np.ndarray:
    """Numbers for numeric features, category codes for categorical ones, NaN for missing and unseen."""
    matrix = np.empty((len(rows), len(model.features)), dtype=np.float64)
    for column, name in enumerate(model.features):
        codes = model.codes.get(name)
        for row_number, row in enumerate(rows):
            value = row[column]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                matrix[row_number, column] = math.nan
                continue
            if isinstance(value, bool):
                value = str(value).lower()
            elif isinstance(value, (list, dict)):
                raise InvalidRequest(
                    400,
                    f"row {row_number + 1}: feature {name!r} holds a JSON "
                    f"{'list' if isinstance(value, list) else 'object'}; send a number or text, or null when "
                    "it is missing",
                )
            text = value.strip() if isinstance(value, str) else str(value)
            if text in MISSING_VALUES:
                matrix[row_number, column] = math.nan
            elif codes is not None:
                matrix[row_number, column] = codes.get(text, math.nan)
            elif is_number(text):
                matrix[row_number, column] = float(text)
            else:
                raise InvalidRequest(
                    400,
                    f"row {row_number + 1}: feature {name!r} is numeric but holds {text[:40]!r}; send a number "
                    "or leave the value empty when it is missing",
                )
    return matrix


# Predictions ------------------------------------------------------------------------------------


def predict(model: ServingModel, x: np.ndarray) -> dict[str, Any]:
    """Classifiers: probabilities for every class label and the most probable label; regressors: values."""
    if not model.classifier:
        return {"values": np.asarray(model.estimator.predict(x), dtype=np.float64)}
    seen = np.asarray(model.estimator.predict_proba(x), dtype=np.float64)
    probabilities = np.zeros((len(x), len(model.class_labels)), dtype=np.float64)
    probabilities[:, model.class_columns] = seen
    labels = [model.class_labels[code] for code in probabilities.argmax(axis=1)]
    return {"labels": labels, "probabilities": probabilities, "class_labels": model.class_labels}


def predict_many(model: ServingModel, matrices: list[np.ndarray]) -> list[dict[str, Any]]:
    """``predict`` for several requests with one call of the estimator, split back per request.

    A gradient-boosted model spends most of a small request walking its trees once per call, so rows of
    requests that arrive together cost little more than one of them.
    """
    combined = predict(model, np.vstack(matrices))
    answers: list[dict[str, Any]] = []
    start = 0
    for matrix in matrices:
        end = start + len(matrix)
        if "values" in combined:
            answers.append({"values": combined["values"][start:end]})
        else:
            answers.append(
                {
                    "labels": combined["labels"][start:end],
                    "probabilities": combined["probabilities"][start:end],
                    "class_labels": combined["class_labels"],
                }
            )
        start = end
    return answers


def choose_accept(accept: str | None) -> str:
    """The first supported media type an Accept header names; ``*/*`` or none means JSON."""
    if not accept:
        return DEFAULT_ACCEPT
    for part in accept.split(","):
        kind = media_type(part)
        if kind in CONTENT_TYPES:
            return kind
        if kind in (ANY, "text/*", "application/*"):
            return CSV if kind == "text/*" else DEFAULT_ACCEPT
    raise InvalidRequest(
        406, f"accept type {accept!r} is not supported; ask for text/csv or application/json (the default)"
    )


def format_prediction(prediction: dict[str, Any], accept: str | None) -> tuple[str, str]:
    """The response body and its content type."""
    kind = choose_accept(accept)
    if "values" in prediction:
        values = [float(value) for value in prediction["values"]]
        if kind == CSV:
            return "".join(f"{value!r}\n" for value in values), CSV
        return json.dumps({"predictions": [{"predicted_value": value} for value in values]}), JSON
    labels, probabilities, class_labels = prediction["labels"], prediction["probabilities"], prediction["class_labels"]
    if kind == CSV:
        lines = [
            ",".join([_csv_field(label)] + [repr(float(p)) for p in probabilities[i]]) for i, label in enumerate(labels)
        ]
        return "".join(line + "\n" for line in lines), CSV
    rows = [
        {
            "predicted_label": label,
            "probabilities": {name: float(probabilities[i, k]) for k, name in enumerate(class_labels)},
        }
        for i, label in enumerate(labels)
    ]
    return json.dumps({"predictions": rows}), JSON


def _csv_field(text: str) -> str:
    if any(character in text for character in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def error_body(error: InvalidRequest) -> str:
    """The JSON body of a refused request: what is wrong and what to send instead."""
    return json.dumps({"error": type(error).__name__, "status": error.status, "message": error.message})
