"""The ``driftline`` command: run the pipeline locally, print the local stack's outputs, run the demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from driftline.local.settings import DEFAULT_PORT, REPO_ROOT, LocalSettings

SAMPLES_DIR = REPO_ROOT / "samples"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="driftline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the application on this machine").add_subparsers(
        dest="local_command", required=True
    )
    up = local.add_parser("up", help="serve the emulated AWS APIs with the stack deployed, until Ctrl-C")
    _add_common(up)
    outputs = local.add_parser("outputs", help="print the running local stack's outputs as JSON")
    outputs.add_argument("--state-dir", type=Path, default=Path(".driftline"))

    demo = commands.add_parser(
        "demo",
        help="run the first loop once on the sample dataset, locally: upload, approval, live endpoint, predictions",
    )
    _add_common(demo)
    demo.add_argument("--dataset", choices=["breast-cancer", "credit"], default="breast-cancer")
    demo.add_argument("--rows", type=int, default=5000, help="rows of generated data for the credit dataset")
    demo.add_argument("--keep-running", action="store_true", help="keep local mode up after the run")
    demo.add_argument(
        "--no-approve",
        action="store_true",
        help="leave the run waiting for approval (print its links, keep local mode up) instead of approving it",
    )
    demo.add_argument(
        "--drift",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the predictions, send in-distribution then drifted traffic: alarm OK, then ALARM and a "
        "retrain run (default); --no-drift stops after the predictions",
    )

    for verb in ("approve", "reject"):
        decide = commands.add_parser(verb, help=f"{verb} the model a waiting run registered (sets its registry status)")
        decide.add_argument("run", help="the run's execution name or ARN")
        decide.add_argument("--reason", required=verb == "reject", default="", help="why (recorded in the registry)")
        decide.add_argument("--by", default=None, help="who decides (default: your user name)")
        decide.add_argument("--stack-name", default="driftline", help="the deployed stack (default: driftline)")
        decide.add_argument("--local", action="store_true", help="decide in the running local mode")
        decide.add_argument("--state-dir", type=Path, default=Path(".driftline"))

    args = parser.parse_args(argv)
    if args.command == "local" and args.local_command == "outputs":
        return _print_outputs(args.state_dir)
    if args.command in ("approve", "reject"):
        return _decide(args)
    settings = LocalSettings(port=args.port, state_dir=args.state_dir.resolve())
    try:
        settings.parameters.update(parameter_overrides(args.parameter_overrides))
    except ValueError as error:
        parser.error(str(error))
    from driftline.local.cloudformation import StackDeployFailed
    from driftline.local.emulator import PortInUse, StateFolderInUse

    try:
        if args.command == "local":
            return _serve(settings)
        return _demo(
            settings,
            args.dataset,
            args.rows,
            keep_running=args.keep_running,
            approve=not args.no_approve,
            drift=args.drift,
        )
    except (PortInUse, StateFolderInUse, StackDeployFailed) as error:
        print(f"driftline: {error}", file=sys.stderr)
        return 2


def parameter_overrides(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs (or sam's ``ParameterKey=KEY,ParameterValue=VALUE``) as a dict."""
    values: dict[str, str] = {}
    for pair in pairs:
        if pair.startswith("ParameterKey="):
            key, separator, value = pair.removeprefix("ParameterKey=").partition(",ParameterValue=")
        else:
            key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"--parameter-overrides takes KEY=VALUE pairs, not {pair!r}")
        values[key] = value
    return values


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".driftline"),
        help="where outputs, jobs, email and logs are kept",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as sam deploy takes them (e.g. DriftMonitor=ModelMonitor); local mode's own "
        "settings (scaled waits, the inbox) apply unless named here",
    )


def _print_outputs(state_dir: Path) -> int:
    from driftline.local.emulator import read_stack_file

    try:
        stack = read_stack_file(state_dir)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(stack, indent=2))
    return 0


def _start(settings: LocalSettings) -> Any:
    from driftline.local.emulator import LocalCloud

    cloud = LocalCloud(settings)
    print(f"Starting local mode on {settings.endpoint_url} (state in {settings.state_dir}) ...", flush=True)
    stack = cloud.start()
    print(f"Stack '{settings.stack_name}' deployed in {cloud.deploy_seconds:.1f} s. Outputs:")
    print(json.dumps(stack.outputs, indent=2), flush=True)
    return cloud


def _serve(settings: LocalSettings) -> int:
    cloud = _start(settings)
    bucket = cloud.outputs.get("DataBucketName", "<data bucket>")
    print(
        "\nLocal mode is up. From another terminal:\n"
        f"  export AWS_ENDPOINT_URL={settings.endpoint_url} AWS_DEFAULT_REGION={settings.region} "
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n"
        f"  aws s3 cp my.csv s3://{bucket}/data/<dataset>/my.csv\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    print("Stopping local mode ...")
    cloud.stop()
    return 0


def _demo(
    settings: LocalSettings, dataset: str, rows: int, *, keep_running: bool, approve: bool = True, drift: bool = True
) -> int:
    from driftline.local.demo import run_demo

    cloud = _start(settings)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            ok = run_demo(cloud, dataset=dataset, rows=rows, scratch=Path(scratch), approve=approve, drift=drift)
        if keep_running or not approve:
            print(f"\nLocal mode stays up on {settings.endpoint_url}; press Ctrl-C to stop.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    finally:
        cloud.stop()
    return 0 if ok else 1


def _decide(args: argparse.Namespace) -> int:
    """Set the run's model package to Approved or Rejected; the registry's event resumes the run."""
    import getpass

    import boto3
    from botocore.exceptions import ClientError

    from driftline.approvals_cli import DecisionRefused, decide_run

    clients: dict[str, Any]
    if args.local:
        from driftline.local.emulator import read_stack_file

        try:
            stack = read_stack_file(args.state_dir)
        except FileNotFoundError as error:
            print(f"driftline: {error}", file=sys.stderr)
            return 1
        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=stack["region"]
        )
        clients = {
            name: session.client(name, endpoint_url=stack["endpoint_url"]) for name in ("stepfunctions", "sagemaker")
        }
        machine_arn = stack["outputs"]["PipelineStateMachineArn"]
    else:
        session = boto3.session.Session()
        clients = {name: session.client(name) for name in ("stepfunctions", "sagemaker", "cloudformation")}
        try:
            outputs = clients["cloudformation"].describe_stacks(StackName=args.stack_name)["Stacks"][0]["Outputs"]
        except Exception as error:
            print(f"driftline: cannot read stack {args.stack_name!r}: {error}. Pass --stack-name.", file=sys.stderr)
            return 1
        machine_arn = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "PipelineStateMachineArn")
    try:
        message = decide_run(
            clients["stepfunctions"],
            clients["sagemaker"],
            machine_arn=machine_arn,
            run=args.run,
            approve=args.command == "approve",
            by=args.by or getpass.getuser(),
            reason=args.reason,
        )
    except DecisionRefused as refused:
        print(f"driftline: {refused}", file=sys.stderr)
        return 1
    except ClientError as error:
        print(f"driftline: {error.response['Error'].get('Message') or error}", file=sys.stderr)
        return 1
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
