"""The hyperparameters the training script (``ml/train.py``) accepts: names, types and ranges, in one catalogue.

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
    kind: Literal["integer", "number", "auto_or_boolean"]
    minimum: float | None = None
    minimum_excluded: bool = False
    maximum: float | None = None
    nullable: bool = False
    """``null`` means "no limit"."""

    def describe(self) -> str:
        if self.kind == "auto_or_boolean":
            return '"auto", true or false'
        noun = "a whole number" if self.kind == "integer" else "a number"
        if self.minimum is not None and self.maximum is not None:
            text = f"{noun} from {self.minimum:g} to {self.maximum:.0f}"
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
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not math.isfinite(value) or (self.kind == "integer" and not float(value).is_integer()):
            return False
        if self.minimum is not None and (value <= self.minimum if self.minimum_excluded else value < self.minimum):
            return False
        return self.maximum is None or value <= self.maximum


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


SCRIPT_RESERVED: dict[str, str] = {
    "target": RESERVED["target"],
    "problem_type": RESERVED["problem_type"],
    "model_script": 'set by the pipeline from "model": {"script": ...}',
}
"""Names a dataset's own training script cannot receive as hyperparameters, and why."""


def hyperparameter_problems(hyperparameters: dict[str, HyperparameterValue], *, own_script: bool = False) -> list[str]:
    """One sentence per name or value the training script would not accept; empty when all are fine.

    A dataset's own script (``own_script``) takes any names but the pipeline's own: it checks its values itself.
    """
    problems = []
    unknown = False
    reserved = SCRIPT_RESERVED if own_script else RESERVED
    for name, value in hyperparameters.items():
        key = name.replace("-", "_")
        if key in reserved or key.startswith("sagemaker_"):
            reason = reserved.get(key, "set by the pipeline")
            problems.append(f"hyperparameter '{name}' is {reason}; remove it from \"hyperparameters\"")
            continue
        if own_script:
            if not name or name.startswith("-") or any(c.isspace() for c in name):
                problems.append(f"hyperparameter '{name}' cannot be passed as a --name argument; rename it")
            continue
        spec = HYPERPARAMETERS.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, list(HYPERPARAMETERS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"hyperparameter '{name}' is not one the training script accepts{hint}")
            unknown = True
        elif not spec.accepts(value):
            problems.append(f"hyperparameter '{name}' is {json.dumps(value)}; it must be {spec.describe()}")
    if unknown:
        problems.append(f"the hyperparameters are {', '.join(repr(name) for name in HYPERPARAMETERS)}")
    return problems


def as_string(value: HyperparameterValue) -> str:
    """SageMaker passes hyperparameters as strings; booleans and null are written the way JSON writes them."""
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)
