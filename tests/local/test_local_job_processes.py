"""Local jobs forked from a warm interpreter behave as jobs run in a fresh interpreter do."""

from __future__ import annotations

import os
import select
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.local.job_processes import ForkedJob, JobProcesses

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the fork server needs fork")

JOB = """
import os
import sys

import helper

print("argv", sys.argv[1:], "cwd", os getcwd_placeholder)
print("name", __name__, "variable", os.environ.get("DRIFTLINE_EXECUTION_NAME"), "helper", helper.VALUE)
print("to stderr", file=sys.stderr)
action = sys.argv[1] if len(sys.argv) > 1 else ""
if action == "raise":
    raise ValueError("no column named income")
if action == "exit-text":
    sys.exit("training data is empty")
if action == "sleep":
    import time
    time.sleep(60)
if action == "nap":
    import time
    time.sleep(1)
    print("woke")
if action.isdigit():
    sys.exit(int(action))
""".replace("os getcwd_placeholder", "os.getcwd()")


@pytest.fixture
def job(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "helper.py").write_text("VALUE = 42\n")
    script = code / "train.py"
    script.write_text(textwrap.dedent(JOB))
    return script


@pytest.fixture
def processes() -> Iterator[JobProcesses]:
    processes = JobProcesses(preload=("decimal",))
    processes.start_server()
    yield processes
    processes.close()


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, DRIFTLINE_EXECUTION_NAME="credit-1a2b", PYTHONUNBUFFERED="1", **extra)


def _run(processes: JobProcesses, script: Path, *arguments: str, **env: str) -> tuple[int, str]:
    process = processes.start([sys.executable, str(script), *arguments], cwd=script.parent.parent, env=_env(**env))
    assert process.stdout is not None
    output = process.stdout.read()
    return process.wait(), output


def _fresh(script: Path, *arguments: str) -> tuple[int, str]:
    return _run(JobProcesses(), script, *arguments)


@pytest.mark.parametrize(
    "arguments",
    [(), ("3",), ("raise",), ("exit-text",), ("256",)],
    ids=["success", "exit-code", "uncaught-exception", "exit-with-message", "exit-code-wraps"],
)
def test_a_forked_job_prints_and_exits_exactly_as_a_fresh_interpreter_would(
    processes: JobProcesses, job: Path, arguments: tuple[str, ...]
) -> None:
    forked = _run(processes, job, *arguments)

    assert forked == _fresh(job, *arguments)
    assert processes.forked == 1


def test_a_forked_job_sees_its_arguments_folder_environment_and_sibling_modules(
    processes: JobProcesses, job: Path
) -> None:
    code, output = _run(processes, job, "--max_iter", "300")

    assert code == 0
    assert f"argv ['--max_iter', '300'] cwd {job.parent.parent}" in output
    assert "name __main__ variable credit-1a2b helper 42" in output
    assert "to stderr" in output


def test_an_uncaught_exception_shows_the_script_s_traceback_and_exits_1(processes: JobProcesses, job: Path) -> None:
    code, output = _run(processes, job, "raise")

    assert code == 1
    assert output.splitlines()[-1] == "ValueError: no column named income"
    assert f'File "{job}"' in output
    assert "runpy" not in output


def test_a_killed_job_reports_the_signal_as_a_fresh_interpreter_s_popen_does(
    processes: JobProcesses, job: Path
) -> None:
    process = processes.start([sys.executable, str(job), "sleep"], cwd=job.parent, env=_env())
    assert process.stdout is not None
    assert select.select([process.stdout], [], [], 30)[0], "the job printed nothing"
    process.stdout.readline()  # the job runs: it printed its first line
    process.kill()

    assert process.wait() == -signal.SIGKILL


def test_a_job_that_sets_a_variable_read_at_interpreter_start_gets_a_fresh_interpreter(
    processes: JobProcesses, job: Path
) -> None:
    code, output = _run(processes, job, OMP_NUM_THREADS="1")

    assert code == 0 and "helper 42" in output
    assert (processes.forked, processes.fresh) == (0, 1)


def test_a_command_other_than_python_and_a_script_runs_as_given(processes: JobProcesses, tmp_path: Path) -> None:
    process = processes.start(["/bin/sh", "-c", "echo from the shell; exit 4"], cwd=tmp_path, env=_env())
    assert process.stdout is not None

    assert process.stdout.read() == "from the shell\n"
    assert process.wait() == 4
    assert (processes.forked, processes.fresh) == (0, 1)


def test_jobs_run_in_fresh_interpreters_when_the_server_was_never_started(job: Path) -> None:
    processes = JobProcesses()

    assert _run(processes, job, "3")[0] == 3
    assert (processes.forked, processes.fresh) == (0, 1)


@pytest.mark.skipif(not Path("/proc/net/unix").exists(), reason="reads Linux's socket tables")
def test_the_server_listens_on_no_port_and_no_path(processes: JobProcesses, job: Path) -> None:
    _run(processes, job)  # the server is up and has served a job
    server = processes._server
    assert server is not None
    inodes = set()
    for fd in Path(f"/proc/{server.pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    assert inodes, "the server holds its end of the socket pair"
    for table in ("tcp", "tcp6", "udp", "udp6"):
        rows = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        assert not inodes & {row.split()[9] for row in rows}
    unix = {row.split()[6]: row.split()[7:] for row in Path("/proc/net/unix").read_text().splitlines()[1:]}
    assert all(unix.get(inode) == [] for inode in inodes), "no socket of the server has a path"


def test_waiting_for_the_server_says_whether_jobs_will_be_forked(processes: JobProcesses, job: Path) -> None:
    assert processes.wait_ready() is True
    assert JobProcesses().wait_ready(timeout=0.1) is False
    processes.close()

    assert processes.wait_ready(timeout=0.1) is False
    assert _run(processes, job, "3")[0] == 3
    assert (processes.forked, processes.fresh) == (0, 1)


def test_ctrl_c_in_the_terminal_neither_stops_a_job_nor_prints_its_traceback(
    processes: JobProcesses, job: Path
) -> None:
    """Ctrl-C reaches every process of local mode's terminal, the fork server and its jobs too; a job is stopped by
    local mode (killed, the job Stopped), as SageMaker stops one, never by the terminal's key."""
    process = processes.start([sys.executable, str(job), "nap"], cwd=job.parent.parent, env=_env())
    assert isinstance(process, ForkedJob) and process.stdout is not None
    assert process.stdout.readline().startswith("argv")
    server = processes._server
    assert server is not None

    os.kill(process.pid, signal.SIGINT)
    os.kill(server.pid, signal.SIGINT)
    output = process.stdout.read()

    assert process.wait() == 0 and "woke" in output
    assert "KeyboardInterrupt" not in output and "Traceback" not in output
    assert server.poll() is None  # the server still forks the next job
    assert _run(processes, job)[0] == 0
