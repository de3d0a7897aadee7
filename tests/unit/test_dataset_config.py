"""dataset.json parsing and the run config resolved from it (pure, no AWS)."""

from __future__ import annotations

import json
import re

import pytest

from driftline_core.errors import DatasetConfigInvalid
from driftline_core.ingest.dataset_config import (
    ColumnSpec,
    DatasetConfig,
    TargetStats,
    default_target,
    infer_problem_type,
    minimum_rows,
    parse_dataset_config,
    resolve_config,
)

SOURCE = "data/credit/dataset.json"
COLUMNS = [
    ColumnSpec(name="age", type="numeric"),
    ColumnSpec(name="home", type="categorical"),
    ColumnSpec(name="default", type="numeric"),
]


def parse(document: object) -> DatasetConfig:
    return parse_dataset_config(json.dumps(document).encode(), source=SOURCE)


def parse_error(raw: bytes | object) -> str:
    payload = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    with pytest.raises(DatasetConfigInvalid) as caught:
        parse_dataset_config(payload, source=SOURCE)
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: ")
    return message


def stats(values: list[str], *, more: bool = False) -> TargetStats:
    numbers = []
    for value in values:
        try:
            numbers.append(float(value))
        except ValueError:
            break
    numeric = len(numbers) == len(values)
    return TargetStats(
        column="y",
        values=len(values),
        distinct_values=values,
        more_distinct_values=more,
        all_numeric=numeric,
        all_integer=numeric and all(number.is_integer() for number in numbers),
    )


def resolve(declared: DatasetConfig, problem_type: str = "binary_classification", target: str = "default"):
    return resolve_config(
        declared,
        dataset="credit",
        columns=COLUMNS,
        target=target,
        problem_type=problem_type,  # type: ignore[arg-type]
        rows=250,
        data_uri="s3://data/data/credit/a.csv",
        data_version_id="v1",
    )


# --- parsing -------------------------------------------------------------------------------------------


def test_a_full_config_parses() -> None:
    config = parse(
        {
            "target": "default",
            "problem_type": "binary_classification",
            "metric": "f1",
            "threshold": 0.8,
            "hyperparameters": {"max_iter": 200, "learning_rate": 0.05, "early_stopping": True, "max_depth": None},
            "min_rows": 50,
            "columns": [{"name": "age", "type": "numeric"}, {"name": "default", "type": "categorical"}],
        }
    )
    assert config.target == "default"
    assert config.metric == "f1"
    assert config.threshold == 0.8
    assert config.min_rows == 50
    assert config.columns is not None and [c.name for c in config.columns] == ["age", "default"]


def test_an_empty_object_means_all_defaults() -> None:
    config = parse({})
    assert config == DatasetConfig()
    assert config.hyperparameters == {}


def test_an_empty_file_is_reported() -> None:
    assert "is empty" in parse_error(b"  \n")


def test_bad_json_names_the_line_and_column() -> None:
    message = parse_error(b'{"target": "y",\n "metric": }')
    assert "is not valid JSON" in message
    assert "line 2" in message


def test_a_document_that_is_not_an_object_is_reported() -> None:
    assert "must be a JSON object" in parse_error([{"target": "y"}])


def test_text_that_is_not_utf8_is_reported() -> None:
    assert "is not UTF-8 text" in parse_error(b'{"target": "\xe9"}')


def test_an_unknown_field_is_reported_with_a_suggestion() -> None:
    message = parse_error({"tagret": "default"})
    assert "unknown field 'tagret'" in message
    assert "did you mean 'target'?" in message


def test_an_unknown_problem_type_is_reported() -> None:
    message = parse_error({"problem_type": "classification"})
    assert "'problem_type'" in message
    assert '"classification"' in message
    assert "binary_classification" in message


def test_a_metric_of_another_problem_type_is_reported() -> None:
    message = parse_error({"problem_type": "regression", "metric": "auc"})
    assert "metric 'auc' is not a regression metric" in message
    assert "'r2', 'mse', 'rmse', 'mae'" in message


def test_an_unknown_metric_is_reported_with_a_suggestion() -> None:
    message = parse_error({"metric": "acuracy"})
    assert "metric 'acuracy' is not a known metric" in message
    assert "did you mean 'accuracy'?" in message


def test_a_threshold_outside_the_metric_range_is_reported() -> None:
    assert "threshold 1.5 is above 1, the largest auc" in parse_error({"metric": "auc", "threshold": 1.5})
    assert "threshold -1 is below 0, the smallest rmse" in parse_error({"metric": "rmse", "threshold": -1})
    # The default metric of a declared problem type is checked too.
    assert "largest auc" in parse_error({"problem_type": "binary_classification", "threshold": 7})


def test_a_threshold_must_be_a_finite_number() -> None:
    assert "finite number" in parse_error(b'{"threshold": NaN}')
    assert "'threshold'" in parse_error({"threshold": True})


def test_min_rows_must_be_a_positive_whole_number() -> None:
    assert "'min_rows' is 0" in parse_error({"min_rows": 0})
    assert "'min_rows'" in parse_error({"min_rows": "20"})


def test_columns_are_checked() -> None:
    assert "'columns[0].type' is \"number\"" in parse_error({"columns": [{"name": "a", "type": "number"}]})
    assert "unknown field 'columns[0].kind'" in parse_error(
        {"columns": [{"name": "a", "type": "numeric", "kind": "x"}]}
    )
    duplicated = [{"name": "a", "type": "numeric"}, {"name": "a", "type": "categorical"}]
    assert "columns lists 'a' more than once" in parse_error({"columns": duplicated})
    assert "target 'b' is not one of the declared columns" in parse_error(
        {"target": "b", "columns": [{"name": "a", "type": "numeric"}]}
    )


def test_hyperparameters_are_checked() -> None:
    assert "hyperparameter 'layers' is a list" in parse_error({"hyperparameters": {"layers": [1, 2]}})
    assert "hyperparameter 'sagemaker_program' is set by the pipeline" in parse_error(
        {"hyperparameters": {"sagemaker_program": "x.py"}}
    )
    assert "hyperparameter 'target' is set by the pipeline" in parse_error({"hyperparameters": {"target": "y"}})
    assert "hyperparameter 'max iter' is not one the training script accepts (did you mean 'max_iter'?)" in (
        parse_error({"hyperparameters": {"max iter": 3}})
    )


def test_every_problem_is_listed_on_its_own_line() -> None:
    message = parse_error({"tagret": "y", "min_rows": -5})
    lines = message.splitlines()
    assert lines[0] == f"{SOURCE}: 2 problems"
    assert any("unknown field 'tagret'" in line for line in lines[1:])
    assert any("'min_rows' is -5" in line for line in lines[1:])


# --- defaults ------------------------------------------------------------------------------------------


def test_the_default_target_is_a_column_named_target_label_or_y() -> None:
    assert default_target(["a", "y", "label", "b"]) == "label"
    assert default_target(["target", "label"]) == "target"
    assert default_target(["a", "Label", "b"]) == "Label"
    assert default_target(["a", "Y"]) == "Y"


def test_the_default_target_is_otherwise_the_last_column() -> None:
    assert default_target(["age", "income", "defaulted"]) == "defaulted"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["0", "1"], "binary_classification"),
        (["yes", "no"], "binary_classification"),
        (["1", "2", "3"], "multiclass_classification"),
        (["red", "green", "blue"], "multiclass_classification"),
        ([str(i) for i in range(20)], "multiclass_classification"),
        ([str(i) for i in range(21)], "regression"),
        (["1.5", "2.0"], "regression"),
        (["0.1", "0.2", "0.3"], "regression"),
    ],
)
def test_problem_type_is_inferred_from_the_target_values(values: list[str], expected: str) -> None:
    assert infer_problem_type(stats(values)) == expected


def test_problem_type_is_not_inferred_from_one_value_or_many_labels() -> None:
    assert infer_problem_type(stats(["1"])) is None
    assert infer_problem_type(stats([f"c{i}" for i in range(21)])) is None


def test_numbers_written_differently_are_one_class() -> None:
    assert stats(["1", "1.0", "0"]).distinct_count == 2
    assert infer_problem_type(stats(["1", "1.0", "0"])) == "binary_classification"


def test_capped_distinct_values_count_as_more() -> None:
    assert stats(["1", "2"], more=True).distinct_count == 3


# --- resolving -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem_type", "metric", "threshold"),
    [
        ("binary_classification", "auc", 0.7),
        ("multiclass_classification", "accuracy", 0.6),
        ("regression", "r2", 0.5),
    ],
)
def test_the_metric_and_threshold_default_per_problem_type(problem_type: str, metric: str, threshold: float) -> None:
    config = resolve(DatasetConfig(), problem_type=problem_type)
    assert config.problem_type == problem_type
    assert (config.metric, config.threshold, config.higher_is_better) == (metric, threshold, True)


def test_the_resolved_config_has_the_run_config_shape() -> None:
    config = resolve(
        DatasetConfig(
            hyperparameters={"max_iter": 200, "learning_rate": 0.5, "early_stopping": True, "max_depth": None}
        )
    )
    document = config.model_dump(mode="json")
    assert document == {
        "dataset": "credit",
        "target": "default",
        "problem_type": "binary_classification",
        "metric": "auc",
        "threshold": 0.7,
        "higher_is_better": True,
        "hyperparameters": {"max_iter": "200", "learning_rate": "0.5", "early_stopping": "true", "max_depth": "null"},
        "columns": [
            {"name": "age", "type": "numeric"},
            {"name": "home", "type": "categorical"},
            {"name": "default", "type": "numeric"},
        ],
        "feature_columns": ["age", "home"],
        "data_uri": "s3://data/data/credit/a.csv",
        "data_version_id": "v1",
        "input_uri": None,
        "rows": 250,
        "seed": 42,
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15},
        "delimiter": ",",
        "model_script": None,
        "model_algorithm": None,
        "model_framework": "scikit-learn",
        "model_image": None,
        "instance_count": 1,
    }


def test_a_declared_metric_and_threshold_are_kept() -> None:
    config = resolve(DatasetConfig(metric="f1", threshold=0.85))
    assert (config.metric, config.threshold, config.higher_is_better) == ("f1", 0.85, True)


def test_a_non_default_higher_is_better_metric_takes_the_problem_types_threshold() -> None:
    config = resolve(DatasetConfig(metric="weighted_f1"), problem_type="multiclass_classification")
    assert (config.metric, config.threshold) == ("weighted_f1", 0.6)


def test_an_error_metric_is_lower_is_better_and_needs_a_declared_threshold() -> None:
    config = resolve(DatasetConfig(metric="rmse", threshold=4.5), problem_type="regression")
    assert (config.metric, config.threshold, config.higher_is_better) == ("rmse", 4.5, False)
    with pytest.raises(DatasetConfigInvalid, match=r"metric 'mae' has no default threshold.*add \"threshold\""):
        resolve(DatasetConfig(metric="mae"), problem_type="regression")


def test_a_metric_that_does_not_fit_the_inferred_problem_type_is_reported() -> None:
    with pytest.raises(DatasetConfigInvalid) as caught:
        resolve(DatasetConfig(metric="auc"), problem_type="regression")
    message = str(caught.value)
    assert message.startswith("data/credit/dataset.json: metric 'auc' does not apply")
    assert "regression (found from the target values)" in message
    assert "'r2', 'mse', 'rmse', 'mae'" in message


def test_a_target_outside_the_columns_is_reported() -> None:
    with pytest.raises(DatasetConfigInvalid, match="target 'label' is not one of the columns"):
        resolve(DatasetConfig(), target="label")


# --- what the jobs will accept -------------------------------------------------------------------------


def test_a_hyperparameter_the_training_script_uses_for_its_own_arguments_is_refused() -> None:
    message = parse_error({"hyperparameters": {"model-dir": "/tmp/elsewhere"}})
    assert message == (
        f"{SOURCE}: hyperparameter 'model-dir' is reserved by the training script: it names the folder the model "
        'is written to; remove it from "hyperparameters".'
    )
    for name in ("model_dir", "train-dir", "validation-dir", "metadata_dir", "problem-type"):
        assert f"hyperparameter '{name}' is " in parse_error({"hyperparameters": {name: "x"}})


def test_an_unknown_hyperparameter_is_refused_with_a_suggestion() -> None:
    message = parse_error({"hyperparameters": {"max_iters": 300, "learning-rate": 0.1}})
    assert "hyperparameter 'max_iters' is not one the training script accepts (did you mean 'max_iter'?)" in message
    assert "the hyperparameters are 'max_iter', 'learning_rate', 'max_depth'" in message
    assert "learning-rate" not in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("max_iter", "300", "it must be a whole number of at least 1"),
        ("max_iter", 2.5, "it must be a whole number of at least 1"),
        ("max_iter", True, "it must be a whole number of at least 1"),
        ("learning_rate", 0, "it must be a number above 0"),
        ("learning_rate", "fast", "it must be a number above 0"),
        ("l2_regularization", -0.1, "it must be a number of at least 0"),
        ("max_leaf_nodes", 1, "it must be a whole number of at least 2 or null (no limit)"),
        ("early_stopping", "sometimes", 'it must be "auto", true or false'),
        ("random_state", 2**32, "it must be a whole number from 0 to 4294967295"),
        ("min_samples_leaf", None, "it must be a whole number of at least 1"),
    ],
)
def test_a_hyperparameter_value_of_the_wrong_type_or_range_is_refused(name: str, value: object, expected: str) -> None:
    message = parse_error({"hyperparameters": {name: value}})
    assert message == f"{SOURCE}: hyperparameter '{name}' is {json.dumps(value)}; {expected}."


def test_null_depth_and_leaves_mean_no_limit_and_reach_the_job_as_null() -> None:
    config = parse({"hyperparameters": {"max_depth": None, "max-leaf-nodes": None, "early_stopping": False}})
    assert resolve(config).hyperparameters == {"max_depth": "null", "max-leaf-nodes": "null", "early_stopping": "false"}


def test_min_rows_below_what_the_split_can_serve_is_refused() -> None:
    assert minimum_rows() == 4
    assert parse_error({"min_rows": 3}) == (
        f"{SOURCE}: min_rows 3 is below 4: with fewer rows the split into training, validation and test data "
        "leaves a part without rows; use 4 or more."
    )
    assert parse({"min_rows": 4}).min_rows == 4


def test_a_target_named_like_a_command_line_option_is_refused() -> None:
    assert "target '-x' starts with '-', which the training job would read as an option" in parse_error(
        {"target": "-x"}
    )


def test_a_declared_delimiter_reaches_the_run_config() -> None:
    assert resolve(parse({"delimiter": ";"})).delimiter == ";"
    assert resolve(parse({"delimiter": "\t"})).delimiter == "\t"
    assert resolve(parse({})).delimiter == ","
    assert "'delimiter' is \":\"" in parse_error({"delimiter": ":"})


@pytest.mark.parametrize(
    ("framework", "resolved"), [(None, "scikit-learn"), ("scikit-learn", "scikit-learn"), ("xgboost", "xgboost")]
)
def test_a_script_runs_on_the_framework_container_it_names_scikit_learn_s_by_default(
    framework: str | None, resolved: str
) -> None:
    model = {"script": "xgboost_trees", **({"framework": framework} if framework else {})}
    config = parse_dataset_config(json.dumps({"target": "default", "model": model}).encode())
    assert resolve(config).model_framework == resolved


@pytest.mark.parametrize(
    ("model", "says"),
    [
        ({"algorithm": "xgboost", "framework": "xgboost"}, 'model.framework chooses the container a "script" runs on'),
        ({"script": "x", "framework": "tensorflow"}, "framework"),
        ({"script": "x", "framework": "XGBoost"}, "framework"),
    ],
)
def test_a_framework_without_a_script_or_of_another_name_is_refused(model: dict[str, str], says: str) -> None:
    with pytest.raises(DatasetConfigInvalid, match=re.escape(says)):
        parse_dataset_config(json.dumps({"target": "default", "model": model}).encode())


@pytest.mark.parametrize(
    ("hyperparameters", "says"),
    [
        ({"sagemaker_program": "x"}, "hyperparameter 'sagemaker_program' is set by the pipeline"),
        ({"n" * 257: 1}, "must be a name of 1 to 256 characters"),
        ({"notes": "x" * 2501}, "is longer than SageMaker's 2500 characters"),
    ],
)
def test_a_container_takes_any_hyperparameter_sagemaker_passes_but_its_own(
    hyperparameters: dict[str, object], says: str
) -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/driftline/churn:1"
    accepted = {"target": "t", "model": {"image": image}, "hyperparameters": {"max-depth": 3, "Mode": "fast"}}
    assert parse_dataset_config(json.dumps(accepted).encode()).model is not None
    with pytest.raises(DatasetConfigInvalid, match=re.escape(says)):
        parse_dataset_config(json.dumps({**accepted, "hyperparameters": hyperparameters}).encode())
