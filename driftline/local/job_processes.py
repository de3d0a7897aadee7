"""Job processes: local SageMaker jobs run their scripts in processes forked from a warm interpreter.

A job script spends its first second importing pandas, numpy and scikit-learn. Local mode starts one
interpreter that has imported them (the fork server) and forks a child per job. The child takes the job's
arguments, environment, working directory and log pipe, runs the script as ``__main__`` with runpy and exits
with the status a fresh ``python script.py`` would: ``sys.exit`` codes as given, 1 with the traceback for an
uncaught exception, minus the signal number when killed.

The server talks only over a socket pair it shares with the job runner: no path, no port, nothing another
process can connect to. It runs only what the runner sends there. Jobs the server cannot honour run in a
fresh interpreter as before: a command that is not ``python <script>``, a job whose environment sets what
Python or the numeric libraries read when they start (they are already started in the server), or a
platform without fork.

This file is also the server's program: it imports only the standard library at the top, so nothing of
Driftline ends up in the jobs' modules.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import queue
import runpy
import select
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

PRELOADED_MODULES = (
    "numpy",
    "pandas",
    "sklearn",
    "sklearn.ensemble",
    "sklearn.metrics",
    "sklearn.model_selection",
    "joblib",
)
"""What the application's job scripts import: loaded once in the server, shared by every forked job."""

STARTUP_VARIABLE_PREFIXES = (
    "PYTHON",
    "OMP_",
    "GOMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
    "GOTO",
    "BLIS_",
    "VECLIB_",
    "NUMEXPR_",
    "NUMBA_",
    "SKLEARN_",
    "SCIPY_",
    "JOBLIB_",
    "LOKY_",
    "LD_",
    "MALLOC_",
)
"""Variables read when the interpreter or a numeric library starts; a job that sets one gets a fresh interpreter.
``PYTHONUNBUFFERED`` is the exception: the forked child sets its streams up unbuffered itself."""

_EMULATED_STARTUP_VARIABLES = frozenset({"PYTHONUNBUFFERED"})
_READY_TIMEOUT_SECONDS = 60.0
_MESSAGE_BYTES = 1 << 20


class JobProcess(Protocol):
    """What the job runner needs of a running job: its output lines, its exit status, a way to stop it."""

    stdout: IO[str] | None

    def wait(self) -> int: ...

    def kill(self) -> None: ...


class ForkedJob:
    """A job running in a child of the fork server; behaves as the ``Popen`` of a fresh interpreter would."""

    def __init__(self, pid: int, output: IO[str], exits: queue.Queue[int]) -> None:
        self.pid = pid
        self.stdout: IO[str] | None = output
        self._exits = exits
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = self._exits.get()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class JobProcesses:
    """Starts job processes: forked from the warm server when it can, else fresh interpreters."""

    def __init__(self, preload: tuple[str, ...] = PRELOADED_MODULES) -> None:
        self.preload = preload
        self.forked = 0
        self.fresh = 0
        self._server: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None
        self._server_env: dict[str, str] = {}
        self._ready = threading.Event()
        self._usable = False
        self._send_lock = threading.Lock()
        self._next_id = 0
        self._waiting: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._waiting_lock = threading.Lock()

    # -- the server's life ----------------------------------------------------------------------
    def start_server(self, env: Mapping[str, str] | None = None) -> None:
        """Start the fork server in the background; jobs started before it is ready wait for it."""
        if self._server is not None or not hasattr(os, "fork") or not hasattr(socket, "send_fds"):
            return
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError:
            return
        self._server_env = dict(os.environ if env is None else env)
        with theirs:
            self._server = subprocess.Popen(
                [sys.executable, __file__, str(theirs.fileno()), *self.preload],
                pass_fds=(theirs.fileno(),),
                env=self._server_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        self._channel = ours
        threading.Thread(target=self._read_replies, name="job-fork-server", daemon=True).start()

    def wait_ready(self, timeout: float = _READY_TIMEOUT_SECONDS) -> bool:
        """Wait until the server has imported the ML libraries; False when there is no usable server."""
        return self._server is not None and self._ready.wait(timeout) and self._usable

    def close(self) -> None:
        """Stop the server; jobs it still runs are killed with it."""
        channel, server, self._channel, self._server = self._channel, self._server, None, None
        self._usable = False
        self._ready.set()
        if channel is not None:
            # shutdown, not only close: it wakes the reply reader and tells the server the runner is gone.
            with contextlib.suppress(OSError):
                channel.shutdown(socket.SHUT_RDWR)
            channel.close()
        if server is not None:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    # -- starting a job -------------------------------------------------------------------------
    def start(self, command: list[str], *, cwd: Path, env: Mapping[str, str]) -> JobProcess:
        """Run ``command`` (``[python, script, *arguments]``) as a job; its output and errors are one stream."""
        if self._can_fork(command, env):
            forked = self._fork(command, cwd, env)
            if forked is not None:
                self.forked += 1
                return forked
        self.fresh += 1
        return subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def _can_fork(self, command: list[str], env: Mapping[str, str]) -> bool:
        if self._server is None or len(command) < 2 or command[0] != sys.executable:
            return False
        if not command[1].endswith(".py") or not Path(command[1]).is_file():
            return False
        changed = {name for name, value in env.items() if self._server_env.get(name) != value}
        changed |= {name for name in self._server_env if name not in env}
        return not any(
            name.upper().startswith(STARTUP_VARIABLE_PREFIXES) and name.upper() not in _EMULATED_STARTUP_VARIABLES
            for name in changed
        )

    def _fork(self, command: list[str], cwd: Path, env: Mapping[str, str]) -> ForkedJob | None:
        if not self._ready.wait(_READY_TIMEOUT_SECONDS) or not self._usable or self._channel is None:
            return None
        replies: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._waiting_lock:
            self._next_id += 1
            request_id = self._next_id
            self._waiting[request_id] = replies
        request = {"id": request_id, "argv": command[1:], "cwd": str(cwd), "env": dict(env)}
        read_end, write_end = os.pipe()
        try:
            with self._send_lock:
                socket.send_fds(self._channel, [json.dumps(request).encode()], [write_end])
        except OSError:
            os.close(read_end)
            return None
        finally:
            os.close(write_end)
        started = replies.get()
        if "pid" not in started:
            os.close(read_end)
            return None
        exits: queue.Queue[int] = queue.Queue()
        threading.Thread(target=lambda: exits.put(int(replies.get()["exit"])), daemon=True).start()
        return ForkedJob(int(started["pid"]), open(read_end, encoding="utf-8", errors="replace"), exits)

    def _read_replies(self) -> None:
        channel = self._channel
        assert channel is not None
        try:
            while True:
                data = channel.recv(_MESSAGE_BYTES)
                if not data:
                    break
                reply = json.loads(data)
                if reply.get("ready"):
                    self._usable = True
                    self._ready.set()
                    continue
                with self._waiting_lock:
                    replies = self._waiting.get(int(reply["id"]))
                    if "exit" in reply:
                        self._waiting.pop(int(reply["id"]), None)
                if replies is not None:
                    replies.put(reply)
        except OSError:
            pass
        finally:
            self._usable = False
            self._ready.set()
            with self._waiting_lock:
                waiting, self._waiting = self._waiting, {}
            for replies in waiting.values():  # the server is gone, and the jobs it forked with it
                replies.put({"exit": -signal.SIGKILL})


# ---------------------------------------------------------------------------------------------- server


def serve(channel: socket.socket, preload: list[str]) -> None:
    """Preload, say ready, then fork one child per request until the runner closes its end.

    Ctrl-C in the terminal reaches every process of local mode: the server and its jobs ignore it, as a SageMaker
    job never sees a terminal's key; local mode stops its jobs itself (StopTrainingJob's way: the process is
    killed and the job ends Stopped), and the server once the runner closes its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in preload:
        with contextlib.suppress(ImportError):
            __import__(name)
    channel.send(json.dumps({"ready": True}).encode())
    children: dict[int, int] = {}
    while True:
        readable, _, _ = select.select([channel], [], [], 0.02 if children else None)
        if readable:
            data, fds, _, _ = socket.recv_fds(channel, _MESSAGE_BYTES, 1)
            if not data:
                break
            request = json.loads(data)
            pid = os.fork()
            if pid == 0:
                _run_child(request, fds[0], channel)
            os.close(fds[0])
            children[pid] = int(request["id"])
            channel.send(json.dumps({"id": request["id"], "pid": pid}).encode())
        for pid, status in _reaped(children):
            channel.send(json.dumps({"id": children.pop(pid), "exit": os.waitstatus_to_exitcode(status)}).encode())
    for pid in children:
        os.kill(pid, signal.SIGKILL)


def _reaped(children: dict[int, int]) -> Iterator[tuple[int, int]]:
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        if pid in children:
            yield pid, status


def _run_child(request: dict[str, Any], log_fd: int, channel: socket.socket) -> None:
    """In the forked child: become ``python <script> <arguments>`` and exit with the script's status."""
    channel.close()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(null)
    os.close(log_fd)
    env: dict[str, str] = request["env"]
    os.environ.clear()
    os.environ.update(env)
    os.chdir(request["cwd"])
    script = os.path.abspath(request["argv"][0])
    sys.argv = [request["argv"][0], *request["argv"][1:]]
    sys.path.insert(0, os.path.dirname(script))
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - the child's stdin for its whole life
    sys.stdout = _text_stream(1, "strict", unbuffered)
    sys.stderr = _text_stream(2, "backslashreplace", True)
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_request:
        code = _exit_status(exit_request.code)
    except BaseException as error:
        _print_uncaught(error, script)
        code = 1
    for thread in threading.enumerate():  # the interpreter waits for non-daemon threads before exiting
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _text_stream(fd: int, errors: str, unbuffered: bool) -> io.TextIOWrapper:
    encoding = sys.stdout.encoding if sys.stdout is not None else "utf-8"
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False),
        encoding=encoding,
        errors=errors,
        line_buffering=True,
        write_through=unbuffered,
    )


def _exit_status(code: object) -> int:
    """What the interpreter makes of ``sys.exit(code)``: None is 0, an int is itself, anything else is printed."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _print_uncaught(error: BaseException, script: str) -> None:
    """The traceback a fresh interpreter prints: from the script's own frames, not the server's."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__, file=sys.stderr)
    sys.stderr.flush()


if __name__ == "__main__":
    # Python put this file's folder first on the path; the jobs' scripts get their own folder there instead.
    del sys.path[0]
    serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2:])
