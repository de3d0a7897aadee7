"""README.md against the code it describes: its dataset examples pass the real validator, its tables are the
catalogues and the template they copy, and its commands and links lead somewhere (pure: no AWS, no process)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from driftline.datasets import CREDIT_COLUMNS
from driftline.parameter_reference import readme_reference, reference_table, template_parameters
from driftline_core.errors import ValidationFailed
from driftline_core.ingest.csv_validation import CsvReport, validate_csv
from driftline_core.ingest.dataset_config import DatasetConfig, Schema, parse_dataset_config, resolve_config
from driftline_core.ingest.hyperparameters import HYPERPARAMETERS
from driftline_core.metrics import DEFAULT_METRICS, METRICS
from tests.docs.readme_blocks import REPO_ROOT, marked, named_blocks, readme, section, table_rows, unquoted
from tests.infra.transformed_template import load_template, sam_transform

DATASET_CONFIGS = named_blocks("dataset.json")
DATASET_CSVS = named_blocks("dataset.csv")


def lines_of(text: str) -> list[bytes]:
    return [line.encode() for line in text.splitlines(keepends=True)]


def config_of(name: str) -> DatasetConfig:
    return parse_dataset_config(DATASET_CONFIGS[name].encode(), source=f"README.md dataset.json {name!r}")


def validated(name: str) -> CsvReport:
    """The README's CSV example checked as Validate checks an upload of its dataset (any number of rows)."""
    config = config_of(name)
    return validate_csv(
        lines_of(DATASET_CSVS[name]),
        source=f"README.md CSV {name!r}",
        delimiter=config.delimiter,
        schema=Schema(columns=config.columns) if config.columns else None,
        target=config.target,
        problem_type=config.problem_type,
        min_rows=1,
    )


# --- dataset examples --------------------------------------------------------------------------------------


def test_the_readme_shows_dataset_configs_each_with_a_csv_of_its_dataset() -> None:
    assert len(DATASET_CONFIGS) >= 2
    assert set(DATASET_CSVS) == set(DATASET_CONFIGS)


@pytest.mark.parametrize("name", sorted(DATASET_CONFIGS))
def test_each_dataset_json_example_passes_the_real_validator(name: str) -> None:
    config_of(name)


@pytest.mark.parametrize("name", sorted(DATASET_CSVS))
def test_each_csv_example_fits_its_dataset_json_and_resolves_to_a_run_config(name: str) -> None:
    config = config_of(name)
    report = validated(name)

    if config.columns:
        assert sorted(report.header) == sorted(column.name for column in config.columns)
    resolved = resolve_config(
        config,
        dataset=name,
        columns=report.schema.columns,
        target=report.target,
        problem_type=report.problem_type,
        rows=report.rows,
        data_uri=f"s3://bucket/data/{name}/{name}.csv",
        data_version_id=None,
    )
    assert resolved.target == (config.target or report.target)
    assert resolved.feature_columns and resolved.target not in resolved.feature_columns


def test_the_first_dataset_json_example_sets_every_field_and_the_field_table_lists_them_all() -> None:
    first = next(iter(DATASET_CONFIGS))
    fields = list(DatasetConfig.model_fields)

    # ``model`` changes what ``hyperparameters`` mean, so its own section shows it, with its own example.
    assert sorted(config_of(first).model_fields_set | {"model"}) == sorted(fields)
    assert config_of("scripted").model is not None
    assert sorted(unquoted(row[0]) for row in table_rows(marked("dataset.json fields"))) == sorted(fields)


def test_dates_are_read_as_the_readme_says_text_in_any_format_and_digits_only_as_a_number() -> None:
    assert validated("house-prices").schema.column_type("built") == "categorical"
    rows = [f"{n},2004-06-0{n},0{n}/06/2004,{n} June 2004,2004060{n},{n % 2}" for n in range(1, 7)]
    text = "\n".join(["x,iso,day_first,words,digits,y", *rows]) + "\n"

    schema = validate_csv(lines_of(text), source="dates.csv", min_rows=1).schema

    assert [schema.column_type(name) for name in ("iso", "day_first", "words", "digits")] == [
        "categorical",
        "categorical",
        "categorical",
        "numeric",
    ]


def test_the_decimal_comma_refusal_shown_is_what_the_validator_says() -> None:
    shown = " ".join(named_blocks("refusal")["decimal-comma"].split())

    with pytest.raises(ValidationFailed) as refused:
        validate_csv(
            lines_of(named_blocks("refused.csv")["decimal-comma"]), source="june.csv", delimiter=";", min_rows=1
        )

    assert shown in " ".join(str(refused.value).split())


# --- tables that copy a catalogue --------------------------------------------------------------------------


def test_the_metric_table_is_the_metric_catalogue_with_each_direction_and_default() -> None:
    def threshold(value: float | None) -> str:
        return "none: declare `threshold`" if value is None else f"{value:g}"

    expected = [
        [
            f"`{problem_type}`",
            f"`{name}`" + (" (default)" if DEFAULT_METRICS[problem_type] == name else ""),
            "higher" if spec.higher_is_better else "lower",
            threshold(spec.default_threshold),
        ]
        for problem_type, specs in METRICS.items()
        for name, spec in specs.items()
    ]

    assert [row[:4] for row in table_rows(marked("metrics"))] == expected


def test_the_hyperparameter_table_is_the_training_script_s_catalogue() -> None:
    expected = [[f"`{name}`", spec.describe()] for name, spec in HYPERPARAMETERS.items()]

    assert table_rows(marked("hyperparameters")) == expected


# --- the template's parameters -----------------------------------------------------------------------------


def test_the_parameter_reference_is_the_one_generated_from_the_template() -> None:
    assert readme_reference(readme()) == reference_table(template_parameters()), (
        "README.md's parameter reference differs from template.yaml: run python -m driftline.parameter_reference"
    )


def _default_in_table(cell: str) -> str | None:
    """A default as a table shows it: None for a required parameter, the text otherwise."""
    return {"**required**": None, "*(empty)*": ""}.get(cell, unquoted(cell))


def _template_default(spec: dict[str, Any]) -> str | None:
    return str(spec["Default"]) if "Default" in spec else None


def test_the_reference_lists_every_parameter_with_its_default_in_the_template_s_order() -> None:
    declared = load_template()["Parameters"]
    rows = table_rows(marked("parameter-reference"))

    assert [unquoted(row[0]) for row in rows] == list(declared)
    assert [_default_in_table(row[1]) for row in rows] == [_template_default(spec) for spec in declared.values()]


def test_the_reference_shows_each_parameter_s_allowed_values_and_range() -> None:
    declared = load_template()["Parameters"]
    for row in table_rows(marked("parameter-reference")):
        spec, allowed = declared[unquoted(row[0])], row[2]
        for value in spec.get("AllowedValues", []):
            assert f"`{value}`" in allowed, row
        for bound in ("MinValue", "MaxValue"):
            if bound in spec:
                assert str(spec[bound]) in allowed, row
        if "AllowedPattern" in spec:
            assert spec["AllowedPattern"] in allowed, row


def test_the_key_parameters_have_the_template_s_defaults() -> None:
    declared = load_template()["Parameters"]
    rows = table_rows(marked("key-parameters"))

    assert rows
    for row in rows:
        name = unquoted(row[0])
        assert name in declared, f"README.md's key parameter {name} is not in template.yaml"
        assert _default_in_table(row[1]) == _template_default(declared[name]), name


def test_only_the_notification_email_must_be_typed_in_a_guided_deploy() -> None:
    required = [name for name, spec in load_template()["Parameters"].items() if "Default" not in spec]

    assert required == ["NotificationEmail"]
    assert "`Parameter NotificationEmail []`" in section("Deploy to AWS")


# --- the deploy ----------------------------------------------------------------------------------------------

SERVICES = {
    "ApiGatewayV2": "Amazon API Gateway",
    "CloudWatch": "Amazon CloudWatch",
    "DynamoDB": "Amazon DynamoDB",
    "Events": "Amazon EventBridge",
    "IAM": "AWS IAM",
    "KMS": "AWS KMS",
    "Lambda": "AWS Lambda",
    "Logs": "Amazon CloudWatch Logs",
    "S3": "Amazon S3",
    "SNS": "Amazon SNS",
    "SQS": "Amazon SQS",
    "SecretsManager": "AWS Secrets Manager",
    "StepFunctions": "AWS Step Functions",
}
"""The service each resource type's namespace (``AWS::<namespace>::...``) belongs to, as the README names it."""


def test_the_deploy_permissions_name_every_service_the_stack_creates_resources_of() -> None:
    deployed = sam_transform(load_template())["Resources"].values()
    namespaces = {
        kind.split("::")[1] for kind in (resource["Type"] for resource in deployed) if kind.startswith("AWS::")
    }
    listed = [row[0] for row in table_rows(marked("deploy-permissions"))]

    unknown = namespaces - set(SERVICES)
    assert not unknown, f"the stack creates {sorted(unknown)}: add them to README.md's permissions and to SERVICES"
    assert {SERVICES[namespace] for namespace in namespaces} <= set(listed)
    assert set(listed) - {SERVICES[namespace] for namespace in namespaces} <= {
        "AWS CloudFormation",
        "Amazon SageMaker",
    }


def test_the_invoke_examples_send_one_value_per_feature_of_the_credit_sample() -> None:
    deploy = section("Deploy to AWS")
    bodies = re.findall(r"--body '([^']*)'", deploy) + re.findall(r'Body="([^"]*)"', deploy)

    assert len(bodies) >= 3
    for body in bodies:
        assert len(body.split(",")) == len(CREDIT_COLUMNS) - 1, body


def test_every_make_target_the_readme_names_exists_and_ci_runs_make_test() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    code = re.findall(r"^```.*?^```", readme(), re.M | re.S) + re.findall(r"`[^`\n]+`", readme())
    named = {target for snippet in code for target in re.findall(r"\bmake ([a-z][a-z-]*)", snippet)}

    assert {"demo", "test", "destroy"} <= named
    assert named <= targets, f"README.md names make targets the Makefile lacks: {sorted(named - targets)}"
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_to_a_heading_finds_its_heading() -> None:
    text = readme()
    without_code = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    anchors = {_anchor(heading) for heading in re.findall(r"^#{1,6} (.+)$", without_code, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", without_code))

    assert links
    assert links <= anchors, f"README.md links to headings it lacks: {sorted(links - anchors)}"


def test_the_sections_a_newcomer_needs_come_before_the_internals() -> None:
    headings = re.findall(r"^## (.+)$", re.sub(r"^```.*?^```", "", readme(), flags=re.M | re.S), re.M)

    assert headings[:4] == ["Contents", "Try it locally", "Deploy to AWS", "Your own data"]


def test_the_readme_s_worked_training_scripts_are_the_ones_in_ml_models_that_the_e2e_test_runs() -> None:
    shown = named_blocks("model-script")
    assert list(shown) == ["logistic_regression", "xgboost_trees", "torch_mlp"]
    e2e = (REPO_ROOT / "tests/e2e/test_local_model_script.py").read_text()
    for name, text in shown.items():
        assert text == (REPO_ROOT / f"ml/models/{name}/train.py").read_text()
        assert f'"script": "{name}"' in e2e
    assert '"framework": "xgboost"' in e2e and '"framework": "pytorch"' in e2e
