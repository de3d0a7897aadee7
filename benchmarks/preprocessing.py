"""The preprocessing job on one and on two instances: wall time, peak memory per instance, the same splits.

For each size (1M and 10M rows by default) it writes the synthetic loan data with the column types Validate
declares, then runs the real job (``ml/preprocess.py``, an XGBoost run with two training instances) as one
instance, and as two instances at once (two processes, each with its resource config, as SageMaker and local mode
run them). Each instance is measured in a process of its own (wall time, peak resident memory). The two-instance
parts, read in order, must hold exactly the single instance's rows, or the benchmark fails.

The job reads the data twice: a first pass over every row's target and text columns, which every instance makes,
and a second over its own rows. The AWS column extrapolates from the one-instance figures (the passes' times from
the job's log) to four ml.m5.large instances at the snapshot's processing price, SageMaker's start-up left out.

    python benchmarks/preprocessing.py [--rows 1000000 10000000] [--record]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.machine import publish  # noqa: E402
from benchmarks.xgboost_training import measured  # noqa: E402
from driftline.datasets import CREDIT_COLUMNS, write_credit_csv  # noqa: E402

AWS_INSTANCE = "ml.m5.large"
OUTPUTS = ("train", "validation", "test", "metadata", "xgboost")


def config() -> dict[str, Any]:
    """The run config Validate writes for the loans: every column typed, home ownership the one text column."""
    return {
        "target": "default",
        "problem_type": "binary_classification",
        "columns": [
            {"name": name, "type": "categorical" if name in ("home_ownership", "default") else "numeric"}
            for name in CREDIT_COLUMNS
        ],
        "model_algorithm": "xgboost",
        "instance_count": 2,
    }


def run_instances(work: Path, data: Path, count: int) -> list[dict[str, Any]]:
    """The job on ``count`` instances at once; each instance's figures and log."""
    (work / "config").mkdir(parents=True)
    (work / "config" / "config.json").write_text(json.dumps(config()))
    hosts = [f"algo-{index}" for index in range(1, count + 1)]

    def instance(host: str) -> dict[str, Any]:
        root = work / host
        root.mkdir()
        (root / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
        command = [sys.executable, str(REPO_ROOT / "ml" / "preprocess.py"), "--data-dir", str(data)]
        command += ["--config-dir", str(work / "config"), "--resource-config", str(root / "resourceconfig.json")]
        command += [arg for name in OUTPUTS for arg in (f"--{name}-dir", str(root / "out" / name))]
        command += ["--message-file", str(root / "message")]
        return {**measured(command, root), "root": root}

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(instance, hosts))


def digest(roots: list[Path]) -> str:
    """A digest of every split's rows in order: the one file, or the parts read in order, one header each."""
    hashed = hashlib.sha256()
    for output, file_name in (
        ("train", "train"),
        ("validation", "validation"),
        ("test", "test"),
        ("test", "test_features"),
    ):
        header_seen = False
        for index, root in enumerate(roots):
            for name in (f"{file_name}.csv", f"{file_name}-{index:05d}.csv"):
                path = root / "out" / output / name
                if not path.is_file():
                    continue
                with path.open("rb") as handle:
                    header = handle.readline()
                    if not header_seen:
                        hashed.update(header)
                        header_seen = True
                    while block := handle.read(2**24):
                        hashed.update(block)
    return hashed.hexdigest()


def pass_seconds(root: Path) -> tuple[float, float]:
    log = (root / "job.log").read_text()
    first = re.search(r"First pass .* took ([0-9.]+) s", log)
    second = re.search(r"Second pass .* took ([0-9.]+) s", log)
    return (float(first.group(1)) if first else 0.0, float(second.group(1)) if second else 0.0)


def aws_estimate(first: float, second: float, instances: int) -> str:
    from driftline.layer_modules import layer_module

    prices: Any = layer_module("driftline_core.costs.prices")
    hourly = prices.load_snapshot().instance_hour("us-east-1", "processing", AWS_INSTANCE).usd
    seconds = first + second / instances
    return f"~{seconds:.0f} s on {instances} x {AWS_INSTANCE}, ~${hourly * instances * seconds / 3600:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    lines = ["### The preprocessing job on one and on two instances (loans, declared column types, XGBoost output)"]
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="driftline-preprocess-") as scratch:
            work = Path(scratch)
            (work / "data").mkdir()
            started = time.perf_counter()
            write_credit_csv(work / "data" / "loans.csv", rows, seed=3)
            size = (work / "data" / "loans.csv").stat().st_size / 2**20
            generated = time.perf_counter() - started
            one = run_instances(work / "one", work / "data", 1)
            two = run_instances(work / "two", work / "data", 2)
            same = digest([one[0]["root"]]) == digest([instance["root"] for instance in two])
            if not same:
                raise SystemExit("the two instances' parts do not hold the single instance's rows")
            first, second = pass_seconds(one[0]["root"])
            wall_two = max(instance["seconds"] for instance in two)
            peak_two = max(instance["peak_mib"] for instance in two)
            lines += [
                f"- {rows:,} rows ({size:,.0f} MiB CSV, {generated:.0f} s to generate, not counted)",
                f"  - 1 instance: **{one[0]['seconds']:.1f} s**, peak {one[0]['peak_mib']:,.0f} MiB "
                f"(first pass {first:.1f} s, second {second:.1f} s)",
                f"  - 2 instances at once: **{wall_two:.1f} s** (slowest instance), peak {peak_two:,.0f} MiB "
                f"(largest instance); the parts hold the single instance's rows in its order: {same}",
                f"  - two instances against one: {wall_two / one[0]['seconds']:.2f}x the time, "
                f"{peak_two / one[0]['peak_mib']:.2f}x the peak memory per instance",
                f"  - AWS estimate (snapshot price, the passes' times here): {aws_estimate(first, second, 1)}; "
                f"{aws_estimate(first, second, 4)}",
            ]
    publish(lines, record=args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
