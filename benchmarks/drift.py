"""Benchmark: the drift monitor's analysis of a million captured records beside Evidently's data drift preset.

Run: ``.venv/bin/python benchmarks/drift.py --setup`` once (creates ``benchmarks/.venv-evidently`` with pinned
Evidently and pandas<3, which Evidently needs), then ``.venv/bin/python benchmarks/drift.py [--rows N]
[--record]``. Prints a Markdown section; ``--record`` appends it to ``benchmarks/RESULTS.md`` with the
machine and date.

One generated data set serves both sides, written once into a temporary folder:

- the reference: a train split as the preprocessing job writes it (target first, 16 numeric features, 4
  categorical ones as codes) with its ``preprocessing.json``, ``--rows`` rows;
- the current window: ``--rows`` data capture records (SageMaker's JSON lines, one CSV row each) from the
  same population except 4 numeric features shifted by half a standard deviation and 1 categorical feature
  with its mix turned around: 5 clearly drifted columns, 15 clean ones.

Each side runs in its own fresh interpreter, reading those files, and reports its wall time and peak
resident memory (``ru_maxrss`` of that process): Driftline runs ``ml/baseline.py`` and ``ml/monitor.py`` as
the jobs run; Evidently reads the same train split (codes decoded as the baseline job decodes them) and the
same capture files (each record's CSV row), then runs ``Report([DataDriftPreset()])``. Both verdicts (which
columns drifted) are printed side by side. Each subprocess is bounded by ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from machine import machine

REPO_ROOT = Path(__file__).resolve().parents[1]
ML_DIR = REPO_ROOT / "ml"
RESULTS = Path(__file__).with_name("RESULTS.md")
EVIDENTLY_VENV = Path(__file__).with_name(".venv-evidently")
EVIDENTLY_PINS = ["evidently==0.7.23", "pandas<3"]
NUMERIC = [f"n{i:02d}" for i in range(16)]
CATEGORICAL = [f"c{i:02d}" for i in range(4)]
FEATURES = NUMERIC + CATEGORICAL
SHIFTED_NUMERIC = NUMERIC[:4]
SHIFTED_CATEGORICAL = CATEGORICAL[:1]
CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon"]
MIX = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
CAPTURE_TEMPLATE = (
    '{{"captureData":{{"endpointInput":{{"observedContentType":"text/csv","mode":"INPUT","data":"{}",'
    '"encoding":"CSV"}}}},"eventMetadata":{{"eventId":"{}","inferenceTime":"2026-11-20T10:{:02d}:00Z"}},'
    '"eventVersion":"0"}}\n'
)

EVIDENTLY_PROGRAM = r"""
import json, sys, time, resource
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

train, metadata, capture = sys.argv[1], sys.argv[2], sys.argv[3:]
meta = json.load(open(metadata))
features = meta["feature_columns"]
started = time.perf_counter()
reference = pd.read_csv(train, usecols=features)
for name, values in meta["categorical"].items():
    reference[name] = reference[name].map(dict(enumerate(values)))
rows = []
for path in capture:
    with open(path) as lines:
        rows.extend(json.loads(line)["captureData"]["endpointInput"]["data"] for line in lines)
import io
current = pd.read_csv(io.StringIO("\n".join(rows)), header=None, names=features)
read = time.perf_counter() - started
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
result = snapshot.dict()
drifted = []
for metric in result["metrics"]:
    config = metric.get("config") or {}
    if config.get("type", "").endswith("ValueDrift"):
        value, threshold = metric["value"], config["threshold"]
        # p-value tests flag drift below the threshold, distances at or above it
        if (value < threshold) if "p_value" in config["method"] else (value >= threshold):
            drifted.append(config["column"])
print(json.dumps({"drifted": sorted(set(drifted)), "read_s": read, "analysis_s": time.perf_counter() - started - read}))
"""


def setup() -> None:
    if not (EVIDENTLY_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    subprocess.run([str(EVIDENTLY_VENV / "bin" / "pip"), "install", "-q", *EVIDENTLY_PINS], check=True)


def population(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for index, name in enumerate(NUMERIC):
        shift = 0.5 if shifted and name in SHIFTED_NUMERIC else 0.0
        if index % 2:
            columns[name] = np.round(rng.normal(100 + 10 * shift, 10, rows), 3)
        else:
            columns[name] = np.round(rng.lognormal(shift * 0.5, 0.5, rows), 4)
    for name in CATEGORICAL:
        mix = MIX[::-1] if shifted and name in SHIFTED_CATEGORICAL else MIX
        columns[name] = rng.choice(len(CATEGORIES), rows, p=mix)
    return pd.DataFrame(columns)


def generate(folder: Path, rows: int) -> tuple[Path, Path, list[Path]]:
    reference = population(rows, 1, shifted=False)
    reference.insert(0, "target", np.random.default_rng(0).integers(0, 2, rows))
    (folder / "train").mkdir()
    (folder / "metadata").mkdir()
    train = folder / "train" / "train.csv"
    reference.to_csv(train, index=False)
    metadata = folder / "metadata" / "preprocessing.json"
    metadata.write_text(
        json.dumps(
            {
                "target": "target",
                "problem_type": "binary_classification",
                "feature_columns": FEATURES,
                "categorical": {name: CATEGORIES for name in CATEGORICAL},
                "class_labels": ["0", "1"],
            }
        )
    )
    current = population(rows, 2, shifted=True)
    for name in CATEGORICAL:
        current[name] = np.asarray(CATEGORIES, dtype=object)[current[name].to_numpy()]
    csv_lines = current.to_csv(header=False, index=False).splitlines()
    hour = folder / "capture" / "bench-endpoint" / "AllTraffic" / "2026" / "11" / "20" / "10"
    hour.mkdir(parents=True)
    files = []
    per_file = 100_000
    for start in range(0, rows, per_file):
        path = hour / f"capture-{start // per_file:03d}.jsonl"
        with path.open("w") as out:
            out.writelines(
                CAPTURE_TEMPLATE.format(line, f"event-{start + i}", (start + i) % 60)
                for i, line in enumerate(csv_lines[start : start + per_file])
            )
        files.append(path)
    return train, metadata, files


def run_measured(command: list[str], timeout: float, cwd: Path | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak resident memory (bytes, the process's own ``ru_maxrss`` from os.wait4) and stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=cwd)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                raise SystemExit(f"{command[1]} ran past {timeout:.0f} s")
            time.sleep(0.05)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise SystemExit(f"{' '.join(command[:2])} failed:\n{err.read()[-2000:]}")
        return wall, usage.ru_maxrss * 1024, out.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--setup", action="store_true", help="create the Evidently virtual environment and stop")
    parser.add_argument("--record", action="store_true", help="append the section to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    if args.setup:
        setup()
        return 0
    evidently_python = EVIDENTLY_VENV / "bin" / "python"
    if not evidently_python.exists():
        raise SystemExit(f"{evidently_python} is missing: run {Path(__file__).name} --setup first")

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        train, metadata, capture = generate(folder, args.rows)
        generated = time.perf_counter() - started
        python = sys.executable
        baseline_s, baseline_rss, _ = run_measured(
            [
                *(python, "baseline.py", "--train-dir", str(train.parent), "--metadata-dir", str(metadata.parent)),
                *("--output-dir", str(folder / "baseline"), "--message-file", str(folder / "message")),
            ],
            args.timeout,
            cwd=ML_DIR,
        )
        monitor_s, monitor_rss, _ = run_measured(
            [
                *(python, "monitor.py", "--capture-dir", str(folder / "capture")),
                *("--baseline-dir", str(folder / "baseline"), "--output-dir", str(folder / "out")),
                *("--message-file", str(folder / "message"), "--resource-config", str(folder / "no-cluster.json")),
            ],
            args.timeout,
            cwd=ML_DIR,
        )
        violations = json.loads((folder / "out" / "constraint_violations.json").read_text())["violations"]
        ours = sorted(v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check")
        evidently_s, evidently_rss, printed = run_measured(
            [str(evidently_python), "-c", EVIDENTLY_PROGRAM, str(train), str(metadata), *map(str, capture)],
            args.timeout,
        )
        theirs = json.loads(printed.strip().splitlines()[-1])

    expected = sorted(SHIFTED_NUMERIC + SHIFTED_CATEGORICAL)
    ours_total = baseline_s + monitor_s
    lines = [
        f"### Drift analysis: {args.rows:,} captured records x {len(FEATURES)} features, beside Evidently",
        f"- data: reference train split and capture window of {args.rows:,} rows each ({len(NUMERIC)} numeric, "
        f"{len(CATEGORICAL)} categorical features; {generated:.1f} s to generate, not counted)",
        f"- drifted by construction: {', '.join(expected)}",
        f"- Driftline (ml/baseline.py + ml/monitor.py): **{ours_total:.1f} s** wall "
        f"(baseline {baseline_s:.1f} s, monitor {monitor_s:.1f} s), peak memory "
        f"{max(baseline_rss, monitor_rss) / 2**20:.0f} MiB; drifted: {', '.join(ours) or 'none'}",
        f"- Evidently {EVIDENTLY_PINS[0].split('==')[1]} DataDriftPreset: **{evidently_s:.1f} s** wall "
        f"(reading {theirs['read_s']:.1f} s, report {theirs['analysis_s']:.1f} s), peak memory "
        f"{evidently_rss / 2**20:.0f} MiB; drifted: {', '.join(theirs['drifted']) or 'none'}",
        f"- ratio: Driftline is **{evidently_s / ours_total:.1f}x** faster end to end, "
        f"{evidently_rss / max(baseline_rss, monitor_rss):.1f}x less memory at peak",
        f"- verdicts agree with the construction: Driftline {'yes' if ours == expected else 'no'}, "
        f"Evidently {'yes' if theirs['drifted'] == expected else 'no'}",
    ]
    section = "\n".join(lines)
    print(section)
    if args.record:
        header = f"\n## {date.today().isoformat()}: {machine()}\n\n"
        with RESULTS.open("a", encoding="utf-8") as results:
            results.write(header + section + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
