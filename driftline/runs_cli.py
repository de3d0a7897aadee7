"""``driftline runs``: the recent pipeline runs, newest first, each with why it is where it is."""

from __future__ import annotations

import argparse
from typing import Any

from driftline.run_status import list_runs, runs_table
from driftline.stack_target import add_target_arguments, resolve_target


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "runs", help="list the recent runs: name, dataset, status, start, duration and why (newest first)"
    )
    parser.add_argument("--dataset", default=None, help="only this dataset's runs")
    parser.add_argument("--limit", type=_positive, default=20, help="how many runs to list (default 20)")
    add_target_arguments(parser)
    parser.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    runs = list_runs(target.client("stepfunctions"), target.machine_arn, dataset=args.dataset, limit=args.limit)
    if not runs:
        which = f" of dataset {args.dataset}" if args.dataset else ""
        print(f"No runs{which} in {target.describe()} yet: an upload to data/<dataset>/ starts one.")
        return 0
    for line in runs_table(runs):
        print(line)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
