"""Serving program: the inference functions SageMaker's scikit-learn container calls for a registered model.

A registered model package names this file (``SAGEMAKER_PROGRAM=serve.py``) and the published ``ml/`` code
(``SAGEMAKER_SUBMIT_DIRECTORY``); the container imports it and answers ``POST /invocations`` with
``output_fn(predict_fn(input_fn(body, content_type), model), accept)``, ``model = model_fn(model_dir)``
loaded once when it starts. Local endpoints call the same functions the same way.

Requests and answers (``text/csv`` and ``application/json``) are described in ``driftline_ml/serving.py``.

Refused requests: the container wraps any exception these functions raise in its own error type and answers
``500``, which would hide a caller's mistake behind a server error. So a request that cannot be read (wrong
number of values, text where a number belongs, an unsupported content or accept type) is not raised: it
travels as an ``InvalidRequest`` value to ``output_fn``, which answers it with its 4xx status (400, 415 or
406) and a JSON body saying what is wrong, as a response object the container returns unchanged. Failures
of the model itself still raise and answer 500.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

from driftline_ml.serving import (
    InvalidRequest,
    ServingModel,
    error_body,
    format_prediction,
    load_serving_model,
    parse_request,
    predict,
    predict_many,
)
from driftline_ml.torch_model import MODEL_FORMAT as TORCH_MODEL_FORMAT

_model: ServingModel | None = None
"""The loaded model, for ``input_fn``, which the container calls without it."""


def model_fn(model_dir: str) -> ServingModel:
    """Load ``model.joblib`` and ``model_metadata.json`` from the unpacked ``model.tar.gz``."""
    global _model
    _model = load_serving_model(Path(model_dir))
    return _model


def input_fn(request_body: Any, request_content_type: str) -> Any:
    """The request's rows as a float matrix in the training feature order, or the ``InvalidRequest``."""
    if _model is None:
        raise RuntimeError("model_fn has not loaded a model yet")
    try:
        return parse_request(_model, request_body, request_content_type)
    except InvalidRequest as error:
        return error


def predict_fn(input_data: Any, model: ServingModel) -> Any:
    """Probabilities and the predicted label for classifiers, the predicted value for regressors."""
    if isinstance(input_data, InvalidRequest):
        return input_data
    return predict(model, input_data)


def predict_batch_fn(inputs: list[Any], model: ServingModel) -> list[Any]:
    """``predict_fn`` for requests that arrived together, in one call of the model (local endpoints use it;
    SageMaker's container calls ``predict_fn`` per request). Refused requests pass through unchanged."""
    readable = [data for data in inputs if not isinstance(data, InvalidRequest)]
    answers = iter(predict_many(model, readable) if readable else [])
    return [data if isinstance(data, InvalidRequest) else next(answers) for data in inputs]


def output_fn(prediction: Any, accept: str) -> Any:
    """``(body, content type)`` for an answer; a response with the 4xx status for a refused request."""
    if not isinstance(prediction, InvalidRequest):
        try:
            return format_prediction(prediction, accept)
        except InvalidRequest as error:
            prediction = error
    return error_response(prediction)


def error_response(error: InvalidRequest) -> Any:
    """A response object the container's web framework (Flask, on werkzeug) sends as it is.

    SageMaker's PyTorch container serves through TorchServe, which has no response objects: there the refusal is
    raised as the inference toolkit's own error, which its handler answers with the error's status (the body is
    the message, then the traceback)."""
    if _model is not None and _model.metadata.get("model_format") == TORCH_MODEL_FORMAT:
        from sagemaker_inference.errors import GenericInferenceToolkitError

        raise GenericInferenceToolkitError(error.status, error_body(error), HTTPStatus(error.status).phrase)
    from werkzeug.wrappers import Response

    return Response(error_body(error), status=error.status, mimetype="application/json")
