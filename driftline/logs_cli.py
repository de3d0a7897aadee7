"""``driftline logs RUN [STEP]``: the run's function and job logs from CloudWatch Logs, in time order."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from driftline.cli_errors import CommandError
from driftline.run_logs import run_log_lines
from driftline.run_status import find_run
from driftline.stack_target import add_target_arguments, resolve_target
from driftline.stepfunctions_history import execution_history, read_steps


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "logs", help="a run's logs: its functions' lines and its SageMaker jobs' output, in time order (UTC)"
    )
    parser.add_argument("run", help="the run: its execution name, ARN, or the start of its name")
    parser.add_argument("step", nargs="?", default=None, help="only this step's logs (Train, QualityGate, ...)")
    parser.add_argument("--step", dest="step_option", default=None, metavar="NAME", help="the same as STEP")
    add_target_arguments(parser)
    parser.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    if args.step and args.step_option and args.step != args.step_option:
        raise CommandError(f"two steps named: {args.step} and --step {args.step_option}; give one")
    step = args.step or args.step_option
    target = resolve_target(args)
    sfn = target.client("stepfunctions")
    described = find_run(sfn, target.machine_arn, args.run)
    lines = run_log_lines(
        target.client("logs"),
        stack_name=target.stack_name,
        execution_name=str(described["name"]),
        started=described["startDate"],
        stopped=described.get("stopDate"),
        steps=read_steps(execution_history(sfn, described["executionArn"])),
        step=step,
    )
    printed = 0
    for line in lines:
        for text in line.formatted():
            print(text)
            printed += 1
    if not printed:
        which = f"step {step} of " if step else ""
        print(f"driftline: no log lines of {which}run {described['name']} yet", file=sys.stderr)
    return 0
