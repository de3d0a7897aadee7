"""``driftline destroy``: delete a deployed stack with what its runs created, or local mode's saved state."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from driftline.cli_errors import CommandError
from driftline.destroy import SERVICES, delete_local_state, execute_teardown, local_teardown_lines, plan_teardown
from driftline.local.settings import DEFAULT_STACK
from driftline.stack_target import LocalState, add_target_arguments, aws_session, local_state, stopped_message


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "destroy",
        help="delete the deployed stack and what its runs created (endpoints, models, registry groups, ...); "
        "with --local, local mode's saved state folder",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--delete-data",
        action="store_true",
        help="also delete the data bucket (your uploads) and the access-log bucket",
    )
    add_target_arguments(parser)
    parser.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    if args.local and args.stack_name:
        raise CommandError("pass either --local or --stack-name, not both")
    if args.local or (not args.stack_name and _local_runs_here(args.state_dir)):
        return _destroy_local(args)
    if not args.stack_name and local_state(args.state_dir)[0] is LocalState.STOPPED:
        print(f"driftline: {stopped_message(args.state_dir)}; `driftline destroy --local` deletes it", file=sys.stderr)
    return _destroy_stack(args, args.stack_name or DEFAULT_STACK)


def _local_runs_here(state_dir: Any) -> bool:
    return local_state(state_dir)[0] is LocalState.RUNNING


def _destroy_local(args: argparse.Namespace) -> int:
    lines = local_teardown_lines(args.state_dir)
    for line in lines:
        print(line)
    if not _confirmed(args, "Delete it?"):
        print("Nothing was deleted.")
        return 1
    delete_local_state(args.state_dir)
    print(f"Deleted {args.state_dir}.")
    return 0


def _destroy_stack(args: argparse.Namespace, stack_name: str) -> int:
    session = aws_session(args.region)
    clients = {service: session.client(service) for service in SERVICES}  # type: ignore[call-overload]
    print(f"Looking for stack {stack_name} in {session.region_name} and what its runs created ...", flush=True)
    plan = plan_teardown(clients, stack_name, delete_data=args.delete_data)
    if plan.empty:
        print(f"Nothing to delete: no stack {stack_name} in {session.region_name} and nothing named {stack_name}-*.")
        for line in plan.notes:
            print(f"  {line}")
        return 0
    print("This will:")
    for line in plan.lines():
        print(f"  {line}")
    if not _confirmed(args, f"Delete stack {stack_name} and all of the above?"):
        print("Nothing was deleted.")
        return 1
    failed = execute_teardown(clients, plan, show=lambda line: print(line, flush=True))
    if failed:
        print(
            f"driftline: {len(failed)} deletion(s) failed (listed above); fix them and run `driftline destroy` again",
            file=sys.stderr,
        )
        return 1
    print(f"Stack {stack_name} and what its runs created are deleted.")
    return 0


def _confirmed(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise CommandError("not deleting without confirmation: run it in a terminal, or pass --yes")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
