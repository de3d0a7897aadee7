"""SageMaker endpoints: each endpoint is a local inference server running the model's ``ml/`` serving code.

moto records CreateModel, CreateEndpointConfig and CreateEndpoint and marks the endpoint InService without
running anything, has no UpdateEndpoint, and answers InvokeEndpoint with canned text. Here:

- CreateEndpoint starts one server process per endpoint on ``127.0.0.1`` (a free port) that follows
  SageMaker's inference contract (``GET /ping``, ``POST /invocations``) with the model's own serving
  program, as the scikit-learn container would: ``model.tar.gz`` is downloaded from the emulated S3 and
  unpacked, ``SAGEMAKER_SUBMIT_DIRECTORY`` is unpacked and checked against the application's published
  ``ml/`` files (the same check local jobs pass; nothing else ever runs), ``SAGEMAKER_PROGRAM`` must be one
  of its scripts. The endpoint is ``Creating``, then ``InService`` once ``/ping`` answers, or ``Failed``
  with a ``FailureReason`` when the model does not load or never becomes healthy.
- UpdateEndpoint is ``Updating`` while the new configuration's server starts; once it answers ``/ping``
  requests switch to it, requests already sent to the old server finish, and the old server stops. When
  the new server fails, the old one keeps serving and the endpoint is back ``InService`` on its previous
  configuration with the ``FailureReason`` of the update, as SageMaker reports a failed update.
- DeleteEndpoint stops the server and writes out captured data.
- InvokeEndpoint (sagemaker-runtime) forwards ``Body``, ``ContentType`` and ``Accept`` to the server and
  answers as SageMaker does: the model's answer, or ``ModelError`` with the server's status and message.
- Data capture: with ``DataCaptureConfig`` enabled, sampled invocations are written as JSON lines in
  SageMaker's capture format to ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl``.

The server process is this module run as a program (``python -m driftline.local.endpoints``): a small ASGI
application on uvicorn, behind the same loopback rules as the emulator (``http_guard``), so only clients on
this machine reach it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import importlib
import importlib.util
import json
import os
import random
import re
import socket
import subprocess
import sys
import tarfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from driftline.local.http_guard import LoopbackGuard
from driftline.local.s3_uris import split_s3_uri
from driftline.local.text_files import read_text_or_none
from driftline.local.times import epoch_millis, utc_now

if TYPE_CHECKING:  # the server process imports neither moto nor the job runner
    from driftline.local.console import Console
    from driftline.local.sagemaker import ApplicationCode

MAX_BODY_BYTES = 6 * 1024 * 1024
"""InvokeEndpoint's largest request body (botocore's BodyBlob limit)."""
PING_TIMEOUT_SECONDS = 30.0
"""SageMaker fails CreateEndpoint and UpdateEndpoint when the container does not answer /ping in time."""
START_TIMEOUT_SECONDS = 120.0
INVOKE_TIMEOUT_SECONDS = 60.0
"""A model container must answer an invocation within 60 seconds."""
DRAIN_TIMEOUT_SECONDS = 60.0
CAPTURE_FLUSH_SECONDS = 2.0
"""How long captured records wait before they are written to S3 (SageMaker writes every few minutes)."""
DEFAULT_ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
MAX_BATCH = 64
"""The most waiting requests one prediction answers together."""


# ---------------------------------------------------------------------------------------------------
# The server process: SageMaker's inference contract over the model's serving program.
# ---------------------------------------------------------------------------------------------------


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
        body = await _read_body(receive, headers)
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
    return 500, json.dumps({"error": type(error).__name__, "message": str(error)}).encode(), "application/json"


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


async def _read_body(receive: Callable[..., Any], headers: dict[str, str]) -> bytes | None:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
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
    parser = argparse.ArgumentParser(description="Serve one model under SageMaker's inference contract.")
    parser.add_argument("--code-dir", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--program", required=True)
    parser.add_argument("--failure-file", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        sys.path.insert(0, str(args.code_dir))
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
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def _exit_with_parent(parent: int) -> None:
    """Stop serving when local mode's process is gone, however it ended, so no server outlives it."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


# ---------------------------------------------------------------------------------------------------
# Local mode's side: endpoints as SageMaker reports them, and InvokeEndpoint.
# ---------------------------------------------------------------------------------------------------


class EndpointFailed(Exception):
    """A server that could not start; the message becomes the endpoint's FailureReason."""


@dataclass
class ModelServer:
    """One running server process and the requests it is answering."""

    process: subprocess.Popen[bytes]
    port: int
    folder: Path
    config_name: str
    variant: str
    in_flight: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class LocalEndpoint:
    name: str
    server: ModelServer | None = None
    capture: dict[str, Any] | None = None
    captured: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class EndpointRunner:
    """Starts, swaps and stops the local servers behind SageMaker endpoints; writes their captured data."""

    def __init__(
        self,
        *,
        endpoints_dir: Path,
        endpoint_url: str,
        region: str,
        console: Console,
        code: ApplicationCode | None = None,
        capture_flush_seconds: float = CAPTURE_FLUSH_SECONDS,
    ) -> None:
        from driftline.local.sagemaker import ML_DIR, ApplicationCode

        self.endpoints_dir = endpoints_dir
        self.endpoint_url = endpoint_url
        self.region = region
        self.console = console
        self.code = code or ApplicationCode(ML_DIR)
        self.capture_flush_seconds = capture_flush_seconds
        self.endpoints: dict[str, LocalEndpoint] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None

    # -- lifecycle called from the SageMaker API --------------------------------------------------
    def create(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        with self._lock:
            self.endpoints[fake.endpoint_name] = LocalEndpoint(fake.endpoint_name)
        fake.endpoint_status = "Creating"
        fake.failure_reason = None
        self._emit(fake)
        self._background(fake.endpoint_name, lambda: self._create(fake, config, resolve_model))

    def update(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        fake.endpoint_status = "Updating"
        fake.failure_reason = None
        fake.last_modified_time = utc_now()
        self._emit(fake)
        self._background(fake.endpoint_name, lambda: self._update(fake, config, resolve_model))

    def delete(self, name: str) -> None:
        with self._lock:
            endpoint = self.endpoints.pop(name, None)
        if endpoint is None:
            return
        self._flush(endpoint)
        if endpoint.server is not None:
            self._drain_and_stop(endpoint.server)

    def stop(self) -> None:
        """Stop every server (local mode is stopping); captured records are written first."""
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout=START_TIMEOUT_SECONDS)
        for name in list(self.endpoints):
            self.delete(name)

    def wait(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def _background(self, name: str, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=work, name=f"endpoint-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _create(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        name = fake.endpoint_name
        try:
            server = self._start_server(name, config, resolve_model)
        except EndpointFailed as error:
            fake.endpoint_status = "Failed"
            fake.failure_reason = str(error)[:1024]
            fake.last_modified_time = utc_now()
            self._emit(fake)
            self.console.line(name, f"FAILED: {fake.failure_reason}")
            return
        endpoint = self.endpoints.get(name)
        if endpoint is None:  # deleted while it was starting
            server.stop()
            return
        with endpoint.lock:
            endpoint.server = server
            endpoint.capture = _capture_settings(config)
        fake.data_capture_config = _capture_summary(config)
        fake.endpoint_status = "InService"
        fake.last_modified_time = utc_now()
        self._emit(fake)
        self._ensure_flusher()
        self.console.line(name, f"InService at http://127.0.0.1:{server.port} ({config['EndpointConfigName']})")

    def _update(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        name = fake.endpoint_name
        endpoint = self.endpoints.get(name)
        try:
            if endpoint is None:
                raise EndpointFailed(f"endpoint {name} is not running locally")
            server = self._start_server(name, config, resolve_model)
        except EndpointFailed as error:
            # As on SageMaker: the previous configuration keeps serving and the endpoint says why.
            fake.endpoint_status = "InService"
            fake.failure_reason = f"Update to {config['EndpointConfigName']} failed: {error}"[:1024]
            fake.last_modified_time = utc_now()
            self._emit(fake)
            self.console.line(name, f"update FAILED, previous model still serving: {error}")
            return
        assert endpoint is not None
        self._flush(endpoint)
        with endpoint.lock:
            previous, endpoint.server = endpoint.server, server
            endpoint.capture = _capture_settings(config)
        fake.endpoint_config_name = config["EndpointConfigName"]
        fake.production_variants = fake._process_production_variants(config["ProductionVariants"])
        fake.data_capture_config = _capture_summary(config)
        fake.endpoint_status = "InService"
        fake.last_modified_time = utc_now()
        self._emit(fake)
        if previous is not None:
            self._drain_and_stop(previous)
        self.console.line(name, f"updated to {config['EndpointConfigName']} at http://127.0.0.1:{server.port}")

    def _emit(self, fake: Any) -> None:
        """SageMaker's "SageMaker Endpoint State Change" event for the endpoint's status now, to local EventBridge."""
        from moto.events.models import events_backends

        account = str(fake.arn).split(":")[4]
        events_backends[account][self.region].put_events([endpoint_state_change_event(fake)])

    @staticmethod
    def _drain_and_stop(server: ModelServer) -> None:
        """Let requests already sent to ``server`` finish, then stop it."""
        deadline = time.time() + DRAIN_TIMEOUT_SECONDS
        with server.idle:
            while server.in_flight and time.time() < deadline:
                server.idle.wait(timeout=0.5)
        server.stop()

    # -- starting a server --------------------------------------------------------------------------
    def _start_server(
        self, name: str, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]
    ) -> ModelServer:
        from driftline.local.sagemaker import JobFailed, refused_environment

        variants = config.get("ProductionVariants") or []
        if len(variants) != 1:
            raise EndpointFailed(
                f"ClientError: endpoint config {config['EndpointConfigName']} has {len(variants)} production variants; "
                "local mode serves exactly one per endpoint"
            )
        variant = variants[0]
        container = resolve_model(variant["ModelName"])
        environment = dict(container.get("Environment") or {})
        refused = refused_environment(environment)
        if refused:
            raise EndpointFailed(
                f"ClientError: the model's Environment sets {', '.join(refused)}, which local mode does not let a "
                "model set (they would change which code runs or where its traffic goes)"
            )
        program = environment.get("SAGEMAKER_PROGRAM")
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        model_uri = container.get("ModelDataUrl")
        if not program or not submit or not model_uri:
            raise EndpointFailed(
                "ClientError: the model's container needs ModelDataUrl and the SAGEMAKER_PROGRAM and "
                "SAGEMAKER_SUBMIT_DIRECTORY environment variables (the scikit-learn serving container's contract)"
            )
        folder = self.endpoints_dir / name / f"{config['EndpointConfigName']}-{uuid.uuid4().hex[:8]}"
        try:
            self.code.require_script(program, "SAGEMAKER_PROGRAM")
            model_dir, code_dir = folder / "model", folder / "code"
            self._unpack(str(model_uri), folder / "model.tar.gz", model_dir)
            self._unpack(str(submit), folder / "sourcedir.tar.gz", code_dir)
            self.code.verify_folder(code_dir, f"SAGEMAKER_SUBMIT_DIRECTORY {submit}")
        except JobFailed as error:
            raise EndpointFailed(str(error)) from error
        return self._launch(name, folder, program, environment, str(variant["VariantName"]), config)

    def _launch(
        self, name: str, folder: Path, program: str, environment: dict[str, str], variant: str, config: dict[str, Any]
    ) -> ModelServer:
        failure_file = folder / "failure"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AWS_"))}
        env.setdefault("OMP_NUM_THREADS", "1")
        env.update(environment)
        log = (folder / "server.log").open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "driftline.local.endpoints",
                "--code-dir",
                str(folder / "code"),
                "--model-dir",
                str(folder / "model"),
                "--program",
                program,
                "--failure-file",
                str(failure_file),
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        log.close()
        port = _read_port(process, START_TIMEOUT_SECONDS)
        if port is None:
            process.kill()
            process.wait()
            reason = read_text_or_none(failure_file) or _tail(folder / "server.log")
            raise EndpointFailed(f"ClientError: the model did not load ({reason}); see {folder / 'server.log'}")
        server = ModelServer(process, port, folder, str(config["EndpointConfigName"]), variant)
        if not _healthy(port, PING_TIMEOUT_SECONDS):
            server.stop()
            raise EndpointFailed(
                f"ClientError: the model's server did not answer GET /ping with 200 within {PING_TIMEOUT_SECONDS:.0f} "
                f"seconds; see {folder / 'server.log'}"
            )
        return server

    def _unpack(self, uri: str, archive: Path, target: Path) -> None:
        from driftline.local.sagemaker import JobFailed

        bucket, key = split_s3_uri(uri, EndpointFailed)
        archive.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._s3().download_file(bucket, key, str(archive))
        except Exception as error:
            raise JobFailed(f"ClientError: could not download {uri} ({error})") from error
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise JobFailed(f"ClientError: {uri} is not a readable .tar.gz archive ({error})") from error

    def _s3(self) -> Any:
        from driftline.local.clients import emulator_client  # boto3: not in the server process

        return emulator_client("s3", self.endpoint_url, self.region)

    # -- invocations ----------------------------------------------------------------------------
    def invoke(
        self, name: str, body: bytes, content_type: str | None, accept: str | None, inference_id: str | None = None
    ) -> tuple[int, bytes, str, str]:
        """Forward one invocation: ``(status, body, content type, variant)``; raises KeyError when not serving."""
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise KeyError(name)
        with endpoint.lock:
            server = endpoint.server
            if server is None:
                raise KeyError(name)
            with server.idle:
                server.in_flight += 1
        try:
            status, answer, answer_type = _post(server.port, body, content_type, accept)
        except OSError as error:
            reason = f"the model's server is not answering ({error}); see {server.folder / 'server.log'}"
            status, answer, answer_type = 500, json.dumps({"message": reason}).encode(), "application/json"
        finally:
            with server.idle:
                server.in_flight -= 1
                server.idle.notify_all()
        if 200 <= status < 300 and endpoint.capture is not None:
            self._capture(endpoint, server.variant, body, content_type, answer, answer_type, inference_id)
        return status, answer, answer_type, server.variant

    # -- data capture ---------------------------------------------------------------------------
    def _capture(
        self,
        endpoint: LocalEndpoint,
        variant: str,
        body: bytes,
        content_type: str | None,
        answer: bytes,
        answer_type: str,
        inference_id: str | None,
    ) -> None:
        settings = endpoint.capture
        if settings is None or random.uniform(0, 100) >= settings["percentage"]:
            return
        data: dict[str, Any] = {}
        if settings["input"]:
            data["endpointInput"] = _captured(body, content_type or "", "INPUT", settings)
        if settings["output"]:
            data["endpointOutput"] = _captured(answer, answer_type, "OUTPUT", settings)
        now = utc_now()
        metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if inference_id:
            metadata["inferenceId"] = inference_id
        record = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
        with endpoint.lock:
            endpoint.captured.append((now, {**record, "_variant": variant, "_destination": settings["destination"]}))

    def flush_captures(self) -> None:
        """Write every captured record now (local mode does it every few seconds and when it stops)."""
        for endpoint in list(self.endpoints.values()):
            self._flush(endpoint)

    def _flush(self, endpoint: LocalEndpoint) -> None:
        with endpoint.lock:
            records, endpoint.captured = endpoint.captured, []
        files: dict[str, list[str]] = {}
        for inferred, record in records:
            destination, variant = record.pop("_destination"), record.pop("_variant")
            hour = inferred.strftime("%Y/%m/%d/%H")
            files.setdefault(f"{destination}/{endpoint.name}/{variant}/{hour}", []).append(
                json.dumps(record, separators=(",", ":"))
            )
        if not files:
            return
        s3 = self._s3()
        written = utc_now()
        for prefix, lines in files.items():
            bucket, key_prefix = split_s3_uri(prefix, EndpointFailed)
            stamp = f"{written:%M-%S}-{written.microsecond // 1000:03d}"
            key = f"{key_prefix}/{stamp}-{uuid.uuid4()}.jsonl"
            try:
                s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode() + b"\n")
            except Exception as error:
                self.console.line(endpoint.name, f"could not write captured data to s3://{bucket}/{key}: {error}")

    def _ensure_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_periodically, name="endpoint-capture", daemon=True)
            self._flusher.start()

    def _flush_periodically(self) -> None:
        while not self._stopping.wait(self.capture_flush_seconds):
            self.flush_captures()


def endpoint_state_change_event(fake: Any) -> dict[str, Any]:
    """The PutEvents entry of an endpoint's state change, in the shape AWS documents for the event.

    The status is written as the event writes it (``IN_SERVICE``, ``UPDATING``), not as DescribeEndpoint does;
    times are epoch milliseconds and tags a name-to-value object.
    """
    status = re.sub(r"(?<!^)(?=[A-Z])", "_", str(fake.endpoint_status)).upper()
    variants = [
        {
            "DesiredWeight": float(variant.get("DesiredWeight", variant.get("CurrentWeight", 1.0)) or 1.0),
            "DesiredInstanceCount": float(
                variant.get("DesiredInstanceCount", variant.get("CurrentInstanceCount", 1)) or 1
            ),
        }
        for variant in (fake.production_variants or [])
    ]
    detail: dict[str, Any] = {
        "EndpointName": fake.endpoint_name,
        "EndpointArn": fake.arn,
        "EndpointConfigName": fake.endpoint_config_name,
        "ProductionVariants": variants,
        "EndpointStatus": status,
        "CreationTime": _event_millis(fake.creation_time),
        "LastModifiedTime": _event_millis(fake.last_modified_time),
        "Tags": {tag["Key"]: tag["Value"] for tag in (fake.tags or [])},
    }
    if fake.failure_reason:
        detail["FailureReason"] = fake.failure_reason
    return {
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker Endpoint State Change",
        "Detail": json.dumps(detail),
        "Resources": [fake.arn],
    }


def _event_millis(value: Any) -> float:
    """An endpoint's time as its state-change event writes it: moto keeps a datetime or an ISO 8601 text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return float(epoch_millis(value))
    return float(value or 0)


def _capture_settings(config: dict[str, Any]) -> dict[str, Any] | None:
    """What to capture, from the endpoint config's DataCaptureConfig; None when capture is off."""
    capture = config.get("DataCaptureConfig") or {}
    if not capture or capture.get("EnableCapture") is False:
        return None
    modes = {str(option.get("CaptureMode", "")) for option in capture.get("CaptureOptions") or []}
    headers = capture.get("CaptureContentTypeHeader") or {}
    return {
        "destination": str(capture["DestinationS3Uri"]).rstrip("/"),
        "percentage": float(capture.get("InitialSamplingPercentage", 0)),
        "input": bool(modes & {"Input", "InputAndOutput"}),
        "output": bool(modes & {"Output", "InputAndOutput"}),
        "csv": {_media_type(t) for t in headers.get("CsvContentTypes") or []},
        "json": {_media_type(t) for t in headers.get("JsonContentTypes") or []},
    }


def _capture_summary(config: dict[str, Any]) -> dict[str, Any] | None:
    """DescribeEndpoint's DataCaptureConfigSummary for the configuration being served."""
    capture = config.get("DataCaptureConfig") or {}
    if not capture:
        return None
    enabled = capture.get("EnableCapture") is not False
    return {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(capture.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": str(capture.get("DestinationS3Uri", "")),
        "KmsKeyId": str(capture.get("KmsKeyId", "")),
    }


def _captured(data: bytes, content_type: str, mode: str, settings: dict[str, Any]) -> dict[str, str]:
    """One side of a capture record: text for the configured CSV and JSON types, base64 for anything else."""
    kind = _media_type(content_type)
    encoding = "CSV" if kind in settings["csv"] else "JSON" if kind in settings["json"] else "BASE64"
    try:
        text = base64.b64encode(data).decode() if encoding == "BASE64" else data.decode("utf-8")
    except UnicodeDecodeError:
        encoding, text = "BASE64", base64.b64encode(data).decode()
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _post(port: int, body: bytes, content_type: str | None, accept: str | None) -> tuple[int, bytes, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=INVOKE_TIMEOUT_SECONDS)
    headers = {"Content-Type": content_type or "application/json"}
    if accept:
        headers["Accept"] = accept
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or "application/octet-stream"
    finally:
        connection.close()


def _healthy(port: int, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    return False


def _read_port(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The ``PORT <n>`` line the server prints once its model is loaded; None when it exits first."""
    found: list[int] = []

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("PORT "):
                found.append(int(line.split()[1]))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else None


def _tail(path: Path, lines: int = 5) -> str:
    text = read_text_or_none(path) or "no output"
    return " | ".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------------
# The seam: moto's SageMaker and SageMaker Runtime answer through the runner.
# ---------------------------------------------------------------------------------------------------

_active: list[EndpointRunner] = []


def install(runner: EndpointRunner) -> None:
    """Give SageMaker endpoints created from now on a local server run by ``runner``."""
    from driftline.local import seams

    _active[:] = [runner]
    if seams.claim("sagemaker-endpoints"):
        _patch()


def _patch() -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    from driftline.local import seams

    create_endpoint = SageMakerModelBackend.create_endpoint
    delete_endpoint = SageMakerModelBackend.delete_endpoint

    def model_resolver(backend: SageMakerModelBackend) -> Callable[[str], dict[str, Any]]:
        def resolve(model_name: str) -> dict[str, Any]:
            model = backend._models.get(model_name)
            if model is None:
                raise EndpointFailed(f"ClientError: model {model_name} does not exist")
            container = dict(model.primary_container or (model.containers or [{}])[0])
            package_name = container.get("ModelPackageName")
            if package_name:
                package = backend.describe_model_package(package_name)
                containers = (package.inference_specification or {}).get("Containers") or [{}]
                container = {**containers[0], **{k: v for k, v in container.items() if k == "Environment"}}
                container["Environment"] = {
                    **(containers[0].get("Environment") or {}),
                    **(container.get("Environment") or {}),
                }
            return container

        return resolve

    def create(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        if endpoint_name in self.endpoints:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        fake = create_endpoint(self, endpoint_name, endpoint_config_name, tags)
        config = {**self.describe_endpoint_config(endpoint_config_name), "EndpointConfigName": endpoint_config_name}
        _active[-1].create(fake, config, model_resolver(self))
        return fake

    def delete(self: SageMakerModelBackend, endpoint_name: str) -> None:
        delete_endpoint(self, endpoint_name)
        _active[-1].delete(endpoint_name)

    def update_endpoint(self: SageMakerResponse) -> ActionResult:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        config_name = self._get_param("EndpointConfigName")
        fake = backend.endpoints.get(name)
        if fake is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        if fake.endpoint_status != "InService":
            raise ValidationError(
                message=f"Cannot update in-progress endpoint {fake.arn}: it is {fake.endpoint_status}; "
                "wait until it is InService."
            )
        config = {**backend.describe_endpoint_config(config_name), "EndpointConfigName": config_name}
        _active[-1].update(fake, config, model_resolver(backend))
        return ActionResult({"EndpointArn": fake.arn})

    def invoke_endpoint(self: SageMakerRuntimeResponse) -> Any:
        name = unquote(self.path.split("?", 1)[0].split("/")[2])
        account, region = self.current_account, self.region
        headers = {key.lower(): value for key, value in self.headers.items()}
        body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
        try:
            status, answer, answer_type, variant = _active[-1].invoke(
                name,
                body,
                headers.get("content-type"),
                headers.get("accept"),
                headers.get("x-amzn-sagemaker-inference-id"),
            )
        except KeyError:
            return _runtime_error(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
        if 200 <= status < 300:
            return (
                200,
                {"Content-Type": answer_type, "x-Amzn-Invoked-Production-Variant": variant, "status": "200"},
                answer,
            )
        side = "client" if status < 500 else "server"
        message = answer.decode("utf-8", errors="replace")
        log_stream = f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{name}"
        return _runtime_error(
            424,
            "ModelError",
            f'Received {side} error ({status}) from primary with message "{message}". '
            f"See {log_stream} for more information.",
            OriginalStatusCode=status,
            OriginalMessage=message,
            LogStreamArn=log_stream,
        )

    seams.replace(SageMakerModelBackend, "create_endpoint", create)
    seams.replace(SageMakerModelBackend, "delete_endpoint", delete)
    seams.add(SageMakerResponse, "update_endpoint", update_endpoint)
    seams.replace(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)


def _runtime_error(status: int, code: str, message: str, **members: Any) -> tuple[int, dict[str, str], str]:
    """A SageMaker Runtime error as its REST-JSON protocol sends it."""
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code, "status": str(status)}
    return status, headers, json.dumps({"message": message, **members})


if __name__ == "__main__":
    sys.exit(serve())
