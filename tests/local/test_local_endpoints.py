"""Local endpoints: SageMaker's endpoint API backed by local servers running the model's ml/ serving code.

One emulator for the module (the same guarded server local mode runs), the application's ml/ code published
to it as at deploy time, and models trained by the real preprocessing and training scripts.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from driftline.local import endpoints, request_constraints, seams
from tests.serving_model import endpoint_emulator

REGION = "us-east-1"
BUCKET = "artifacts"
CAPTURE_URI = f"s3://{BUCKET}/capture"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROW = "1.5,0.3,red"
"""A row the first model answers ``yes`` and the flipped one ``no``."""


@dataclass
class Cloud:
    url: str
    runner: endpoints.EndpointRunner
    sagemaker: Any
    runtime: Any
    s3: Any
    code_uri: str
    code_version: str
    models: dict[str, str]


def _client(service: str, url: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=url, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with endpoint_emulator(tmp_path_factory.mktemp("endpoints"), BUCKET) as emulator:
        models = dict(emulator.models)
        broken = _tarball({"model.joblib": b"not a pickle"})
        emulator.s3.put_object(Bucket=BUCKET, Key="models/broken/model.tar.gz", Body=broken)
        models["broken"] = f"s3://{BUCKET}/models/broken/model.tar.gz"
        yield Cloud(
            url=emulator.url,
            runner=emulator.runner,
            sagemaker=emulator.client("sagemaker"),
            runtime=emulator.client("sagemaker-runtime"),
            s3=emulator.s3,
            code_uri=emulator.code_uri,
            code_version=emulator.code_version,
            models=models,
        )


def _tarball(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def _model(cloud: Cloud, name: str, model: str, submit_dir: str | None = None) -> str:
    cloud.sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": cloud.models[model],
            "Environment": {
                "SAGEMAKER_PROGRAM": "serve.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": submit_dir or f"{cloud.code_uri}sourcedir.tar.gz",
            },
        },
    )
    return name


def _config(cloud: Cloud, name: str, model_name: str, capture: dict[str, Any] | None = None) -> str:
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    }
    if capture is not None:
        request["DataCaptureConfig"] = capture
    cloud.sagemaker.create_endpoint_config(**request)
    return name


def _wait(cloud: Cloud, endpoint: str, *, leaving: str) -> dict[str, Any]:
    deadline = time.time() + 120
    while time.time() < deadline:
        described: dict[str, Any] = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] != leaving:
            return described
        time.sleep(0.1)
    raise AssertionError(f"{endpoint} stayed {leaving}")


def _until(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def _endpoint(cloud: Cloud, name: str, model: str = "good", capture: dict[str, Any] | None = None) -> dict[str, Any]:
    _config(cloud, f"{name}-config", _model(cloud, f"{name}-model", model), capture)
    cloud.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    return _wait(cloud, name, leaving="Creating")


def _invoke(
    cloud: Cloud,
    endpoint: str,
    body: str,
    content_type: str = "text/csv",
    accept: str = "text/csv",
    runtime: Any = None,
) -> str:
    runtime = runtime or cloud.runtime
    answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type, Accept=accept)
    return str(answer["Body"].read().decode())


def _metric_total(cloud: Cloud, endpoint: str, variant: str, metric: str, statistic: str = "Sum") -> float:
    """A variant's metric statistic summed over every datapoint published in the last and next ten minutes."""
    points = _client("cloudwatch", cloud.url).get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 600,
        Period=60,
        Statistics=[statistic],
    )["Datapoints"]
    return float(sum(point[statistic] for point in points))


def test_created_endpoint_goes_in_service_and_answers_through_sagemaker_runtime(cloud: Cloud) -> None:
    _config(cloud, "answers-config", _model(cloud, "answers-model", "good"))
    cloud.sagemaker.create_endpoint(EndpointName="answers", EndpointConfigName="answers-config")
    assert cloud.sagemaker.describe_endpoint(EndpointName="answers")["EndpointStatus"] == "Creating"

    assert _wait(cloud, "answers", leaving="Creating")["EndpointStatus"] == "InService"
    answer = cloud.runtime.invoke_endpoint(EndpointName="answers", Body=ROW, ContentType="text/csv", Accept="text/csv")
    label, *probabilities = answer["Body"].read().decode().strip().split(",")
    assert label == "yes" and float(probabilities[1]) > 0.5
    assert answer["ContentType"] == "text/csv"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    as_json = json.loads(_invoke(cloud, "answers", '{"instances": [{"x1": -2, "x2": 0, "color": "blue"}]}', JSON, JSON))
    assert as_json["predictions"][0]["predicted_label"] == "no"


JSON = "application/json"


def test_a_request_the_model_cannot_read_is_a_model_error_with_the_servers_status_and_reason(cloud: Cloud) -> None:
    _endpoint(cloud, "refuses")

    with pytest.raises(ClientError) as raised:
        cloud.runtime.invoke_endpoint(EndpointName="refuses", Body="1.5,0.3", ContentType="text/csv")

    error: dict[str, Any] = dict(raised.value.response)
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "has 2 values but the model takes 3 features (x1, x2, color)" in error["OriginalMessage"]
    assert "Received client error (400)" in error["Error"]["Message"]


def test_a_body_that_is_not_utf8_reaches_the_model_byte_for_byte_and_the_model_says_what_it_cannot_read(
    cloud: Cloud,
) -> None:
    _endpoint(cloud, "latin")

    with pytest.raises(ClientError) as raised:
        cloud.runtime.invoke_endpoint(
            EndpointName="latin", Body="1.5,0.3,rouge vif é".encode("latin-1"), ContentType="text/csv"
        )

    error: dict[str, Any] = dict(raised.value.response)
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    # The model read the very bytes sent: the Latin-1 "é", 0xe9, at position 18.
    assert "the request body is not UTF-8 text" in error["OriginalMessage"]
    assert "byte 0xe9 in position 18" in error["OriginalMessage"]


def test_invoking_an_endpoint_that_does_not_exist_is_a_validation_error(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as raised:
        cloud.runtime.invoke_endpoint(EndpointName="nowhere", Body=ROW, ContentType="text/csv")

    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint nowhere of account 123456789012 not found" in raised.value.response["Error"]["Message"]


def test_captured_invocations_are_written_in_sagemakers_format_and_key_layout(cloud: Cloud) -> None:
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": CAPTURE_URI,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": [JSON]},
    }
    _endpoint(cloud, "captured", capture=capture)
    answers = [_invoke(cloud, "captured", ROW) for _ in range(3)]
    _invoke(cloud, "captured", '{"instances": [[1.5, 0.3, "red"]]}', JSON, JSON)

    cloud.runner.flush_captures()

    keys = [o["Key"] for o in cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix="capture/captured/")["Contents"]]
    assert keys and all(
        re.fullmatch(r"capture/captured/AllTraffic/\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl", k)
        for k in keys
    )
    lines = [
        json.loads(line)
        for key in keys
        for line in cloud.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    ]
    assert len(lines) == 4
    first = lines[0]
    assert first["eventVersion"] == "0"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", first["eventMetadata"]["inferenceTime"])
    assert len({line["eventMetadata"]["eventId"] for line in lines}) == 4
    assert first["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": ROW,
        "encoding": "CSV",
    }
    assert first["captureData"]["endpointOutput"] == {
        "observedContentType": "text/csv",
        "mode": "OUTPUT",
        "data": answers[0],
        "encoding": "CSV",
    }
    assert lines[3]["captureData"]["endpointInput"]["encoding"] == "JSON"
    summary = cloud.sagemaker.describe_endpoint(EndpointName="captured")["DataCaptureConfig"]
    assert summary["CaptureStatus"] == "Started" and summary["CurrentSamplingPercentage"] == 100
    assert summary["DestinationS3Uri"] == CAPTURE_URI


def test_capture_honours_the_sampling_percentage_and_capture_options(cloud: Cloud) -> None:
    base = {"EnableCapture": True, "DestinationS3Uri": f"{CAPTURE_URI}-options", "CaptureContentTypeHeader": {}}
    _endpoint(
        cloud,
        "unsampled",
        capture={**base, "InitialSamplingPercentage": 0, "CaptureOptions": [{"CaptureMode": "Input"}]},
    )
    _endpoint(
        cloud,
        "inputs",
        capture={**base, "InitialSamplingPercentage": 100, "CaptureOptions": [{"CaptureMode": "Input"}]},
    )
    for name in ("unsampled", "inputs"):
        for _ in range(5):
            _invoke(cloud, name, ROW)

    cloud.runner.flush_captures()

    listed = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix="capture-options/")["Contents"]
    assert {o["Key"].split("/")[1] for o in listed} == {"inputs"}
    records = [
        json.loads(x) for o in listed for x in cloud.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].iter_lines()
    ]
    assert len(records) == 5
    assert all(set(r["captureData"]) == {"endpointInput"} for r in records)
    # No content types configured: SageMaker base64-encodes what it captures.
    assert records[0]["captureData"]["endpointInput"]["encoding"] == "BASE64"


def test_invocations_sagemaker_refuses_are_refused_and_any_inference_id_it_accepts_is_captured_as_one_record(
    cloud: Cloud,
) -> None:
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"{CAPTURE_URI}-hostile",
        "CaptureOptions": [{"CaptureMode": "Input"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    _endpoint(cloud, "hostile", capture=capture)
    # The longest InferenceId SageMaker takes (64 printable ASCII characters), written to look like JSON lines.
    tricky_id = ('x"}}\\n{"eventMetadata":{"inferenceId":"forged"}}\\' + "}" * 64)[:64]
    refused: dict[str, tuple[int, str]] = {}
    requests: dict[str, dict[str, Any]] = {
        "InferenceId too long": {"InferenceId": "x" * 65},
        "InferenceId not printable ASCII": {"InferenceId": "caf\u00e9"},
        "TargetVariant with a path separator": {"TargetVariant": "../AllTraffic"},
        "TargetVariant too long": {"TargetVariant": "A" * 64},
        "TargetVariant not ASCII": {"TargetVariant": "AllTr\u00e4ffic"},
        "Body over 6 MB": {"Body": b"1" * (6 * 1024 * 1024 + 1)},
    }
    checked_already = seams.claimed(request_constraints.PATCH_GROUP)
    request_constraints.install()  # as local mode checks every request against the service models
    try:
        for label, request in requests.items():
            with pytest.raises(ClientError) as raised:
                cloud.runtime.invoke_endpoint(
                    EndpointName="hostile", ContentType="text/csv", **{"Body": ROW, **request}
                )
            error = raised.value.response
            refused[label] = (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Message"])
            # The runtime's own error: a caller's `except runtime.exceptions.ValidationError` catches it.
            assert isinstance(raised.value, cloud.runtime.exceptions.ValidationError), (label, error["Error"])
        accepted = cloud.runtime.invoke_endpoint(
            EndpointName="hostile", Body=ROW, ContentType="text/csv", Accept="text/csv", InferenceId=tricky_id
        )
    finally:
        if not checked_already:
            request_constraints.uninstall()
    cloud.runner.flush_captures()

    assert {status for status, _ in refused.values()} == {400}
    assert (
        "at 'inferenceId' failed to satisfy constraint: Member must have length less than or equal to 64"
        in (refused["InferenceId too long"][1])
    )
    assert "at 'inferenceId' failed to satisfy constraint" in refused["InferenceId not printable ASCII"][1]
    for label in ("TargetVariant with a path separator", "TargetVariant too long", "TargetVariant not ASCII"):
        assert "at 'targetVariant' failed to satisfy constraint" in refused[label][1], label
    assert (
        "at 'body' failed to satisfy constraint: Member must have length less than or equal to 6291456"
        in (refused["Body over 6 MB"][1])
    )
    assert accepted["Body"].read().decode().startswith("yes")
    listed = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix="capture-hostile/hostile/")["Contents"]
    lines = [
        line for o in listed for line in cloud.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].iter_lines() if line
    ]
    assert len(lines) == 1  # nothing refused reached the model or capture, and the accepted id forged no record
    assert json.loads(lines[0])["eventMetadata"]["inferenceId"] == tricky_id


def test_update_swaps_models_without_failing_a_request_while_a_client_loops(cloud: Cloud) -> None:
    _endpoint(cloud, "swapped")
    old_server = cloud.runner.endpoints["swapped"].servers().get("AllTraffic")
    assert old_server is not None
    _config(cloud, "swapped-flipped", _model(cloud, "swapped-flipped-model", "flipped"))
    answers: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def loop() -> None:
        runtime = _client("sagemaker-runtime", cloud.url)
        while not done.is_set():
            try:
                answers.append(_invoke(cloud, "swapped", ROW, runtime=runtime).split(",")[0])
            except BaseException as error:
                failures.append(error)

    client = threading.Thread(target=loop)
    client.start()
    try:
        _until("the first model's answers", lambda: len(answers) >= 3 or bool(failures))
        cloud.sagemaker.update_endpoint(EndpointName="swapped", EndpointConfigName="swapped-flipped")
        assert cloud.sagemaker.describe_endpoint(EndpointName="swapped")["EndpointStatus"] == "Updating"
        described = _wait(cloud, "swapped", leaving="Updating")
        updated = len(answers)
        _until("answers after the update", lambda: len(answers) >= updated + 3 or bool(failures))
    finally:
        done.set()
        client.join()

    assert failures == []
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "swapped-flipped"
    assert "FailureReason" not in described
    assert answers[0] == "yes" and answers[-1] == "no"
    assert old_server.process.wait(timeout=10) is not None


def test_update_to_a_model_that_does_not_load_leaves_the_previous_model_answering(cloud: Cloud) -> None:
    _endpoint(cloud, "kept")
    before = _invoke(cloud, "kept", ROW)
    _config(cloud, "kept-broken", _model(cloud, "kept-broken-model", "broken"))

    cloud.sagemaker.update_endpoint(EndpointName="kept", EndpointConfigName="kept-broken")
    described = _wait(cloud, "kept", leaving="Updating")

    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "kept-config"
    assert "kept-broken" in described["FailureReason"] and "did not load" in described["FailureReason"]
    assert _invoke(cloud, "kept", ROW) == before


def test_a_model_that_does_not_load_fails_the_endpoint_with_the_reason(cloud: Cloud) -> None:
    described = _endpoint(cloud, "unloadable", model="broken")

    assert described["EndpointStatus"] == "Failed"
    assert "did not load" in described["FailureReason"]
    assert "model_metadata.json" in described["FailureReason"]


def test_serving_code_other_than_the_applications_ml_code_is_refused(cloud: Cloud) -> None:
    edited = _tarball({"serve.py": b"import os\nos.system('echo owned')\n"})
    cloud.s3.put_object(Bucket=BUCKET, Key="elsewhere/sourcedir.tar.gz", Body=edited)
    _config(
        cloud, "foreign-config", _model(cloud, "foreign-model", "good", f"s3://{BUCKET}/elsewhere/sourcedir.tar.gz")
    )

    cloud.sagemaker.create_endpoint(EndpointName="foreign", EndpointConfigName="foreign-config")
    described = _wait(cloud, "foreign", leaving="Creating")

    assert described["EndpointStatus"] == "Failed"
    assert "differs from the application's ml/serve.py" in described["FailureReason"]


PUBLISHED_SERVE = (Path(__file__).resolve().parents[2] / "ml" / "serve.py").read_bytes()


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"model_metadata.json": b"{}", "code/serve.py": b"import os\nos.system('echo owned')\n"}, "differs from"),
        (
            {"model_metadata.json": b"{}", "code/serve.py": PUBLISHED_SERVE, "code/sitecustomize.py": b"x"},
            "sitecustomize.py, which is not one of the application's ml/ files",
        ),
        ({"model_metadata.json": b"{}"}, "holds no code/ folder"),
    ],
)
def test_a_model_on_pytorch_s_serving_image_serves_only_the_application_s_code_from_its_code_folder(
    cloud: Cloud, files: dict[str, bytes], says: str
) -> None:
    name = f"torch-{len(files)}-{len(says)}"
    key = f"hostile/{name}/model.tar.gz"
    cloud.s3.put_object(Bucket=BUCKET, Key=key, Body=_tarball(files))
    cloud.sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
            "ModelDataUrl": f"s3://{BUCKET}/{key}",
            "Environment": {"SAGEMAKER_PROGRAM": "serve.py"},
        },
    )
    _config(cloud, f"{name}-config", name)

    cloud.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    described = _wait(cloud, name, leaving="Creating")

    assert described["EndpointStatus"] == "Failed"
    assert says in described["FailureReason"]


def test_the_endpoint_server_refuses_a_web_page_of_another_origin(cloud: Cloud) -> None:
    _endpoint(cloud, "guarded")
    server = cloud.runner.endpoints["guarded"].servers().get("AllTraffic")
    assert server is not None

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request(
        "POST", "/invocations", body=ROW, headers={"Content-Type": "text/csv", "Origin": "https://evil.example"}
    )
    refused = connection.getresponse()
    reason = refused.read().decode()
    connection.request("GET", "/ping")
    ping = connection.getresponse()

    assert refused.status == 403
    assert "evil.example" in reason
    assert ping.status == 200


def test_deleting_an_endpoint_stops_its_server(cloud: Cloud) -> None:
    _endpoint(cloud, "deleted")
    server = cloud.runner.endpoints["deleted"].servers().get("AllTraffic")
    assert server is not None

    cloud.sagemaker.delete_endpoint(EndpointName="deleted")

    assert server.process.wait(timeout=10) is not None
    with pytest.raises(ClientError):
        cloud.runtime.invoke_endpoint(EndpointName="deleted", Body=ROW, ContentType="text/csv")


def test_the_package_registry_builds_is_served_by_the_program_it_names(cloud: Cloud) -> None:
    from driftline_core.payloads import RegisterInput
    from driftline_core.settings import Settings
    from driftline_core.training.registry import build_model_package_request
    from tests.conftest import load_event

    event = load_event("register")
    event["training"]["outputs"]["model"] = cloud.models["good"]
    settings = Settings(ml_code_uri=cloud.code_uri, ml_code_version=cloud.code_version, training_image_uri=IMAGE)
    request = build_model_package_request(
        RegisterInput.model_validate(event), "driftline-credit", {"problem_type": "binary_classification"}, settings
    )
    request.pop("ClientToken", None)
    cloud.sagemaker.create_model_package_group(ModelPackageGroupName="driftline-credit")
    package_arn = cloud.sagemaker.create_model_package(**request)["ModelPackageArn"]
    cloud.sagemaker.create_model(
        ModelName="registered-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        Containers=[{"ModelPackageName": package_arn}],
    )
    _config(cloud, "registered-config", "registered-model")

    cloud.sagemaker.create_endpoint(EndpointName="registered", EndpointConfigName="registered-config")
    described = _wait(cloud, "registered", leaving="Creating")

    program = request["InferenceSpecification"]["Containers"][0]["Environment"]["SAGEMAKER_PROGRAM"]
    published = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"code/{cloud.code_version}/src/")["Contents"]
    assert f"code/{cloud.code_version}/src/{program}" in {o["Key"] for o in published}
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert _invoke(cloud, "registered", ROW).startswith("yes,")
    assert (cloud.runner.endpoints["registered"].servers()["AllTraffic"].folder / "code" / program).is_file()


def test_requests_sent_at_once_each_get_their_own_answer(cloud: Cloud) -> None:
    _endpoint(cloud, "concurrent")
    server = cloud.runner.endpoints["concurrent"].servers().get("AllTraffic")
    assert server is not None
    rows = [ROW, "-2,0,blue", "1.5,0.3", "0.1,1.0,green"] * 8

    def post(row: str) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("POST", "/invocations", body=row, headers={"Content-Type": "text/csv", "Accept": "text/csv"})
        response = connection.getresponse()
        return response.status, response.read().decode()

    alone = {row: post(row) for row in rows[:4]}
    with ThreadPoolExecutor(max_workers=len(rows)) as pool:
        together = list(pool.map(post, rows))

    assert together == [alone[row] for row in rows]
    assert alone["1.5,0.3"][0] == 400 and alone[ROW][1].startswith("yes,")


def test_a_model_server_that_stopped_is_a_model_error_pointing_at_its_log(cloud: Cloud) -> None:
    _endpoint(cloud, "crashed")
    server = cloud.runner.endpoints["crashed"].servers().get("AllTraffic")
    assert server is not None
    server.process.kill()
    server.process.wait()

    with pytest.raises(ClientError) as raised:
        cloud.runtime.invoke_endpoint(EndpointName="crashed", Body=ROW, ContentType="text/csv")

    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert "not answering" in raised.value.response["Error"]["Message"]
    assert "server.log" in raised.value.response["Error"]["Message"]


def test_a_model_server_stops_when_the_process_that_started_it_is_gone(cloud: Cloud, tmp_path: Path) -> None:
    _endpoint(cloud, "orphaned")
    server = cloud.runner.endpoints["orphaned"].servers().get("AllTraffic")
    assert server is not None
    arguments = [
        *("-m", "driftline.local.endpoints.server", "--code-dir", str(server.folder / "code")),
        *("--model-dir", str(server.folder / "model"), "--program", "serve.py", "--failure-file", str(tmp_path / "f")),
    ]
    launcher = (
        "import subprocess, sys\n"
        f"server = subprocess.Popen([sys.executable, *{arguments!r}],\n"
        "                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
        "print(server.stdout.readline().decode().split()[1], flush=True)\n"
    )
    launched = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=60, check=True)
    port = int(launched.stdout)

    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the server on port {port} outlived the process that started it")


def _blue_green(bake_seconds: int, alarms: list[str], timeout: int = 600) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake_seconds},
            "MaximumExecutionTimeoutInSeconds": timeout,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms]},
    }


def _guard_alarm(cloud: Cloud, name: str) -> Any:
    cloudwatch = _client("cloudwatch", cloud.url)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")
    return cloudwatch


def test_an_alarm_going_off_during_the_bake_rolls_the_update_back_to_the_old_model(cloud: Cloud) -> None:
    _endpoint(cloud, "baked")
    cloudwatch = _guard_alarm(cloud, "baked")
    _config(cloud, "baked-flipped", _model(cloud, "baked-flipped-model", "flipped"))

    cloud.sagemaker.update_endpoint(
        EndpointName="baked", EndpointConfigName="baked-flipped", DeploymentConfig=_blue_green(120, ["baked"])
    )
    _until("the new model serving all traffic", lambda: _invoke(cloud, "baked", ROW).startswith("no"))
    assert cloud.sagemaker.describe_endpoint(EndpointName="baked")["EndpointStatus"] == "Updating"  # baking
    cloudwatch.set_alarm_state(AlarmName="baked", StateValue="ALARM", StateReason="Threshold Crossed: 3 errors")
    described = _wait(cloud, "baked", leaving="Updating")

    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "baked-config")
    assert "rolled back" in described["FailureReason"] and "baked" in described["FailureReason"]
    assert "Threshold Crossed: 3 errors" in described["FailureReason"]
    assert _invoke(cloud, "baked", ROW).startswith("yes")


def test_an_update_completes_once_its_bake_passes_with_the_alarms_quiet(cloud: Cloud) -> None:
    _endpoint(cloud, "quiet")
    _guard_alarm(cloud, "quiet")
    _config(cloud, "quiet-flipped", _model(cloud, "quiet-flipped-model", "flipped"))

    cloud.sagemaker.update_endpoint(
        EndpointName="quiet", EndpointConfigName="quiet-flipped", DeploymentConfig=_blue_green(2, ["quiet"])
    )
    _until("the new model serving all traffic", lambda: _invoke(cloud, "quiet", ROW).startswith("no"))
    switched = time.monotonic()
    described = _wait(cloud, "quiet", leaving="Updating")

    assert time.monotonic() - switched > 1.5  # the bake kept the update open
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "quiet-flipped")
    assert "FailureReason" not in described


def test_invocations_count_in_sagemakers_endpoint_metrics(cloud: Cloud) -> None:
    _endpoint(cloud, "counted")
    for _ in range(3):
        _invoke(cloud, "counted", ROW)
    with pytest.raises(ClientError):
        _invoke(cloud, "counted", "1.5,0.3")  # the model answers 400
    cloud.runner.publish_metrics(before=time.time() + 60)

    def total(metric: str, statistic: str = "Sum") -> float:
        return _metric_total(cloud, "counted", "AllTraffic", metric, statistic)

    assert (total("Invocations"), total("Invocation4XXErrors"), total("Invocation5XXErrors")) == (4, 1, 0)
    assert total("ModelLatency", "SampleCount") == 4 and total("ModelLatency", "Maximum") > 0


def _serverless_config(cloud: Cloud, name: str, model_name: str) -> str:
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    return name


def test_updating_an_instance_based_endpoint_to_serverless_is_refused_as_sagemaker_refuses_it(cloud: Cloud) -> None:
    _endpoint(cloud, "instances")
    _serverless_config(cloud, "instances-serverless", _model(cloud, "instances-serverless-model", "good"))

    with pytest.raises(ClientError) as raised:
        cloud.sagemaker.update_endpoint(EndpointName="instances", EndpointConfigName="instances-serverless")

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "real-time endpoint to a serverless endpoint is not supported" in raised.value.response["Error"]["Message"]
    described = cloud.sagemaker.describe_endpoint(EndpointName="instances")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "instances-config")


def test_a_guarded_update_that_changes_the_variants_is_refused_as_sagemakers_guardrails_refuse_it(
    cloud: Cloud,
) -> None:
    _endpoint(cloud, "variant-change")
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName="variant-change-two",
        ProductionVariants=[
            {
                "VariantName": name,
                "ModelName": "variant-change-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
            for name in ("AllTraffic", "Challenger-v2")
        ],
    )
    policy = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "MaximumExecutionTimeoutInSeconds": 600,
        }
    }

    with pytest.raises(ClientError) as raised:
        cloud.sagemaker.update_endpoint(
            EndpointName="variant-change", EndpointConfigName="variant-change-two", DeploymentConfig=policy
        )

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "needs the same variant names" in raised.value.response["Error"]["Message"]
    described = cloud.sagemaker.describe_endpoint(EndpointName="variant-change")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "variant-change-config")


def test_a_serverless_endpoint_refuses_a_model_given_as_an_inference_pipeline(cloud: Cloud) -> None:
    container = {
        "Image": IMAGE,
        "ModelDataUrl": cloud.models["good"],
        "Environment": {
            "SAGEMAKER_PROGRAM": "serve.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"{cloud.code_uri}sourcedir.tar.gz",
        },
    }
    cloud.sagemaker.create_model(
        ModelName="pipeline-model", ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker", Containers=[container]
    )
    _serverless_config(cloud, "pipeline-serverless", "pipeline-model")

    with pytest.raises(ClientError, match="serverless endpoints do not support inference pipelines"):
        cloud.sagemaker.create_endpoint(EndpointName="pipeline", EndpointConfigName="pipeline-serverless")
