"""The hyperparameters each way of training accepts: names, types and ranges, in one catalogue per model kind.

The built-in model's training script (``ml/train.py``), SageMaker's XGBoost algorithm, and a dataset's own
script (which takes any name but the pipeline's own and checks its values itself).

SageMaker hands each hyperparameter to the script as ``--name value``, so a name the script uses for its own
arguments (where to write the model, where the data is) would redirect the script itself. Validate checks a
dataset's hyperparameters against this catalogue, so a misspelt name, a reserved one or a value of the wrong
type is refused before any job is paid for. ``ml/`` cannot import this layer: a test holds the catalogue equal to
what the script's argument parser accepts and to how the script converts each value.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from typing import Literal

HyperparameterValue = str | bool | int | float | None


@dataclass(frozen=True)
class Hyperparameter:
    name: str
    kind: Literal["integer", "number", "auto_or_boolean", "choice", "text"]
    minimum: float | None = None
    minimum_excluded: bool = False
    maximum: float | None = None
    nullable: bool = False
    """``null`` means "no limit"."""
    choices: tuple[str, ...] = ()
    """A ``choice``'s values."""
    maximum_excluded: bool = False

    def describe(self) -> str:
        if self.kind == "auto_or_boolean":
            return '"auto", true or false'
        if self.kind == "choice":
            return "one of " + ", ".join(json.dumps(choice) for choice in self.choices)
        if self.kind == "text":
            return "a string"
        noun = "a whole number" if self.kind == "integer" else "a number"
        if self.minimum is not None and self.maximum is not None:
            low = "above " if self.minimum_excluded else "from "
            high = " and below " if self.maximum_excluded else " to "
            text = f"{noun} {low}{_number(self.minimum)}{high}{_number(self.maximum)}"
        elif self.minimum is not None:
            text = f"{noun} {'above' if self.minimum_excluded else 'of at least'} {self.minimum:g}"
        else:
            text = noun
        return text + (" or null (no limit)" if self.nullable else "")

    def accepts(self, value: HyperparameterValue) -> bool:
        if value is None:
            return self.nullable
        if self.kind == "auto_or_boolean":
            return isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("auto", "true", "false"))
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "text":
            return isinstance(value, str) and bool(value.strip())
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not math.isfinite(value) or (self.kind == "integer" and not float(value).is_integer()):
            return False
        if self.minimum is not None and (value <= self.minimum if self.minimum_excluded else value < self.minimum):
            return False
        if self.maximum is None:
            return True
        return value < self.maximum if self.maximum_excluded else value <= self.maximum


HYPERPARAMETERS: dict[str, Hyperparameter] = {
    spec.name: spec
    for spec in (
        Hyperparameter("max_iter", "integer", minimum=1),
        Hyperparameter("learning_rate", "number", minimum=0, minimum_excluded=True),
        Hyperparameter("max_depth", "integer", minimum=1, nullable=True),
        Hyperparameter("max_leaf_nodes", "integer", minimum=2, nullable=True),
        Hyperparameter("min_samples_leaf", "integer", minimum=1),
        Hyperparameter("l2_regularization", "number", minimum=0),
        Hyperparameter("early_stopping", "auto_or_boolean"),
        Hyperparameter("random_state", "integer", minimum=0, maximum=2**32 - 1),
    )
}
"""The model's hyperparameters, written with ``_`` or ``-`` between words (``max_iter`` or ``max-iter``)."""

RESERVED: dict[str, str] = {
    "target": 'set by the pipeline; declare the column to predict with the top-level "target" field',
    "problem_type": 'set by the pipeline; declare it with the top-level "problem_type" field',
    "model_dir": "reserved by the training script: it names the folder the model is written to",
    "train_dir": "reserved by the training script: it names the folder the training data is read from",
    "validation_dir": "reserved by the training script: it names the folder the validation data is read from",
    "metadata_dir": "reserved by the training script: it names the folder the preprocessing metadata is read from",
}
"""Names the training script uses for its own arguments (normalised to ``_``), and why each is refused."""


XGBOOST_EVAL_METRICS: dict[str, tuple[str, ...]] = {
    "logloss": ("binary_classification",),
    "error": ("binary_classification",),
    "auc": ("binary_classification",),
    "aucpr": ("binary_classification",),
    "mlogloss": ("multiclass_classification",),
    "merror": ("multiclass_classification",),
    "rmse": ("regression",),
    "rmsle": ("regression",),
    "mae": ("regression",),
    "mape": ("regression",),
    "mphe": ("regression",),
}
"""XGBoost's own evaluation metrics and the problem types they measure. The XGBoost 3.0-5 image computes its other
names (accuracy, f1, ...) itself and reads ``binary:logistic``'s probabilities above 0 as class 1, so they would
report, and stop early on, wrong values: the pipeline's own metrics are the gate's anyway."""


def xgboost_metric_problem(hyperparameters: dict[str, str], problem_type: str) -> str | None:
    """Why the ``eval_metric`` hyperparameter cannot measure this problem type, or None when it can (or is unset)."""
    metric = hyperparameters.get("eval_metric")
    measures = XGBOOST_EVAL_METRICS.get(str(metric), ())
    if metric is None or problem_type in measures:
        return None
    fitting = ", ".join(name for name, problems in XGBOOST_EVAL_METRICS.items() if problem_type in problems)
    return f"hyperparameter 'eval_metric' {metric!r} does not measure a {problem_type} model; use one of {fitting}"


XGBOOST_HYPERPARAMETERS: dict[str, Hyperparameter] = {
    spec.name: spec
    for spec in (
        Hyperparameter("num_round", "integer", minimum=1),
        Hyperparameter("eta", "number", minimum=0, maximum=1),
        Hyperparameter("gamma", "number", minimum=0),
        Hyperparameter("max_depth", "integer", minimum=0),
        Hyperparameter("min_child_weight", "number", minimum=0),
        Hyperparameter("max_delta_step", "number", minimum=0),
        Hyperparameter("subsample", "number", minimum=0, minimum_excluded=True, maximum=1),
        Hyperparameter("colsample_bytree", "number", minimum=0, minimum_excluded=True, maximum=1),
        Hyperparameter("colsample_bylevel", "number", minimum=0, minimum_excluded=True, maximum=1),
        Hyperparameter("colsample_bynode", "number", minimum=0, minimum_excluded=True, maximum=1),
        Hyperparameter("lambda", "number", minimum=0),
        Hyperparameter("alpha", "number", minimum=0),
        Hyperparameter("tree_method", "choice", choices=("auto", "exact", "approx", "hist")),
        Hyperparameter("grow_policy", "choice", choices=("depthwise", "lossguide")),
        Hyperparameter("max_leaves", "integer", minimum=0),
        Hyperparameter("max_bin", "integer", minimum=2),
        Hyperparameter("scale_pos_weight", "number", minimum=0, minimum_excluded=True),
        Hyperparameter("num_parallel_tree", "integer", minimum=1),
        Hyperparameter("early_stopping_rounds", "integer", minimum=1),
        Hyperparameter("eval_metric", "choice", choices=tuple(XGBOOST_EVAL_METRICS)),
        Hyperparameter(
            "seed", "integer", minimum=-(2**31), maximum=2**31 - 1, minimum_excluded=True, maximum_excluded=True
        ),
        Hyperparameter("booster", "choice", choices=("gbtree", "dart")),
        Hyperparameter("rate_drop", "number", minimum=0, maximum=1),
        Hyperparameter("skip_drop", "number", minimum=0, maximum=1),
        Hyperparameter("sample_type", "choice", choices=("uniform", "weighted")),
        Hyperparameter("normalize_type", "choice", choices=("tree", "forest")),
        Hyperparameter("sketch_eps", "number", minimum=0, minimum_excluded=True, maximum=1, maximum_excluded=True),
    )
}
"""SageMaker's XGBoost algorithm's hyperparameters (AWS's documented names) that a tree model on the pipeline's
CSV splits can use. ``num_round`` defaults to ``XGBOOST_DEFAULT_ROUNDS``; ``gblinear`` and the GPU, weight and
cross-validation settings are left out: the splits have no weight column and the gate evaluates one model."""

XGBOOST_DEFAULT_ROUNDS = 100

XGBOOST_RESERVED: dict[str, str] = {
    "objective": "set by the pipeline from the problem type (binary:logistic, multi:softprob or reg:squarederror)",
    "num_class": "set by the pipeline from the number of classes in the data",
    "csv_weights": "not supported: the preprocessed splits have no weight column",
}
"""XGBoost names the pipeline sets itself or cannot honour, and why."""

SCRIPT_RESERVED: dict[str, str] = {
    "target": RESERVED["target"],
    "problem_type": RESERVED["problem_type"],
    "model_script": 'set by the pipeline from "model": {"script": ...}',
}
"""Names a dataset's own training script cannot receive as hyperparameters, and why."""


ModelKind = Literal["builtin", "script", "xgboost", "image"]
"""How a dataset's model is trained: the built-in model, its own script, SageMaker's XGBoost algorithm, or its own
container image."""
HYPERPARAMETER_NAME_MAX = 256
HYPERPARAMETER_VALUE_MAX = 2500
"""CreateTrainingJob's limits on a hyperparameter's name and value."""


def hyperparameter_problems(
    hyperparameters: dict[str, HyperparameterValue], *, model: ModelKind = "builtin"
) -> list[str]:
    """One sentence per name or value the training would not accept; empty when all are fine.

    A dataset's own script takes any names but the pipeline's own: it checks its values itself. XGBoost's names are
    its own, written exactly (``max_depth``, not ``max-depth``), as the algorithm reads them.
    """
    if model == "image":
        return image_hyperparameter_problems(hyperparameters)
    problems = []
    unknown = False
    own_script = model == "script"
    reserved = {"builtin": RESERVED, "script": SCRIPT_RESERVED, "xgboost": XGBOOST_RESERVED}[model]
    catalogue = XGBOOST_HYPERPARAMETERS if model == "xgboost" else HYPERPARAMETERS
    trainer = "XGBoost" if model == "xgboost" else "the training script"
    for name, value in hyperparameters.items():
        key = name if model == "xgboost" else name.replace("-", "_")
        if key in reserved or key.startswith("sagemaker_") or (model == "xgboost" and key.startswith("_")):
            reason = reserved.get(key, "set by the pipeline")
            problems.append(f"hyperparameter '{name}' is {reason}; remove it from \"hyperparameters\"")
            continue
        if own_script:
            if not name or name.startswith("-") or any(c.isspace() for c in name):
                problems.append(f"hyperparameter '{name}' cannot be passed as a --name argument; rename it")
            continue
        spec = catalogue.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, list(catalogue), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"hyperparameter '{name}' is not one {trainer} accepts{hint}")
            unknown = True
        elif not spec.accepts(value):
            problems.append(f"hyperparameter '{name}' is {json.dumps(value)}; it must be {spec.describe()}")
    if unknown:
        problems.append(f"the hyperparameters are {', '.join(repr(name) for name in catalogue)}")
    return problems


def image_hyperparameter_problems(hyperparameters: dict[str, HyperparameterValue]) -> list[str]:
    """A container gets its hyperparameters as given, as strings in ``hyperparameters.json``: any name SageMaker
    takes but its own (``sagemaker_*``), within CreateTrainingJob's lengths."""
    problems = []
    for name, value in hyperparameters.items():
        if name.startswith("sagemaker_"):
            problems.append(f"hyperparameter '{name}' is set by the pipeline; remove it from \"hyperparameters\"")
        elif not name or len(name) > HYPERPARAMETER_NAME_MAX:
            problems.append(f"hyperparameter '{name}' must be a name of 1 to {HYPERPARAMETER_NAME_MAX} characters")
        elif len(as_string(value)) > HYPERPARAMETER_VALUE_MAX:
            problems.append(f"hyperparameter '{name}' is longer than SageMaker's {HYPERPARAMETER_VALUE_MAX} characters")
    return problems


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def as_string(value: HyperparameterValue) -> str:
    """SageMaker passes hyperparameters as strings; booleans and null are written the way JSON writes them."""
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)
