"""``driftline approve`` / ``driftline reject``: decide a waiting run from a terminal.

A model's approval is made where ML teams already make it, in the Model Registry: the command sets the run's
model package to Approved or Rejected with UpdateModelPackage, and the registry's status-change event
resumes the run exactly as a change made in SageMaker Studio would.

A trial winner's promotion has no registry status of its own (the package is Approved already: it serves in the
trial), so the command decides it as its email's links do: it signs a short-lived link with the stack's signing
key (Secrets Manager GetSecretValue) and submits the link's page, which records the decision and resumes the run.
Both work against local mode and a real account alike.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import time
from typing import Any

from driftline.approval_pages import decide_on_page
from driftline.cli_errors import CommandError
from driftline.layer_modules import layer_module
from driftline.run_status import APPROVAL_STATE, DECISION_STATES, PROMOTION_STATE, find_run
from driftline.stack_target import StackTarget, add_target_arguments, resolve_target
from driftline.stepfunctions_history import execution_arn_for, execution_history

APPROVAL_DESCRIPTION_MAX = 1024
SIGNING_KEY_OUTPUT = "ApprovalSigningKeyArn"
APPROVAL_API_OUTPUT = "ApprovalApiUrl"
LINK_SECONDS = 300
"""How long the link the command signs for a promotion works: long enough to submit its page, no longer."""
FORM_FIELD_MAX = 500
"""What the approval page's form fields take (``MAX_FIELD`` of the page)."""
_LINE_TERMINATORS = re.compile("\\s*[\\n\\r\\u0085\\u2028\\u2029]+\\s*")


def one_line(text: str) -> str:
    """ApprovalDescription's pattern is ``.*`` in Java's sense, which matches no line terminator: a reason typed on
    several lines keeps its lines, joined with ' / '."""
    return _LINE_TERMINATORS.sub(" / ", text.strip())


class DecisionRefused(CommandError):
    """The run cannot be decided: not found, not waiting for approval, or already decided."""


def add_parser(commands: Any) -> None:
    for verb in ("approve", "reject"):
        decide = commands.add_parser(
            verb,
            help=f"{verb} the model a waiting run registered (sets its registry status), or the promotion of its "
            "A/B trial's winner",
        )
        decide.add_argument("run", help="the run: its execution name, ARN, or the start of its name")
        decide.add_argument(
            "--reason",
            required=verb == "reject",
            default="",
            help="why (recorded in the registry, or in the promotion's record)",
        )
        decide.add_argument("--by", default=None, help="who decides (default: your user name)")
        add_target_arguments(decide)
        decide.set_defaults(run_command=run, approve=verb == "approve")


def run(args: argparse.Namespace) -> int:
    """Decide what the run waits for: its model's approval (registry status) or its trial winner's promotion."""
    target = resolve_target(args)
    sfn = target.client("stepfunctions")
    described = find_run(sfn, target.machine_arn, args.run)
    run_arn = str(described["executionArn"])
    by = args.by or getpass.getuser()
    state, package = waiting_decision(sfn, run_arn)
    if state == PROMOTION_STATE:
        message = decide_promotion(target, package=package, approve=args.approve, by=by, reason=args.reason)
    else:
        message = decide_in_registry(
            sfn, target.client("sagemaker"), run_arn, package, approve=args.approve, by=by, reason=args.reason
        )
    print(message)
    return 0


def waiting_decision(sfn: Any, execution_arn: str) -> tuple[str, str]:
    """The state a run waits in for a person (approval or promotion) and the model package it decides."""
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist as error:
        raise DecisionRefused(f"no run {execution_arn.rsplit(':', 1)[-1]} in this stack's pipeline") from error
    if described["status"] != "RUNNING":
        raise DecisionRefused(
            f"run {described['name']} has already ended ({described['status']}); only a waiting run can be decided"
        )
    package = ""
    current = ""
    for event in execution_history(sfn, execution_arn):
        details = event.get("stateExitedEventDetails") or {}
        if event["type"].endswith("StateExited") and details.get("name") == "Register":
            package = json.loads(details.get("output") or "{}").get("registration", {}).get("model_package_arn", "")
        entered = event.get("stateEnteredEventDetails") or {}
        if event["type"].endswith("StateEntered"):
            current = str(entered.get("name") or "")
    if not package or current not in DECISION_STATES:
        raise DecisionRefused(
            f"run {described['name']} is not waiting for approval (it has not registered a model yet)"
            if not package
            else f"run {described['name']} is not waiting for a decision (it is in {current or 'no state'})"
        )
    return current, package


def waiting_package(sfn: Any, execution_arn: str) -> str:
    """The model package a run registered, when the run waits for its approval."""
    state, package = waiting_decision(sfn, execution_arn)
    if state != APPROVAL_STATE:
        raise DecisionRefused(f"run {execution_arn.rsplit(':', 1)[-1]} waits for its trial winner's promotion")
    return package


def decide_promotion(target: StackTarget, *, package: str, approve: bool, by: str, reason: str) -> str:
    """Decide a trial winner's promotion through its approval page, with a link signed by the stack's key."""
    for label, value in (("--by", by), ("--reason", reason)):
        if len(value) > FORM_FIELD_MAX:
            raise DecisionRefused(
                f"{label} has {len(value)} characters; the approval page keeps at most {FORM_FIELD_MAX}. "
                "Nothing was decided."
            )
    key_arn = target.outputs.get(SIGNING_KEY_OUTPUT)
    api_url = target.outputs.get(APPROVAL_API_OUTPUT)
    if not key_arn or not api_url:
        raise DecisionRefused(
            f"{target.describe()} has no {SIGNING_KEY_OUTPUT} or {APPROVAL_API_OUTPUT} output: deploy this version "
            "of the template, or use the links of the promotion email"
        )
    secrets = target.client("secretsmanager")
    key = str(secrets.get_secret_value(SecretId=key_arn)["SecretString"]).encode()
    signatures = layer_module("driftline_core.approval.signatures")
    decision = "approve" if approve else "reject"
    link = signatures.sign_link(
        signatures.promotion_approval_id(package), decision, int(time.time()) + LINK_SECONDS, key
    )
    answer = decide_on_page(f"{api_url.rstrip('/')}/approvals/{link}", approver=by, reason=reason)
    if answer.status != 200:
        raise DecisionRefused(f"{answer.title}: {answer.message}")
    return answer.message


def decide_run(
    sfn: Any, sagemaker: Any, *, machine_arn: str, run: str, approve: bool, by: str, reason: str, wait: float = 30
) -> str:
    """Set the package's status; wait (briefly) for the run to leave its approval wait; say what happened."""
    execution_arn = execution_arn_for(machine_arn, run)
    package = waiting_package(sfn, execution_arn)
    return decide_in_registry(sfn, sagemaker, execution_arn, package, approve=approve, by=by, reason=reason, wait=wait)


def decide_in_registry(
    sfn: Any,
    sagemaker: Any,
    execution_arn: str,
    package: str,
    *,
    approve: bool,
    by: str,
    reason: str,
    wait: float = 30,
    where: str = "",
) -> str:
    """Set the waiting run's package to Approved or Rejected, as Studio would; the registry's event resumes it.
    ``where`` says where the decision was made for the registry's record (default: the CLI command)."""
    current = sagemaker.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"]
    if current != "PendingManualApproval":
        raise DecisionRefused(f"{package} is already {current}; the run resumes from that decision")
    verb = "Approved" if approve else "Rejected"
    where = where or f"with driftline {'approve' if approve else 'reject'}"
    description = f"{verb} by {by} {where}"
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
