"""Local mode's side of one endpoint server process: start it, wait until it answers, send it requests, stop it.

The process is ``driftline.local.endpoints.server`` run as a program in a folder that holds the unpacked
model and the checked serving code. It prints ``PORT <n>`` once the model is loaded; requests go to it only
once it also answers ``GET /ping``, as SageMaker waits for a container's health check.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from driftline.local.text_files import read_text_or_none

SERVER_MODULE = "driftline.local.endpoints.server"
PING_TIMEOUT_SECONDS = 30.0
"""SageMaker fails CreateEndpoint and UpdateEndpoint when the container does not answer /ping in time."""
START_TIMEOUT_SECONDS = 120.0
INVOKE_TIMEOUT_SECONDS = 60.0
"""A model container must answer an invocation within 60 seconds."""
DRAIN_TIMEOUT_SECONDS = 60.0


PYTORCH_INFERENCE_REPOSITORY = "pytorch-inference"
"""SageMaker's PyTorch serving image, which imports the serving program from the model's own ``code/`` folder."""
MODEL_CODE_DIR = "code"
PYTORCH_SERVING_LIBRARIES = Path(__file__).resolve().parent / "pytorch_serving"
"""Local mode's stand-in for what that image gives a serving program to import (the inference toolkit's errors)."""


def image_repository(image_uri: str) -> str:
    """``<registry>/<repository>:<tag>`` -> ``<repository>``."""
    return image_uri.split("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]


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
    credentials: dict[str, str] = field(default_factory=dict)  # the model's role: captured data is written as it
    in_flight: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)

    def begin_request(self, limit: int | None = None) -> bool:
        """Count a request sent to this server, so stopping it waits for the answer (``drain_and_stop``); False,
        and not counted, when ``limit`` requests are already unanswered."""
        with self.idle:
            if limit is not None and self.in_flight >= limit:
                return False
            self.in_flight += 1
            return True

    def end_request(self) -> None:
        with self.idle:
            self.in_flight -= 1
            self.idle.notify_all()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def drain_and_stop(self) -> None:
        """Let requests already sent to this server finish, then stop it."""
        deadline = time.time() + DRAIN_TIMEOUT_SECONDS
        with self.idle:
            while self.in_flight and time.time() < deadline:
                self.idle.wait(timeout=0.5)
        self.stop()


def launch_server(
    folder: Path,
    program: str,
    environment: dict[str, str],
    *,
    config_name: str,
    variant: str,
    library_dir: Path | None = None,
) -> ModelServer:
    """Start the server for the model and code unpacked in ``folder``; it is answering ``/ping`` when this returns."""
    failure_file = folder / "failure"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AWS_"))}
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(environment)
    log = (folder / "server.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            SERVER_MODULE,
            "--code-dir",
            str(folder / "code"),
            "--model-dir",
            str(folder / "model"),
            "--program",
            program,
            "--failure-file",
            str(failure_file),
            *(["--library-dir", str(library_dir)] if library_dir else []),
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
    server = ModelServer(process, port, folder, config_name, variant)
    if not _healthy(port, PING_TIMEOUT_SECONDS):
        server.stop()
        raise EndpointFailed(
            f"ClientError: the model's server did not answer GET /ping with 200 within {PING_TIMEOUT_SECONDS:.0f} "
            f"seconds; see {folder / 'server.log'}"
        )
    return server


def post_invocation(port: int, body: bytes, content_type: str | None, accept: str | None) -> tuple[int, bytes, str]:
    """One ``POST /invocations`` to the server on ``port``: ``(status, body, content type)``."""
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
