"""Lambda: invoking a function runs its real handler in a warm worker process.

moto stores functions but runs them in Docker; local mode replaces that one seam
(``LambdaFunction._invoke_lambda``) with worker processes that import the handler from the function's
code folder, with the template's environment and the emulator's endpoint, as a Lambda container would.
Invoke refuses a request payload over Lambda's quota (6 MB synchronous, 1 MB asynchronous) before anything runs,
as Lambda does; moto would pass any size to the function.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.cloudformation.parsing import get_model_map
from moto.core.exceptions import JsonRESTError

from driftline.local import cloudwatch_logs, iam, seams
from driftline.local.clients import emulator_environment
from driftline.local.console import Console, handler_error_line, readable_log_line
from driftline.local.lambda_worker import ERROR_RECORD
from driftline.local.settings import ACCOUNT_ID

WORKER = Path(__file__).with_name("lambda_worker.py")
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")


@dataclass(frozen=True)
class FunctionCode:
    code_dir: Path
    layer_dirs: tuple[Path, ...]


class CodeRegistry:
    """Maps the S3 locations local mode packaged code to, back to the folders they came from."""

    def __init__(self) -> None:
        self._by_location: dict[tuple[str, str], Path] = {}

    def register(self, bucket: str, key: str, folder: Path) -> None:
        self._by_location[(bucket, key)] = folder

    def folder(self, location: dict[str, Any]) -> Path | None:
        return self._by_location.get((location.get("S3Bucket", ""), location.get("S3Key", "")))

    def locations(self) -> dict[tuple[str, str], Path]:
        """Every (bucket, key) registered and its folder: what a restarted local mode registers again."""
        return dict(self._by_location)


class _Worker:
    def __init__(self, name: str, code: FunctionCode, env: dict[str, str], runtime: LambdaRuntime) -> None:
        self.name = name
        self.stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.log_group = f"/aws/lambda/{name}"
        self._runtime = runtime
        env = dict(env, AWS_LAMBDA_LOG_STREAM_NAME=self.stream, AWS_LAMBDA_LOG_GROUP_NAME=self.log_group)
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"import runpy; runpy.run_path({str(WORKER)!r}, run_name='__main__')"],
            cwd=code.code_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.responses: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read_responses, daemon=True).start()
        threading.Thread(target=self._read_logs, daemon=True).start()

    def _read_responses(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.responses.put(json.loads(line))
        self.responses.put(None)

    def _read_logs(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.rstrip("\n")
            self._runtime.log(self, line)

    def call(self, event: Any, timeout: float) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        request = {"request_id": request_id, "event": event, "deadline": time.time() + timeout}
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        try:
            # A small grace for the pipe, not for the handler: Lambda stops it at its Timeout.
            response = self.responses.get(timeout=timeout + 0.5)
        except queue.Empty:
            self.stop()
            return _error("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds", request_id)
        if response is None:
            return _error("Runtime.ExitError", "The function's process exited before answering", request_id)
        return response

    def wait_ready(self, timeout: float = 60) -> float:
        ready = self.responses.get(timeout=timeout)
        if not ready or not ready.get("ready"):
            raise RuntimeError(f"worker for {self.name} failed to start")
        return float(ready.get("init_ms", 0.0))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=10)


def _worker_key(function: LambdaFunction) -> str:
    """Workers serve one version of a function's code and configuration.

    As on Lambda, an UpdateFunctionConfiguration (environment, handler, layers, memory) retires the warm
    environments: the next invocation starts a worker with the new configuration.
    """
    configuration = json.dumps(
        [
            function.environment_vars or {},
            str(function.handler),
            [layer.get("Arn") for layer in function.layers or []],
            function.memory_size,
            function.run_time,
        ],
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(configuration.encode()).hexdigest()[:16]
    return f"{function.function_arn}:{function.code_sha_256}:{digest}"


def _error(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"ok": False, "error": {"errorType": error_type, "errorMessage": message, "requestId": request_id}}


class LambdaRuntime:
    """Keeps a pool of warm workers per function version and runs invocations on them."""

    def __init__(self, *, endpoint_url: str, region: str, code: CodeRegistry, console: Console) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.code = code
        self.console = console
        self.init_durations_ms: dict[str, list[float]] = {}
        self._idle: dict[str, list[_Worker]] = {}
        self._starting: dict[str, list[_Worker]] = {}
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._display_names: dict[str, str] = {}
        self.stopped = threading.Event()
        """Set when local mode stops: asynchronous invocations waiting to be retried give up then."""

    def set_display_name(self, function_name: str, display: str) -> None:
        self._display_names[function_name] = display

    def display_name(self, function_name: str) -> str:
        """How the terminal names the function (its logical name in the template, when known)."""
        return self._display_names.get(function_name, function_name)

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """The ``_invoke_lambda`` contract: (response payload, whether it is an error, log tail)."""
        code = self._resolve(function)
        key = _worker_key(function)
        worker = self._take_idle(key)
        if worker is None:
            worker = self._take_starting(key) or self._start_worker(function, code)
            init_ms = worker.wait_ready()
            self.init_durations_ms.setdefault(function.function_name, []).append(init_ms)
        response = worker.call(event, float(function.timeout or 3))
        if worker.alive():
            with self._lock:
                self._idle.setdefault(key, []).append(worker)
        if response.get("ok"):
            return json.dumps(response.get("result")), False, ""
        return json.dumps(response["error"]), True, ""

    def prewarm(self, functions: Iterable[LambdaFunction]) -> None:
        """Start one worker per function now, all at once, so a first run finds its handlers imported.

        Lambda's provisioned concurrency does the same: the container is initialised before the first event.
        Functions that already have a worker, and any whose code local mode did not deploy, are skipped.
        """
        for function in functions:
            key = _worker_key(function)
            with self._lock:
                if self._idle.get(key) or self._starting.get(key):
                    continue
            try:
                code = self._resolve(function)
            except RuntimeError:
                continue
            worker = self._start_worker(function, code)
            with self._lock:
                self._starting.setdefault(key, []).append(worker)

    def wait_prewarmed(self, timeout: float = 120) -> None:
        """Wait until every prewarmed worker has imported its handler (they then count as idle, warm ones)."""
        with self._lock:
            starting, self._starting = self._starting, {}
        for key, workers in starting.items():
            for worker in workers:
                init_ms = worker.wait_ready(timeout)
                self.init_durations_ms.setdefault(worker.name, []).append(init_ms)
                with self._lock:
                    self._idle.setdefault(key, []).append(worker)

    def prewarm_deployed(self) -> None:
        """Prewarm every function deployed in this region."""
        self.prewarm(list(get_lambda_backend(ACCOUNT_ID, self.region).list_functions()))

    def log(self, worker: _Worker, line: str) -> None:
        source = self.display_name(worker.name)
        failure = error_record(line)
        if failure is not None:
            record, named = failure
            cloudwatch_logs.put_lines(self.region, worker.log_group, worker.stream, [error_log_event(record)])
            self.console.line(
                source,
                handler_error_line(
                    str(record.get("errorType") or "Error"),
                    str(record.get("errorMessage") or ""),
                    named=named,
                    log_group=worker.log_group,
                ),
            )
            return
        cloudwatch_logs.put_lines(self.region, worker.log_group, worker.stream, [line])
        if line.startswith(("START RequestId", "END RequestId", "REPORT RequestId")):
            return
        text = readable_log_line(line)
        if text is not None:
            self.console.line(source, text)

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            workers, self._all, self._idle, self._starting = self._all, [], {}, {}
        for worker in workers:
            if worker.alive() and worker.process.stdin:
                worker.process.stdin.close()
        for worker in workers:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.stop()

    def _take_idle(self, key: str) -> _Worker | None:
        with self._lock:
            workers = self._idle.get(key, [])
            while workers:
                worker = workers.pop()
                if worker.alive():
                    return worker
        return None

    def _take_starting(self, key: str) -> _Worker | None:
        with self._lock:
            workers = self._starting.get(key, [])
            return workers.pop(0) if workers else None

    def _start_worker(self, function: LambdaFunction, code: FunctionCode) -> _Worker:
        worker = _Worker(function.function_name, code, self._environment(function, code), self)
        with self._lock:
            self._all.append(worker)
        return worker

    def _resolve(self, function: LambdaFunction) -> FunctionCode:
        folder = self.code.folder(function.code)
        if folder is None:
            raise RuntimeError(
                f"local mode cannot find the code of {function.function_name}: "
                "only functions deployed from template.yaml can run locally"
            )
        layers: list[Path] = []
        backend = get_lambda_backend(ACCOUNT_ID, self.region)
        for layer in function.layers or []:
            version = backend.layers_versions_by_arn(layer["Arn"])
            layer_folder = self.code.folder(version.content) if version else None
            if layer_folder is not None:
                layers.append(layer_folder)
        return FunctionCode(code_dir=folder, layer_dirs=tuple(layers))

    def _environment(self, function: LambdaFunction, code: FunctionCode) -> dict[str, str]:
        env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
        python_path = [str(code.code_dir)] + [str(layer / "python") for layer in code.layer_dirs]
        env.update(
            {
                "_HANDLER": str(function.handler),
                "LAMBDA_TASK_ROOT": str(code.code_dir),
                "PYTHONPATH": os.pathsep.join(python_path),
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "DRIFTLINE_FUNCTION_ARN": function.function_arn,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
                # The function's code calls AWS as its execution role, as Lambda gives it that role's credentials.
                **emulator_environment(self.endpoint_url, self.region, _role_credentials(function)),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({k: str(v) for k, v in (function.environment_vars or {}).items()})
        return env


def error_record(line: str) -> tuple[dict[str, Any], bool] | None:
    """The error record a worker logs for a failed invocation (``lambda_worker.log_error``), and whether the error
    is one of the application's named ones; None for any other line."""
    if not line.startswith('{"' + ERROR_RECORD + '"'):
        return None
    try:
        document = json.loads(line)
    except ValueError:
        return None
    record = document.get(ERROR_RECORD) if isinstance(document, dict) else None
    if not isinstance(record, dict):
        return None
    return record, document.get("named") is True


def error_log_event(record: dict[str, Any]) -> str:
    """The log event Lambda's Python runtime writes for an error (text log format): ``[ERROR] <type>: <message>``,
    then ``Traceback (most recent call last):`` and the stack, all in one event."""
    head = "[ERROR]"
    if record.get("errorType"):
        head += f" {record['errorType']}"
    if record.get("errorMessage"):
        head += f"{':' if record.get('errorType') else ''} {record['errorMessage']}"
    lines = [head]
    stack = record.get("stackTrace")
    if isinstance(stack, list):
        lines.append("Traceback (most recent call last):")
        lines += [text for frame in stack for text in str(frame).splitlines()]
    return "\n".join(lines)


def _role_credentials(function: LambdaFunction) -> dict[str, str]:
    return iam.role_session(function.role, function.function_name).environment()


SYNCHRONOUS_PAYLOAD_LIMIT = 6 * 1024 * 1024
"""Invoke's largest request payload for a synchronous invocation, in bytes ("6 MB" in Lambda's quotas)."""
ASYNCHRONOUS_PAYLOAD_LIMIT = 1024 * 1024
"""Invoke's largest request payload for an asynchronous (``Event``) invocation, in bytes ("1 MB")."""


class PayloadTooLarge(JsonRESTError):
    """Lambda's answer to an Invoke whose payload is over its quota: HTTP 413, and the function does not run."""

    code = 413

    def __init__(self, message: str) -> None:
        super().__init__("RequestEntityTooLargeException", message)


def payload_refusal(size: int, invocation_type: str) -> PayloadTooLarge | None:
    """Lambda's refusal of an Invoke request payload of ``size`` bytes, in Lambda's words; None when it fits."""
    if invocation_type == "Event":
        if size > ASYNCHRONOUS_PAYLOAD_LIMIT:
            return PayloadTooLarge(
                f"{size} byte payload is too large for the Event invocation type "
                f"(limit {ASYNCHRONOUS_PAYLOAD_LIMIT} bytes)"
            )
        return None
    if size > SYNCHRONOUS_PAYLOAD_LIMIT:
        return PayloadTooLarge(
            f"Request must be smaller than {SYNCHRONOUS_PAYLOAD_LIMIT} bytes for the InvokeFunction operation"
        )
    return None


_active: list[LambdaRuntime] = []


def install(runtime: LambdaRuntime) -> None:
    """Route moto's Lambda invocations to the runtime of the running local cloud."""
    _active[:] = [runtime]
    if not seams.claim("lambda"):
        return
    backend_invoke = LambdaBackend.invoke

    def invoke(
        self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> str | bytes | None:
        """Invoke refuses a payload over Lambda's quota before anything runs, as Lambda does."""
        size = len(body.encode() if isinstance(body, str) else body or b"")
        refusal = payload_refusal(size, str(headers.get("X-Amz-Invocation-Type") or "RequestResponse"))
        if refusal is not None:
            raise refusal
        return backend_invoke(self, function_name, qualifier, body, headers, response_headers)

    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str) else (event if event is not None else {})
        return _active[-1].invoke(self, payload)

    seams.replace(LambdaFunction, "_invoke_lambda", _invoke_lambda)
    seams.replace(LambdaBackend, "invoke", invoke)
    seams.replace_item(get_model_map(), EventInvokeConfigResource.cloudformation_type(), EventInvokeConfigResource)


def invoke_async(function_arn: str, event: Any, region: str) -> None:
    """An asynchronous (Event) invocation, as EventBridge and S3 make."""
    backend = get_lambda_backend(ACCOUNT_ID, region)
    function = backend.get_function(function_arn)
    runtime = _active[-1]
    threading.Thread(target=_invoke_event, args=(runtime, function, event, region), daemon=True).start()


ASYNC_RETRY_DELAYS = (1.0, 2.0)
"""Seconds before each retry of a failed asynchronous invocation: Lambda waits about one, then two minutes."""


def _invoke_event(runtime: LambdaRuntime, function: LambdaFunction, event: Any, region: str) -> None:
    """Lambda's asynchronous invocation: a failed attempt is retried ``MaximumRetryAttempts`` times (two by
    default), then the invocation record goes to the function's on-failure destination, if it has one.

    Local mode keeps no pending retry across a stop: one that would come after it is dropped, and said so."""
    config = function.event_invoke_config[0].config if function.event_invoke_config else {}
    retries = int(config.get("MaximumRetryAttempts", 2))
    body = json.dumps(event)
    response: Any = None
    for attempt in range(retries + 1):
        if attempt and runtime.stopped.wait(ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS)) - 1]):
            runtime.console.line(
                runtime.display_name(function.function_name),
                "local mode stopped before it retried a failed asynchronous invocation: the retry is dropped",
            )
            return
        headers: dict[str, str] = {}
        response = function.invoke(body, {"x-amz-invocation-type": "Event"}, headers)
        if "x-amz-function-error" not in headers:
            return
    destination = (config.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
    if destination and not runtime.stopped.is_set():
        record = invocation_record(function, event, response, attempts=retries + 1)
        _deliver_record(destination, record, region)


def invocation_record(function: LambdaFunction, event: Any, response: Any, *, attempts: int) -> dict[str, Any]:
    """The record Lambda sends an on-failure destination ("Capturing records of Lambda asynchronous invocations")."""
    try:
        payload = json.loads(response) if response else None
    except (TypeError, ValueError):
        payload = {"errorMessage": str(response)}
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function.function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": payload,
    }


def _deliver_record(destination: str, record: dict[str, Any], region: str) -> None:
    """SQS queues are the destinations the template uses; other kinds are left to AWS."""
    from moto.sqs.models import sqs_backends

    if destination.split(":")[2] == "sqs":
        sqs_backends[ACCOUNT_ID][region].send_message(
            queue_name=destination.rsplit(":", 1)[-1], message_body=json.dumps(record)
        )


class EventInvokeConfigResource:
    """``AWS::Lambda::EventInvokeConfig``, which moto's CloudFormation lacks: recorded on the function as
    ``PutFunctionEventInvokeConfig`` records it, so asynchronous invocations honour it."""

    physical_resource_id = ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> EventInvokeConfigResource:
        properties = cloudformation_json["Properties"]
        function_name = str(getattr(properties["FunctionName"], "function_name", properties["FunctionName"]))
        config = {
            key: properties[key]
            for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
            if key in properties
        }
        get_lambda_backend(account_id, region_name).put_function_event_invoke_config(function_name, config)
        resource = cls()
        resource.physical_resource_id = f"{function_name}:{properties.get('Qualifier', '$LATEST')}"
        return resource
