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
from pathlib import Path

import numpy as np
import pandas as pd
from machine import publish

REPO_ROOT = Path(__file__).resolve().parents[1]
ML_DIR = REPO_ROOT / "ml"
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


def process_tree(root: int) -> list[int]:
    """The root process and every process below it (a job's forked workers included), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def proportional_set_size(pid: int) -> int:
    """Bytes of memory the process holds, shared pages divided among their sharers (Linux's Pss)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(command: list[str], timeout: float, cwd: Path | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak memory (bytes) and stdout of ``command``.

    Peak memory is the largest sum, over the process and its workers, of their proportional set sizes,
    sampled every 20 ms once the command runs (a forked worker's pages shared with its parent count once):
    what the job needs of the instance's memory. (A child's own ``ru_maxrss`` would count the pages of this
    large benchmark process it was forked from before it started the command.)
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=cwd)
        deadline = started + timeout
        peak = 0
        expected = "\0".join(command[:2])
        while process.poll() is None:
            if time.perf_counter() > deadline:
                process.kill()
                process.wait()
                raise SystemExit(f"{command[1]} ran past {timeout:.0f} s")
            try:
                running = Path(f"/proc/{process.pid}/cmdline").read_text().startswith(expected)
            except OSError:
                running = False
            if running:
                peak = max(peak, sum(proportional_set_size(pid) for pid in process_tree(process.pid)))
            time.sleep(0.02)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise SystemExit(f"{' '.join(command[:2])} failed:\n{err.read()[-2000:]}")
        return wall, peak, out.read()


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
        load_before = os.getloadavg()[0]
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
    ours_peak = max(baseline_rss, monitor_rss)
    lines = [
        f"### Drift analysis: {args.rows:,} captured records x {len(FEATURES)} features, beside Evidently",
        f"- data: reference train split and capture window of {args.rows:,} rows each ({len(NUMERIC)} numeric, "
        f"{len(CATEGORICAL)} categorical features; {generated:.1f} s to generate, not counted)",
        f"- drifted by construction: {', '.join(expected)}",
        f"- Driftline: baseline job (once per model, at registration) **{baseline_s:.1f} s**, peak memory "
        f"{baseline_rss / 2**20:.0f} MiB; monitor job (every window) **{monitor_s:.1f} s**, peak memory "
        f"{monitor_rss / 2**20:.0f} MiB; both read with {os.cpu_count()} processes (the machine's CPUs); "
        f"drifted: {', '.join(ours) or 'none'}",
        f"- Evidently {EVIDENTLY_PINS[0].split('==')[1]} DataDriftPreset (reference and window each run, one "
        f"process): **{evidently_s:.1f} s** wall (reading {theirs['read_s']:.1f} s, report "
        f"{theirs['analysis_s']:.1f} s), peak memory {evidently_rss / 2**20:.0f} MiB; drifted: "
        f"{', '.join(theirs['drifted']) or 'none'}",
        f"- ratio, a monitoring window (monitor job vs the preset): **{evidently_s / monitor_s:.1f}x** faster",
        f"- ratio, baseline and monitor together vs the preset: **{evidently_s / ours_total:.1f}x** faster, "
        f"{evidently_rss / ours_peak:.1f}x less memory at peak",
        f"- verdicts agree with the construction: Driftline {'yes' if ours == expected else 'no'}, "
        f"Evidently {'yes' if theirs['drifted'] == expected else 'no'}",
        "- peak memory: the largest sum of the job's processes' proportional set sizes, sampled every 20 ms",
        f"- load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after",
    ]
    publish(lines, record=args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
