"""The endpoint's server process: SageMaker's inference contract over the model's serving program.

Local mode runs this module as a program (``python -m driftline.local.endpoints.server``), one process per
endpoint configuration being served: a small ASGI application on uvicorn that answers ``GET /ping`` and
``POST /invocations`` with the model's own serving functions, as the scikit-learn container would. It sits
behind the same loopback rules as the emulator (``http_guard``), so only clients on this machine reach it.
It imports neither moto nor the endpoint runner.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftline.local.http_guard import LoopbackGuard

MAX_BODY_BYTES = 6 * 1024 * 1024
"""InvokeEndpoint's largest request body (botocore's BodyBlob limit)."""
DEFAULT_ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
MAX_BATCH = 64
"""The most waiting requests one prediction answers together."""


class InferenceApp:
    """ASGI application: ``GET /ping`` and ``POST /invocations`` calling the serving program's functions.

    ``output_fn(predict_fn(input_fn(body, content_type), model), accept)`` as SageMaker's framework
    containers call them; an answer is ``(body, content type)``, or a response object with its own status.
    Requests whose bodies have arrived wait for the next turn of the event loop, where ``Predictor`` answers
    all of them at once; a lone request waits for nothing.
    """

    def __init__(self, program: Any, model: Any, port: int) -> None:
        self.guard = LoopbackGuard(_refuse_everything, port)
        self.predictor = Predictor(program, model, os.environ.get(DEFAULT_ACCEPT_VARIABLE) or "application/json")
        self._pending: list[tuple[_Request, asyncio.Future[Answer]]] = []
        self._scheduled = False

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        refusal = self.guard.refusal(
            {
                "HTTP_HOST": headers.get("host", ""),
                **({"HTTP_ORIGIN": headers["origin"]} if "origin" in headers else {}),
                **({"HTTP_SEC_FETCH_SITE": headers["sec-fetch-site"]} if "sec-fetch-site" in headers else {}),
            }
        )
        if refusal is not None:
            await _respond(send, 403, refusal.encode(), "text/plain; charset=utf-8")
            return
        path, method = scope["path"], scope["method"]
        if path == "/ping":
            await _respond(send, 200, b"", "text/plain")
            return
        if path != "/invocations":
            await _respond(send, 404, b'{"message": "not found: use GET /ping or POST /invocations"}')
            return
        if method != "POST":
            await _respond(send, 405, b'{"message": "/invocations takes POST"}')
            return
        body = await read_body(receive, headers)
        if body is None:
            await _respond(send, 413, b'{"message": "the request body is larger than 6 MB"}')
            return
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        request = self.predictor.request(body, headers.get("content-type") or "application/json", headers.get("accept"))
        self._pending.append((request, answer))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._answer_pending)
        status, payload, content_type = await answer
        await _respond(send, status, payload, content_type)

    def _answer_pending(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        self._scheduled = bool(self._pending)
        if self._pending:
            asyncio.get_running_loop().call_soon(self._answer_pending)
        for (_, answer), result in zip(batch, self.predictor.answer([request for request, _ in batch]), strict=True):
            if not answer.done():
                answer.set_result(result)


Answer = tuple[int, bytes, str]


@dataclass
class _Request:
    body: bytes
    content_type: str
    accept: str


class Predictor:
    """Runs the serving program over requests that arrived together.

    A program with ``predict_batch_fn`` predicts them in one call; otherwise each gets its own
    ``predict_fn``. A request whose input or output fails gets a 500 without spoiling the others.
    """

    def __init__(self, program: Any, model: Any, default_accept: str) -> None:
        self.program = program
        self.model = model
        self.default_accept = default_accept
        self.batch_fn = getattr(program, "predict_batch_fn", None)

    def request(self, body: bytes, content_type: str, accept: str | None) -> _Request:
        """A request as the container hands it over: ``*/*`` or no Accept means the default accept type."""
        if not accept or accept.strip() == "*/*":
            accept = self.default_accept
        return _Request(body, content_type, accept)

    def answer(self, batch: list[_Request]) -> list[Answer]:
        program = self.program
        answers: list[Answer | None] = [None] * len(batch)
        parsed: list[tuple[int, Any]] = []
        for position, request in enumerate(batch):
            try:
                parsed.append(
                    (position, program.input_fn(_as_text(request.body, request.content_type), request.content_type))
                )
            except Exception as error:
                answers[position] = _server_error(error)
        predictions: list[Any] = []
        if self.batch_fn is not None and len(parsed) > 1:
            try:
                predictions = list(self.batch_fn([data for _, data in parsed], self.model))
            except Exception:
                predictions = []  # one request spoiled the batch: answer each on its own, below
        if len(predictions) != len(parsed):
            predictions = [self._predict_one(data) for _, data in parsed]
        for (position, _), prediction in zip(parsed, predictions, strict=True):
            accept = batch[position].accept
            if isinstance(prediction, _Failure):
                answers[position] = _server_error(prediction.error)
                continue
            try:
                answers[position] = _as_response(program.output_fn(prediction, accept), accept)
            except Exception as error:
                answers[position] = _server_error(error)
        return [answer if answer is not None else _server_error(RuntimeError("no answer")) for answer in answers]

    def _predict_one(self, data: Any) -> Any:
        try:
            return self.program.predict_fn(data, self.model)
        except Exception as error:
            return _Failure(error)


@dataclass
class _Failure:
    error: Exception


def _as_text(body: bytes, content_type: str) -> Any:
    """Text types reach ``input_fn`` decoded, as the container hands them over; undecodable bytes stay bytes."""
    if content_type.split(";", 1)[0].strip().lower() in ("text/csv", "application/json", "text/plain"):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body
    return body


def _server_error(error: Exception) -> Answer:
    traceback.print_exception(error)
    if _is_toolkit_error(error):
        # SageMaker's PyTorch serving image answers the inference toolkit's errors with their status: the message,
        # then the traceback.
        trace = "".join(traceback.format_exception(error))
        status, message = vars(error)["status_code"], vars(error)["message"]
        return int(status), f"{message}\n{trace}".encode(), "text/plain"
    return 500, json.dumps({"error": type(error).__name__, "message": str(error)}).encode(), "application/json"


def _is_toolkit_error(error: Exception) -> bool:
    return any(
        kind.__name__ == "BaseInferenceToolkitError" and kind.__module__ == "sagemaker_inference.errors"
        for kind in type(error).__mro__
    )


def _refuse_everything(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    raise AssertionError("the guard is used for its refusal check only")


def _as_response(result: Any, accept: str) -> tuple[int, bytes, str]:
    """What the serving program returned, as Flask would send it: a tuple, a response object or a body."""
    if isinstance(result, tuple):
        body, content_type = result[0], result[1]
        return 200, body.encode() if isinstance(body, str) else bytes(body), str(content_type)
    if hasattr(result, "status_code") and hasattr(result, "get_data"):
        content_type = result.headers.get("Content-Type", "application/json")
        return int(result.status_code), bytes(result.get_data()), str(content_type)
    return 200, result.encode() if isinstance(result, str) else bytes(result), accept


async def read_body(receive: Callable[..., Any], headers: dict[str, str], limit: int = MAX_BODY_BYTES) -> bytes | None:
    """An ASGI request's body; None when it is (or says it is) longer than ``limit`` bytes."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Callable[..., Any], status: int, body: bytes, content_type: str = "application/json") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode("latin-1")), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


def serve(argv: list[str] | None = None) -> int:
    """Load the model with the serving program and serve it; the first line printed is ``PORT <n>``."""
    # Read before the port is printed: the process that started this one may end as soon as it has read it.
    parent = os.getppid()
    parser = argparse.ArgumentParser(description="Serve one model under SageMaker's inference contract.")
    parser.add_argument("--code-dir", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--program", required=True)
    parser.add_argument("--failure-file", type=Path, required=True)
    parser.add_argument("--library-dir", type=Path, help="what the image gives the program to import, after its code")
    args = parser.parse_args(argv)
    try:
        sys.path.insert(0, str(args.code_dir))
        if args.library_dir:
            sys.path.insert(1, str(args.library_dir))
        program = importlib.import_module(Path(args.program).stem)
        model = program.model_fn(str(args.model_dir))
    except Exception as error:
        traceback.print_exc()
        args.failure_file.write_text(f"{type(error).__name__}: {error}"[:1000])
        return 1
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    listener.listen(2048)  # connections wait in the backlog until the server runs, so the port is live once printed
    config = uvicorn.Config(
        InferenceApp(program, model, port),
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        loop="auto",
    )
    print(f"PORT {port}", flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nobody reads stdout any more: later output goes to the log
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def _exit_with_parent(parent: int) -> None:
    """Stop serving when local mode's process is gone, however it ended, so no server outlives it."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(serve())
