"""SageMaker's built-in XGBoost algorithm (image ``sagemaker-xgboost:3.0-5``, XGBoost 3.0.5) for local mode.

The executor lays out one ``/opt/ml``-like folder per instance and runs
``python -m driftline.local.xgboost_algorithm --instance-root <algo-1> [--instance-root <algo-2> ...]``
with the roots in the order of ``hosts``. The program does what the container does in algorithm mode (no user
script): it validates the hyperparameters and channels, reads the ``train`` and optional ``validation``
channels, trains with ``xgboost.train`` printing one evaluation line per round, and saves the booster to
``model/xgboost-model`` of the master instance (algo-1). Any failure writes a readable reason to
``<algo-1>/output/failure`` and exits 1, as algorithm containers write ``/opt/ml/output/failure``.
Standard error joins standard output, as CloudWatch gets both streams of a container.

Supported, as the container supports them: every hyperparameter of its table (``HYPERPARAMETERS``, with the
aliases ``ALIASES``) and its rules between them; its own metrics (accuracy, f1, ...) beside XGBoost's; early
stopping on the tuning objective's metric, else the last ``eval_metric`` (only with a validation channel, as
there); ``save_model_on_termination``; CSV (``text/csv``, label first, no header, empty fields missing,
``csv_weights=1`` for a weight column) and LIBSVM (``<label>[:<weight>] [qid:<id>] <index>:<value> ...``, also
what a channel without ContentType holds); files in sub-folders up to the container's depth; several instances
trained together with XGBoost's collective (rabit), one worker process per instance.

Refused, naming local mode (``LOCAL_MODE_REFUSALS``): GPU training (``tree_method=gpu_hist``,
``predictor=gpu_predictor``, ``sampling_method=gradient_based``, ``use_dask_gpu_training=true``), the
container's cross-validation (``_kfold``, ``_num_cv_round``), Parquet and RecordIO-protobuf input; Pipe mode,
which the container refuses too.

Several instances: the program first moves itself into a private user and network namespace with only
loopback up, because XGBoost's collective workers listen on 0.0.0.0 and local mode must not be reachable from
outside the machine; a system that refuses the namespace fails the job with the reason. Inside it, a rabit
tracker on 127.0.0.1 and one worker process per instance, ranked in the order of ``hosts``, each with its share
of the cores (on AWS each instance has its own); their lines are relayed with the host as prefix. An instance
without training data (or without validation data when the job has a validation channel) is left out with the
container's warning, as the container leaves it out, except algo-1: the job keeps algo-1's model, and the
container would save it on another instance, so that job is refused instead.

Not emulated: checkpoints (``checkpointconfig.json``) and the container's SIGTERM handler; its refusal of hidden
files (local mode skips them with a warning); its scikit-learn ``rmse`` and ``mae`` (local mode lets XGBoost
compute them: the same on one instance without weights, over all instances' rows when several train). The
container's quirks are kept where they change what users see: its own metrics class XGBoost 3's predictions as
it does (see ``container_metric``), and objective ``aft_loss_distribution`` passes validation and then fails.

This file imports only the standard library at the top: ``unshare`` needs a single-threaded process, and numpy
and XGBoost start threads when imported.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import ctypes
import dataclasses
import difflib
import errno
import io
import json
import logging
import math
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import xgboost as xgb
    from scipy import sparse

LOGGER = logging.getLogger("driftline.local.xgboost_algorithm")

MODEL_NAME = "xgboost-model"
FAILURE_REASON_LIMIT = 1024
"""SageMaker's FailureReason holds at most 1,024 characters."""

SINGLE_INSTANCE_HINT = 'Set "instance_count": 1 to train on one instance, which needs no namespace.'


class TrainingFailure(Exception):
    """A failure whose message is the reason the job shows: it goes to ``output/failure`` as it is."""


# --- Hyperparameters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """The numbers a numeric hyperparameter allows, printed as the container prints them: ``[0, 1]``, ``(0, +inf)``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def __str__(self) -> str:
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{_number(self.low)}"
        high = "+inf)" if self.high is None else f"{_number(self.high)}{')' if self.high_open else ']'}"
        return f"{low}, {high}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


Kind = Literal["integer", "number", "choice", "metrics", "updaters", "constraint tuple", "constraint lists"]


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of the algorithm: how its string value parses and which values it allows."""

    name: str
    kind: Kind
    allowed: Interval | tuple[str, ...] | None = None
    required: bool = False

    def describe(self) -> str:
        """What the hyperparameter takes, for reasons that name what is allowed."""
        if self.kind == "integer":
            return f"an integer in {self.allowed}"
        if self.kind == "number":
            return f"a number in {self.allowed}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.allowed if isinstance(self.allowed, tuple) else ())
        if self.kind == "metrics":
            return "a comma-separated list of " + ", ".join(EVAL_METRICS) + ", error@<t>, ndcg@<n> or map@<n>"
        if self.kind == "updaters":
            return "a comma-separated list of " + ", ".join(UPDATERS)
        if self.kind == "constraint tuple":
            return "a tuple of -1, 0 and 1, one per feature, such as (1,0,-1)"
        return "a list of lists of feature indices (1 or more), such as [[1,2],[3,4]]"


XGB_MAXIMIZE_METRICS = (
    "accuracy",
    "auc",
    "aucpr",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "map",
    "ndcg",
    "precision",
    "r2",
    "recall",
    "precision_macro",
    "precision_micro",
    "recall_macro",
    "recall_micro",
)
XGB_MINIMIZE_METRICS = (
    "aft-nloglik",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "interval-regression-accuracy",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "mse",
    "poisson-nloglik",
    "rmse",
    "rmsle",
    "tweedie-nloglik",
)
EVAL_METRICS = XGB_MAXIMIZE_METRICS + XGB_MINIMIZE_METRICS
"""The container's metric names; early stopping maximizes the first group."""

CONTAINER_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "f1",
    "f1_binary",
    "f1_macro",
    "mse",
    "precision",
    "precision_macro",
    "precision_micro",
    "r2",
    "recall",
    "recall_macro",
    "recall_micro",
)
"""Metrics XGBoost does not have: the container computes them with scikit-learn on each instance's rows."""

OBJECTIVES = (
    "aft_loss_distribution",
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
    "reg:linear",
    "reg:squarederror",
    "reg:logistic",
    "reg:gamma",
    "reg:pseudohubererror",
    "reg:squaredlogerror",
    "reg:absoluteerror",
    "reg:tweedie",
    "survival:aft",
    "survival:cox",
)
"""As the container lists them (``aft_loss_distribution`` included, which XGBoost then rejects)."""

_TREE_UPDATERS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_skmaker", "sync", "refresh", "prune")
UPDATERS = (*_TREE_UPDATERS, "shotgun", "coord_descent")
"""As the container's range lists them; its tree rule also names grow_quantile_histmaker, which the range refuses."""
_TREE_GROWERS = ("grow_colmaker", "distcol", "grow_histmaker", "grow_quantile_histmaker")
_LINEAR_UPDATERS = ("shotgun", "coord_descent")

_AT_LEAST_0 = Interval(low=0)
_FRACTION = Interval(low=0, high=1, low_open=True)
_UNIT = Interval(low=0, high=1)
_TRUE_FALSE = ("true", "false")

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("num_round", "integer", Interval(low=1), required=True),
    Hyperparameter("csv_weights", "integer", _UNIT),
    Hyperparameter("early_stopping_rounds", "integer", Interval(low=1)),
    Hyperparameter("booster", "choice", ("gbtree", "gblinear", "dart")),
    Hyperparameter("verbosity", "integer", Interval(low=0, high=3)),
    Hyperparameter("nthread", "integer", Interval(low=1)),
    Hyperparameter("eta", "number", _UNIT),
    Hyperparameter("gamma", "number", _AT_LEAST_0),
    Hyperparameter("max_depth", "integer", _AT_LEAST_0),
    Hyperparameter("min_child_weight", "number", _AT_LEAST_0),
    Hyperparameter("max_delta_step", "number", _AT_LEAST_0),
    Hyperparameter("subsample", "number", _FRACTION),
    Hyperparameter("colsample_bytree", "number", _FRACTION),
    Hyperparameter("colsample_bylevel", "number", _FRACTION),
    Hyperparameter("colsample_bynode", "number", _FRACTION),
    Hyperparameter("lambda", "number", _AT_LEAST_0),
    Hyperparameter("alpha", "number", _AT_LEAST_0),
    Hyperparameter("tree_method", "choice", ("auto", "exact", "approx", "hist", "gpu_hist")),
    Hyperparameter("sketch_eps", "number", Interval(low=0, high=1, low_open=True, high_open=True)),
    Hyperparameter("scale_pos_weight", "number", Interval(low=0, low_open=True)),
    Hyperparameter("updater", "updaters"),
    Hyperparameter("dsplit", "choice", ("row", "col")),
    Hyperparameter("refresh_leaf", "integer", _UNIT),
    Hyperparameter("process_type", "choice", ("default", "update")),
    Hyperparameter("grow_policy", "choice", ("depthwise", "lossguide")),
    Hyperparameter("max_leaves", "integer", _AT_LEAST_0),
    Hyperparameter("max_bin", "integer", _AT_LEAST_0),
    Hyperparameter("predictor", "choice", ("auto", "cpu_predictor", "gpu_predictor")),
    Hyperparameter("monotone_constraints", "constraint tuple"),
    Hyperparameter("interaction_constraints", "constraint lists"),
    Hyperparameter("sample_type", "choice", ("uniform", "weighted")),
    Hyperparameter("normalize_type", "choice", ("tree", "forest")),
    Hyperparameter("rate_drop", "number", _UNIT),
    Hyperparameter("one_drop", "integer", _UNIT),
    Hyperparameter("skip_drop", "number", _UNIT),
    Hyperparameter("lambda_bias", "number", _UNIT),
    Hyperparameter("tweedie_variance_power", "number", Interval(low=1, high=2, low_open=True, high_open=True)),
    Hyperparameter("objective", "choice", OBJECTIVES),
    Hyperparameter("num_class", "integer", Interval(low=2)),
    Hyperparameter("base_score", "number", _AT_LEAST_0),
    Hyperparameter("_kfold", "integer", Interval(low=2)),
    Hyperparameter("_num_cv_round", "integer", Interval(low=1)),
    Hyperparameter("_tuning_objective_metric", "choice", tuple(f"validation:{m}" for m in EVAL_METRICS)),
    Hyperparameter("eval_metric", "metrics"),
    Hyperparameter("seed", "integer", Interval(low=-(2**31), high=2**31 - 1, low_open=True, high_open=True)),
    Hyperparameter("num_parallel_tree", "integer", Interval(low=1)),
    Hyperparameter("save_model_on_termination", "choice", _TRUE_FALSE),
    Hyperparameter("aft_loss_distribution", "choice", ("normal", "logistic", "extreme")),
    Hyperparameter("aft_loss_distribution_scale", "number", _AT_LEAST_0),
    Hyperparameter("deterministic_histogram", "choice", _TRUE_FALSE),
    Hyperparameter("sampling_method", "choice", ("uniform", "gradient_based")),
    Hyperparameter("prob_buffer_row", "integer", Interval(low=1, low_open=True)),
    Hyperparameter("use_dask_gpu_training", "choice", _TRUE_FALSE),
)
"""The container's hyperparameter table (``algorithm_mode/hyperparameter_validation.py``), in its order."""

BY_NAME = {hyperparameter.name: hyperparameter for hyperparameter in HYPERPARAMETERS}
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}

_ON_CPU = "local mode trains XGBoost on this machine's CPU"
LOCAL_MODE_REFUSALS: dict[tuple[str, str | None], str] = {
    ("tree_method", "gpu_hist"): f"trains on a GPU, and {_ON_CPU}; tree_method hist is the same method on the CPU",
    ("predictor", "gpu_predictor"): f"predicts on a GPU, and {_ON_CPU}; use cpu_predictor or auto",
    ("sampling_method", "gradient_based"): f"works only with GPU training, and {_ON_CPU}; use uniform",
    ("use_dask_gpu_training", "true"): f"trains with Dask on GPUs, and {_ON_CPU}; leave it out or set false",
    ("_kfold", None): "runs the container's k-fold cross-validation, which local mode does not emulate",
    ("_num_cv_round", None): "runs the container's k-fold cross-validation, which local mode does not emulate",
}
"""(name, value) -> why local mode cannot emulate it; a value of None refuses any value."""


def validate_hyperparameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters parsed and checked as the container checks them, or a reason naming the first problem."""
    values = {ALIASES.get(name, name): value for name, value in raw.items()}
    for hyperparameter in HYPERPARAMETERS:
        if hyperparameter.required and hyperparameter.name not in values:
            raise TrainingFailure(
                f"Missing required hyperparameter: {hyperparameter.name} ({hyperparameter.describe()})."
            )
    parsed = {name: _parse(_known(name), value) for name, value in values.items()}
    for name, value in parsed.items():
        _check_allowed(BY_NAME[name], value, values[name])
    for (name, refused), why in LOCAL_MODE_REFUSALS.items():
        if name in values and (refused is None or parsed[name] == refused):
            raise TrainingFailure(f"Hyperparameter {name}={values[name]} {why}.")
    _check_dependencies(parsed)
    return parsed


def _known(name: str) -> Hyperparameter:
    if name in BY_NAME:
        return BY_NAME[name]
    close = difflib.get_close_matches(name, [*BY_NAME, *ALIASES], n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise TrainingFailure(
        f"Extraneous hyperparameter found: {name}. SageMaker's XGBoost algorithm does not take it.{hint}"
    )


def _parse(hyperparameter: Hyperparameter, value: Any) -> Any:
    text = str(value).strip()
    try:
        if hyperparameter.kind == "integer":
            return int(text)
        if hyperparameter.kind == "number":
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)
            return number
        if hyperparameter.kind in ("metrics", "updaters"):
            return [item.strip() for item in text.split(",")]
        if hyperparameter.kind == "constraint tuple":
            return _int_sequence(ast.literal_eval(text))
        if hyperparameter.kind == "constraint lists":
            return [_int_sequence(group) for group in ast.literal_eval(text)]
        return text
    except (ValueError, TypeError, SyntaxError) as error:
        raise TrainingFailure(
            f"Hyperparameter {hyperparameter.name}: could not parse {text!r}; "
            f"{hyperparameter.name} takes {hyperparameter.describe()}."
        ) from error


def _int_sequence(value: Any) -> list[int]:
    if not isinstance(value, (tuple, list)) or not all(isinstance(item, int) for item in value):
        raise ValueError(value)
    return list(value)


def _check_allowed(hyperparameter: Hyperparameter, value: Any, given: Any) -> None:
    allowed = hyperparameter.allowed
    if hyperparameter.kind in ("integer", "number"):
        ok = isinstance(allowed, Interval) and value in allowed
    elif hyperparameter.kind == "choice":
        ok = isinstance(allowed, tuple) and value in allowed
    elif hyperparameter.kind == "metrics":
        ok = all(_is_metric(metric) for metric in value)
    elif hyperparameter.kind == "updaters":
        ok = all(updater in UPDATERS for updater in value)
    elif hyperparameter.kind == "constraint tuple":
        ok = all(item in (-1, 0, 1) for item in value)
    else:
        ok = all(index >= 1 for group in value for index in group)
    if not ok:
        raise TrainingFailure(
            f"Hyperparameter {hyperparameter.name}: {given} is not allowed; "
            f"{hyperparameter.name} takes {hyperparameter.describe()}."
        )


def _is_metric(metric: str) -> bool:
    """A container metric name, or ``error``/``ndcg``/``map`` with a numeric ``@`` threshold."""
    if "@" not in metric:
        return metric in EVAL_METRICS
    name, _, threshold = metric.partition("@")
    try:
        float(threshold)
    except ValueError:
        return False
    return name.strip() in ("error", "ndcg", "map")


def _check_dependencies(values: Mapping[str, Any]) -> None:
    """The container's rules that tie one hyperparameter to another."""
    objective = values.get("objective", "reg:squarederror")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in values:
        raise TrainingFailure(
            f"Hyperparameter objective={objective} needs num_class, the number of classes (an integer, 2 or more)."
        )
    metrics = values.get("eval_metric") or []
    if "auc" in metrics and not objective.startswith(("binary:", "rank:")):
        raise TrainingFailure(
            f"Metric 'auc' can only be applied for classification and ranking problems "
            f"(objective binary:* or rank:*), not objective {objective}."
        )
    if "aft-nloglik" in metrics and objective != "survival:aft":
        raise TrainingFailure("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    tree_method = values.get("tree_method")
    if "monotone_constraints" in values and tree_method not in ("exact", "hist"):
        raise TrainingFailure(
            "monotone_constraints can be used only when the tree_method parameter is set to either 'exact' or 'hist'."
        )
    if "interaction_constraints" in values and tree_method not in ("exact", "hist", "approx"):
        raise TrainingFailure(
            "interaction_constraints can be used only when the tree_method parameter is set to "
            "either 'exact', 'hist' or 'approx'."
        )
    if "updater" in values:
        _check_updaters(values["updater"], values.get("booster"), values.get("process_type"))


def _check_updaters(updaters: Sequence[str], booster: str | None, process_type: str | None) -> None:
    if booster == "gblinear":
        if len(updaters) != 1 or updaters[0] not in _LINEAR_UPDATERS:
            raise TrainingFailure("Linear updater should be one of these options: 'shotgun', 'coord_descent'.")
    elif process_type == "update":
        if not all(updater in ("refresh", "prune") for updater in updaters):
            raise TrainingFailure("process_type 'update' can only be used with updater 'refresh' and 'prune'")
    elif not all(updater in _TREE_UPDATERS for updater in updaters):
        raise TrainingFailure("Tree updater should be selected from these options: " + ", ".join(_TREE_UPDATERS))
    elif sum(updater in _TREE_GROWERS for updater in updaters) > 1:
        raise TrainingFailure("Only one tree grow plugin can be selected. Choose one from: " + ", ".join(_TREE_GROWERS))


@dataclass(frozen=True)
class TrainingPlan:
    """What ``xgboost.train`` gets, built from validated hyperparameters the way the container builds it."""

    params: dict[str, Any]
    num_boost_round: int
    early_stopping_rounds: int | None = None
    early_stopping_metric: str | None = None
    container_metrics: tuple[str, ...] = ()
    csv_weights: bool = False
    save_model_on_termination: bool = False


def plan_training(validated: Mapping[str, Any]) -> TrainingPlan:
    """num_round becomes num_boost_round; the container's own keys leave the params; metrics split by who computes
    them; early stopping watches the tuning objective's metric, else the last eval_metric."""
    params = dict(validated)
    num_round = params.pop("num_round")
    csv_weights = params.pop("csv_weights", 0) == 1
    early_stopping_rounds = params.pop("early_stopping_rounds", None)
    save_on_termination = params.pop("save_model_on_termination", "false") == "true"
    tuning = params.pop("_tuning_objective_metric", None)
    params.pop("use_dask_gpu_training", None)
    eval_metric: list[str] | None = params.pop("eval_metric", None)
    tuning_metrics = tuning.split(":", 1)[1].split(",") if tuning else None
    metrics = _union(tuning_metrics, eval_metric)
    xgboost_metrics = [metric for metric in metrics if metric not in CONTAINER_METRICS]
    if xgboost_metrics:
        params["eval_metric"] = xgboost_metrics
    if "updater" in params:
        params["updater"] = ",".join(params["updater"])
    if "monotone_constraints" in params:
        params["monotone_constraints"] = "(" + ",".join(str(item) for item in params["monotone_constraints"]) + ")"
    if "interaction_constraints" in params:
        params["interaction_constraints"] = json.dumps(params["interaction_constraints"], separators=(",", ":"))
    watched = tuning_metrics or eval_metric
    return TrainingPlan(
        params=params,
        num_boost_round=num_round,
        early_stopping_rounds=early_stopping_rounds,
        early_stopping_metric=watched[-1] if early_stopping_rounds and watched else None,
        container_metrics=tuple(metric for metric in metrics if metric in CONTAINER_METRICS),
        csv_weights=csv_weights,
        save_model_on_termination=save_on_termination,
    )


def _union(first: list[str] | None, second: list[str] | None) -> list[str]:
    """The container sorts the union when both are given, so that every instance lists them in one order."""
    if first and second:
        return sorted(set(first) | set(second))
    return list(first or second or [])


def maximizes(metric: str) -> bool:
    """Whether early stopping wants the metric to grow (``ndcg@5`` as ``ndcg``)."""
    return metric.partition("@")[0] in XGB_MAXIMIZE_METRICS


# --- Channels and configuration ---------------------------------------------------------------------------

DataFormat = Literal["csv", "libsvm"]

CSV_TYPES = ("csv", "text/csv")
LIBSVM_TYPES = ("libsvm", "text/libsvm", "text/x-libsvm")
UNREAD_TYPES = ("parquet", "application/x-parquet", "recordio-protobuf", "application/x-recordio-protobuf")
DEFAULT_CONTENT_TYPE = "text/libsvm"
DATA_CHANNELS = ("train", "validation")


def content_format(content_type: str | None) -> DataFormat:
    """``text/csv;label_size=1`` -> csv; missing -> libsvm, as the container defaults; others refused with why."""
    given = (content_type or "").strip() or DEFAULT_CONTENT_TYPE
    media_type, *parameters = (part.strip() for part in given.lower().split(";"))
    if media_type in CSV_TYPES:
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip() == "label_size" and value.strip().strip('"') != "1":
                raise TrainingFailure(
                    f"{given} is not an accepted csv ContentType. Optional parameter label_size must be equal to 1."
                )
        return "csv"
    if media_type in LIBSVM_TYPES:
        return "libsvm"
    if media_type in UNREAD_TYPES:
        raise TrainingFailure(
            f"ContentType {given}: SageMaker's XGBoost algorithm reads it, but local mode reads CSV and LIBSVM "
            "only (text/csv, text/libsvm). Convert the channel's data to CSV to train locally."
        )
    accepted = ", ".join(CSV_TYPES + LIBSVM_TYPES + UNREAD_TYPES)
    raise TrainingFailure(f"{given} is not an accepted ContentType: {accepted}.")


def validate_channels(data_config: Mapping[str, Any]) -> DataFormat:
    """The format both data channels are read in: the train channel's, as in the container."""
    if "train" not in data_config:
        raise TrainingFailure("Missing required channel: train.")
    formats: dict[str, DataFormat] = {}
    for channel, config in data_config.items():
        settings = config if isinstance(config, Mapping) else {}
        if channel == "code":
            _check_code_channel(settings)
            continue
        if channel not in DATA_CHANNELS:
            raise TrainingFailure(
                f"Extraneous channel found: {channel}. SageMaker's XGBoost algorithm takes the channels train "
                "(required) and validation (optional)."
            )
        data_format = content_format(settings.get("ContentType"))
        if settings.get("TrainingInputMode") == "Pipe":
            raise TrainingFailure(
                f"Channel {channel}: Pipe mode is no longer supported by SageMaker's XGBoost algorithm. "
                "Use File or FastFile input mode."
            )
        formats[channel] = data_format
    if formats.get("validation", formats["train"]) != formats["train"]:
        LOGGER.warning("The validation channel is read as %s, the train channel's format.", formats["train"])
    return formats["train"]


def _check_code_channel(settings: Mapping[str, Any]) -> None:
    content_type = settings.get("ContentType") or ""
    if content_type != "text/python":
        raise TrainingFailure(f"Channel configuration for 'code' channel is not supported: ContentType {content_type}")


@dataclass(frozen=True)
class Instance:
    """One instance's ``/opt/ml``: its configuration files and its folders."""

    root: Path
    host: str
    hosts: tuple[str, ...]
    hyperparameters: dict[str, Any]
    data_config: dict[str, Any]

    def channel_dir(self, channel: str) -> Path:
        return self.root / "input" / "data" / channel

    @property
    def model_dir(self) -> Path:
        return self.root / "model"


def read_instance(root: Path, default_host: str = "algo-1") -> Instance:
    """The instance the executor prepared at ``root``."""
    config = root / "input" / "config"
    hyperparameters = _read_json(config / "hyperparameters.json", required=True)
    data_config = _read_json(config / "inputdataconfig.json", required=True)
    resources = _read_json(config / "resourceconfig.json", required=False)
    host = str(resources.get("current_host") or default_host)
    hosts = tuple(str(name) for name in resources.get("hosts") or [host])
    return Instance(root, host, hosts, hyperparameters, data_config)


def _read_json(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise TrainingFailure(f"{path} is missing: local mode lays out each instance's input/config first.")
        return {}
    try:
        value = json.loads(path.read_text())
    except ValueError as error:
        raise TrainingFailure(f"{path} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise TrainingFailure(f"{path} does not hold a JSON object.")
    return value


# --- Data -------------------------------------------------------------------------------------------------

MAX_FOLDER_DEPTH = 3
"""The container reads files in a channel's folder and two levels of sub-folders below it."""


@dataclass(frozen=True)
class DataFile:
    """A file of a channel, and the name reasons use for it (``train/part-1.csv``)."""

    path: Path
    name: str


@dataclass(frozen=True)
class LabelledRows:
    """A channel's rows: features (dense for CSV, sparse for LIBSVM), labels and optional weights and query ids."""

    features: np.ndarray | sparse.csr_matrix
    labels: np.ndarray
    weights: np.ndarray | None = None
    query_ids: np.ndarray | None = None

    @property
    def row_count(self) -> int:
        return int(self.labels.shape[0])


def data_files(channel_dir: Path, channel: str) -> list[DataFile]:
    """The channel's non-empty data files in name order; ``_`` and ``.`` files and too-deep folders left out."""
    found: list[DataFile] = []
    if not channel_dir.is_dir():
        return found
    for folder, folders, files in os.walk(channel_dir):
        depth = len(Path(folder).relative_to(channel_dir).parts) + 1
        if depth >= MAX_FOLDER_DEPTH and folders:
            LOGGER.warning(
                "Files below %s are deeper than %d folder levels; SageMaker's XGBoost algorithm does not read them.",
                Path(folder).relative_to(channel_dir.parent),
                MAX_FOLDER_DEPTH,
            )
            folders.clear()
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            label = f"{channel}/{path.relative_to(channel_dir).as_posix()}"
            if name.startswith("."):
                LOGGER.warning(
                    "Skipping hidden file %s. SageMaker's XGBoost algorithm refuses a channel with hidden files "
                    "('Hidden file found in the data path! Remove that before training.').",
                    label,
                )
            elif not name.startswith("_") and path.is_file() and path.stat().st_size > 0:
                found.append(DataFile(path, label))
    return sorted(found, key=lambda data_file: data_file.name)


def read_rows(files: Sequence[DataFile], data_format: DataFormat, csv_weights: bool) -> LabelledRows:
    """A channel's rows from its files; reasons name the file and line of a bad value."""
    rows = read_csv(files, csv_weights) if data_format == "csv" else read_libsvm(files)
    if rows.row_count == 0:
        raise TrainingFailure(
            "Got input data without labels: "
            + ", ".join(data_file.name for data_file in files)
            + " hold no rows. Please check the input data set."
        )
    return rows


def csv_delimiter(data_file: DataFile) -> str:
    """The delimiter of the first line, sniffed as the container sniffs it (``csv.Sniffer``)."""
    with data_file.path.open(errors="replace") as handle:
        line = handle.readline()
    try:
        delimiter = csv.Sniffer().sniff(line).delimiter
    except csv.Error as error:
        delimiter = ""
        cause = str(error)
    else:
        cause = "a CSV row needs a label and at least one feature"
    if not delimiter or delimiter.isalnum() or delimiter in ".-+":
        raise TrainingFailure(
            f"Could not determine the delimiter of {data_file.name} from its first line {line[:50]!r}: {cause}."
        )
    LOGGER.info("Determined delimiter of CSV input is '%s'", delimiter)
    return delimiter


def read_csv(files: Sequence[DataFile], csv_weights: bool) -> LabelledRows:
    """No header, label first (then the weight with csv_weights=1), empty fields missing, as XGBoost reads CSV."""
    import numpy as np

    delimiter = csv_delimiter(files[0])
    blocks = [block for block in (_read_csv_file(data_file, delimiter) for data_file in files) if block.size]
    width = max((block.shape[1] for block in blocks), default=0)
    first_feature = 2 if csv_weights else 1
    if blocks and width <= first_feature:
        raise TrainingFailure(
            f"{files[0].name} has {width} column(s) and no features: a CSV row is the label"
            + (", the weight" if csv_weights else "")
            + " and then the features."
        )
    table = np.full((sum(block.shape[0] for block in blocks), max(width, first_feature)), np.nan, dtype=np.float32)
    start = 0
    for block in blocks:
        table[start : start + block.shape[0], : block.shape[1]] = block
        start += block.shape[0]
    return LabelledRows(
        features=table[:, first_feature:],
        labels=table[:, 0],
        weights=table[:, 1] if csv_weights else None,
    )


def _read_csv_file(data_file: DataFile, delimiter: str) -> np.ndarray:
    import numpy as np
    import pandas as pd

    try:
        frame = pd.read_csv(data_file.path, header=None, sep=delimiter, dtype=np.float32, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        return np.empty((0, 0), dtype=np.float32)
    except pd.errors.ParserError as error:
        raise TrainingFailure(f"{data_file.name} is not valid CSV: {_first_line(str(error))}") from error
    except ValueError as error:
        raise TrainingFailure(_non_numeric_reason(data_file, delimiter, error)) from error
    block = frame.to_numpy(dtype=np.float32)
    present = ~np.all(np.isnan(block), axis=1)  # blank lines
    unlabelled = np.flatnonzero(present & np.isnan(block[:, 0]))
    if unlabelled.size:
        raise TrainingFailure(
            f"{data_file.name} line {unlabelled[0] + 1} has no label: the first column of every row is its label."
        )
    return block[present]


def _non_numeric_reason(data_file: DataFile, delimiter: str, error: Exception) -> str:
    """Where the first value that is not a number is, found by reading the file again as text."""
    import numpy as np
    import pandas as pd

    text = pd.read_csv(data_file.path, header=None, sep=delimiter, dtype=str, skip_blank_lines=False)
    numbers = text.apply(pd.to_numeric, errors="coerce")
    bad = np.argwhere((text.notna() & numbers.isna()).to_numpy())
    if not bad.size:
        return f"{data_file.name} could not be read as numbers: {_first_line(str(error))}"
    row, column = (int(index) for index in bad[0])
    return (
        f"{data_file.name} line {row + 1}, column {column + 1}: {text.iat[row, column]!r} is not a number. "
        "XGBoost reads CSV of numbers only: the label first, then the features, empty for a missing value."
    )


def read_libsvm(files: Sequence[DataFile]) -> LabelledRows:
    """``<label>[:<weight>] [qid:<id>] <index>:<value> ...`` with indices used as given (0-based), as XGBoost does."""
    import numpy as np
    from scipy import sparse

    labels: list[float] = []
    weights: list[float | None] = []
    query_ids: list[int | None] = []
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for data_file in files:
        with data_file.path.open(errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                content = line.split("#", 1)[0].split()
                if not content:
                    continue
                label, weight, query_id, features = _parse_libsvm_line(content, data_file, number, line)
                labels.append(label)
                weights.append(weight)
                query_ids.append(query_id)
                for index, value in features:
                    indices.append(index)
                    values.append(value)
                indptr.append(len(indices))
    columns = max(indices, default=-1) + 1
    features_matrix = sparse.csr_matrix(
        (np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(labels), columns),
    )
    has_weights = any(weight is not None for weight in weights)
    has_query_ids = any(query_id is not None for query_id in query_ids)
    if has_query_ids and not all(query_id is not None for query_id in query_ids):
        raise TrainingFailure("Some LIBSVM rows have a qid and some do not: give every row of a ranking job its qid.")
    return LabelledRows(
        features=features_matrix,
        labels=np.asarray(labels, dtype=np.float32),
        weights=np.asarray([1.0 if w is None else w for w in weights], dtype=np.float32) if has_weights else None,
        query_ids=np.asarray(query_ids, dtype=np.int64) if has_query_ids else None,
    )


def _parse_libsvm_line(
    tokens: list[str], data_file: DataFile, number: int, line: str
) -> tuple[float, float | None, int | None, list[tuple[int, float]]]:
    label_text, _, weight_text = tokens[0].partition(":")
    try:
        label = float(label_text)
        weight = float(weight_text) if weight_text else None
    except ValueError:
        hint = " It looks like CSV: set the channel's ContentType to text/csv." if "," in line else ""
        raise TrainingFailure(
            f"{data_file.name} line {number}: {line.strip()[:50]!r} is not LIBSVM "
            f"(<label>[:<weight>] <index>:<value> ...).{hint}"
        ) from None
    query_id: int | None = None
    features: list[tuple[int, float]] = []
    for token in tokens[1:]:
        key, separator, value = token.partition(":")
        try:
            if not separator:
                raise ValueError(token)
            if key == "qid":
                query_id = int(value)
                continue
            index = int(key)
            if index < 0:
                raise ValueError(token)
            features.append((index, float(value)))
        except ValueError:
            raise TrainingFailure(
                f"{data_file.name} line {number}: {token!r} is not a LIBSVM feature (<index>:<value>, "
                "the index a whole number of 0 or more)."
            ) from None
    return label, weight, query_id, features


# --- Training ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedTraining:
    """An instance's validated plan and rows, ready to train."""

    plan: TrainingPlan
    train: LabelledRows
    validation: LabelledRows | None


def channel_has_data(instance: Instance, channel: str) -> bool:
    """Whether the instance holds any non-empty data file of the channel (the container's "has data")."""
    return bool(data_files(instance.channel_dir(channel), channel))


def prepare_instance(instance: Instance) -> PreparedTraining:
    """Validate the instance's configuration and read its channels; reasons as the container words them."""
    plan = plan_training(validate_hyperparameters(instance.hyperparameters))
    data_format = validate_channels(instance.data_config)
    rows: dict[str, LabelledRows | None] = {}
    for channel, missing in (("train", "training"), ("validation", "validation")):
        if channel not in instance.data_config:
            rows[channel] = None
            continue
        files = data_files(instance.channel_dir(channel), channel)
        if not files:
            raise TrainingFailure(f"No data in {missing} channel path {instance.channel_dir(channel)}")
        rows[channel] = read_rows(files, data_format, plan.csv_weights)
    train = rows["train"]
    assert train is not None  # validate_channels requires the channel, and an empty one raised above
    return PreparedTraining(plan, train, rows["validation"])


def train_booster(prepared: PreparedTraining, model_dir: Path, *, is_master: bool) -> xgb.Booster:
    """Train as the container does: evaluation lines each round, early stopping on validation when asked."""
    import xgboost as xgb

    plan = prepared.plan
    threads = int(plan.params.get("nthread", -1))
    dtrain = _dmatrix(prepared.train, threads)
    evals = [(dtrain, "train")]
    LOGGER.info("Train matrix has %d rows and %d columns", dtrain.num_row(), dtrain.num_col())
    if prepared.validation is not None:
        dvalidation = _dmatrix(prepared.validation, threads)
        evals.append((dvalidation, "validation"))
        LOGGER.info("Validation matrix has %d rows", dvalidation.num_row())
    callbacks: list[xgb.callback.TrainingCallback] = [xgb.callback.EvaluationMonitor(rank=0, logger=print_line)]
    if plan.save_model_on_termination and is_master:
        callbacks.append(_each_round_saver(model_dir))
    if plan.early_stopping_rounds:
        callbacks += _early_stopping(plan, has_validation=prepared.validation is not None, is_master=is_master)
    try:
        return xgb.train(
            plan.params,
            dtrain,
            num_boost_round=plan.num_boost_round,
            evals=evals,
            custom_metric=container_metric(plan.container_metrics) if plan.container_metrics else None,
            callbacks=[_in_order(callbacks)],
            verbose_eval=False,
        )
    except xgb.core.XGBoostError as error:
        raise TrainingFailure(f"XGBoost failed to train: {_xgboost_message(error)}") from error


def _dmatrix(rows: LabelledRows, threads: int) -> xgb.DMatrix:
    import numpy as np
    import xgboost as xgb

    try:
        return xgb.DMatrix(
            rows.features, label=rows.labels, weight=rows.weights, qid=rows.query_ids, missing=np.nan, nthread=threads
        )
    except xgb.core.XGBoostError as error:
        raise TrainingFailure(f"XGBoost could not load the data: {_xgboost_message(error)}") from error


def _in_order(callbacks: Sequence[Any]) -> Any:
    """The callbacks as one, run in the order given and all of them every round.

    XGBoost keeps callbacks in a set and stops asking them once one says stop, so the evaluation line of the
    round that ends training could go unprinted; here it always is.
    """
    import xgboost as xgb

    class InOrder(xgb.callback.TrainingCallback):
        def before_training(self, model: Any) -> Any:
            for callback in callbacks:
                model = callback.before_training(model)
            return model

        def after_training(self, model: Any) -> Any:
            for callback in callbacks:
                model = callback.after_training(model)
            return model

        def before_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return any([callback.before_iteration(model, epoch, evals_log) for callback in callbacks])

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return any([callback.after_iteration(model, epoch, evals_log) for callback in callbacks])

    return InOrder()


def _early_stopping(plan: TrainingPlan, *, has_validation: bool, is_master: bool) -> list[Any]:
    """The container stops early only with validation data and a metric to watch; otherwise it trains every round."""
    import xgboost as xgb

    if not has_validation:
        LOGGER.warning("early_stopping_rounds needs a validation channel; training runs all num_round rounds.")
        return []
    if plan.early_stopping_metric is None:
        LOGGER.warning("early_stopping_rounds needs eval_metric; training runs all num_round rounds.")
        return []
    return [
        xgb.callback.EarlyStopping(
            rounds=int(plan.early_stopping_rounds or 0),
            metric_name=plan.early_stopping_metric,
            data_name="validation",
            maximize=maximizes(plan.early_stopping_metric),
            save_best=is_master,
        )
    ]


def _each_round_saver(model_dir: Path) -> Any:
    """save_model_on_termination: the master keeps the model of the latest round in the model folder."""
    import xgboost as xgb

    class SaveEachRound(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            save_model(model, model_dir)
            return False

    return SaveEachRound()


def container_metric(names: Sequence[str]) -> Callable[[np.ndarray, xgb.DMatrix], list[tuple[str, float]]]:
    """The container's scikit-learn metrics, on what XGBoost hands a custom metric, classed as the container does.

    The container takes a 2-D prediction's argmax as the class, and otherwise a prediction above 0. XGBoost 3 hands
    built-in objectives' transformed predictions (probabilities, not margins), so for binary objectives every row
    counts as class 1: local mode logs the numbers the container logs.
    """
    from sklearn import metrics as sk

    classifiers: dict[str, Callable[..., Any]] = {
        "accuracy": sk.accuracy_score,
        "balanced_accuracy": sk.balanced_accuracy_score,
        "f1": lambda y, p: sk.f1_score(y, p, average="macro"),
        "f1_binary": lambda y, p: sk.f1_score(y, p, average="binary"),
        "f1_macro": lambda y, p: sk.f1_score(y, p, average="macro"),
        "precision": sk.precision_score,
        "precision_macro": lambda y, p: sk.precision_score(y, p, average="macro"),
        "precision_micro": lambda y, p: sk.precision_score(y, p, average="micro"),
        "recall": sk.recall_score,
        "recall_macro": lambda y, p: sk.recall_score(y, p, average="macro"),
        "recall_micro": lambda y, p: sk.recall_score(y, p, average="micro"),
    }
    regressors: dict[str, Callable[..., Any]] = {"mse": sk.mean_squared_error, "r2": sk.r2_score}

    def evaluate(predictions: np.ndarray, dmatrix: xgb.DMatrix) -> list[tuple[str, float]]:
        labels = dmatrix.get_label()
        classes = predictions.argmax(axis=-1) if predictions.ndim == 2 else (predictions > 0.0).astype(int)
        results = []
        for name in names:
            try:
                if name in regressors:
                    value = regressors[name](labels, predictions)
                else:
                    value = classifiers[name](labels, classes) if predictions.size else 0.0
            except ValueError as error:
                raise TrainingFailure(f"eval_metric {name} cannot be computed: {error}") from error
            results.append((name, float(value)))
        return results

    return evaluate


def save_model(booster: xgb.Booster, model_dir: Path) -> Path:
    """``<model dir>/xgboost-model``, as the container saves it, written whole or not at all."""
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / MODEL_NAME
    partial = model_dir / f".{MODEL_NAME}.partial"
    with warnings.catch_warnings():
        # The container's file has no extension either, so XGBoost picks its default format (UBJSON) and says so.
        warnings.filterwarnings("ignore", message=".*Saving model in the UBJSON format")
        booster.save_model(str(partial))
    partial.replace(target)
    return target


def _xgboost_message(error: Exception) -> str:
    """XGBoost's error without its time, source location and stack trace."""
    text = str(error).split("Stack trace:", 1)[0]
    lines = [re.sub(r"^\[[\d:]+\] [^\s]+:\d+: ", "", line).strip() for line in text.splitlines()]
    return next((line for line in lines if line), text.strip() or type(error).__name__)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def print_line(text: str) -> None:
    """Evaluation lines go straight to the log, as XGBoost prints them (``[0]\\ttrain-logloss:...``)."""
    print(text.rstrip("\n"), flush=True)


def train_one_instance(instance: Instance) -> None:
    """One instance trains alone and saves the model, as the container's single node training."""
    prepared = prepare_instance(instance)
    LOGGER.info("Single node training.")
    booster = train_booster(prepared, instance.model_dir, is_master=True)
    LOGGER.info("Stored trained model at %s", save_model(booster, instance.model_dir))


# --- Several instances ------------------------------------------------------------------------------------

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
PR_SET_PDEATHSIG = 1

STOP_TIMEOUT_SECONDS = 10.0
"""How long a stopped or finishing worker gets to exit and close its output."""
TRACKER_TIMEOUT_SECONDS = 30
"""How long the tracker gets to see every worker off after training."""


def enter_private_network() -> None:
    """Move this process into its own user and network namespaces with only loopback up.

    XGBoost's collective workers listen on 0.0.0.0 (socket.h's BindHost); inside the namespace that is this
    namespace's loopback only. unshare needs a single-threaded process, so this runs before numpy or XGBoost load.
    """
    if not sys.platform.startswith("linux"):
        raise TrainingFailure(_namespace_refusal(f"{sys.platform} has no Linux network namespaces"))
    uid, gid = os.getuid(), os.getgid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise TrainingFailure(_namespace_refusal(f"unshare failed: {os.strerror(code)} ({_errno_name(code)})"))
    try:
        with contextlib.suppress(FileNotFoundError):  # kernels before 3.19 have no setgroups file
            Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
        _bring_loopback_up()
    except OSError as error:
        raise TrainingFailure(_namespace_refusal(f"setting it up failed: {error.strerror or error}")) from error


def _bring_loopback_up() -> None:
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def _errno_name(code: int) -> str:
    return errno.errorcode.get(code, str(code))


def _namespace_refusal(why: str) -> str:
    return (
        "Local mode runs XGBoost on several instances only inside a private network namespace (XGBoost's workers "
        f"listen on every network interface), and this system does not allow one: {why}. {SINGLE_INSTANCE_HINT}"
    )


@dataclass
class Worker:
    """A worker process training one instance, and how its output reaches the log."""

    instance: Instance
    rank: int
    process: subprocess.Popen[str]
    reader: threading.Thread | None = None


def train_instances(roots: Sequence[Path]) -> None:
    """Train several instances together, as the container's rabit setup does, without leaving this machine."""
    instances = [read_instance(root, default_host=f"algo-{index}") for index, root in enumerate(roots, 1)]
    plan_training(validate_hyperparameters(instances[0].hyperparameters))  # fail once, before any worker starts
    validate_channels(instances[0].data_config)
    training = _instances_with_data(instances)
    total = len(instances)
    if len(training) == 1:
        _run_workers(training, total, tracker_port=None)
        return
    LOGGER.info("Distributed node training with %d hosts: %s", len(training), ", ".join(i.host for i in training))
    enter_private_network()
    from xgboost.tracker import RabitTracker

    tracker = RabitTracker(n_workers=len(training), host_ip="127.0.0.1", sortby="task")
    finished = False
    try:
        tracker.start()
        _run_workers(training, total, tracker_port=int(tracker.worker_args()["dmlc_tracker_port"]))
        finished = True
    finally:
        _wait_for_tracker(tracker, TRACKER_TIMEOUT_SECONDS if finished else 1)
        with contextlib.suppress(Exception):
            tracker.free()


def _instances_with_data(instances: Sequence[Instance]) -> list[Instance]:
    """Instances without training (or validation) data sit out with the container's warning; algo-1 may not."""
    training = []
    has_validation = "validation" in instances[0].data_config
    for instance in instances:
        missing = [
            channel
            for channel in ("train", "validation")
            if (channel == "train" or has_validation) and not channel_has_data(instance, channel)
        ]
        if not missing:
            training.append(instance)
            continue
        if instance is instances[0]:
            raise TrainingFailure(
                f"Instance {instance.host} has no {' or '.join(missing)} data. SageMaker's XGBoost algorithm would "
                f"leave it out and save the model on another instance, while the job keeps {instance.host}'s "
                "model: give every instance a share of the data (several files with ShardedByS3Key), or use "
                "FullyReplicated."
            )
        print(
            f"{instance.host}: Host {instance.host} does not have {' or '.join(missing)} data. This host will not be "
            "used in distributed training. Please divide the data across instances properly.",
            flush=True,
        )
    return training


def _run_workers(training: Sequence[Instance], total: int, tracker_port: int | None) -> None:
    """Start one worker per instance, relay their lines, and on the first failure stop the rest and say why."""
    with tempfile.TemporaryDirectory(prefix="driftline-xgboost-") as scratch:
        marker = Path(scratch) / "first-failure"
        workers: list[Worker] = []
        try:
            for rank, instance in enumerate(training):
                workers.append(_start_worker(instance, rank, len(training), tracker_port, marker))
        except OSError:
            for worker in workers:
                worker.process.kill()
            raise
        failed = _relay_until_done(workers)
        if failed is not None:
            failed = _root_cause(workers, failed, marker)
            raise TrainingFailure(f"{_worker_reason(failed)} (instance {failed.instance.host} of {total})")


def _relay_until_done(workers: Sequence[Worker]) -> Worker | None:
    """Relay the workers' lines until all have ended; the first to fail stops the others. Returns that one."""
    lines: queue.Queue[tuple[Worker, str | None]] = queue.Queue()
    for worker in workers:
        worker.reader = threading.Thread(target=_relay_output, args=(worker, lines), daemon=True)
        worker.reader.start()
    failed: Worker | None = None
    open_outputs = len(workers)
    stop_deadline: float | None = None
    while open_outputs:
        timeout = None if stop_deadline is None else max(0.0, stop_deadline - time.monotonic())
        try:
            worker, line = lines.get(timeout=timeout)
        except queue.Empty:
            break
        if line is not None:
            print(f"{worker.instance.host}: {line}", flush=True)
            continue
        open_outputs -= 1
        if _exit_status(worker) != 0 and failed is None:
            failed = worker
            stop_deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            _stop_others(workers, worker)
    for worker in workers:
        _exit_status(worker)
    return failed


def _root_cause(workers: Sequence[Worker], first_ended: Worker, marker: Path) -> Worker:
    """The worker whose failure came first: the one that claimed the marker, unless the first to end crashed.

    A worker that fails makes the others fail too (their collective operations lose a peer), and those can end
    first; each failing worker claims the marker before it leaves the collective, so the claim names the cause.
    """
    status = first_ended.process.returncode
    if status is not None and status < 0:
        return first_ended
    with contextlib.suppress(OSError, ValueError):
        claimed = int(marker.read_text())
        return next(worker for worker in workers if worker.rank == claimed)
    return first_ended


def _start_worker(instance: Instance, rank: int, world_size: int, tracker_port: int | None, marker: Path) -> Worker:
    command = [
        sys.executable,
        "-m",
        "driftline.local.xgboost_algorithm",
        "--worker",
        "--instance-root",
        str(instance.root),
        "--rank",
        str(rank),
        "--world-size",
        str(world_size),
        "--parent-pid",
        str(os.getpid()),
        "--failure-marker",
        str(marker),
    ]
    if tracker_port is not None:
        command += ["--tracker-port", str(tracker_port)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        # Waiting OpenMP threads sleep rather than spin: the workers share this machine's cores.
        env={"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return Worker(instance, rank, process)


def _relay_output(worker: Worker, lines: queue.Queue[tuple[Worker, str | None]]) -> None:
    """Each line of the worker as it arrives, then None when its output closes."""
    stream = worker.process.stdout
    try:
        if stream is not None:
            for line in stream:
                lines.put((worker, line.rstrip("\n")))
    finally:
        lines.put((worker, None))


def _exit_status(worker: Worker) -> int:
    """The worker's exit status; one still running after its output closed is killed (bounded wait)."""
    try:
        return worker.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        return worker.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _stop_others(workers: Sequence[Worker], failed: Worker) -> None:
    for worker in workers:
        if worker is not failed and worker.process.poll() is None:
            worker.process.kill()


def _worker_reason(worker: Worker) -> str:
    """The reason the worker wrote, or how it ended when it wrote none."""
    failure = worker.instance.root / "output" / "failure"
    with contextlib.suppress(OSError):
        text = failure.read_text().strip()
        if text:
            return text
    status = worker.process.returncode
    if status is not None and status < 0:
        return f"The training process was killed by {signal.Signals(-status).name}"
    return f"The training process exited with status {status} without a reason"


def _wait_for_tracker(tracker: Any, timeout: int) -> None:
    """The tracker ends once every worker has said goodbye; it never holds the job up for longer than timeout."""
    try:
        tracker.wait_for(timeout=timeout)
    except Exception as error:
        LOGGER.debug("The rabit tracker did not finish cleanly: %s", _xgboost_message(error))


@dataclass(frozen=True)
class WorkerArguments:
    """What the program tells a worker: its rank among the training instances and how to reach the others."""

    rank: int
    world_size: int
    tracker_port: int | None
    parent_pid: int
    failure_marker: Path | None


def run_worker(root: Path, worker: WorkerArguments) -> None:
    """One instance's training in a worker process: its own rows, the others' through XGBoost's collective."""
    _die_with_parent(worker.parent_pid)
    try:
        _train_as_worker(root, worker)
    except Exception:
        _claim_first_failure(worker)
        raise


def _train_as_worker(root: Path, worker: WorkerArguments) -> None:
    instance = read_instance(root, default_host=f"algo-{worker.rank + 1}")
    prepared = prepare_instance(instance)
    if worker.tracker_port is None:
        LOGGER.info("Only 1 host with training data, starting single node training.")
        booster = train_booster(prepared, instance.model_dir, is_master=True)
        LOGGER.info("Stored trained model at %s", save_model(booster, instance.model_dir))
        return
    from xgboost import collective

    # The tracker ranks workers by task id; zero-padded ranks keep the order of hosts (algo-10 after algo-9).
    task: dict[str, int | str | None] = {
        "dmlc_tracker_uri": "127.0.0.1",
        "dmlc_tracker_port": worker.tracker_port,
        "dmlc_task_id": f"{worker.rank:06d}-{instance.host}",
    }
    prepared = _share_cores(prepared, worker.world_size)
    with collective.CommunicatorContext(**task):
        try:
            rank, size = collective.get_rank(), collective.get_world_size()
            if (rank, size) != (worker.rank, worker.world_size):
                raise TrainingFailure(
                    f"XGBoost's collective ranked {instance.host} {rank} of {size}, not {worker.rank} of "
                    f"{worker.world_size}."
                )
            LOGGER.info("Distributed training: %s is rank %d of world size %d.", instance.host, rank, size)
            booster = train_booster(prepared, instance.model_dir, is_master=rank == 0)
        except Exception:
            _claim_first_failure(worker)  # before leaving the collective makes the others fail
            raise
    if worker.rank == 0:
        LOGGER.info("Stored trained model at %s", save_model(booster, instance.model_dir))


def _share_cores(prepared: PreparedTraining, world_size: int) -> PreparedTraining:
    """Instances that train together here share this machine's cores, where on AWS each has its own: without
    nthread, each worker takes its share rather than every core (which slows all of them down)."""
    if "nthread" in prepared.plan.params:
        return prepared
    threads = max(1, (os.cpu_count() or 1) // world_size)
    plan = dataclasses.replace(prepared.plan, params={**prepared.plan.params, "nthread": threads})
    return dataclasses.replace(prepared, plan=plan)


def _claim_first_failure(worker: WorkerArguments) -> None:
    """Write this worker's rank to the marker unless another failing worker got there first."""
    if worker.failure_marker is None:
        return
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(worker.failure_marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as marker:
            marker.write(str(worker.rank))


def _die_with_parent(parent_pid: int) -> None:
    """A worker dies with the program that started it, so a stopped job leaves none behind."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


# --- Program ----------------------------------------------------------------------------------------------


def write_failure(root: Path, reason: str) -> None:
    """``output/failure``: the reason the executor gives the job, at most SageMaker's 1,024 characters."""
    text = " ".join(reason.split())
    if len(text) > FAILURE_REASON_LIMIT:
        text = text[: FAILURE_REASON_LIMIT - 3] + "..."
    output = root / "output"
    output.mkdir(parents=True, exist_ok=True)
    (output / "failure").write_text(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m driftline.local.xgboost_algorithm",
        description="SageMaker's XGBoost algorithm (algorithm mode) on this machine, for local mode.",
    )
    parser.add_argument(
        "--instance-root",
        action="append",
        type=Path,
        required=True,
        help="an instance's /opt/ml folder; one per instance, in the order of hosts",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--world-size", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--tracker-port", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--failure-marker", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def _configure_output() -> None:
    """Line-buffered standard output, standard error joined to it, log lines in the container's format."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        os.dup2(sys.stdout.fileno(), sys.stderr.fileno())
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="[%(asctime)s:%(levelname)s] %(message)s",
        datefmt="%Y-%m-%d:%H:%M:%S",
        force=True,
    )
    logging.captureWarnings(True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the algorithm; 0 on success, 1 with the reason in the first instance's ``output/failure``."""
    arguments = _parser().parse_args(argv)
    _configure_output()
    roots: list[Path] = [root.resolve() for root in arguments.instance_root]
    try:
        if arguments.worker:
            worker = WorkerArguments(
                arguments.rank,
                arguments.world_size,
                arguments.tracker_port,
                arguments.parent_pid,
                arguments.failure_marker,
            )
            run_worker(roots[0], worker)
        elif len(roots) == 1:
            train_one_instance(read_instance(roots[0]))
        else:
            train_instances(roots)
    except TrainingFailure as failure:
        return _fail(roots[0], str(failure))
    except Exception as error:
        traceback.print_exc(file=sys.stdout)
        return _fail(roots[0], f"Local XGBoost training failed unexpectedly: {type(error).__name__}: {error}")
    return 0


def _fail(root: Path, reason: str) -> int:
    LOGGER.error("%s", reason)
    write_failure(root, reason)
    return 1


if __name__ == "__main__":
    sys.exit(main())
