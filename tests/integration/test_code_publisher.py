"""The deploy-time ml/ code publisher, run as CloudFormation runs it: an event in, one HTTP PUT answer out."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.conftest import load_event

BUCKET = "driftline-artifacts"
REPO_ML = Path(__file__).resolve().parents[2] / "ml"


def _load_publisher() -> ModuleType:
    """Import the handler as Lambda does: the top-level module ``code_publisher`` from ml/."""
    spec = importlib.util.spec_from_file_location("code_publisher", REPO_ML / "code_publisher.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


code_publisher = _load_publisher()


@dataclass
class CloudFormationEndpoint:
    """Stands in for the pre-signed S3 URL CloudFormation waits on; records every PUT it receives."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def cloudformation() -> Iterator[CloudFormationEndpoint]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    endpoint = CloudFormationEndpoint(url=f"http://{host!s}:{port}/cfn-response/MlCode", requests=received)
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ml_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small ml/ folder with the clutter a working copy has, published in place of the real one."""
    source = tmp_path / "ml"
    (source / "driftline_ml").mkdir(parents=True)
    (source / "preprocess.py").write_text("print('preprocess')\n")
    (source / "train.py").write_text("print('train')\n")
    (source / "driftline_ml" / "__init__.py").write_text("")
    (source / "driftline_ml" / "metrics.py").write_text("AUC = 'auc'\n")
    (source / "code_publisher.py").write_text("# the publisher itself is not job code\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\x00compiled")
    (source / "driftline_ml" / "stale.pyc").write_bytes(b"\x00compiled")
    monkeypatch.setattr(code_publisher, "SOURCE_DIR", source)
    return source


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def _event(request_type: str, response_url: str, **overrides: Any) -> dict[str, Any]:
    event = load_event("code_publisher_create")
    event["RequestType"] = request_type
    event["ResponseURL"] = response_url
    event["ResourceProperties"]["ArtifactBucket"] = BUCKET
    event.update(overrides)
    return event


def _keys(s3: Any) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_create_publishes_files_and_tarball_and_answers_success(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any
) -> None:
    event = _event("Create", cloudformation.url)

    code_publisher.lambda_handler(event, lambda_context)

    [answer] = cloudformation.bodies()
    version = answer["Data"]["CodeVersion"]
    assert len(version) == 12
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"]["CodeUri"] == f"s3://{BUCKET}/code/{version}/"
    assert answer["PhysicalResourceId"] == f"code/{version}"
    assert (answer["RequestId"], answer["StackId"], answer["LogicalResourceId"]) == (
        event["RequestId"],
        event["StackId"],
        "MlCode",
    )
    assert _keys(s3) == [
        f"code/{version}/sourcedir.tar.gz",
        f"code/{version}/src/driftline_ml/__init__.py",
        f"code/{version}/src/driftline_ml/metrics.py",
        f"code/{version}/src/preprocess.py",
        f"code/{version}/src/train.py",
    ]
    train = s3.get_object(Bucket=BUCKET, Key=f"code/{version}/src/train.py")["Body"].read()
    assert train == (ml_code / "train.py").read_bytes()
    [request] = cloudformation.requests
    assert request["path"] == "/cfn-response/MlCode"
    assert request["headers"].get("Content-Type", "") == ""


def test_tarball_holds_the_same_files_as_src(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any
) -> None:
    code_publisher.lambda_handler(_event("Create", cloudformation.url), lambda_context)
    version = cloudformation.bodies()[0]["Data"]["CodeVersion"]

    tarball = s3.get_object(Bucket=BUCKET, Key=f"code/{version}/sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(tarball))) as archive:
        members = {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
        }

    assert members == {
        "driftline_ml/__init__.py": b"",
        "driftline_ml/metrics.py": b"AUC = 'auc'\n",
        "preprocess.py": b"print('preprocess')\n",
        "train.py": b"print('train')\n",
    }


def test_same_code_keeps_its_version_and_changed_code_gets_a_new_one(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any
) -> None:
    code_publisher.lambda_handler(_event("Create", cloudformation.url), lambda_context)
    code_publisher.lambda_handler(_event("Update", cloudformation.url, PhysicalResourceId="code/old"), lambda_context)
    (ml_code / "train.py").write_text("print('train, better')\n")
    code_publisher.lambda_handler(_event("Update", cloudformation.url, PhysicalResourceId="code/old"), lambda_context)

    first, unchanged, changed = (body["Data"]["CodeVersion"] for body in cloudformation.bodies())
    assert first == unchanged
    assert changed != first
    assert {body["Status"] for body in cloudformation.bodies()} == {"SUCCESS"}
    # Both versions stay: earlier runs keep using the code they were trained with.
    assert f"code/{first}/sourcedir.tar.gz" in _keys(s3)
    assert f"code/{changed}/sourcedir.tar.gz" in _keys(s3)


def test_republishing_a_complete_version_uploads_nothing(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any
) -> None:
    code_publisher.lambda_handler(_event("Create", cloudformation.url), lambda_context)
    version = cloudformation.bodies()[0]["Data"]["CodeVersion"]
    train_key = f"code/{version}/src/train.py"
    s3.delete_object(Bucket=BUCKET, Key=train_key)

    code_publisher.lambda_handler(_event("Create", cloudformation.url), lambda_context)

    assert train_key not in _keys(s3), "a version whose tarball exists is treated as already published"
    assert cloudformation.bodies()[1]["Status"] == "SUCCESS"


def test_delete_answers_success_and_keeps_the_published_code(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any
) -> None:
    code_publisher.lambda_handler(_event("Create", cloudformation.url), lambda_context)
    published = _keys(s3)
    physical_id = cloudformation.bodies()[0]["PhysicalResourceId"]

    code_publisher.lambda_handler(_event("Delete", cloudformation.url, PhysicalResourceId=physical_id), lambda_context)

    delete_answer = cloudformation.bodies()[1]
    assert delete_answer["Status"] == "SUCCESS"
    assert delete_answer["PhysicalResourceId"] == physical_id
    assert _keys(s3) == published


def test_missing_bucket_answers_failed_with_the_reason(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any
) -> None:
    event = _event("Create", cloudformation.url)
    event["ResourceProperties"]["ArtifactBucket"] = "no-such-driftline-bucket"

    code_publisher.lambda_handler(event, lambda_context)

    [answer] = cloudformation.bodies()
    assert answer["Status"] == "FAILED"
    assert "Publishing the ml/ job code failed" in answer["Reason"]
    assert "NoSuchBucket" in answer["Reason"]
    assert answer["PhysicalResourceId"]


def test_event_without_bucket_property_answers_failed(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any
) -> None:
    event = _event("Create", cloudformation.url)
    del event["ResourceProperties"]["ArtifactBucket"]

    code_publisher.lambda_handler(event, lambda_context)

    [answer] = cloudformation.bodies()
    assert answer["Status"] == "FAILED"
    assert "ArtifactBucket" in answer["Reason"]


def test_response_url_without_scheme_is_answered_over_http(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any
) -> None:
    """Local emulators hand out ``host:port/path`` response URLs."""
    schemeless = cloudformation.url.removeprefix("http://")

    code_publisher.lambda_handler(_event("Create", schemeless), lambda_context)

    assert [body["Status"] for body in cloudformation.bodies()] == ["SUCCESS"]


class _AlmostOutOfTime:
    """A Lambda context with just past the publisher's safety margin left."""

    def get_remaining_time_in_millis(self) -> int:
        return 5_200


def test_running_out_of_time_answers_failed_once_instead_of_leaving_the_stack_waiting(
    s3: Any,
    ml_code: Path,
    cloudformation: CloudFormationEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_publish = code_publisher.publish_ml_code

    def slow_publish(bucket: str, source_dir: Path, s3: Any = None) -> Any:
        # Still publishing when the time runs out: it goes on only once the timeout guard has answered.
        deadline = time.time() + 30
        while not cloudformation.requests and time.time() < deadline:
            time.sleep(0.05)
        return real_publish(bucket, source_dir, s3)

    monkeypatch.setattr(code_publisher, "publish_ml_code", slow_publish)

    code_publisher.lambda_handler(_event("Create", cloudformation.url), _AlmostOutOfTime())

    [answer] = cloudformation.bodies()
    assert answer["Status"] == "FAILED"
    assert "timed out" in answer["Reason"]


def test_the_real_ml_folder_ships_every_job_entrypoint_but_not_the_publisher() -> None:
    shipped = {path.relative_to(REPO_ML).as_posix() for path in code_publisher.code_files(REPO_ML)}
    assert {"preprocess.py", "train.py", "evaluate.py"} <= shipped
    assert "code_publisher.py" not in shipped
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in shipped)


class _NewRoleS3:
    """S3 as a freshly created role sees it: the first calls are refused until IAM has propagated."""

    def __init__(self, s3: Any, refusals: int) -> None:
        self._s3 = s3
        self.refusals_left = refusals

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._s3, name)

        def call(**kwargs: Any) -> Any:
            if self.refusals_left > 0:
                self.refusals_left -= 1
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, name)
            return operation(**kwargs)

        return call


def test_a_new_roles_access_denied_is_waited_out_and_the_code_is_published(s3: Any, ml_code: Path) -> None:
    waits: list[float] = []

    published = code_publisher.publish_ml_code(BUCKET, ml_code, s3=_NewRoleS3(s3, refusals=3), sleep=waits.append)

    assert waits == [1.0, 2.0, 4.0]
    assert f"{published.prefix}sourcedir.tar.gz" in _keys(s3)


def test_access_that_stays_denied_fails_after_a_bounded_wait_naming_the_missing_permissions(
    s3: Any, ml_code: Path
) -> None:
    waits: list[float] = []

    refused = r"still refused access to s3://driftline-artifacts/code/ after 60 s"
    with pytest.raises(RuntimeError, match=refused) as raised:
        code_publisher.publish_ml_code(BUCKET, ml_code, s3=_NewRoleS3(s3, refusals=1000), sleep=waits.append)

    assert sum(waits) == 60
    assert "s3:PutObject" in str(raised.value)
    assert _keys(s3) == []


def test_other_s3_errors_are_not_retried(s3: Any, ml_code: Path) -> None:
    waits: list[float] = []
    with pytest.raises(Exception, match="NoSuchBucket"):
        code_publisher.publish_ml_code("no-such-driftline-bucket", ml_code, s3=s3, sleep=waits.append)
    assert waits == []


@pytest.mark.parametrize(
    ("stack_name", "why"),
    [
        ("Driftline-Prod", "must be lowercase"),
        ("driftline-" + "x" * 33, "has 43 characters and may have at most 42"),
    ],
)
def test_a_stack_name_the_registry_cannot_serve_is_refused_before_anything_is_published(
    s3: Any, ml_code: Path, cloudformation: CloudFormationEndpoint, lambda_context: Any, stack_name: str, why: str
) -> None:
    event = _event("Create", cloudformation.url)
    event["StackId"] = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack_name}/5b5b9c10-a9a6-11ef"

    code_publisher.lambda_handler(event, lambda_context)

    [answer] = cloudformation.bodies()
    assert answer["Status"] == "FAILED"
    assert f"The stack name '{stack_name}' cannot be used" in answer["Reason"]
    assert why in answer["Reason"]
    assert "deploy again under a name such as" in answer["Reason"]
    assert _keys(s3) == []


def test_the_longest_accepted_stack_name_is_the_longest_group_prefix_the_registry_serves() -> None:
    from driftline_core.layout import MAX_PREFIX_LENGTH, model_package_group_name

    longest = "d" * code_publisher.MAX_STACK_NAME_LENGTH
    code_publisher.check_stack_name(longest)
    assert code_publisher.MAX_STACK_NAME_LENGTH == MAX_PREFIX_LENGTH
    assert len(model_package_group_name(longest, "D" * 40)) <= 63
