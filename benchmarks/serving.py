"""Benchmark: single-row CSV requests a local endpoint answers, beside the serving stack of SageMaker's container.

Run: ``.venv/bin/python benchmarks/serving.py``. Prints a Markdown section and, with ``--record``, appends it
to ``benchmarks/RESULTS.md`` with the machine and date.

Both stacks serve the same model (trained on the bundled breast cancer data by the real preprocessing and
training scripts) with the same ``ml/serve.py`` functions, one worker process each, one OpenMP thread:

- local endpoint: the server local mode starts for an endpoint (``python -m driftline.local.endpoints.server``:
  uvicorn with httptools, a plain ASGI application);
- container stack: what SageMaker's scikit-learn container runs for one model, gunicorn with gevent workers
  and a Flask application calling ``input_fn``, ``predict_fn`` and ``output_fn`` the way its worker does
  (without the nginx the container puts in front, which adds its own hop).

Clients are separate processes on the same machine, each with one keep-alive connection sending requests
back to back over loopback: one connection for latency, then several for throughput. Every run is bounded
by time and by a request count.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import RESULTS, publish

from driftline import datasets
from driftline.local.settings import REPO_ROOT

ML_DIR = REPO_ROOT / "ml"
MAX_REQUESTS_PER_CLIENT = 200_000

FLASK_APP = '''
"""The serving loop of SageMaker's scikit-learn container for one model, on Flask."""
import os
import sys

sys.path.insert(0, os.environ["SERVE_CODE_DIR"])
import flask
import serve

UTF8_TYPES = ("application/json", "text/csv", "text/plain")
model = serve.model_fn(os.environ["SERVE_MODEL_DIR"])
app = flask.Flask("serve")


@app.route("/ping")
def ping():
    return flask.Response(status=200)


@app.route("/invocations", methods=["POST"])
def invocations():
    headers = flask.request.headers
    content_type = headers.get("ContentType") or headers.get("Content-Type") or "application/json"
    accept = headers.get("Accept")
    if not accept or accept == "*/*":
        accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
    data = flask.request.get_data(as_text=content_type in UTF8_TYPES)
    result = serve.output_fn(serve.predict_fn(serve.input_fn(data, content_type), model), accept)
    if isinstance(result, tuple):
        return flask.Response(response=result[0], mimetype=result[1])
    return result
'''


def job_env(**extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return {**inherited, "OMP_NUM_THREADS": "1", **extra}


def train_model(root: Path) -> tuple[Path, str]:
    """The breast cancer model and one row of its features (without the target) as CSV."""
    (root / "data").mkdir(parents=True)
    data = root / "data" / "breast-cancer.csv"
    datasets.write_breast_cancer_csv(data)
    (root / "config").mkdir()
    (root / "config" / "config.json").write_text(
        json.dumps({"target": "diagnosis", "problem_type": "binary_classification"})
    )
    out = root / "out"
    run = [
        sys.executable,
        str(ML_DIR / "preprocess.py"),
        "--data-dir",
        str(root / "data"),
        "--config-dir",
        str(root / "config"),
    ]
    run += [arg for name in ("train", "validation", "test", "metadata") for arg in (f"--{name}-dir", str(out / name))]
    subprocess.run([*run, "--message-file", str(root / "message")], env=job_env(), check=True, capture_output=True)
    channels = {f"SM_CHANNEL_{n.upper()}": str(out / n) for n in ("train", "validation", "metadata")}
    subprocess.run(
        [sys.executable, str(ML_DIR / "train.py")],
        env=job_env(SM_MODEL_DIR=str(root / "model"), SM_OUTPUT_DIR=str(root / "output"), **channels),
        check=True,
        capture_output=True,
    )
    with data.open() as handle:
        reader = csv.DictReader(handle)
        first = next(reader)
    row = ",".join(value for name, value in first.items() if name != "diagnosis")
    return root / "model", row


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_local_endpoint(model_dir: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "driftline.local.endpoints.server", "--code-dir", str(ML_DIR)),
            *("--model-dir", str(model_dir), "--program", "serve.py", "--failure-file", str(scratch / "failure")),
        ],
        env=job_env(),
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.startswith("PORT "):
        raise RuntimeError(f"the local endpoint did not start: {line!r}")
    return process, int(line.split()[1])


def start_container_stack(model_dir: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], int]:
    (scratch / "container_stack.py").write_text(FLASK_APP)
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "-k", "gevent", "--timeout", "60", "--worker-connections", "1000"),
            *("--workers", "1", "--bind", f"127.0.0.1:{port}", "--chdir", str(scratch), "--log-level", "warning"),
            "container_stack:app",
        ],
        env=job_env(SERVE_CODE_DIR=str(ML_DIR), SERVE_MODEL_DIR=str(model_dir)),
    )
    return process, port


def wait_healthy(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no healthy server on port {port}")


def client(args: tuple[int, bytes, float, float]) -> list[int]:
    """Requests back to back on one keep-alive connection; latencies (ns) of those after the warm-up."""
    port, body, warm_until, stop_at = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
    latencies: list[int] = []
    while len(latencies) < MAX_REQUESTS_PER_CLIENT:
        started = time.perf_counter_ns()
        if started / 1e9 >= stop_at:
            break
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200 or not answer:
            raise RuntimeError(f"request failed: {response.status} {answer[:200]!r}")
        if started / 1e9 >= warm_until:
            latencies.append(time.perf_counter_ns() - started)
    connection.close()
    return latencies


def load(port: int, body: bytes, connections: int, seconds: float, warmup: float = 1.0) -> dict[str, float]:
    now = time.perf_counter_ns() / 1e9
    warm_until, stop_at = now + warmup, now + warmup + seconds
    with multiprocessing.get_context("fork").Pool(connections) as pool:
        results = pool.map(client, [(port, body, warm_until, stop_at)] * connections)
    latencies = sorted(value for result in results for value in result)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) / 1e6,
        "p99_ms": latencies[int(len(latencies) * 0.99)] / 1e6,
    }


def measure(stack: str, model_dir: Path, row: bytes, seconds: float, connections: list[int]) -> dict[int, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        start = start_local_endpoint if stack == "local" else start_container_stack
        process, port = start(model_dir, Path(scratch))
        try:
            wait_healthy(port)
            return {count: load(port, row, count, seconds) for count in connections}
        finally:
            process.terminate()
            process.wait(timeout=15)


def median_of(rounds: list[dict[int, Any]], case: int) -> dict[str, float]:
    """Each figure's median over the rounds (the machine's other work varies between them)."""
    return {key: statistics.median(r[case][key] for r in rounds) for key in ("requests", "rps", "p50_ms", "p99_ms")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per case (after 1 s warm-up)")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[1, 4, 8], help="client connections, one case for each count"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the two stacks taking turns in each")
    parser.add_argument("--record", action="store_true", help=f"append the results to {RESULTS.name}")
    args = parser.parse_args()
    stacks = ("local", "container")
    rounds: dict[str, list[dict[int, Any]]] = {stack: [] for stack in stacks}
    loads = []
    with tempfile.TemporaryDirectory() as scratch:
        model_dir, row = train_model(Path(scratch))
        body = row.encode()
        for _ in range(args.rounds):
            for stack in stacks:
                rounds[stack].append(measure(stack, model_dir, body, args.seconds, args.connections))
                loads.append(os.getloadavg()[0])
    results = {stack: {count: median_of(rounds[stack], count) for count in args.connections} for stack in stacks}
    names = {
        "local": "local endpoint (uvicorn + httptools, ASGI)",
        "container": "container stack (gunicorn + gevent, Flask)",
    }
    lines = [
        "### Serving single-row CSV requests (benchmarks/serving.py)",
        f"- model: HistGradientBoostingClassifier on the breast cancer data (30 features), {len(body)}-byte request; "
        "same ml/serve.py functions, one worker process each, OMP_NUM_THREADS=1, loopback",
        f"- medians of {args.rounds} rounds ({args.seconds:.0f} s measured per case after a 1 s warm-up, the stacks "
        "taking turns)",
    ]
    for stack, result in results.items():
        cases = [
            f"{count} connection{'s' if count > 1 else ''} **{figures['rps']:,.0f} req/s**, p50 "
            f"{figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms"
            for count, figures in result.items()
        ]
        lines.append(f"- {names[stack]}: " + "; ".join(cases))
    ratios = [
        f"{results['local'][count]['rps'] / results['container'][count]['rps']:.2f}x ({count})"
        for count in args.connections
    ]
    lines.append(f"- local endpoint / container stack throughput, by connections: {', '.join(ratios)}")
    lines.append(
        f"- note: clients run on the same cores as the servers; load average {min(loads):.1f} to {max(loads):.1f} "
        "during the run"
    )
    publish(lines, record=args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
