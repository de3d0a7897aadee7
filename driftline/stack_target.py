"""Which stack a command talks to: a deployed stack in an AWS account, or local mode on this machine.

``--stack-name`` (default ``driftline``) reads a deployed stack's outputs with CloudFormation DescribeStacks;
``--local`` reads local mode's ``stack.json`` in ``--state-dir`` (default ``./.driftline``). With neither, a local
mode running from this folder's state folder is used, and the command says so on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from driftline.cli_errors import CommandError, explain
from driftline.local.instances import default_port_answers, endpoint_answers, running_instances
from driftline.local.settings import DEFAULT_PORT, DEFAULT_STACK

STACK_FILE = "stack.json"
DEFAULT_STATE_DIR = Path(".driftline")
MACHINE_OUTPUT = "PipelineStateMachineArn"
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command that talks to a stack takes."""
    parser.add_argument(
        "--stack-name",
        default=None,
        help=f"the deployed stack (default: {DEFAULT_STACK}, or local mode if it runs here)",
    )
    parser.add_argument("--region", default=None, help="the deployed stack's AWS region (default: your AWS config's)")
    parser.add_argument("--local", action="store_true", help="talk to local mode (found in --state-dir)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="local mode's state folder (default: ./.driftline)",
    )


@dataclass
class StackTarget:
    """A stack's outputs and a way to make clients that talk to where it runs."""

    stack_name: str
    region: str
    outputs: dict[str, str]
    session: boto3.session.Session
    endpoint_url: str | None = None
    """Local mode's endpoint; None for an AWS account."""
    state_dir: Path | None = None
    flags: str = ""
    """The options that name this target again in a suggested command (``--local``, ``--stack-name x``)."""

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    @property
    def machine_arn(self) -> str:
        return self.outputs[MACHINE_OUTPUT]

    def client(self, service: str) -> Any:
        config = Config(retries={"mode": "standard", "max_attempts": 2 if self.is_local else 5}, connect_timeout=5)
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)  # type: ignore[call-overload]

    def describe(self) -> str:
        if self.is_local:
            return f"local mode at {self.endpoint_url}"
        return f"stack {self.stack_name} in {self.region}"


class LocalState(Enum):
    RUNNING = "running"
    STOPPED = "stopped"
    ABSENT = "absent"


def local_state(state_dir: Path) -> tuple[LocalState, dict[str, Any]]:
    """Whether local mode runs from ``state_dir``: its stack file is there and its endpoint answers."""
    path = state_dir / STACK_FILE
    try:
        document = json.loads(path.read_text())
        endpoint = str(document["endpoint_url"])
    except FileNotFoundError:
        return LocalState.ABSENT, {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CommandError(f"{path} is not local mode's stack file ({error}); start local mode again") from error
    return (LocalState.RUNNING if endpoint_answers(endpoint) else LocalState.STOPPED), document


def stopped_message(state_dir: Path) -> str:
    return f"local mode is not running (it stopped; its last outputs are in {state_dir / STACK_FILE})"


def where_local_mode_runs(state_dir: Path) -> str:
    """Why there is no local mode in ``state_dir``, and where one that does run keeps its state."""
    lines = [f"local mode is not running from {state_dir} (no {STACK_FILE} there)"]
    elsewhere = running_instances()
    if elsewhere:
        for instance in elsewhere[:3]:
            lines.append(
                f"local mode runs at {instance.endpoint_url} with its state in {instance.state_dir}: "
                f"pass --state-dir {instance.state_dir}"
            )
    elif default_port_answers():
        lines.append(
            f"something answers on 127.0.0.1:{DEFAULT_PORT}, local mode's port: pass --state-dir with the .driftline "
            "folder of the directory where `driftline local up` was started"
        )
    else:
        lines.append("start it with `driftline local up` (or `make up`)")
    return "\n".join(lines)


def resolve_target(args: argparse.Namespace, *, note: Callable[[str], None] | None = None) -> StackTarget:
    """The stack the command's options name; with neither ``--local`` nor ``--stack-name``, local mode when it runs
    from this folder's state folder (said on stderr), else the deployed stack ``driftline``."""
    say = note or _note
    state_dir: Path = args.state_dir
    if args.local:
        if args.stack_name:
            raise CommandError("pass either --local or --stack-name, not both")
        return local_target(state_dir, explicit_state_dir=state_dir != DEFAULT_STATE_DIR)
    if not args.stack_name:
        state, _ = local_state(state_dir)
        if state is LocalState.RUNNING:
            target = local_target(state_dir, explicit_state_dir=state_dir != DEFAULT_STATE_DIR)
            say(f"using {target.describe()} (state in {state_dir}); pass --stack-name for a deployed stack")
            return target
        if state is LocalState.STOPPED:
            say(f"{stopped_message(state_dir)}; using the deployed stack {DEFAULT_STACK}")
        try:
            return aws_target(DEFAULT_STACK, args.region)
        except Exception as error:
            hinted = _with_local_hint(error)
            if hinted is None:
                raise
            raise hinted from error
    return aws_target(args.stack_name, args.region)


def _with_local_hint(error: Exception) -> CommandError | None:
    """An AWS failure (no region, no credentials, no stack) when local mode runs from another folder: point there,
    since that is likely what was meant. None when there is nothing to add."""
    explained = str(error) if isinstance(error, CommandError) else explain(error)
    elsewhere = running_instances() if explained else []
    if not elsewhere:
        return None
    instance = elsewhere[0]
    return CommandError(
        f"{explained}\nlocal mode runs at {instance.endpoint_url} with its state in {instance.state_dir}: "
        f"pass --local --state-dir {instance.state_dir}"
    )


def local_target(state_dir: Path, *, explicit_state_dir: bool = False) -> StackTarget:
    state, document = local_state(state_dir)
    if state is LocalState.ABSENT:
        raise CommandError(where_local_mode_runs(state_dir))
    if state is LocalState.STOPPED:
        raise CommandError(stopped_message(state_dir))
    flags = "--local" + (f" --state-dir {state_dir}" if explicit_state_dir else "")
    return running_local_target(document, state_dir, flags=flags)


def running_local_target(document: dict[str, Any], state_dir: Path, *, flags: str = "--local") -> StackTarget:
    """Local mode's stack as its stack file (``document``) describes it, without asking whether it answers."""
    region = str(document.get("region") or "us-east-1")
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
        region_name=region,
    )
    return StackTarget(
        stack_name=str(document.get("stack_name") or DEFAULT_STACK),
        region=region,
        outputs=dict(document.get("outputs") or {}),
        session=session,
        endpoint_url=str(document["endpoint_url"]),
        state_dir=state_dir,
        flags=flags,
    )


def aws_target(stack_name: str, region: str | None) -> StackTarget:
    """The deployed stack's outputs, read with DescribeStacks; a stack that is missing or unfinished is refused."""
    session = aws_session(region)
    cloudformation = session.client("cloudformation", config=Config(retries={"mode": "standard"}))
    where = f"in {session.region_name}"
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") == "ValidationError" and "does not exist" in str(details.get("Message", "")):
            raise CommandError(
                f"no stack {stack_name} {where}: pass --stack-name with the name you deployed "
                "(samconfig.toml's stack_name) or --region; for local mode pass --local"
            ) from error
        raise
    stack = stacks[0]
    outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs") or []}
    if MACHINE_OUTPUT not in outputs:
        raise CommandError(
            f"stack {stack_name} {where} has no {MACHINE_OUTPUT} output (status {stack.get('StackStatus')}): "
            "it is not a Driftline stack, or its deploy has not finished; pass --stack-name with Driftline's stack"
        )
    flags = " ".join(
        part
        for part in (f"--stack-name {stack_name}" if stack_name != DEFAULT_STACK else "", _region_flag(region))
        if part
    )
    return StackTarget(
        stack_name=stack_name,
        region=str(session.region_name),
        outputs=outputs,
        session=session,
        flags=flags,
    )


def aws_session(region: str | None) -> boto3.session.Session:
    """The user's AWS session in ``region``, else their configured region; AWS_REGION counts too (boto3 reads only
    AWS_DEFAULT_REGION, while the AWS CLI and the other SDKs read AWS_REGION)."""
    session = boto3.session.Session(region_name=region)
    if session.region_name is None and os.environ.get("AWS_REGION"):
        session = boto3.session.Session(region_name=os.environ["AWS_REGION"])
    return session


def _region_flag(region: str | None) -> str:
    return f"--region {region}" if region else ""


def _note(text: str) -> None:
    print(f"driftline: {text}", file=sys.stderr)
