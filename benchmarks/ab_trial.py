"""Benchmark: how often the A/B trial's decision is right, on simulated trials with a known truth, and how long
the analysis job takes on a large trial.

Run: ``.venv/bin/python benchmarks/ab_trial.py [--trials N] [--record]``. Prints a Markdown section; ``--record``
appends it to ``benchmarks/RESULTS.md`` with the machine and date.

Each simulated trial draws labelled rows for the champion and the challenger from a known truth and runs the job's
own statistics and decision (``driftline_ml.trial_statistics.analyse``, alpha 0.05, 200 labelled rows needed):

- a better challenger (accuracy 0.80 against 0.85) at a 50/50 and a 90/10 split of 2,000 labelled rows, and in a
  shadow trial of 1,000 labelled requests (both variants answer each; the challenger fixes 45% of the champion's
  errors and breaks 5% of its right answers): how often it is promoted (the power), set beside the normal
  approximation of the z-test's power;
- no difference (0.80 against 0.80) in the same three designs: how often a winner is declared anyway (the false
  positive rate, which should be near alpha, and the challenger's share of it near alpha / 2);
- a worse challenger (0.80 against 0.75): how often it is promoted (should be almost never);
- a regression metric (rmse 1.0 against 0.9, 500 rows each) and its no-difference case (Welch's t-test on squared
  errors), and f1 (a permutation test, fewer trials as each runs 1,000 permutations).

Then the job itself (``ml/trial_analysis.py`` in a fresh interpreter) on ``--records`` captured records per
variant, a tenth of them labelled: its wall time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from machine import RESULTS, publish
from scipy import stats

REPO_ROOT = Path(__file__).resolve().parents[1]
ML_DIR = REPO_ROOT / "ml"
sys.path.insert(0, str(ML_DIR))  # the job code is a folder of scripts, not an installed package
from driftline_ml.trial_statistics import (  # noqa: E402
    CHALLENGER,
    CHAMPION,
    NOT_ENOUGH_EVIDENCE,
    Rows,
    analyse,
)

ALPHA = 0.05
MIN_ROWS = 200


@dataclass(frozen=True)
class Scenario:
    title: str
    metric: str
    mode: str
    draw: Callable[[np.random.Generator], tuple[Rows, Rows]]
    expected: str
    """What should happen: "challenger" (it is better), "none" (no difference) or "champion" (it is worse)."""
    power_estimate: float | None = None
    trials_share: float = 1.0
    resamples: int = 2000


def classifier(accuracy: float, rows: int, rng: np.random.Generator) -> Rows:
    truth = rng.integers(0, 2, rows)
    return Rows(truth, np.where(rng.random(rows) < accuracy, truth, 1 - truth))


def split(champion: float, challenger: float, total: int, challenger_share: float) -> Callable[..., tuple[Rows, Rows]]:
    rows_b = round(total * challenger_share)

    def draw(rng: np.random.Generator) -> tuple[Rows, Rows]:
        return classifier(champion, total - rows_b, rng), classifier(challenger, rows_b, rng)

    return draw


def shadow(champion: float, kept: float, fixed: float, rows: int) -> Callable[..., tuple[Rows, Rows]]:
    """Both variants answer the same requests: the challenger is right on ``kept`` of the champion's right answers
    and ``fixed`` of its wrong ones (accuracy champion * kept + (1 - champion) * fixed)."""

    def draw(rng: np.random.Generator) -> tuple[Rows, Rows]:
        truth = rng.integers(0, 2, rows)
        right_a = rng.random(rows) < champion
        right_b = np.where(right_a, rng.random(rows) < kept, rng.random(rows) < fixed)
        return Rows(truth, np.where(right_a, truth, 1 - truth)), Rows(truth, np.where(right_b, truth, 1 - truth))

    return draw


def regression(champion_spread: float, challenger_spread: float, rows: int) -> Callable[..., tuple[Rows, Rows]]:
    def draw(rng: np.random.Generator) -> tuple[Rows, Rows]:
        sides = []
        for spread in (champion_spread, challenger_spread):
            truth = rng.normal(100, 15, rows)
            sides.append(Rows(truth, truth + rng.normal(0, spread, rows)))
        return sides[0], sides[1]

    return draw


def z_test_power(champion: float, challenger: float, rows_a: int, rows_b: int) -> float:
    """The normal approximation of the pooled two-proportion z-test's power (both tails): the test's threshold is
    set by the pooled standard error under no difference, the difference it sees varies by the unpooled one."""
    pooled = (champion * rows_a + challenger * rows_b) / (rows_a + rows_b)
    null_spread = math.sqrt(pooled * (1 - pooled) * (1 / rows_a + 1 / rows_b))
    spread = math.sqrt(champion * (1 - champion) / rows_a + challenger * (1 - challenger) / rows_b)
    threshold = stats.norm.ppf(1 - ALPHA / 2) * null_spread
    difference = abs(challenger - champion)
    return float(stats.norm.cdf((difference - threshold) / spread) + stats.norm.cdf((-difference - threshold) / spread))


SCENARIOS = [
    Scenario(
        "split 50/50, 1,000 + 1,000 labelled rows, accuracy 0.80 vs 0.85",
        "accuracy",
        "split",
        split(0.80, 0.85, 2000, 0.5),
        "challenger",
        z_test_power(0.80, 0.85, 1000, 1000),
    ),
    Scenario(
        "split 90/10, 1,800 + 200 labelled rows, accuracy 0.80 vs 0.85",
        "accuracy",
        "split",
        split(0.80, 0.85, 2000, 0.1),
        "challenger",
        z_test_power(0.80, 0.85, 1800, 200),
    ),
    Scenario(
        "shadow, 1,000 labelled requests answered by both, accuracy 0.80 vs 0.85",
        "accuracy",
        "shadow",
        shadow(0.80, 0.95, 0.45, 1000),
        "challenger",
    ),
    Scenario(
        "split 50/50, 1,000 + 1,000 labelled rows, accuracy 0.80 vs 0.80",
        "accuracy",
        "split",
        split(0.80, 0.80, 2000, 0.5),
        "none",
    ),
    Scenario(
        "split 90/10, 1,800 + 200 labelled rows, accuracy 0.80 vs 0.80",
        "accuracy",
        "split",
        split(0.80, 0.80, 2000, 0.1),
        "none",
    ),
    Scenario(
        "shadow, 1,000 labelled requests, accuracy 0.80 vs 0.80",
        "accuracy",
        "shadow",
        shadow(0.80, 0.95, 0.20, 1000),
        "none",
    ),
    Scenario(
        "split 50/50, 1,000 + 1,000 labelled rows, accuracy 0.80 vs a worse 0.75",
        "accuracy",
        "split",
        split(0.80, 0.75, 2000, 0.5),
        "champion",
    ),
    Scenario(
        "regression, split 50/50, 500 + 500 rows, rmse 1.0 vs 0.9",
        "rmse",
        "split",
        regression(1.0, 0.9, 500),
        "challenger",
    ),
    Scenario(
        "regression, split 50/50, 500 + 500 rows, rmse 1.0 vs 1.0",
        "rmse",
        "split",
        regression(1.0, 1.0, 500),
        "none",
    ),
    Scenario(
        "f1 (permutation test, 1,000 permutations), split 50/50, 1,000 + 1,000 rows, accuracy 0.80 vs 0.85",
        "f1",
        "split",
        split(0.80, 0.85, 2000, 0.5),
        "challenger",
        trials_share=0.2,
        resamples=1000,
    ),
    Scenario(
        "f1 (permutation test, 1,000 permutations), split 50/50, 1,000 + 1,000 rows, no difference",
        "f1",
        "split",
        split(0.80, 0.80, 2000, 0.5),
        "none",
        trials_share=0.2,
        resamples=1000,
    ),
]


def simulate(scenario: Scenario, trials: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    decisions = {CHALLENGER: 0, CHAMPION: 0, NOT_ENOUGH_EVIDENCE: 0}
    champion_better = 0
    started = time.perf_counter()
    for trial in range(trials):
        champion, challenger = scenario.draw(rng)
        outcome = analyse(
            scenario.metric,
            scenario.mode,
            champion,
            challenger,
            alpha=ALPHA,
            min_labelled_rows=MIN_ROWS,
            resamples=scenario.resamples,
            seed=trial,
        )
        decisions[outcome.decision.decision] += 1
        champion_better += outcome.decision.finding == "champion_better"
    per_trial = (time.perf_counter() - started) / trials

    def share(count: int) -> str:
        return f"{count / trials:.1%}"

    margin = 1.96 * math.sqrt(0.25 / trials)
    found = (
        f"challenger promoted {share(decisions[CHALLENGER])}, champion significantly better {share(champion_better)}"
    )
    if scenario.expected == "challenger":
        estimate = (
            f"; normal approximation of the power {scenario.power_estimate:.1%}"
            if scenario.power_estimate is not None
            else ""
        )
        verdict = f"power **{share(decisions[CHALLENGER])}**{estimate}"
    elif scenario.expected == "none":
        verdict = f"false positive rate **{share(decisions[CHALLENGER] + champion_better)}** (alpha {ALPHA:g})"
    else:
        verdict = f"worse challenger promoted **{share(decisions[CHALLENGER])}**"
    return (
        f"- {scenario.title} ({trials:,} trials; a share's 95% margin is at most {margin:.1%}): {verdict}; {found}; "
        f"{share(decisions[NOT_ENOUGH_EVIDENCE])} not enough evidence; {per_trial * 1000:.1f} ms per trial"
    )


CAPTURE_LINE = (
    '{{"captureData":{{"endpointInput":{{"observedContentType":"text/csv","mode":"INPUT","data":"1.5,2,basic",'
    '"encoding":"CSV"}},"endpointOutput":{{"observedContentType":"text/csv","mode":"OUTPUT","data":"{}",'
    '"encoding":"CSV"}}}},"eventMetadata":{{"eventId":"{}","inferenceTime":"2026-12-01T10:{:02d}:00Z"}},'
    '"eventVersion":"0"}}\n'
)


def write_trial(root: Path, records: int) -> int:
    """``records`` capture records per variant in SageMaker's layout, a tenth of them labelled (Model Monitor's
    layout); returns how many labels were written."""
    rng = np.random.default_rng(7)
    labels = []
    for variant, accuracy in (("AllTraffic", 0.80), ("v2", 0.83)):
        folder = root / "capture" / variant / "endpoint" / variant / "2026" / "12" / "01" / "10"
        folder.mkdir(parents=True)
        truth = rng.integers(0, 2, records)
        said = np.where(rng.random(records) < accuracy, truth, 1 - truth)
        scores = np.round(np.clip(0.5 + (said - 0.5) * 0.6 + rng.normal(0, 0.1, records), 0, 1), 4)
        with (folder / "capture.jsonl").open("w") as out:
            for i in range(records):
                answer = f"{said[i]},{1 - scores[i]:.4f},{scores[i]:.4f}\\n"
                out.write(CAPTURE_LINE.format(answer, f"{variant}-{i}", i % 60))
        labels += [(f"{variant}-{i}", int(truth[i])) for i in range(0, records, 10)]
    folder = root / "labels" / "2026" / "12" / "02" / "08"
    folder.mkdir(parents=True)
    with (folder / "labels.jsonl").open("w") as out:
        for key, label in labels:
            record = {"groundTruthData": {"data": str(label), "encoding": "CSV"}, "eventMetadata": {"eventId": key}}
            out.write(json.dumps({**record, "eventVersion": "0"}) + "\n")
    return len(labels)


PEAK_MEMORY_WRAPPER = """
import os, resource, runpy, sys
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(sys.argv[0])
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("peak_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""
"""Runs a script as ``python3 script.py`` would and reports its own peak memory (ru_maxrss, KiB on Linux)."""


def job_run(records: int, metric: str) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        labels = write_trial(root, records)
        generated = time.perf_counter() - started
        command = [sys.executable, "-c", PEAK_MEMORY_WRAPPER, str(ML_DIR / "trial_analysis.py")]
        command += ["--challenger-variant", "v2", "--problem-type", "binary_classification", "--metric", metric]
        command += ["--capture-dir", str(root / "capture"), "--labels-dir", str(root / "labels")]
        command += ["--output-dir", str(root / "out"), "--message-file", str(root / "message")]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
        elapsed = time.perf_counter() - started
        if result.returncode:
            raise SystemExit(f"the job failed: {result.stderr[-2000:]}")
        peak = int(result.stderr.rsplit("peak_kib", 1)[1]) / 1024
        trial = json.loads((root / "out" / "trial.json").read_text())
    test = trial["test"]
    tested = f"{test['label']}, p = {test['p_value']:.3g}" if test else "no test"
    return (
        f"- job on {2 * records:,} captured records ({records:,} per variant) and {labels:,} labels, {metric}: "
        f"**{elapsed:.1f} s** wall, peak memory {peak:.0f} MiB ({generated:.1f} s to generate, not counted); "
        f"decision {trial['decision']} ({tested})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=1000, help="simulated trials per scenario (a fifth for f1)")
    parser.add_argument("--records", type=int, default=200_000, help="captured records per variant for the job run")
    parser.add_argument("--record", action="store_true", help=f"append the results to {RESULTS.name}")
    args = parser.parse_args()
    lines = [
        "### A/B trial decisions on simulated trials (benchmarks/ab_trial.py)",
        f"- alpha {ALPHA:g}, {MIN_ROWS} labelled rows needed per variant; each trial runs the job's own statistics "
        "and decision (driftline_ml.trial_statistics.analyse), intervals and all",
    ]
    for index, scenario in enumerate(SCENARIOS):
        trials = max(100, round(args.trials * scenario.trials_share))
        lines.append(simulate(scenario, trials, seed=1000 + index))
        print(lines[-1], file=sys.stderr)
    lines.append("")
    lines.append("### The analysis job on a large trial (ml/trial_analysis.py, one process)")
    for metric in ("accuracy", "auc"):
        lines.append(job_run(args.records, metric))
        print(lines[-1], file=sys.stderr)
    publish(lines, record=args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
