"""``driftline approve`` / ``driftline reject``: decide a waiting run from a terminal.

The decision is made where ML teams already make it, in the Model Registry: the command sets the run's
model package to Approved or Rejected with UpdateModelPackage, and the registry's status-change event
resumes the run exactly as a change made in SageMaker Studio would. It works against local mode and a
real account alike.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import time
from typing import Any

from driftline.cli_errors import CommandError
from driftline.run_status import APPROVAL_STATE, find_run
from driftline.stack_target import add_target_arguments, resolve_target
from driftline.stepfunctions_history import execution_arn_for, execution_history

APPROVAL_DESCRIPTION_MAX = 1024
_LINE_TERMINATORS = re.compile("\\s*[\\n\\r\\u0085\\u2028\\u2029]+\\s*")


def one_line(text: str) -> str:
    """ApprovalDescription's pattern is ``.*`` in Java's sense, which matches no line terminator: a reason typed on
    several lines keeps its lines, joined with ' / '."""
    return _LINE_TERMINATORS.sub(" / ", text.strip())


class DecisionRefused(CommandError):
    """The run cannot be decided: not found, not waiting for approval, or already decided."""


def add_parser(commands: Any) -> None:
    for verb in ("approve", "reject"):
        decide = commands.add_parser(verb, help=f"{verb} the model a waiting run registered (sets its registry status)")
        decide.add_argument("run", help="the run: its execution name, ARN, or the start of its name")
        decide.add_argument("--reason", required=verb == "reject", default="", help="why (recorded in the registry)")
        decide.add_argument("--by", default=None, help="who decides (default: your user name)")
        add_target_arguments(decide)
        decide.set_defaults(run_command=run, approve=verb == "approve")


def run(args: argparse.Namespace) -> int:
    """Set the run's model package to Approved or Rejected; the registry's event resumes the run."""
    target = resolve_target(args)
    sfn = target.client("stepfunctions")
    described = find_run(sfn, target.machine_arn, args.run)
    message = decide_run(
        sfn,
        target.client("sagemaker"),
        machine_arn=target.machine_arn,
        run=str(described["executionArn"]),
        approve=args.approve,
        by=args.by or getpass.getuser(),
        reason=args.reason,
    )
    print(message)
    return 0


def waiting_package(sfn: Any, execution_arn: str) -> str:
    """The model package a run registered, when the run waits for its approval."""
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist as error:
        raise DecisionRefused(f"no run {execution_arn.rsplit(':', 1)[-1]} in this stack's pipeline") from error
    if described["status"] != "RUNNING":
        raise DecisionRefused(
            f"run {described['name']} has already ended ({described['status']}); only a waiting run can be decided"
        )
    package = ""
    waiting = False
    for event in execution_history(sfn, execution_arn):
        details = event.get("stateExitedEventDetails") or {}
        if event["type"].endswith("StateExited") and details.get("name") == "Register":
            package = json.loads(details.get("output") or "{}").get("registration", {}).get("model_package_arn", "")
        entered = event.get("stateEnteredEventDetails") or {}
        if event["type"].endswith("StateEntered"):
            waiting = entered.get("name") == APPROVAL_STATE
    if not package or not waiting:
        raise DecisionRefused(
            f"run {described['name']} is not waiting for approval (it has not registered a model yet)"
        )
    return package


def decide_run(
    sfn: Any, sagemaker: Any, *, machine_arn: str, run: str, approve: bool, by: str, reason: str, wait: float = 30
) -> str:
    """Set the package's status; wait (briefly) for the run to leave its approval wait; say what happened."""
    execution_arn = execution_arn_for(machine_arn, run)
    package = waiting_package(sfn, execution_arn)
    current = sagemaker.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"]
    if current != "PendingManualApproval":
        raise DecisionRefused(f"{package} is already {current}; the run resumes from that decision")
    verb = "Approved" if approve else "Rejected"
    description = f"{verb} by {by} with driftline {'approve' if approve else 'reject'}"
    if reason:
        description += f": {reason}"
    if len(description) > APPROVAL_DESCRIPTION_MAX:
        raise DecisionRefused(
            f"the reason is too long for the registry's ApprovalDescription ({len(description)} characters with who "
            f"decided; at most {APPROVAL_DESCRIPTION_MAX}): shorten it. Nothing was decided."
        )
    sagemaker.update_model_package(
        ModelPackageArn=package, ModelApprovalStatus=verb, ApprovalDescription=one_line(description)
    )
    deadline = time.time() + wait
    while time.time() < deadline:
        if _left_approval(sfn, execution_arn):
            return f"{package}: {verb}. The run has resumed."
        time.sleep(0.5)
    return f"{package}: {verb}. The registry's event resumes the run shortly."


def _left_approval(sfn: Any, execution_arn: str) -> bool:
    for event in execution_history(sfn, execution_arn):
        details = event.get("stateExitedEventDetails") or {}
        if event["type"].endswith("StateExited") and details.get("name") == APPROVAL_STATE:
            return True
        if event["type"] in ("TaskFailed", "ExecutionFailed", "ExecutionSucceeded"):
            return True
    return False
