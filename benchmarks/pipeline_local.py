"""Benchmark: local wall time from upload to registered model, and each handler's cold import time.

Run: ``.venv/bin/python benchmarks/pipeline_local.py --rows 50000``. Prints a Markdown section and, with
``--record``, appends it to ``benchmarks/RESULTS.md`` with the machine and date.

What it measures, all in one run on one machine:
- upload -> registered model wall time, split into ML work (the three SageMaker jobs, run locally) and
  orchestration (everything else: events, Step Functions, Lambda handlers, S3);
- the state transitions the run took (what Step Functions bills for a Standard workflow);
- each handler's cold import time, next to a bare ``import boto3`` as the peer it is compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import RESULTS, publish

from driftline import datasets
from driftline.local.console import Console
from driftline.local.demo import upload_and_follow
from driftline.local.emulator import LocalCloud
from driftline.local.settings import REPO_ROOT, LocalSettings

HANDLER_ENV = {
    "POWERTOOLS_SERVICE_NAME": "driftline",
    "POWERTOOLS_METRICS_NAMESPACE": "Driftline",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def cold_import_seconds(code_dir: Path | None, statement: str) -> tuple[float, float]:
    """Wall and CPU seconds to run ``statement`` in a fresh interpreter, as a Lambda cold start imports."""
    env = dict(os.environ, **HANDLER_ENV)
    paths = [str(REPO_ROOT / "layers" / "shared" / "python")]
    if code_dir is not None:
        paths.insert(0, str(code_dir))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    program = (
        "import time; t = time.perf_counter(); c = time.process_time()\n"
        f"{statement}\n"
        "print(time.perf_counter() - t, time.process_time() - c)"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, cwd=code_dir or REPO_ROOT, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pipeline_run(rows: int) -> list[str]:
    """Two uploads of the same file in one local session: the first pays cold starts, the second runs warm."""
    with tempfile.TemporaryDirectory() as scratch:
        csv_path = Path(scratch) / "credit.csv"
        generated = time.perf_counter()
        datasets.write_credit_csv(csv_path, rows, seed=11)
        generate_seconds = time.perf_counter() - generated
        console = Console()
        console.quiet = True
        cloud = LocalCloud(LocalSettings(port=free_port(), state_dir=Path(scratch) / "state"), console)
        cloud.start()
        # As a person would after `driftline local up`: upload once local mode has warmed up.
        warm_up = time.perf_counter()
        cloud.lambdas.wait_prewarmed()
        cloud.jobs.processes.wait_ready()
        warm_up_seconds = time.perf_counter() - warm_up
        records = []
        try:
            for _ in range(2):
                before = dict(cloud.jobs.durations)
                # Following stops where the registered model waits for a person's approval.
                record = upload_and_follow(cloud, "credit", csv_path, timeout=1800, approve=False)
                if record.status != "RUNNING" or "Register" not in record.state_seconds:
                    raise RuntimeError(f"run did not register a model: {record.status} {record.error} {record.cause}")
                validated_rows, record.transitions = _registered_run(cloud, record.execution_arn)
                jobs = {name: seconds for name, seconds in cloud.jobs.durations.items() if name not in before}
                records.append((record, jobs))
            launches = (
                f"{cloud.jobs.processes.forked} forked from the warm interpreter, {cloud.jobs.processes.fresh} fresh"
            )
        finally:
            cloud.stop()
    lines = [
        f"- rows: {rows:,} ({csv_path.name}, {generate_seconds:.1f} s to generate, not counted)",
        f"- rows validated and trained on: {validated_rows:,}",
        f"- job processes: {launches}",
    ]
    for label, (record, jobs) in zip(("first run after start", "second run"), records, strict=True):
        ml_seconds = sum(jobs.values())
        total = record.wall_seconds
        lines += [
            f"- {label}: upload -> registered model **{total:.1f} s** wall",
            f"  - ML work (3 SageMaker jobs run locally): {ml_seconds:.1f} s ({ml_seconds / total:.0%})",
            f"  - orchestration (events, state machine, handlers, S3): {total - ml_seconds:.1f} s "
            f"({(total - ml_seconds) / total:.0%})",
        ]
        for name, seconds in sorted(jobs.items()):
            lines.append(f"    - {name.rsplit('-', 1)[-1]} job: {seconds:.1f} s")
        for state in ("Validate", "QualityGate", "Register"):
            lines.append(f"    - {state} state: {record.state_seconds.get(state, 0.0):.2f} s")
    lines.append(
        f"- state transitions per run up to the approval wait: {records[0][0].transitions} "
        "(states entered; what Standard workflows bill)"
    )
    lines.append(
        f"- local stack deploy: {cloud.deploy_seconds:.1f} s, then warm-up (function workers, job interpreter): "
        f"{warm_up_seconds:.1f} s"
    )
    return lines


def _registered_run(cloud: LocalCloud, execution_arn: str) -> tuple[int, int]:
    """Rows Validate accepted and states entered, for a run now waiting for approval; the run is then stopped."""
    sfn = cloud.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    sfn.stop_execution(executionArn=execution_arn, cause="benchmark: measured up to the registered model")
    rows = 0
    for event in events:
        exited = event.get("stateExitedEventDetails") or {}
        if exited.get("name") == "Validate":
            rows = int(json.loads(exited["output"])["validation"]["rows"])
    return rows, sum(1 for event in events if event["type"].endswith("StateEntered"))


# What every handler here loads before its own code: boto3, pydantic with one payload model built (each
# handler builds its input model's validator at init), and Powertools' Logger and Metrics, created as the
# handlers create them.
HANDLER_FLOOR = (
    "import boto3\nfrom pydantic import BaseModel\n"
    "class Payload(BaseModel):\n    name: str\n"
    "Payload.model_validate({'name': 'floor'})\n"
    "from aws_lambda_powertools import Logger, Metrics\n"
    "Logger(); Metrics()"
)


def import_times(repeats: int) -> list[str]:
    """Cold imports measured side by side: each round runs every subject once, so load hits them alike."""
    subjects: dict[str, tuple[Path | None, str]] = {
        "boto3": (None, "import boto3"),
        "floor": (None, HANDLER_FLOOR),
    }
    for folder in sorted((REPO_ROOT / "functions").iterdir()):
        if (folder / "app.py").exists():
            subjects[folder.name] = (folder, "import app")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in subjects}
    for _ in range(repeats):
        for name, (code_dir, statement) in subjects.items():
            samples[name].append(cold_import_seconds(code_dir, statement))
    wall = {name: statistics.median(s[0] for s in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(s[1] for s in runs) for name, runs in samples.items()}

    def line(label: str, name: str) -> str:
        return (
            f"- {label}: {wall[name] * 1000:.0f} ms wall ({wall[name] / wall['boto3']:.2f}x boto3), "
            f"{cpu[name] * 1000:.0f} ms CPU ({cpu[name] / cpu['boto3']:.2f}x)"
        )

    lines = [
        f"- peer: bare `import boto3`: {wall['boto3'] * 1000:.0f} ms wall, {cpu['boto3'] * 1000:.0f} ms CPU "
        f"(medians of {repeats}, interleaved with the rows below)",
        line("floor: boto3 + pydantic (one model built) + Powertools Logger and Metrics", "floor"),
    ]
    lines += [line(name, name) for name in subjects if name not in ("boto3", "floor")]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--record", action="store_true", help=f"append the results to {RESULTS.name}")
    parser.add_argument("--imports-only", action="store_true", help="measure only the handlers' cold imports")
    args = parser.parse_args()
    section: list[str] = []
    if not args.imports_only:
        section += ["### Upload to registered model (local mode)", *pipeline_run(args.rows), ""]
    section += [
        "### Handler cold import time (fresh interpreter, shared layer on the path)",
        *import_times(args.repeats),
    ]
    publish(section, record=args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
