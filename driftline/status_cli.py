"""``driftline status RUN``: a run's steps with their times, the gate's decision, why it failed or what it waits
for; ``--follow`` prints each step as it happens until the run ends."""

from __future__ import annotations

import argparse
from typing import Any

from driftline.run_status import find_run, follow_run, status_lines
from driftline.stack_target import add_target_arguments, resolve_target
from driftline.stepfunctions_history import execution_history, read_steps


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("status", help="a run's steps, the gate's decision, its failure or what it waits for")
    parser.add_argument("run", help="the run: its execution name, ARN, or the start of its name")
    parser.add_argument(
        "--follow",
        action="store_true",
        help="print each step as it happens until the run ends; exit 0 when it succeeded, 1 otherwise",
    )
    parser.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    add_target_arguments(parser)
    parser.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    sfn = target.client("stepfunctions")
    described = find_run(sfn, target.machine_arn, args.run)
    if args.follow:
        status = follow_run(
            sfn,
            described["executionArn"],
            show=lambda line: print(line, flush=True),
            decide_flags=target.flags,
            poll=args.poll,
        )
        return 0 if status == "SUCCEEDED" else 1
    steps = read_steps(execution_history(sfn, described["executionArn"]))
    for line in status_lines(described, steps, decide_flags=target.flags):
        print(line)
    return 0
