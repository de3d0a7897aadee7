"""SageMaker's XGBoost algorithm in local mode on one and on two instances: training time and peak memory.

For each size (1M and 10M rows by default) it writes the synthetic loan data, runs the real preprocessing job
(``ml/preprocess.py``, as an XGBoost run with two training instances: the train split dealt into two files), then
trains the same rounds with local mode's algorithm (``driftline.local.xgboost_algorithm``) twice: one instance
reading both files, and two instances reading one file each and training together. Each figure is the command's
wall time and the peak resident memory of its largest process (an instance's worker), measured in a process of
its own. Both models are scored on the test split (AUC), so the two-instance model is seen to be the same model.

The AWS columns are estimates from SageMaker's published on-demand price (``prices.json``, ml.m5.xlarge, 4 vCPU,
16 GiB) and per-second billing of each instance while it trains: the local time scaled from this machine's cores
to the instance's vCPUs, one instance against four, and SageMaker's start-up (instances and image, a few minutes,
not billed) left out.

    python benchmarks/xgboost_training.py [--rows 1000000 10000000] [--rounds 50] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "ml"))

from benchmarks.machine import publish  # noqa: E402
from driftline.datasets import write_credit_csv  # noqa: E402

AWS_INSTANCE = "ml.m5.xlarge"
AWS_VCPUS = 4
AWS_MEMORY_GIB = 16


def measured(command: list[str], cwd: Path) -> dict[str, float]:
    """Run ``command`` in a process of its own that reports the wall time and its largest descendant's peak RSS
    (the command's output is kept in ``job.log`` in ``cwd``)."""
    probe = [sys.executable, __file__, "--measure", str(cwd), "--", *command]
    result = subprocess.run(probe, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def measure(cwd: Path, command: list[str]) -> None:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    (cwd / "job.log").write_text(completed.stdout)
    if completed.returncode != 0:
        print(completed.stdout[-3000:])
        raise SystemExit(completed.returncode)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024}))


def preprocess(work: Path, csv_path: Path) -> tuple[Path, dict[str, float]]:
    config = {
        "target": "default",
        "problem_type": "binary_classification",
        "metric": "auc",
        "model_algorithm": "xgboost",
        "instance_count": 2,
    }
    (work / "data").mkdir()
    shutil.move(csv_path, work / "data" / csv_path.name)
    (work / "config").mkdir()
    (work / "config" / "config.json").write_text(json.dumps(config))
    out = work / "out"
    outputs = [
        arg
        for name in ("train", "validation", "test", "metadata", "xgboost")
        for arg in (f"--{name}-dir", str(out / name))
    ]
    figures = measured(
        [
            sys.executable,
            str(REPO_ROOT / "ml" / "preprocess.py"),
            "--data-dir",
            str(work / "data"),
            "--config-dir",
            str(work / "config"),
            *outputs,
            "--message-file",
            str(work / "preprocess-message"),
        ],
        work,
    )
    return out, figures


def instance_root(
    root: Path, host: str, hosts: list[str], train_files: list[Path], validation: Path, rounds: int
) -> Path:
    """One instance's /opt/ml as local mode's executor lays it out."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    hyperparameters = {
        "num_round": str(rounds),
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "max_depth": "6",
        "eta": "0.2",
    }
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
    (config / "inputdataconfig.json").write_text(
        json.dumps({"train": {"ContentType": "text/csv"}, "validation": {"ContentType": "text/csv"}})
    )
    for channel, files in (("train", train_files), ("validation", [validation])):
        folder = root / "input" / "data" / channel
        folder.mkdir(parents=True)
        for file in files:
            os.link(file, folder / file.name)
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root


def train(work: Path, out: Path, instances: int, rounds: int) -> tuple[dict[str, float], Path]:
    shards = sorted((out / "xgboost" / "train").iterdir())
    validation = out / "xgboost" / "validation" / "part-00000.csv"
    hosts = [f"algo-{index}" for index in range(1, instances + 1)]
    job = work / f"train-{instances}"
    roots = [
        instance_root(
            job / host, host, hosts, shards if instances == 1 else shards[index::instances], validation, rounds
        )
        for index, host in enumerate(hosts)
    ]
    command = [sys.executable, "-m", "driftline.local.xgboost_algorithm"]
    for root in roots:
        command += ["--instance-root", str(root)]
    return measured(command, job), roots[0] / "model" / "xgboost-model"


def test_auc(out: Path, model: Path) -> float:
    import xgboost
    from sklearn.metrics import roc_auc_score

    test = pd.read_csv(out / "test" / "test.csv")
    booster = xgboost.Booster()
    booster.load_model(str(model))
    scores = booster.inplace_predict(test.iloc[:, 1:].to_numpy(dtype=np.float32), missing=np.nan)
    return float(roc_auc_score(test.iloc[:, 0], scores))


def aws_estimate(local_seconds: float, instances: int) -> str:
    from driftline.layer_modules import layer_module

    prices: Any = layer_module("driftline_core.costs.prices")
    hourly = prices.load_snapshot().instance_hour("us-east-1", "training", AWS_INSTANCE).usd
    seconds = local_seconds * (os.cpu_count() or 2) / AWS_VCPUS / instances
    return f"~{seconds:.0f} s training on {instances} x {AWS_INSTANCE}, ~${hourly * instances * seconds / 3600:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    lines = [f"### SageMaker's XGBoost algorithm in local mode: one and two instances ({args.rounds} rounds, depth 6)"]
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="driftline-xgboost-") as scratch:
            work = Path(scratch)
            started = time.perf_counter()
            csv_path = work / "loans.csv"
            write_credit_csv(csv_path, rows, seed=3)
            size = csv_path.stat().st_size / 2**20
            generated = time.perf_counter() - started
            out, prep = preprocess(work, csv_path)
            lines.append(
                f"- {rows:,} rows ({size:,.0f} MiB CSV, {generated:.0f} s to generate, not counted): preprocessing "
                f"{prep['seconds']:.1f} s, peak {prep['peak_mib']:,.0f} MiB"
            )
            results = {}
            for instances in (1, 2):
                figures, model = train(work, out, instances, args.rounds)
                results[instances] = figures
                lines.append(
                    f"  - {instances} instance(s): training **{figures['seconds']:.1f} s**, peak "
                    f"{figures['peak_mib']:,.0f} MiB (largest instance), test AUC {test_auc(out, model):.4f}"
                )
            one, two = results[1], results[2]
            lines.append(
                f"  - two instances against one: {two['seconds'] / one['seconds']:.2f}x the time, "
                f"{two['peak_mib'] / one['peak_mib']:.2f}x the peak memory per instance"
            )
            lines.append(
                f"  - AWS estimate ({AWS_INSTANCE}, {AWS_MEMORY_GIB} GiB, snapshot price): "
                f"{aws_estimate(one['seconds'], 1)}; {aws_estimate(one['seconds'], 4)} (ideal scaling; the allreduce "
                "each round costs more over a network)"
            )
    publish(lines, record=args.record)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(Path(sys.argv[2]), sys.argv[4:])
        sys.exit(0)
    sys.exit(main())
