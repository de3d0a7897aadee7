"""Local endpoints with several production variants and a shadow variant, as SageMaker serves them.

The same emulator, published code and models as the single-variant endpoint tests (their module's ``cloud``
fixture): ``good`` answers the test row ``yes`` and ``flipped`` answers it ``no``, so every answer tells which
model gave it. Everything is asked through boto3, as a user would: the variant that answered is the response's
``InvokedProductionVariant``.

Shares are checked with a binomial tolerance: ``SHARE_TOLERANCE`` is more than four standard deviations of the
share of ``SHARE_REQUESTS`` requests at any weight, so a correct split fails it about once in 30,000 runs.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from driftline.local import persistence
from driftline.local.endpoints.runner import SHADOW_BACKLOG
from driftline.local.settings import LocalSettings
from driftline_core.layout import capture_hour_prefix, data_capture_prefix
from tests.local import test_local_endpoints
from tests.local.test_local_endpoints import BUCKET, ROW, Cloud, _client, _metric_total, _model, _until, _wait

cloud = test_local_endpoints.cloud
"""The emulator, published code and models of the single-variant endpoint tests, started once for this module too."""

SHARE_REQUESTS = 2400
SHARE_TOLERANCE = 0.035
"""4.3 standard deviations of a share of 2,400 requests at weight 0.2 or 0.8 (3.5 at 0.5)."""
CLIENT_THREADS = 4
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
}
ANSWERS = {"good": "yes", "flipped": "no"}


def _variant(name: str, model_name: str, weight: float | None = None, instances: int = 1) -> dict[str, Any]:
    variant: dict[str, Any] = {
        "VariantName": name,
        "ModelName": model_name,
        "InitialInstanceCount": instances,
        "InstanceType": "ml.m5.large",
    }
    if weight is not None:
        variant["InitialVariantWeight"] = weight
    return variant


def _endpoint(
    cloud: Cloud,
    name: str,
    variants: list[dict[str, Any]],
    shadows: list[dict[str, Any]] | None = None,
    capture_prefix: str | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {"EndpointConfigName": f"{name}-config", "ProductionVariants": variants}
    if shadows:
        request["ShadowProductionVariants"] = shadows
    if capture_prefix is not None:
        request["DataCaptureConfig"] = {**CAPTURE, "DestinationS3Uri": f"s3://{BUCKET}/{capture_prefix}"}
    cloud.sagemaker.create_endpoint_config(**request)
    cloud.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    described = _wait(cloud, name, leaving="Creating")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return described


def _models(cloud: Cloud, prefix: str) -> dict[str, str]:
    """A champion serving ``good`` and a challenger serving ``flipped``, by role."""
    return {
        "champion": _model(cloud, f"{prefix}-good", "good"),
        "challenger": _model(cloud, f"{prefix}-flipped", "flipped"),
    }


class Traffic:
    """Clients on several threads, each with its own boto3 client, invoking an endpoint; what each request got."""

    def __init__(self, cloud: Cloud, endpoint: str, **invoke: Any) -> None:
        self.cloud, self.endpoint, self.invoke = cloud, endpoint, invoke
        self.answers: list[tuple[str, str]] = []
        """(variant that answered, label it answered), in order of arrival."""
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()

    def send(self, count: int) -> list[tuple[str, str]]:
        """``count`` requests from ``CLIENT_THREADS`` threads; what they got."""
        start = len(self.answers)
        shares = [count // CLIENT_THREADS + (i < count % CLIENT_THREADS) for i in range(CLIENT_THREADS)]
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            list(pool.map(lambda n: self._loop(lambda: True, countdown=n), shares))
        return self.answers[start:]

    def _loop(self, going: Callable[[], bool], countdown: int | None = None) -> None:
        runtime = _client("sagemaker-runtime", self.cloud.url)
        left = countdown
        while (left is None or left > 0) and going():
            try:
                answer = runtime.invoke_endpoint(
                    EndpointName=self.endpoint, Body=ROW, ContentType="text/csv", Accept="text/csv", **self.invoke
                )
                got = (answer["InvokedProductionVariant"], answer["Body"].read().decode().split(",")[0])
                with self._lock:
                    self.answers.append(got)
            except BaseException as error:
                with self._lock:
                    self.failures.append(error)
            if left is not None:
                left -= 1

    def background(self, stop: threading.Event) -> list[threading.Thread]:
        """Threads invoking until ``stop`` is set."""
        threads = [
            threading.Thread(target=self._loop, args=(lambda: not stop.is_set(),)) for _ in range(CLIENT_THREADS)
        ]
        for thread in threads:
            thread.start()
        return threads


def _share(answers: list[tuple[str, str]], variant: str) -> float:
    return sum(1 for got, _ in answers if got == variant) / len(answers)


def _captured(cloud: Cloud, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Captured records under ``prefix`` (``<destination>/<endpoint>``), by the variant folder they were written to."""
    records: dict[str, list[dict[str, Any]]] = {}
    listed = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/").get("Contents", [])
    for item in listed:
        variant = item["Key"][len(prefix) + 1 :].split("/")[0]
        body = cloud.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
        records.setdefault(variant, []).extend(json.loads(line) for line in body.splitlines())
    return records


# -- routing by weight and by TargetVariant ------------------------------------------------------------------------


def test_requests_split_between_variants_by_weight_each_answered_counted_and_captured_by_its_own_variant(
    cloud: Cloud,
) -> None:
    models = _models(cloud, "split")
    described = _endpoint(
        cloud,
        "split",
        [_variant("Champion", models["champion"], 0.8), _variant("Challenger", models["challenger"], 0.2, instances=2)],
        capture_prefix="capture-split",
    )

    answers = Traffic(cloud, "split").send(SHARE_REQUESTS)
    cloud.runner.flush_captures()
    cloud.runner.publish_metrics(before=time.time() + 60)

    assert len(answers) == SHARE_REQUESTS
    assert abs(_share(answers, "Challenger") - 0.2) <= SHARE_TOLERANCE
    assert set(answers) == {("Champion", "yes"), ("Challenger", "no")}  # each variant answers with its own model
    routed = Counter(variant for variant, _ in answers)
    captured = _captured(cloud, "capture-split/split")
    assert {variant: len(records) for variant, records in captured.items()} == routed
    assert {r["captureData"]["endpointOutput"]["data"].split(",")[0] for r in captured["Challenger"]} == {"no"}
    for variant in ("Champion", "Challenger"):
        assert _metric_total(cloud, "split", variant, "Invocations") == routed[variant]
        assert _metric_total(cloud, "split", variant, "ModelLatency", "SampleCount") == routed[variant]
    assert _metric_total(cloud, "split", "Challenger", "InvocationsPerInstance") == pytest.approx(
        routed["Challenger"] / 2
    )
    assert [
        (v["VariantName"], v["CurrentWeight"], v["DesiredWeight"], v["CurrentInstanceCount"], v["DesiredInstanceCount"])
        for v in described["ProductionVariants"]
    ] == [("Champion", 0.8, 0.8, 1, 1), ("Challenger", 0.2, 0.2, 2, 2)]


def test_target_variant_reaches_a_variant_of_weight_zero_and_an_unknown_one_is_a_validation_error(
    cloud: Cloud,
) -> None:
    models = _models(cloud, "targeted")
    described = _endpoint(
        cloud, "targeted", [_variant("Champion", models["champion"]), _variant("Challenger", models["challenger"], 0)]
    )
    config = cloud.sagemaker.describe_endpoint_config(EndpointConfigName="targeted-config")

    untargeted = Traffic(cloud, "targeted").send(40)
    targeted = Traffic(cloud, "targeted", TargetVariant="Challenger").send(40)
    with pytest.raises(ClientError) as raised:
        cloud.runtime.invoke_endpoint(EndpointName="targeted", Body=ROW, ContentType="text/csv", TargetVariant="Nope")

    assert set(untargeted) == {("Champion", "yes")}  # weight 0: no share of the untargeted requests
    assert set(targeted) == {("Challenger", "no")}
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ValidationError", 400)
    assert "TargetVariant Nope" in error["Error"]["Message"] and "Champion, Challenger" in error["Error"]["Message"]
    # InitialVariantWeight left out is 1.0, as the API reference says; 0 stays 0.
    assert [(v["VariantName"], v["CurrentWeight"]) for v in described["ProductionVariants"]] == [
        ("Champion", 1.0),
        ("Challenger", 0.0),
    ]
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["Champion", "Challenger"]
    assert "ShadowProductionVariants" not in described and "ShadowProductionVariants" not in config


# -- shadow variants -----------------------------------------------------------------------------------------------


def test_a_shadow_variant_answers_copies_of_every_request_captured_and_counted_but_never_returned(cloud: Cloud) -> None:
    models = _models(cloud, "shadowed")
    described = _endpoint(
        cloud,
        "shadowed",
        [_variant("AllTraffic", models["champion"], 1)],
        shadows=[_variant("Shadow", models["challenger"], 1)],
        capture_prefix=data_capture_prefix("shadowed").rstrip("/"),  # where the drift monitor reads them
    )
    config = cloud.sagemaker.describe_endpoint_config(EndpointConfigName="shadowed-config")

    answers = [
        cloud.runtime.invoke_endpoint(
            EndpointName="shadowed", Body=ROW, ContentType="text/csv", Accept="text/csv", InferenceId=f"request-{i}"
        )
        for i in range(12)
    ]
    cloud.runner.flush_captures()
    cloud.runner.publish_metrics(before=time.time() + 60)

    assert {(a["InvokedProductionVariant"], a["Body"].read().decode().split(",")[0]) for a in answers} == {
        ("AllTraffic", "yes")
    }
    captured = _captured(cloud, f"{data_capture_prefix('shadowed')}shadowed")
    assert sorted(captured) == ["AllTraffic", "Shadow"]
    for variant in captured:  # in the hour folders the drift monitor lists, as SageMaker writes them
        hour = datetime.strptime(captured[variant][0]["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
        folder = capture_hour_prefix("shadowed", "shadowed", variant, hour)
        assert cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix=folder)["KeyCount"] >= 1
    for variant, label in (("AllTraffic", "yes"), ("Shadow", "no")):
        records = captured[variant]
        assert sorted(r["eventMetadata"]["inferenceId"] for r in records) == sorted(f"request-{i}" for i in range(12))
        assert {r["captureData"]["endpointOutput"]["data"].split(",")[0] for r in records} == {label}
        assert all(r["captureData"]["endpointInput"]["data"] == ROW for r in records)
        assert _metric_total(cloud, "shadowed", variant, "Invocations") == 12
    event_ids = [r["eventMetadata"]["eventId"] for records in captured.values() for r in records]
    assert len(set(event_ids)) == 24
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["Shadow"]
    assert described["ShadowProductionVariants"][0]["CurrentWeight"] == 1.0
    assert [v["VariantName"] for v in config["ShadowProductionVariants"]] == ["Shadow"]
    with pytest.raises(ClientError, match="Shadow is its shadow variant"):
        cloud.runtime.invoke_endpoint(EndpointName="shadowed", Body=ROW, ContentType="text/csv", TargetVariant="Shadow")


def test_a_shadow_gets_the_share_its_weight_over_the_production_weight_sets_and_its_failures_never_reach_callers(
    cloud: Cloud,
) -> None:
    models = _models(cloud, "sampled")
    _endpoint(
        cloud,
        "sampled",
        [_variant("AllTraffic", models["champion"], 2)],
        shadows=[_variant("Shadow", models["challenger"], 0.5)],
    )

    answers = Traffic(cloud, "sampled").send(600)
    cloud.runner.publish_metrics(before=time.time() + 60)
    copied = _metric_total(cloud, "sampled", "Shadow", "Invocations")
    shadow = cloud.runner.endpoints["sampled"].servers()["Shadow"]
    shadow.process.kill()
    shadow.process.wait()
    after_crash = Traffic(cloud, "sampled").send(200)
    cloud.runner.publish_metrics(before=time.time() + 60)

    # 0.5 / 2: a quarter of the requests is copied; 0.1 is 5.7 standard deviations of 600 requests at 0.25.
    assert abs(copied / 600 - 0.25) <= 0.1
    assert set(answers) | set(after_crash) == {("AllTraffic", "yes")}
    assert len(after_crash) == 200
    errors = _metric_total(cloud, "sampled", "Shadow", "Invocation5XXErrors")
    assert errors == _metric_total(cloud, "sampled", "Shadow", "Invocations") - copied > 0
    assert _metric_total(cloud, "sampled", "AllTraffic", "Invocation5XXErrors") == 0


def test_a_shadow_that_hangs_holds_a_bounded_backlog_of_copies_and_callers_are_answered_meanwhile(cloud: Cloud) -> None:
    models = _models(cloud, "hanging")
    _endpoint(
        cloud,
        "hanging",
        [_variant("AllTraffic", models["champion"], 1)],
        shadows=[_variant("Shadow", models["challenger"], 1)],  # weight 1 and 1: every request is copied
    )
    shadow = cloud.runner.endpoints["hanging"].servers()["Shadow"]
    requests = SHADOW_BACKLOG + 20

    os.kill(shadow.process.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        started = time.monotonic()
        answers = Traffic(cloud, "hanging").send(requests)
        elapsed = time.monotonic() - started
        unanswered = shadow.in_flight
    finally:
        os.kill(shadow.process.pid, signal.SIGCONT)
    answered_late = cloud.runner.wait_for_shadow_copies(timeout=30)
    cloud.runner.publish_metrics(before=time.time() + 60)

    assert answers == [("AllTraffic", "yes")] * requests
    assert elapsed < 30  # far from the 60 seconds a copy waits for the hanging shadow
    assert unanswered == SHADOW_BACKLOG  # the copies past the backlog were not sent, nor queued
    assert answered_late
    assert _metric_total(cloud, "hanging", "Shadow", "Invocations") == SHADOW_BACKLOG
    assert _metric_total(cloud, "hanging", "AllTraffic", "Invocations") == requests


def test_endpoint_configs_refuse_shadows_beside_several_variants_repeated_names_and_missing_models(
    cloud: Cloud,
) -> None:
    models = _models(cloud, "refused")
    champion, challenger = _variant("A", models["champion"]), _variant("B", models["challenger"])

    refusals: dict[str, Any] = {}
    for label, request in {
        "two production variants": {
            "ProductionVariants": [champion, challenger],
            "ShadowProductionVariants": [_variant("S", models["challenger"])],
        },
        "two shadows": {
            "ProductionVariants": [champion],
            "ShadowProductionVariants": [_variant("S", models["challenger"]), _variant("T", models["challenger"])],
        },
        "repeated name": {"ProductionVariants": [champion, _variant("A", models["challenger"])]},
        "shadow repeats a name": {
            "ProductionVariants": [champion],
            "ShadowProductionVariants": [_variant("A", models["challenger"])],
        },
        "missing shadow model": {
            "ProductionVariants": [champion],
            "ShadowProductionVariants": [_variant("S", "no-such-model")],
        },
    }.items():
        with pytest.raises(ClientError) as raised:
            cloud.sagemaker.create_endpoint_config(EndpointConfigName=f"refused-{len(refusals)}", **request)
        refusals[label] = dict(raised.value.response["Error"])

    assert {error["Code"] for error in refusals.values()} == {"ValidationException"}
    assert (
        "one variant for ProductionVariants and one variant for ShadowProductionVariants"
        in (refusals["two production variants"]["Message"])
    )
    assert "1 production variant and 2 shadow variants" in refusals["two shadows"]["Message"]
    assert 'The variant name "A" is used more than once' in refusals["repeated name"]["Message"]
    assert 'The variant name "A" is used more than once' in refusals["shadow repeats a name"]["Message"]
    assert "model/no-such-model" in refusals["missing shadow model"]["Message"]
    listed = cloud.sagemaker.list_endpoint_configs(NameContains="refused-")["EndpointConfigs"]
    assert listed == []  # nothing refused was kept


# -- UpdateEndpointWeightsAndCapacities ------------------------------------------------------------------------------


@pytest.fixture
def state_changes(cloud: Cloud) -> Iterator[Callable[[str], list[tuple[str, list[float]]]]]:
    """Each "SageMaker Endpoint State Change" event of an endpoint, as EventBridge delivers it to a queue."""
    sqs, events = _client("sqs", cloud.url), _client("events", cloud.url)
    queue = sqs.create_queue(QueueName="endpoint-state-changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="endpoint-state-changes",
        EventPattern=json.dumps({"source": ["aws.sagemaker"], "detail-type": ["SageMaker Endpoint State Change"]}),
    )
    events.put_targets(Rule="endpoint-state-changes", Targets=[{"Id": "queue", "Arn": arn}])
    seen: list[dict[str, Any]] = []

    def of(endpoint: str) -> list[tuple[str, list[float]]]:
        while True:
            received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not received:
                break
            seen.extend(json.loads(message["Body"])["detail"] for message in received)
        return [
            (detail["EndpointStatus"], [v["DesiredWeight"] for v in detail["ProductionVariants"]])
            for detail in seen
            if detail["EndpointName"] == endpoint
        ]

    try:
        yield of
    finally:
        events.remove_targets(Rule="endpoint-state-changes", Ids=["queue"])
        events.delete_rule(Name="endpoint-state-changes")
        sqs.delete_queue(QueueUrl=queue)


def test_new_weights_take_over_while_clients_invoke_from_several_threads_without_a_failed_request(
    cloud: Cloud, state_changes: Callable[[str], list[tuple[str, list[float]]]]
) -> None:
    models = _models(cloud, "reweighed")
    _endpoint(
        cloud, "reweighed", [_variant("Champion", models["champion"]), _variant("Challenger", models["challenger"])]
    )
    traffic = Traffic(cloud, "reweighed")
    stop = threading.Event()
    clients = traffic.background(stop)
    try:
        _until("answers before the change", lambda: len(traffic.answers) >= 100)
        cloud.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName="reweighed",
            DesiredWeightsAndCapacities=[
                {"VariantName": "Champion", "DesiredWeight": 1},
                {"VariantName": "Challenger", "DesiredWeight": 3, "DesiredInstanceCount": 2},
            ],
        )
        described = _wait(cloud, "reweighed", leaving="Updating")
        changed = len(traffic.answers)
        _until("answers after the change", lambda: len(traffic.answers) >= changed + 100)
    finally:
        stop.set()
        for client in clients:
            client.join()
    afterwards = traffic.send(1200)

    assert traffic.failures == []
    assert described["EndpointStatus"] == "InService" and "FailureReason" not in described
    assert abs(_share(afterwards, "Challenger") - 0.75) <= 0.05  # 4 standard deviations of 1,200 requests at 0.75
    assert [
        (v["VariantName"], v["CurrentWeight"], v["DesiredWeight"], v["CurrentInstanceCount"], v["DesiredInstanceCount"])
        for v in described["ProductionVariants"]
    ] == [("Champion", 1.0, 1.0, 1, 1), ("Challenger", 3.0, 3.0, 2, 2)]
    assert state_changes("reweighed")[-3:] == [
        ("IN_SERVICE", [1.0, 1.0]),
        ("UPDATING", [1.0, 3.0]),
        ("IN_SERVICE", [1.0, 3.0]),
    ]


def test_weight_updates_are_refused_as_sagemaker_refuses_them(cloud: Cloud) -> None:
    models = _models(cloud, "guarded-weights")
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName="guarded-weights-config", ProductionVariants=[_variant("AllTraffic", models["champion"])]
    )
    cloud.sagemaker.create_endpoint(EndpointName="guarded-weights", EndpointConfigName="guarded-weights-config")

    def refusal(endpoint: str, *desired: dict[str, Any]) -> dict[str, Any]:
        with pytest.raises(ClientError) as raised:
            cloud.sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=endpoint, DesiredWeightsAndCapacities=list(desired)
            )
        return dict(raised.value.response["Error"])

    creating = refusal("guarded-weights", {"VariantName": "AllTraffic", "DesiredWeight": 2})
    _wait(cloud, "guarded-weights", leaving="Creating")
    unknown = refusal("guarded-weights", {"VariantName": "Challenger", "DesiredWeight": 2})
    twice = refusal(
        "guarded-weights",
        {"VariantName": "AllTraffic", "DesiredWeight": 2},
        {"VariantName": "AllTraffic", "DesiredWeight": 3},
    )
    empty = refusal("guarded-weights", {"VariantName": "AllTraffic"})
    missing = refusal("nowhere", {"VariantName": "AllTraffic", "DesiredWeight": 2})

    assert {e["Code"] for e in (creating, unknown, twice, empty, missing)} == {"ValidationException"}
    assert "Cannot update in-progress endpoint" in creating["Message"] and "it is Creating" in creating["Message"]
    assert unknown["Message"] == (
        'The variant name(s) "Challenger" is/are not present within endpoint configuration "guarded-weights-config".'
    )
    assert twice["Message"] == 'The variant name "AllTraffic" was non-unique within the request.'
    assert "neither DesiredWeight nor DesiredInstanceCount" in empty["Message"]
    assert "endpoint/nowhere" in missing["Message"]
    described = cloud.sagemaker.describe_endpoint(EndpointName="guarded-weights")
    assert (described["EndpointStatus"], described["ProductionVariants"][0]["CurrentWeight"]) == ("InService", 1.0)


# -- UpdateEndpoint between one and two variants ---------------------------------------------------------------------


def test_a_challenger_joins_and_leaves_by_update_endpoint_without_a_failed_request(cloud: Cloud) -> None:
    models = _models(cloud, "joined")
    _endpoint(cloud, "joined", [_variant("AllTraffic", models["champion"])])
    cloud.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="joined",
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 3, "DesiredInstanceCount": 2}],
    )
    _wait(cloud, "joined", leaving="Updating")
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName="joined-ab",
        ProductionVariants=[
            _variant("AllTraffic", models["champion"], 1),
            _variant("Challenger", models["challenger"], 1),
        ],
    )
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName="joined-back", ProductionVariants=[_variant("AllTraffic", models["champion"])]
    )
    traffic = Traffic(cloud, "joined")
    stop = threading.Event()
    clients = traffic.background(stop)
    try:
        _until("answers before the update", lambda: len(traffic.answers) >= 50)
        cloud.sagemaker.update_endpoint(
            EndpointName="joined",
            EndpointConfigName="joined-ab",
            RetainAllVariantProperties=True,
            ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredInstanceCount"}],
        )
        pending = cloud.sagemaker.describe_endpoint(EndpointName="joined")
        with_challenger = _wait(cloud, "joined", leaving="Updating")
        _until("the challenger answering", lambda: ("Challenger", "no") in traffic.answers[-50:])
        cloud.sagemaker.update_endpoint(EndpointName="joined", EndpointConfigName="joined-back")
        back = _wait(cloud, "joined", leaving="Updating")
        done = len(traffic.answers)
        _until("answers after the challenger left", lambda: len(traffic.answers) >= done + 100)
    finally:
        stop.set()
        for client in clients:
            client.join()

    assert traffic.failures == []
    assert pending["EndpointStatus"] == "Updating"
    assert pending["PendingDeploymentSummary"]["EndpointConfigName"] == "joined-ab"
    assert [v["VariantName"] for v in pending["PendingDeploymentSummary"]["ProductionVariants"]] == [
        "AllTraffic",
        "Challenger",
    ]
    assert (with_challenger["EndpointConfigName"], "FailureReason" in with_challenger) == ("joined-ab", False)
    # RetainAllVariantProperties: AllTraffic keeps its weight 3, not its instance count (excluded from retaining).
    assert [
        (v["VariantName"], v["CurrentWeight"], v["CurrentInstanceCount"]) for v in with_challenger["ProductionVariants"]
    ] == [("AllTraffic", 3.0, 1), ("Challenger", 1.0, 1)]
    assert "PendingDeploymentSummary" not in with_challenger
    assert (back["EndpointConfigName"], [v["VariantName"] for v in back["ProductionVariants"]]) == (
        "joined-back",
        ["AllTraffic"],
    )
    assert set(traffic.answers[-50:]) == {("AllTraffic", "yes")}
    assert set(traffic.answers) == {("AllTraffic", "yes"), ("Challenger", "no")}


def test_a_challenger_that_does_not_load_leaves_the_previous_config_serving_with_the_reason(cloud: Cloud) -> None:
    champion = _model(cloud, "unloaded-good", "good")
    _endpoint(cloud, "unloaded", [_variant("AllTraffic", champion)])
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName="unloaded-ab",
        ProductionVariants=[
            _variant("AllTraffic", champion),
            _variant("Challenger", _model(cloud, "unloaded-broken", "broken")),
        ],
    )
    traffic = Traffic(cloud, "unloaded")
    stop = threading.Event()
    clients = traffic.background(stop)
    try:
        cloud.sagemaker.update_endpoint(EndpointName="unloaded", EndpointConfigName="unloaded-ab")
        described = _wait(cloud, "unloaded", leaving="Updating")
        done = len(traffic.answers)
        _until("answers after the failed update", lambda: len(traffic.answers) >= done + 20)
    finally:
        stop.set()
        for client in clients:
            client.join()

    assert traffic.failures == []
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "unloaded-config")
    assert "Update to unloaded-ab failed: production variant Challenger:" in described["FailureReason"]
    assert "did not load" in described["FailureReason"] and "AllTraffic" not in described["FailureReason"]
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["AllTraffic"]
    assert set(traffic.answers) == {("AllTraffic", "yes")}
    assert sorted(cloud.runner.endpoints["unloaded"].servers()) == ["AllTraffic"]


# -- restoring local mode's saved state -----------------------------------------------------------------------------


def test_a_restored_state_serves_every_variant_again_with_the_weights_it_had(cloud: Cloud, tmp_path: Path) -> None:
    from moto.sagemaker.models import sagemaker_backends

    from driftline.local.endpoints.seam import model_resolver
    from driftline.local.settings import ACCOUNT_ID

    models = _models(cloud, "kept")
    _endpoint(
        cloud, "kept-ab", [_variant("Champion", models["champion"]), _variant("Challenger", models["challenger"])]
    )
    _endpoint(
        cloud,
        "kept-shadowed",
        [_variant("AllTraffic", models["champion"])],
        shadows=[_variant("Shadow", models["challenger"])],
    )
    for name, variant, weight in (("kept-ab", "Champion", 0), ("kept-shadowed", "Shadow", 0.5)):
        cloud.sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=name, DesiredWeightsAndCapacities=[{"VariantName": variant, "DesiredWeight": weight}]
        )
    before = {name: _wait(cloud, name, leaving="Updating") for name in ("kept-ab", "kept-shadowed")}
    old = [server.process for name in before for server in cloud.runner.endpoints[name].servers().values()]
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n")
    settings = LocalSettings(state_dir=tmp_path / "state", template=template)

    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    for name in before:  # local mode stops: the endpoints' servers stop with it
        cloud.runner.delete(name)
    saved, _ = persistence.examine(settings)
    assert saved is not None
    persistence.restore(saved)
    backend = sagemaker_backends[ACCOUNT_ID]["us-east-1"]
    for name in before:  # as local mode serves each restored endpoint again
        fake = backend.endpoints[name]
        config = backend.describe_endpoint_config(fake.endpoint_config_name)
        assert cloud.runner.restore(
            fake, {**config, "EndpointConfigName": fake.endpoint_config_name}, model_resolver(backend)
        )
    cloud.runner.wait()
    after = {name: cloud.sagemaker.describe_endpoint(EndpointName=name) for name in before}
    untargeted = Traffic(cloud, "kept-ab").send(40)
    targeted = Traffic(cloud, "kept-ab", TargetVariant="Champion").send(4)

    assert all(process.wait(timeout=10) is not None for process in old)
    restarted = {name: cloud.runner.endpoints[name].servers() for name in before}
    assert {name: sorted(servers) for name, servers in restarted.items()} == {
        "kept-ab": ["Challenger", "Champion"],
        "kept-shadowed": ["AllTraffic", "Shadow"],
    }
    assert all(server.process.poll() is None for servers in restarted.values() for server in servers.values())
    for name in before:
        assert after[name]["EndpointStatus"] == "InService"
        assert after[name]["ProductionVariants"] == before[name]["ProductionVariants"]
    assert after["kept-shadowed"]["ShadowProductionVariants"] == before["kept-shadowed"]["ShadowProductionVariants"]
    assert after["kept-shadowed"]["ShadowProductionVariants"][0]["CurrentWeight"] == 0.5
    assert set(untargeted) == {("Challenger", "no")}  # Champion's weight 0 came back with it
    assert targeted == [("Champion", "yes")] * 4
