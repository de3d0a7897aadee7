"""The A/B trial analysis job's request: valid for SageMaker to its patterns and lengths, each input where
``ml/trial_analysis.py`` reads it, the trial window covered by at most 10 inputs, and empty prefixes left out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
import trial_analysis

from driftline_core import layout
from driftline_core.payloads import DeploymentResult, TrialAnalysisInput
from driftline_core.settings import Settings
from driftline_core.training.job_requests import build_trial_analysis_job_request, trial_window
from tests.conftest import load_event
from tests.job_requests import job_settings
from tests.request_shapes import assert_valid_request, constraint_problems

EXECUTION = "credit-5e4f54c7bade"
DATA_BUCKET = "driftline-data-123456789012-us-east-1"
CAPTURE = "s3://driftline-artifacts-123456789012-us-east-1/capture/credit/driftline-credit"
VARIANTS = ("AllTraffic", "Challenger-v4")


@pytest.fixture
def settings() -> Settings:
    return job_settings()


def step(**trial: Any) -> TrialAnalysisInput:
    event = load_event("analyse_trial")
    event["deployment"]["trial"] |= trial
    return TrialAnalysisInput.model_validate(event)


def request_for(
    settings: Settings, analysis: TrialAnalysisInput | None = None, *, empty: set[str] | None = None
) -> dict[str, Any]:
    analysis = analysis or step()
    return build_trial_analysis_job_request(
        execution_name=analysis.execution_name,
        dataset=analysis.dataset,
        config_uri=analysis.validation.config_uri,
        deployment=analysis.deployment,
        holds_objects=lambda uri: uri not in (empty or set()),
        settings=settings,
    )


def window(start: str, minutes: int) -> dict[str, Any]:
    begin = datetime.fromisoformat(start)
    end = begin + timedelta(minutes=minutes)
    return {"started_at": f"{start}Z", "ends_at": f"{end:%Y-%m-%dT%H:%M:%S}Z", "trial_minutes": minutes}


def local_paths(request: dict[str, Any]) -> dict[str, str]:
    return {item["S3Input"]["LocalPath"]: item["S3Input"]["S3Uri"] for item in request["ProcessingInputs"]}


def captured(request: dict[str, Any], variant: str) -> list[str]:
    folder = f"/opt/ml/processing/capture/{variant}/"
    return [uri for path, uri in local_paths(request).items() if path.startswith(folder)]


def arguments(request: dict[str, Any]) -> dict[str, str]:
    given = request["AppSpecification"]["ContainerArguments"]
    return dict(zip(given[::2], given[1::2], strict=True))


def assert_valid_create_processing_job(request: dict[str, Any]) -> None:
    assert_valid_request("sagemaker", "CreateProcessingJob", request)
    assert all(argument for argument in request["AppSpecification"].get("ContainerArguments", [])), "empty argument"


def test_the_constraint_check_finds_a_name_sagemaker_refuses(settings: Settings) -> None:
    request = request_for(settings) | {"ProcessingJobName": "credit_trial"}
    model = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateProcessingJob")
    assert model.input_shape is not None

    assert constraint_problems(request, model.input_shape, "") == [
        ".ProcessingJobName: 'credit_trial' does not match [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    ]


@pytest.mark.parametrize(
    "trial",
    [
        {},
        window("2026-12-07T23:30:00", 5),
        window("2026-12-07T08:00:00", 3 * 24 * 60),
        window("2026-11-20T08:00:00", 60 * 24 * 60),
        window("2026-01-01T00:00:00", 5 * 365 * 24 * 60),
        {"mode": "shadow", "challenger_variant": "Challenger-v999999999", "significance": 1e-05},
    ],
)
def test_the_request_is_valid_for_the_sagemaker_api(settings: Settings, trial: dict[str, Any]) -> None:
    assert_valid_create_processing_job(request_for(settings, step(**trial)))


def test_the_request_stays_valid_for_the_longest_dataset_and_endpoint_names(settings: Settings) -> None:
    dataset = "a" * 38 + "-z"
    execution = layout.execution_name_for_object(dataset, "bucket", f"data/{dataset}/x.csv", "v1")
    endpoint = layout.endpoint_name("s" + "a" * (layout.MAX_PREFIX_LENGTH - 2) + "9", dataset)
    event = load_event("analyse_trial") | {"dataset": dataset, "execution_name": execution}
    event["deployment"] |= {"endpoint_name": endpoint, "data_capture_uri": f"s3://artifacts/capture/{dataset}"}
    event["deployment"]["trial"]["challenger_variant"] = "Challenger-v999999999"

    request = request_for(settings, TrialAnalysisInput.model_validate(event))

    assert_valid_create_processing_job(request)
    assert request["ProcessingJobName"] == layout.job_name(execution, "trial")


def test_the_job_is_named_after_the_run_so_a_retry_finds_it(settings: Settings) -> None:
    assert request_for(settings)["ProcessingJobName"] == f"{EXECUTION}-trial"
    assert request_for(settings) == request_for(settings)


def test_code_config_and_labels_are_where_the_job_reads_them(settings: Settings) -> None:
    request = request_for(settings)

    paths = local_paths(request)
    assert request["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/trial_analysis.py",
    ]
    assert paths["/opt/ml/processing/input/code"] == f"{settings.ml_code_uri}src/"
    assert paths["/opt/ml/processing/config"] == step().validation.config_uri
    assert paths["/opt/ml/processing/labels"] == f"s3://{DATA_BUCKET}/ground-truth/credit/"


def test_a_trial_of_a_few_hours_gives_each_variants_hour_folders(settings: Settings) -> None:
    request = request_for(settings)  # 08:40 to 10:40

    for variant in VARIANTS:
        assert captured(request, variant) == [f"{CAPTURE}/{variant}/2026/12/07/{hour}/" for hour in ("08", "09", "10")]
    assert local_paths(request)["/opt/ml/processing/capture/Challenger-v4/2"] == (
        f"{CAPTURE}/Challenger-v4/2026/12/07/10/"
    )
    assert len(request["ProcessingInputs"]) == 9


def test_a_trial_ending_on_the_hour_does_not_read_the_next_hour(settings: Settings) -> None:
    request = request_for(settings, step(**window("2026-12-07T08:00:00", 120)))

    assert captured(request, "AllTraffic") == [f"{CAPTURE}/AllTraffic/2026/12/07/{hour}/" for hour in ("08", "09")]


def test_a_longer_trial_gives_day_then_month_then_year_folders(settings: Settings) -> None:
    days = request_for(settings, step(**window("2026-12-07T20:00:00", 10 * 60)))
    months = request_for(settings, step(**window("2026-11-20T08:00:00", 20 * 24 * 60)))
    years = request_for(settings, step(**window("2026-06-01T00:00:00", 365 * 24 * 60)))

    assert captured(days, "AllTraffic") == [f"{CAPTURE}/AllTraffic/2026/12/07/", f"{CAPTURE}/AllTraffic/2026/12/08/"]
    assert captured(months, "Challenger-v4") == [
        f"{CAPTURE}/Challenger-v4/2026/11/",
        f"{CAPTURE}/Challenger-v4/2026/12/",
    ]
    assert captured(years, "AllTraffic") == [f"{CAPTURE}/AllTraffic/2026/", f"{CAPTURE}/AllTraffic/2027/"]


def test_a_trial_over_more_years_than_fit_reads_each_variants_whole_folder(settings: Settings) -> None:
    request = request_for(settings, step(**window("2026-06-01T00:00:00", 5 * 365 * 24 * 60)))

    assert captured(request, "AllTraffic") == [f"{CAPTURE}/AllTraffic/"]
    assert captured(request, "Challenger-v4") == [f"{CAPTURE}/Challenger-v4/"]


MINUTES = [1, 59, 61, 179, 181, 24 * 60, 3 * 24 * 60, 4 * 24 * 60, 45 * 24 * 60, 800 * 24 * 60]
"""Trials of a minute to over two years: hour, day, month and year folders."""


@pytest.mark.parametrize("minutes", MINUTES)
@pytest.mark.parametrize("start", ["2026-12-07T08:40:00", "2026-12-31T23:59:59", "2028-02-28T22:00:00"])
def test_every_hour_of_any_trial_is_covered_within_ten_inputs(settings: Settings, start: str, minutes: int) -> None:
    request = request_for(settings, step(**window(start, minutes)))
    begin = datetime.fromisoformat(start).replace(tzinfo=UTC)

    assert len(request["ProcessingInputs"]) <= 10
    for variant in VARIANTS:
        prefixes = captured(request, variant)
        hour = begin.replace(minute=0, second=0)
        while hour < begin + timedelta(minutes=minutes):
            folder = f"{CAPTURE}/{variant}/{hour:%Y/%m/%d/%H}/"
            assert sum(folder.startswith(prefix) for prefix in prefixes) == 1, (variant, folder, prefixes)
            hour += timedelta(hours=1)
        assert not any(prefix.startswith(f"{CAPTURE}/{variant}/{hour:%Y/%m/%d/%H}") for prefix in prefixes)


def test_prefixes_holding_no_object_are_left_out(settings: Settings) -> None:
    empty = {f"s3://{DATA_BUCKET}/ground-truth/credit/", f"{CAPTURE}/Challenger-v4/2026/12/07/08/"}

    request = request_for(settings, empty=empty)

    paths = local_paths(request)
    assert not empty & set(paths.values())
    assert "/opt/ml/processing/labels" not in paths
    assert "/opt/ml/processing/capture/Challenger-v4/0" not in paths
    assert captured(request, "Challenger-v4") == [f"{CAPTURE}/Challenger-v4/2026/12/07/{h}/" for h in ("09", "10")]
    assert len({item["InputName"] for item in request["ProcessingInputs"]}) == len(request["ProcessingInputs"]) == 7
    assert_valid_create_processing_job(request)


def test_the_job_writes_its_decision_under_the_run(settings: Settings) -> None:
    [output] = request_for(settings)["ProcessingOutputConfig"]["Outputs"]

    assert output["OutputName"] == "trial"
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output"
    assert output["S3Output"]["S3Uri"] == f"s3://{settings.artifact_bucket}/runs/{EXECUTION}/trial/"


def test_the_arguments_are_the_trials_and_the_job_reads_them(settings: Settings) -> None:
    request = request_for(settings, step(mode="shadow", significance=0.01, min_labelled_rows=500))

    given = arguments(request)
    assert given == {
        "--challenger-variant": "Challenger-v4",
        "--champion-variant": "AllTraffic",
        "--mode": "shadow",
        "--significance": "0.01",
        "--min-labelled-rows": "500",
        "--start-time": "2026-12-07T08:40:00Z",
        "--end-time": "2026-12-07T10:40:00Z",
        "--endpoint-name": "driftline-credit",
        "--trial-name": "driftline-credit--trial-v4",
    }
    parsed = trial_analysis.parse_args(request["AppSpecification"]["ContainerArguments"])
    assert (parsed.challenger_variant, parsed.champion_variant) == ("Challenger-v4", "AllTraffic")
    assert parsed.mode == "shadow"
    assert (parsed.alpha, parsed.min_labelled_rows) == (0.01, 500)
    assert (parsed.start_time, parsed.end_time) == ("2026-12-07T08:40:00Z", "2026-12-07T10:40:00Z")
    assert str(parsed.capture_dir) == "/opt/ml/processing/capture"
    assert str(parsed.labels_dir) == "/opt/ml/processing/labels"
    assert str(parsed.config_dir) == "/opt/ml/processing/config"
    assert str(parsed.output_dir) == "/opt/ml/processing/output"


def test_an_empty_value_is_left_out_rather_than_passed_as_an_empty_argument(settings: Settings) -> None:
    analysis = step()
    analysis.deployment.endpoint_config_name = ""

    given = request_for(settings, analysis)["AppSpecification"]["ContainerArguments"]

    assert "--trial-name" not in given
    assert "" not in given


def test_a_trial_that_did_not_record_its_start_is_read_back_from_its_end_and_length() -> None:
    start, end = trial_window("", "2026-12-07T10:40:00Z", 120)

    assert (start, end) == (datetime(2026, 12, 7, 8, 40, tzinfo=UTC), datetime(2026, 12, 7, 10, 40, tzinfo=UTC))
    assert trial_window("2026-12-07T08:40:00+01:00", "", 60)[1] == datetime(2026, 12, 7, 8, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("started_at", "ends_at", "named"),
    [
        ("", "", "started_at and ends_at"),
        ("2026-12-07T10:40:00Z", "2026-12-07T08:40:00Z", "ends (2026-12-07T08:40:00Z) before it starts"),
        ("yesterday", "2026-12-07T08:40:00Z", "started_at 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_a_window_that_cannot_be_analysed_is_refused_naming_why(
    settings: Settings, started_at: str, ends_at: str, named: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        request_for(settings, step(started_at=started_at, ends_at=ends_at))


def test_a_deployment_without_a_trial_or_captures_is_refused(settings: Settings) -> None:
    no_trial = step()
    no_trial.deployment = DeploymentResult.model_validate(no_trial.deployment.model_dump() | {"trial": None})
    no_capture = step()
    no_capture.deployment.data_capture_uri = None

    with pytest.raises(ValueError, match="is not an A/B trial"):
        request_for(settings, no_trial)
    with pytest.raises(ValueError, match="captures no data"):
        request_for(settings, no_capture)
