"""Lambda in local mode: a function's real handler runs in a warm worker process, as in a Lambda container."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from moto.logs.models import logs_backends

from driftline.local.console import Console
from driftline.local.lambda_runtime import ASYNC_RETRY_DELAYS, CodeRegistry, LambdaRuntime, _invoke_event
from driftline.local.settings import ACCOUNT_ID, REPO_ROOT

REGION = "us-east-1"
CODE_BUCKET = "driftline-artifacts"

HANDLER = """
import os
import time

print("cold start of", os.environ["AWS_LAMBDA_FUNCTION_NAME"])


def handler(event, context):
    action = event.get("action")
    if action == "pid":
        return os.getpid()
    if action == "raise":
        raise ValueError(f"no dataset named {event['dataset']}")
    if action == "refuse":
        from driftline_core.errors import ValidationFailed

        raise ValidationFailed("data/credit/x.csv: 2 problems\\n- it has 2 data rows\\n- 'age' is not numeric")
    if action == "sleep":
        time.sleep(30)
    if action == "env":
        return {name: os.environ.get(name) for name in event["names"]}
    print(f"handling {event}")
    return {"echo": event, "function": context.function_name, "remaining_ms": context.get_remaining_time_in_millis()}
"""


@dataclass
class FakeFunction:
    """The attributes of moto's ``LambdaFunction`` that the runtime reads."""

    function_name: str
    code: dict[str, str]
    timeout: float = 3
    environment_vars: dict[str, str] = field(default_factory=dict)
    handler: str = "app.handler"
    layers: list[dict[str, str]] = field(default_factory=list)
    memory_size: int = 256
    run_time: str = "python3.11"
    code_sha_256: str = "3f9c2a7d51e0"
    role: str = f"arn:aws:iam::{ACCOUNT_ID}:role/driftline-test-function"

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"


@pytest.fixture
def console_stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def registry(tmp_path: Path) -> CodeRegistry:
    folder = tmp_path / "validate"
    folder.mkdir()
    (folder / "app.py").write_text(textwrap.dedent(HANDLER))
    # The application's named errors, as the shared layer gives them to every function.
    (folder / "driftline_core").mkdir()
    (folder / "driftline_core" / "__init__.py").write_text("")
    shutil.copy(REPO_ROOT / "layers" / "shared" / "python" / "driftline_core" / "errors.py", folder / "driftline_core")
    registry = CodeRegistry()
    registry.register(CODE_BUCKET, "code/validate.zip", folder)
    return registry


@pytest.fixture
def runtime(registry: CodeRegistry, console_stream: io.StringIO) -> Iterator[LambdaRuntime]:
    runtime = LambdaRuntime(
        endpoint_url="http://127.0.0.1:4777", region=REGION, code=registry, console=Console(console_stream)
    )
    yield runtime
    runtime.stop()


def _function(name: str = "driftline-Validate-1A2B", **changes: Any) -> FakeFunction:
    return FakeFunction(function_name=name, code={"S3Bucket": CODE_BUCKET, "S3Key": "code/validate.zip"}, **changes)


def _invoke(runtime: LambdaRuntime, function: FakeFunction, event: Any) -> tuple[Any, bool]:
    payload, is_error, _ = runtime.invoke(function, event)  # type: ignore[arg-type]
    return json.loads(payload), is_error


def _eventually(check: Callable[[], bool], timeout: float = 5) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_the_code_registry_maps_a_packaged_location_back_to_its_folder(tmp_path: Path) -> None:
    registry = CodeRegistry()
    registry.register(CODE_BUCKET, "code/a.zip", tmp_path)

    assert registry.folder({"S3Bucket": CODE_BUCKET, "S3Key": "code/a.zip"}) == tmp_path
    assert registry.folder({"S3Bucket": CODE_BUCKET, "S3Key": "code/b.zip"}) is None
    assert registry.folder({"ZipFile": "UEsDBA=="}) is None


def test_an_invocation_returns_the_handler_s_result_with_a_lambda_context(runtime: LambdaRuntime) -> None:
    result, is_error = _invoke(runtime, _function(), {"dataset": "credit"})

    assert is_error is False
    assert result["echo"] == {"dataset": "credit"}
    assert result["function"] == "driftline-Validate-1A2B"
    assert 0 < result["remaining_ms"] <= 3000


def test_a_second_invocation_reuses_the_warm_worker(runtime: LambdaRuntime) -> None:
    function = _function()
    first, _ = _invoke(runtime, function, {"action": "pid"})
    second, _ = _invoke(runtime, function, {"action": "pid"})

    assert first == second
    assert len(runtime.init_durations_ms["driftline-Validate-1A2B"]) == 1


def test_new_code_gets_a_fresh_worker(runtime: LambdaRuntime) -> None:
    before, _ = _invoke(runtime, _function(), {"action": "pid"})
    after, _ = _invoke(runtime, _function(code_sha_256="9d41b07c22aa"), {"action": "pid"})

    assert before != after


def test_a_changed_configuration_reaches_the_next_invocation_even_when_its_worker_was_prewarmed(
    runtime: LambdaRuntime,
) -> None:
    function = _function(name="driftline-JobEvents-conf", environment_vars={"JOB_TOKENS_TABLE": "tokens"})
    runtime.prewarm([function])  # type: ignore[list-item]
    before, _ = _invoke(runtime, function, {"action": "env", "names": ["JOB_TOKENS_TABLE"]})

    function.environment_vars = {"JOB_TOKENS_TABLE": "no-such-table"}
    after, _ = _invoke(runtime, function, {"action": "env", "names": ["JOB_TOKENS_TABLE"]})

    assert (before, after) == ({"JOB_TOKENS_TABLE": "tokens"}, {"JOB_TOKENS_TABLE": "no-such-table"})


def test_a_raised_exception_is_reported_as_lambda_reports_it(runtime: LambdaRuntime) -> None:
    error, is_error = _invoke(runtime, _function(), {"action": "raise", "dataset": "weather"})

    assert is_error is True
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "no dataset named weather"
    assert error["stackTrace"]


def test_a_worker_survives_a_handler_error(runtime: LambdaRuntime) -> None:
    function = _function()
    before, _ = _invoke(runtime, function, {"action": "pid"})
    _invoke(runtime, function, {"action": "raise", "dataset": "weather"})
    after, _ = _invoke(runtime, function, {"action": "pid"})

    assert before == after


def test_a_handler_running_past_its_timeout_is_stopped_and_reported(runtime: LambdaRuntime) -> None:
    function = _function(timeout=0.2)
    error, is_error = _invoke(runtime, function, {"action": "sleep"})

    assert is_error is True
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"] == "Task timed out after 0.20 seconds"
    result, is_error = _invoke(runtime, function, {"dataset": "credit"})
    assert is_error is False and result["echo"] == {"dataset": "credit"}


def test_the_function_s_environment_variables_reach_the_handler(runtime: LambdaRuntime) -> None:
    function = _function(environment_vars={"DATA_BUCKET": "driftline-data", "RETRY_SECONDS": "1"})
    names = ["DATA_BUCKET", "RETRY_SECONDS", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]

    result, _ = _invoke(runtime, function, {"action": "env", "names": names})

    assert result == {
        "DATA_BUCKET": "driftline-data",
        "RETRY_SECONDS": "1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4777",
        "AWS_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    }


def test_a_handler_that_cannot_be_imported_fails_every_invocation_with_the_import_error(
    runtime: LambdaRuntime,
) -> None:
    error, is_error = _invoke(runtime, _function(handler="missing.handler"), {})

    assert is_error is True
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "missing" in error["errorMessage"]


def test_a_function_not_deployed_from_the_template_is_refused_with_the_reason(runtime: LambdaRuntime) -> None:
    function = FakeFunction(function_name="handmade", code={"S3Bucket": "elsewhere", "S3Key": "x.zip"})

    with pytest.raises(RuntimeError, match=r"only functions deployed from template\.yaml can run locally"):
        runtime.invoke(function, {})  # type: ignore[arg-type]


def test_handler_output_goes_to_the_terminal_under_its_display_name_and_to_cloudwatch(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    function = _function(name="driftline-Validate-logs")
    runtime.set_display_name(function.function_name, "Validate")

    _invoke(runtime, function, {"dataset": "credit"})

    assert _eventually(lambda: "[Validate] handling {'dataset': 'credit'}" in console_stream.getvalue())
    assert "[Validate] cold start of driftline-Validate-logs" in console_stream.getvalue()
    assert "RequestId" not in console_stream.getvalue()
    group = logs_backends[ACCOUNT_ID][REGION].groups["/aws/lambda/driftline-Validate-logs"]
    messages = [event.message for stream in group.streams.values() for event in stream.events]
    assert any(message.startswith("START RequestId") for message in messages)
    assert "handling {'dataset': 'credit'}" in messages


def test_a_prewarmed_function_imports_its_handler_before_the_first_event_and_serves_it_from_that_worker(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    function = _function(name="driftline-Validate-warm")

    runtime.prewarm([function])  # type: ignore[list-item]

    assert _eventually(lambda: "cold start of driftline-Validate-warm" in console_stream.getvalue())
    first, _ = _invoke(runtime, function, {"action": "pid"})
    second, _ = _invoke(runtime, function, {"action": "pid"})
    assert first == second
    assert len(runtime.init_durations_ms["driftline-Validate-warm"]) == 1
    assert console_stream.getvalue().count("cold start of driftline-Validate-warm") == 1


def test_prewarming_starts_no_second_worker_and_skips_code_local_mode_did_not_deploy(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    function = _function(name="driftline-Validate-once")
    handmade = FakeFunction(function_name="handmade", code={"S3Bucket": "elsewhere", "S3Key": "x.zip"})
    _invoke(runtime, function, {"action": "pid"})

    runtime.prewarm([function, handmade])  # type: ignore[list-item]
    runtime.prewarm([function])  # type: ignore[list-item]

    _invoke(runtime, function, {"action": "pid"})
    runtime.wait_prewarmed()  # a worker the second prewarm started would have imported its handler by now
    assert console_stream.getvalue().count("cold start of driftline-Validate-once") == 1
    assert "handmade" not in runtime.init_durations_ms


def test_waiting_for_prewarmed_workers_returns_once_their_handlers_are_imported(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    function = _function(name="driftline-Validate-settled")
    runtime.prewarm([function])  # type: ignore[list-item]

    runtime.wait_prewarmed()

    assert len(runtime.init_durations_ms["driftline-Validate-settled"]) == 1
    _invoke(runtime, function, {"action": "pid"})
    assert len(runtime.init_durations_ms["driftline-Validate-settled"]) == 1
    assert console_stream.getvalue().count("cold start of driftline-Validate-settled") == 1


def _log_events(function: FakeFunction) -> list[str]:
    group = logs_backends[ACCOUNT_ID][REGION].groups[f"/aws/lambda/{function.function_name}"]
    return [event.message for stream in group.streams.values() for event in stream.events]


def test_a_named_error_is_one_terminal_line_and_its_traceback_is_one_cloudwatch_event(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    function = _function(name="driftline-Validate-refuses")
    runtime.set_display_name(function.function_name, "Validate")

    error, is_error = _invoke(runtime, function, {"action": "refuse"})

    assert is_error is True and error["errorType"] == "ValidationFailed"
    expected = "[Validate] ERROR   ValidationFailed: data/credit/x.csv: 2 problems - it has 2 data rows - 'age' is not"
    assert _eventually(lambda: expected in console_stream.getvalue())
    assert "Traceback" not in console_stream.getvalue()
    assert "unexpected" not in console_stream.getvalue()
    [event] = [message for message in _log_events(function) if message.startswith("[ERROR]")]
    assert event.startswith(
        "[ERROR] ValidationFailed: data/credit/x.csv: 2 problems\n- it has 2 data rows\n- 'age' is not numeric\n"
        "Traceback (most recent call last):\n"
    )
    assert 'app.py", line' in event


def test_an_unexpected_error_is_one_terminal_line_naming_the_log_group_with_its_traceback(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    function = _function(name="driftline-Validate-breaks")
    runtime.set_display_name(function.function_name, "Validate")

    _invoke(runtime, function, {"action": "raise", "dataset": "weather"})

    expected = (
        "[Validate] ERROR   ValueError: no dataset named weather (unexpected: its traceback is in the CloudWatch "
        "Logs group /aws/lambda/driftline-Validate-breaks; driftline logs <run> shows it)"
    )
    assert _eventually(lambda: expected in console_stream.getvalue())
    assert "Traceback" not in console_stream.getvalue()
    [event] = [message for message in _log_events(function) if message.startswith("[ERROR]")]
    assert event.startswith("[ERROR] ValueError: no dataset named weather\nTraceback (most recent call last):\n")


def test_a_handler_that_cannot_be_imported_says_so_in_one_line(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    function = _function(name="driftline-Missing-1", handler="missing.handler")

    _invoke(runtime, function, {})

    assert _eventually(
        lambda: "ERROR   Runtime.ImportModuleError: No module named 'missing'" in console_stream.getvalue()
    )
    assert "Traceback" not in console_stream.getvalue()


def test_ctrl_c_in_the_terminal_leaves_a_worker_serving_and_prints_nothing(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    """Ctrl-C sends SIGINT to every process of local mode's terminal; local mode stops its workers itself."""
    function = _function()
    pid, _ = _invoke(runtime, function, {"action": "pid"})

    os.kill(int(pid), signal.SIGINT)
    again, _ = _invoke(runtime, function, {"action": "pid"})

    assert again == pid
    assert "KeyboardInterrupt" not in console_stream.getvalue() and "Traceback" not in console_stream.getvalue()


class AlwaysFailingFunction:
    """What an asynchronous invocation reads of moto's ``LambdaFunction``: its configuration, and an invoke that
    fails every time (as a handler raising does), counted."""

    function_name = "driftline-StartRun-1A2B"
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:driftline-StartRun-1A2B"
    event_invoke_config: list[Any] = []

    def __init__(self) -> None:
        self.attempts = 0

    def invoke(self, body: str, request_headers: dict[str, str], response_headers: dict[str, str]) -> str:
        self.attempts += 1
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorMessage": "no"})


def test_stopping_local_mode_drops_a_pending_retry_at_once_and_says_so(
    runtime: LambdaRuntime, console_stream: io.StringIO
) -> None:
    function = AlwaysFailingFunction()
    runtime.set_display_name(function.function_name, "StartRun")
    invocation = threading.Thread(target=_invoke_event, args=(runtime, function, {"detail": {}}, REGION))
    invocation.start()
    assert _eventually(lambda: function.attempts == 1)

    stopped_at = time.monotonic()
    runtime.stop()
    invocation.join(timeout=5)

    assert not invocation.is_alive() and time.monotonic() - stopped_at < ASYNC_RETRY_DELAYS[0]
    assert function.attempts == 1  # no retry ran after the stop, and no record went to a destination
    assert (
        "[StartRun] local mode stopped before it retried a failed asynchronous invocation" in console_stream.getvalue()
    )
