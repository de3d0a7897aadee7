"""Sample datasets for demos, tests and benchmarks, written as the CSV files a user would upload.

``breast-cancer`` is scikit-learn's bundled Wisconsin diagnostic data (real, small, offline).
``credit`` is a synthetic credit-risk table of any size, streamed in chunks so memory stays flat; its
``drift`` knob moves the applicant population (lower incomes, higher utilisation and debt, more renters)
the way a changing market would, so drift monitoring has something real to find.

    python -m driftline.datasets credit --rows 50000 --drift 0.2 credit.csv
    python -m driftline.datasets breast-cancer breast-cancer.csv
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

BREAST_CANCER_TARGET = "diagnosis"
CREDIT_TARGET = "default"
HOME_OWNERSHIP = ("rent", "own", "mortgage")
CREDIT_COLUMNS = (
    "age",
    "income",
    "employment_years",
    "home_ownership",
    "credit_history_years",
    "credit_lines",
    "utilization",
    "late_payments_12m",
    "inquiries_6m",
    "loan_amount",
    "debt_to_income",
    CREDIT_TARGET,
)
DEFAULT_CHUNK_ROWS = 50_000


def write_breast_cancer_csv(path: str | Path) -> int:
    """Write the 569-row breast cancer data: snake_case columns, text ``diagnosis``; return rows written."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    columns = [re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") for name in bunch.feature_names]
    frame = pd.DataFrame(bunch.data, columns=columns)
    frame[BREAST_CANCER_TARGET] = np.asarray(bunch.target_names)[bunch.target]
    frame.to_csv(path, index=False)
    return len(frame)


def write_credit_csv(
    path: str | Path, rows: int, *, seed: int = 0, drift: float = 0.0, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> int:
    """Write ``rows`` synthetic loan applications with a 0/1 ``default`` outcome; return rows written.

    The same ``seed``, ``rows`` and ``drift`` always give the same file. ``drift`` 0 is the reference
    population; 0.3 is a shift a drift monitor should report; 1 is a very different market.
    """
    if rows < 0:
        raise ValueError(f"rows must be 0 or more, got {rows}")
    if drift < 0:
        raise ValueError(f"drift must be 0 or more, got {drift}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        out.write(",".join(CREDIT_COLUMNS) + "\n")
        for chunk_index, start in enumerate(range(0, rows, chunk_rows)):
            size = min(chunk_rows, rows - start)
            rng = np.random.default_rng([seed, chunk_index])
            credit_chunk(rng, size, drift).to_csv(out, header=False, index=False)
            written += size
    return written


def credit_chunk(rng: np.random.Generator, size: int, drift: float) -> pd.DataFrame:
    """One chunk of applicants; features depend on each other and default risk on them, as in real books."""
    renter_shift = 0.36 * (1.0 - np.exp(-drift))
    ownership_p = np.array([0.34 + renter_shift, 0.18, 0.48])
    ownership_p[1:] *= (1.0 - ownership_p[0]) / ownership_p[1:].sum()
    home = rng.choice(len(HOME_OWNERSHIP), size=size, p=ownership_p)
    renting, owning = home == 0, home == 1

    age = np.clip(np.round(rng.normal(42.0 - 4.0 * drift, 12.0, size)), 21, 80)
    employment_years = np.minimum(age - 18, np.round(rng.gamma(2.0, 3.5, size), 1))
    income = np.exp(
        np.log(58_000.0)
        + 0.012 * (age - 42)
        + 0.02 * np.minimum(employment_years, 15)
        - 0.12 * renting
        + 0.08 * owning
        - 0.6 * drift
        + rng.normal(0.0, 0.45, size)
    )
    income = np.round(np.clip(income, 8_000, 1_500_000), -2)
    credit_history_years = np.round((age - 18) * rng.uniform(0.25, 1.0, size), 1)
    credit_lines = np.clip(rng.poisson(2.0 + 0.25 * credit_history_years), 0, 40)
    utilization = np.round(np.clip(rng.beta(2.0 + 3.0 * drift, 4.5, size), 0.0, 1.0), 3)
    inquiries_6m = rng.poisson(0.8 + 0.8 * drift, size)
    loan_amount = np.exp(np.log(12_000.0) + 0.35 * np.log(income / 58_000.0) + rng.normal(0.0, 0.6, size))
    loan_amount = np.round(np.clip(loan_amount, 1_000, 100_000), -1)
    debt_to_income = np.clip(rng.beta(2.2, 6.0, size) + 0.6 * loan_amount / income / 5 + 0.1 * drift, 0.0, 1.5).round(3)
    late_payments_12m = np.clip(rng.poisson(np.exp(-1.7 + 2.2 * utilization + 1.5 * (debt_to_income - 0.3))), 0, 12)

    risk = -2.0 + 1.4 * (
        0.45 * late_payments_12m
        + 2.3 * (utilization - 0.3)
        + 3.0 * (debt_to_income - 0.3)
        - 0.6 * np.log(income / 58_000.0)
        + 0.3 * np.log(loan_amount / 12_000.0)
        - 0.015 * (age - 42)
        - 0.03 * np.minimum(employment_years, 20)
        + 0.18 * inquiries_6m
        - 0.02 * credit_history_years
        + 0.25 * renting
        - 0.15 * owning
    )
    default = (rng.random(size) < 1.0 / (1.0 + np.exp(-risk))).astype(np.int64)
    employment_reported = np.where(rng.random(size) < 0.02, np.nan, employment_years)

    return pd.DataFrame(
        {
            "age": age.astype(np.int64),
            "income": income.astype(np.int64),
            "employment_years": employment_reported,
            "home_ownership": np.asarray(HOME_OWNERSHIP)[home],
            "credit_history_years": credit_history_years,
            "credit_lines": credit_lines.astype(np.int64),
            "utilization": utilization,
            "late_payments_12m": late_payments_12m.astype(np.int64),
            "inquiries_6m": inquiries_6m.astype(np.int64),
            "loan_amount": loan_amount.astype(np.int64),
            "debt_to_income": debt_to_income,
            CREDIT_TARGET: default,
        },
        columns=list(CREDIT_COLUMNS),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m driftline.datasets", description="Write a sample dataset as CSV.")
    kinds = parser.add_subparsers(dest="dataset", required=True)
    credit = kinds.add_parser("credit", help="synthetic credit-risk applications (binary target 'default')")
    credit.add_argument("--rows", type=int, default=10_000, help="rows to write (default 10000)")
    credit.add_argument("--drift", type=float, default=0.0, help="population shift: 0 none, 0.3 noticeable, 1 strong")
    credit.add_argument("--seed", type=int, default=0)
    credit.add_argument("output", type=Path)
    cancer = kinds.add_parser("breast-cancer", help="the Wisconsin breast cancer data (binary target 'diagnosis')")
    cancer.add_argument("output", type=Path)
    args = parser.parse_args(argv)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.dataset == "credit":
        try:
            rows = write_credit_csv(args.output, args.rows, seed=args.seed, drift=args.drift)
        except ValueError as error:
            parser.error(str(error))
    else:
        rows = write_breast_cancer_csv(args.output)
    print(f"Wrote {rows} rows to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
