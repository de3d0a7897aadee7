"""The config a user may declare in ``data/<dataset>/dataset.json``, and the run config resolved from it.

Every field of ``dataset.json`` is optional; what is left out is filled in from the data (target column,
problem type, schema) or from defaults (metric, threshold, split, seed). The resolved config is written once
per run by Validate and read by every later step and by the ``ml/`` jobs, so they all see the same choices.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from driftline_core.errors import DatasetConfigInvalid
from driftline_core.ingest.hyperparameters import (
    HyperparameterValue,
    ModelKind,
    as_string,
    hyperparameter_problems,
    xgboost_metric_problem,
)
from driftline_core.ingest.model_images import parse_image_uri
from driftline_core.layout import DATASET_CONFIG_FILE, dataset_config_key
from driftline_core.metrics import (
    DEFAULT_METRICS,
    METRICS,
    MetricSpec,
    find_metric,
    metric_names,
    problem_types_with_metric,
)
from driftline_core.payloads import ProblemType
from driftline_core.settings import MAX_TRIAL_MINUTES, MIN_TRIAL_MINUTES

ColumnType = Literal["numeric", "categorical"]
Delimiter = Literal[",", ";", "\t", "|"]
DELIMITERS: tuple[Delimiter, ...] = (",", ";", "\t", "|")
"""The separators a dataset may declare; the preprocessing job reads the file with the same one."""

DEFAULT_TARGET_NAMES = ("target", "label", "y")
"""Without a declared target, a column with one of these names (any case, this order first) is the target."""
DEFAULT_MIN_ROWS = 20
DEFAULT_SEED = 42
MAX_CLASSES_FOR_INFERENCE = 20
"""An integer target with more distinct values than this is taken as a regression target."""
MIN_ROWS_PER_CLASS = 3
"""Rows a class needs so the preprocessing job's split can give training, validation and test each one
(``MIN_ROWS_PER_CLASS_TO_STRATIFY`` in ``ml/preprocess.py``)."""


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    type: ColumnType


SHARE_TOLERANCE = 1e-9
"""How far champion_share + challenger_share may be from 1 (decimal fractions such as 0.9 + 0.1 are not exact)."""


class ABTestConfig(BaseModel):
    """``ab_test`` in dataset.json: how an approved challenger is tried against the serving model.

    Fields left out take the stack's ABTest* parameters. ``champion_share`` is optional; given with
    ``challenger_share`` the two must add up to 1 (they are the two variants' weights).
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["split", "shadow", "off"] | None = None
    """off: never, whatever the stack's ABTestMode (``"ab_test": false`` says the same)."""
    challenger_share: float | None = Field(default=None, gt=0, lt=1, strict=True)
    champion_share: float | None = Field(default=None, gt=0, lt=1, strict=True)
    trial_minutes: int | None = Field(default=None, ge=MIN_TRIAL_MINUTES, le=MAX_TRIAL_MINUTES, strict=True)
    min_labelled_rows: int | None = Field(default=None, ge=1, strict=True)
    significance: float | None = Field(default=None, gt=0, le=0.5, strict=True)
    promotion: Literal["approval", "automatic"] | None = None
    """approval: a challenger that won takes all traffic once a person approves; automatic: at once."""

    @model_validator(mode="after")
    def _shares_add_up(self) -> ABTestConfig:
        if self.champion_share is None:
            return self
        if self.mode == "shadow":
            raise ValueError(
                "ab_test.champion_share applies to split trials only: in shadow mode the serving model answers "
                "every request and challenger_share is the share of requests copied to the challenger"
            )
        if self.challenger_share is None:
            raise ValueError(
                "ab_test.champion_share needs ab_test.challenger_share beside it; give both (adding up to 1) or "
                "only challenger_share"
            )
        total = self.champion_share + self.challenger_share
        if abs(total - 1) > SHARE_TOLERANCE:
            raise ValueError(
                f"ab_test.champion_share ({self.champion_share:g}) and ab_test.challenger_share "
                f"({self.challenger_share:g}) add up to {total:g}; the two variants' shares must add up to 1"
            )
        return self


MODEL_SCRIPT_NAME = r"^[a-z][a-z0-9_]{0,62}$"
"""A model script's folder name under ``ml/models/`` (``ml/train_script.py`` holds names to the same pattern)."""


INSTANCE_COUNT_CEILING = 20
"""The most instances ``model.instance_count`` may ask for; the stack's ``MaxTrainingInstances`` may allow fewer."""


ModelFramework = Literal["scikit-learn", "xgboost", "pytorch"]
"""The SageMaker framework containers a dataset's training script may run on."""
MODEL_FRAMEWORKS: tuple[str, ...] = get_args(ModelFramework)


class ModelChoice(BaseModel):
    """``model`` in dataset.json: how the dataset's model is trained; left out, the built-in gradient boosting."""

    model_config = ConfigDict(extra="forbid")

    script: str | None = Field(default=None, pattern=MODEL_SCRIPT_NAME)
    """The dataset's own training script, ``ml/models/<script>/train.py``, published with the ``ml/`` code."""
    framework: ModelFramework | None = None
    """The SageMaker framework container a script runs on (and its model is served by): scikit-learn's, the
    default, XGBoost's, or PyTorch's (trained on its training image, served on its inference image)."""
    algorithm: Literal["xgboost"] | None = None
    """SageMaker's built-in XGBoost algorithm, on ``instance_count`` instances with the data sharded over them."""
    image: str | None = Field(default=None, min_length=1)
    """The dataset's own container image in Amazon ECR, following SageMaker's training and inference contracts
    (``driftline_core.ingest.model_images`` checks it)."""
    instance_count: int = Field(default=1, ge=1, le=INSTANCE_COUNT_CEILING, strict=True)

    @model_validator(mode="after")
    def _one_way(self) -> ModelChoice:
        if sum(choice is not None for choice in (self.script, self.algorithm, self.image)) != 1:
            raise ValueError(
                'model names one of "script" (your training script), "algorithm": "xgboost" or "image" (your '
                "container image)"
            )
        if self.image is not None:
            try:
                parse_image_uri(self.image)
            except DatasetConfigInvalid as error:
                raise ValueError(str(error)) from None
        if self.framework is not None and self.image is not None:
            raise ValueError('model.framework chooses the container a "script" runs on; an "image" is its own')
        if self.framework is not None and self.script is None:
            raise ValueError(
                'model.framework chooses the container a "script" runs on; the XGBoost algorithm has its own'
            )
        if self.script is not None and self.instance_count != 1:
            raise ValueError(
                'model.instance_count applies to "algorithm": "xgboost" and "image"; a training script runs on one '
                "instance"
            )
        return self

    @property
    def kind(self) -> ModelKind:
        return "script" if self.script is not None else "image" if self.image is not None else "xgboost"


class DatasetConfig(BaseModel):
    """``data/<dataset>/dataset.json``; unknown fields are errors, so a misspelt field is reported."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(default=None, min_length=1)
    problem_type: ProblemType | None = None
    metric: str | None = None
    threshold: FiniteFloat | None = Field(default=None, strict=True)
    hyperparameters: dict[str, HyperparameterValue] = Field(default_factory=dict)
    min_rows: int | None = Field(default=None, ge=1, strict=True)
    columns: list[ColumnSpec] | None = Field(default=None, min_length=1)
    delimiter: Delimiter = ","
    retrain_window_days: int | None = Field(default=None, ge=1, strict=True)
    """A drift retrain trains on the uploads of the last N days; null (default): every upload of the dataset."""
    ab_test: ABTestConfig | None = None
    """Try approved challengers on the serving endpoint first; false: never, whatever the stack's ABTestMode."""
    model: ModelChoice | None = None
    """The dataset's own training script; its ``hyperparameters`` are then the script's, passed as given."""

    @field_validator("ab_test", mode="before")
    @classmethod
    def _ab_test_switch(cls, value: Any) -> Any:
        if value is False:
            return {"mode": "off"}
        if value is True:
            return {}
        return value

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _scalar_hyperparameters(cls, value: Any) -> Any:
        """One readable error per bad value (a union would report one per type it tried)."""
        if isinstance(value, dict):
            for name, item in value.items():
                if item is not None and not isinstance(item, str | bool | int | float):
                    raise ValueError(
                        f"hyperparameter '{name}' is a {_json_type(item)}; "
                        "values must be strings, numbers or true/false"
                    )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DatasetConfig:
        if self.columns is not None:
            names = [column.name for column in self.columns]
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ValueError(f"columns lists {_quoted(duplicates)} more than once; declare each column once")
            if self.target is not None and self.target not in names:
                raise ValueError(
                    f"target '{self.target}' is not one of the declared columns ({_quoted(names)}); "
                    "add it to columns or correct the target"
                )
        spec = _declared_metric_spec(self.metric, self.problem_type)
        if self.threshold is not None and spec is not None:
            _check_threshold(spec, self.threshold)
        if self.target is not None and self.target.startswith("-"):
            raise ValueError(
                f"target '{self.target}' starts with '-', which the training job would read as an option; "
                "rename the column in the data and here"
            )
        fewest = minimum_rows()
        if self.min_rows is not None and self.min_rows < fewest:
            raise ValueError(
                f"min_rows {self.min_rows} is below {fewest}: with fewer rows the split into training, validation "
                f"and test data leaves a part without rows; use {fewest} or more"
            )
        problems = hyperparameter_problems(self.hyperparameters, model=self.model.kind if self.model else "builtin")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Schema(BaseModel):
    """The columns a dataset's files must have, kept in ``datasets/<dataset>/schema.json``.

    ``target`` and ``problem_type`` record what the first accepted file showed, so later files of the
    dataset are trained for the same problem even when ``dataset.json`` does not declare it.
    """

    model_config = ConfigDict(extra="ignore")

    columns: list[ColumnSpec] = Field(min_length=1)
    target: str | None = None
    problem_type: ProblemType | None = None

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column_type(self, name: str) -> ColumnType | None:
        for column in self.columns:
            if column.name == name:
                return column.type
        return None


class TargetStats(BaseModel):
    """What one pass over the file saw in the target column: enough to infer the problem type."""

    column: str
    values: int
    """Rows with a (non-empty) target value."""
    distinct_values: list[str]
    """Distinct values in first-seen order, up to a cap."""
    more_distinct_values: bool
    """True when there were more distinct values than ``distinct_values`` holds."""
    all_numeric: bool
    all_integer: bool

    @property
    def distinct_count(self) -> int:
        """Distinct values (numerically, so "1" and "1.0" are one class); a lower bound when capped."""
        count = len({float(value) for value in self.distinct_values}) if self.all_numeric else None
        if count is None:
            count = len(self.distinct_values)
        return count + 1 if self.more_distinct_values else count


class SplitFractions(BaseModel):
    train: float = 0.7
    validation: float = 0.15
    test: float = 0.15


class ResolvedConfig(BaseModel):
    """``runs/<execution>/config.json``: every choice a run makes, written once by Validate."""

    dataset: str
    target: str
    problem_type: ProblemType
    metric: str
    threshold: float
    higher_is_better: bool
    hyperparameters: dict[str, str]
    """Strings, as SageMaker passes hyperparameters to a training job."""
    columns: list[ColumnSpec]
    """All columns, target included."""
    feature_columns: list[str]
    data_uri: str
    data_version_id: str | None
    input_uri: str | None = None
    """The run's own copy of the exact object version Validate checked; the jobs read this, not the live key."""
    rows: int
    seed: int = DEFAULT_SEED
    split: SplitFractions = Field(default_factory=SplitFractions)
    delimiter: Delimiter = ","
    """The file's separator, as the preprocessing job must read it."""
    model_script: str | None = None
    """The dataset's own training script (``ml/models/<name>/train.py``); None: the built-in model."""
    model_algorithm: Literal["xgboost"] | None = None
    """SageMaker's built-in algorithm that trains the model; None: a script (the built-in model's or the dataset's)."""
    model_framework: ModelFramework = "scikit-learn"
    """The framework container the dataset's script runs on; the built-in model's is scikit-learn's."""
    model_image: str | None = None
    """The dataset's own container image, which trains the model, answers the held-out rows and serves."""
    instance_count: int = Field(default=1, ge=1, le=INSTANCE_COUNT_CEILING)
    """Training instances; above 1 only for an algorithm that trains distributed (XGBoost)."""


def parse_dataset_config(raw: bytes, source: str = DATASET_CONFIG_FILE) -> DatasetConfig:
    """Parse ``dataset.json``; every problem is reported in one readable message prefixed by ``source``."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetConfigInvalid(f"{source}: is not UTF-8 text ({error.reason}); save it as UTF-8 JSON.") from error
    if not text.strip():
        raise DatasetConfigInvalid(f'{source}: is empty; write a JSON object such as {{"target": "label"}}.')
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetConfigInvalid(
            f"{source}: is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})."
        ) from error
    if not isinstance(document, dict):
        raise DatasetConfigInvalid(
            f'{source}: must be a JSON object such as {{"target": "label"}}, not a {_json_type(document)}.'
        )
    try:
        return DatasetConfig.model_validate(document)
    except ValidationError as error:
        problems = [_describe_error(detail) for detail in error.errors(include_url=False)]
        if len(problems) == 1:
            raise DatasetConfigInvalid(f"{source}: {problems[0]}.") from None
        listed = "\n".join(f"- {problem}." for problem in problems)
        raise DatasetConfigInvalid(f"{source}: {len(problems)} problems\n{listed}") from None


def default_target(columns: Sequence[str]) -> str:
    """The target when none is declared: a column named target, label or y, else the last column."""
    by_lower: dict[str, str] = {}
    for name in columns:
        by_lower.setdefault(name.lower(), name)
    for candidate in DEFAULT_TARGET_NAMES:
        if candidate in by_lower:
            return by_lower[candidate]
    return columns[-1]


def infer_problem_type(stats: TargetStats) -> ProblemType | None:
    """The problem type the target's values suggest; None when they suggest none (one value, many labels)."""
    distinct = stats.distinct_count
    if distinct < 2:
        return None
    if stats.all_numeric and (not stats.all_integer or distinct > MAX_CLASSES_FOR_INFERENCE):
        return "regression"
    if distinct == 2:
        return "binary_classification"
    if distinct <= MAX_CLASSES_FOR_INFERENCE:
        return "multiclass_classification"
    return None


def hyperparameters_as_strings(hyperparameters: dict[str, HyperparameterValue]) -> dict[str, str]:
    """SageMaker passes hyperparameters as strings; booleans and null are written the way JSON writes them."""
    return {name: as_string(value) for name, value in hyperparameters.items()}


def minimum_rows(split: SplitFractions | None = None) -> int:
    """The fewest rows the preprocessing job can split into non-empty test and validation parts and a training
    part of at least two rows (its ``split_rows``, whose rounding this repeats)."""
    shares = split or SplitFractions()
    total = shares.train + shares.validation + shares.test
    test_share, validation_share = shares.test / total, shares.validation / total
    rows = 1
    while True:
        test = max(1, round(rows * test_share))
        validation = max(1, round(rows * validation_share))
        if rows - test - validation >= 2:
            return rows
        rows += 1


def resolve_config(
    declared: DatasetConfig,
    *,
    dataset: str,
    columns: Sequence[ColumnSpec],
    target: str,
    problem_type: ProblemType,
    rows: int,
    data_uri: str,
    data_version_id: str | None,
) -> ResolvedConfig:
    """Fill in the defaults for a run: metric and threshold for the problem type, hyperparameters as strings.

    ``target`` and ``problem_type`` are the ones the file was validated with (declared, stored with the
    schema, or found from the data by :func:`default_target` and :func:`infer_problem_type`).
    """
    source = dataset_config_key(dataset)
    metric = declared.metric or DEFAULT_METRICS[problem_type]
    spec = find_metric(problem_type, metric)
    if spec is None:
        origin = "declared" if declared.problem_type else "found from the target values"
        raise DatasetConfigInvalid(
            f"{source}: metric '{metric}' does not apply to this dataset's problem type {problem_type} "
            f"({origin}); use one of {_quoted(metric_names(problem_type))}, or declare problem_type."
        )
    threshold = declared.threshold if declared.threshold is not None else spec.default_threshold
    if threshold is None:
        raise DatasetConfigInvalid(
            f"{source}: metric '{metric}' has no default threshold because its scale is the target's; "
            f'add "threshold" (the largest {metric} a model may have and still be registered).'
        )
    try:
        _check_threshold(spec, threshold)
    except ValueError as error:
        raise DatasetConfigInvalid(f"{source}: {error}.") from None
    names = [column.name for column in columns]
    if target not in names:
        raise DatasetConfigInvalid(f"{source}: target '{target}' is not one of the columns ({_quoted(names)}).")
    hyperparameters = hyperparameters_as_strings(declared.hyperparameters)
    if declared.model is not None and declared.model.kind == "xgboost":
        mismatch = xgboost_metric_problem(hyperparameters, problem_type)
        if mismatch:
            raise DatasetConfigInvalid(f"{source}: {mismatch}.")
    return ResolvedConfig(
        dataset=dataset,
        target=target,
        problem_type=problem_type,
        metric=metric,
        threshold=threshold,
        higher_is_better=spec.higher_is_better,
        hyperparameters=hyperparameters,
        model_script=declared.model.script if declared.model else None,
        model_algorithm=declared.model.algorithm if declared.model else None,
        model_framework=(declared.model.framework if declared.model else None) or "scikit-learn",
        model_image=declared.model.image if declared.model else None,
        instance_count=declared.model.instance_count if declared.model else 1,
        columns=list(columns),
        feature_columns=[name for name in names if name != target],
        data_uri=data_uri,
        data_version_id=data_version_id,
        rows=rows,
        delimiter=declared.delimiter,
    )


def _declared_metric_spec(metric: str | None, problem_type: ProblemType | None) -> MetricSpec | None:
    """The spec of the metric a config declares (or implies by its problem type); None when still open.

    A metric name has the same direction and range in every problem type, so a metric declared without a
    problem type can be checked already; whether it fits the inferred problem type is checked at resolve time.
    """
    if metric is None:
        return find_metric(problem_type, DEFAULT_METRICS[problem_type]) if problem_type else None
    if problem_type is not None:
        spec = find_metric(problem_type, metric)
        if spec is None:
            raise ValueError(
                f"metric '{metric}' is not a {problem_type} metric; use one of {_quoted(metric_names(problem_type))}"
            )
        return spec
    owners = problem_types_with_metric(metric)
    if not owners:
        known = sorted({name for specs in METRICS.values() for name in specs})
        raise ValueError(
            f"metric '{metric}' is not a known metric{_suggest(metric, known)}; use one of {_quoted(known)}"
        )
    return find_metric(owners[0], metric)


def _check_threshold(spec: MetricSpec, threshold: float) -> None:
    if spec.lowest is not None and threshold < spec.lowest:
        raise ValueError(f"threshold {threshold:g} is below {spec.lowest:g}, the smallest {spec.name} there is")
    if spec.highest is not None and threshold > spec.highest:
        raise ValueError(f"threshold {threshold:g} is above {spec.highest:g}, the largest {spec.name} there is")


def _describe_error(detail: Any) -> str:
    """One readable sentence for a pydantic error, naming the field as it is written in the JSON."""
    location = _location(detail["loc"])
    kind = detail["type"]
    if kind == "extra_forbidden":
        field = str(detail["loc"][-1])
        allowed = list(_model_at(detail["loc"]).model_fields)
        return f"unknown field '{location}'{_suggest(field, allowed)}; the fields are {_quoted(allowed)}"
    if kind == "value_error":
        return str(detail["ctx"]["error"])
    if kind == "missing":
        return f"'{location}' is required"
    message = str(detail["msg"])
    message = message[0].lower() + message[1:]
    return f"'{location}' is {json.dumps(detail.get('input'))}: {message}"


def _location(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _model_at(loc: Sequence[Any]) -> type[BaseModel]:
    """The model whose fields an error's location names: a column, ``ab_test``, or the config itself."""
    if len(loc) >= 3 and loc[0] == "columns":
        return ColumnSpec
    if len(loc) >= 2 and loc[0] == "ab_test":
        return ABTestConfig
    return DatasetConfig


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _json_type(value: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )
