"""A warm Lambda execution environment: imports one handler once and serves invocations over a pipe.

Runs as its own process (``python -m driftline.local.lambda_worker``) with the function's environment,
like one Lambda container. Requests arrive as JSON lines on stdin; responses leave on a private pipe so
that anything the handler prints (Powertools' logger writes to stdout) becomes the function's log.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any


class LocalLambdaContext:
    """The context object a Lambda handler receives."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("DRIFTLINE_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _load_handler() -> Any:
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def _load_sdk_data() -> None:
    """Load the AWS SDK's shared data (endpoint rules, partitions, the credential chain) during init, through a
    client no handler uses, as an environment kept warm after its init would have it: the first invocation then
    pays only for its own clients (about 80 ms less here). Nothing is sent."""
    try:
        import boto3

        boto3.client("s3")
    except Exception:  # a missing region or SDK fails the handler's own first call, with its own message
        pass


def _error_payload(error: BaseException, request_id: str) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


ERROR_RECORD = "lambdaError"
"""The key of the one stderr line that carries an invocation's error record (see ``log_error``)."""


def log_error(payload: dict[str, Any], error: BaseException) -> None:
    """Log the error as Lambda's runtime does, as one record with its traceback, on one stderr line.

    The runtime that reads this process's log writes the record into the function's log group as one event and
    shows one line of it in the terminal. ``named`` says the error is one of the application's own named errors
    (``driftline_core.errors.DriftlineError``: an outcome a run reports), not a bug.
    """
    errors = sys.modules.get("driftline_core.errors")
    named = errors is not None and isinstance(error, errors.DriftlineError)
    record = {ERROR_RECORD: payload, "named": named}
    sys.stderr.write(json.dumps(record, default=str) + "\n")
    sys.stderr.flush()


def main() -> None:
    # Ctrl-C in the terminal reaches every process of local mode; the worker's life is local mode's to end (it
    # closes the worker's stdin), so the key neither stops an invocation halfway nor prints a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    init_started = time.time()
    try:
        handler = _load_handler()
        init_error: dict[str, Any] | None = None
    except Exception as error:  # an import error is reported on every invoke, as Lambda does
        handler = None
        init_error = _error_payload(error, "")
        init_error["errorType"] = "Runtime.ImportModuleError"
        log_error(init_error, error)
    _load_sdk_data()
    init_ms = (time.time() - init_started) * 1000
    protocol.write(json.dumps({"ready": True, "init_ms": init_ms}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        started = time.time()
        if handler is None:
            response: dict[str, Any] = {"ok": False, "error": dict(init_error or {}, requestId=request_id)}
        else:
            try:
                context = LocalLambdaContext(request_id, request["deadline"])
                result = handler(request["event"], context)
                response = {"ok": True, "result": result}
            except Exception as error:
                response = {"ok": False, "error": _error_payload(error, request_id)}
                log_error(response["error"], error)
        duration = (time.time() - started) * 1000
        print(f"END RequestId: {request_id}", flush=True)
        print(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms", flush=True)
        sys.stderr.flush()
        protocol.write(json.dumps(response, default=str) + "\n")


if __name__ == "__main__":
    main()
