"""The ``driftline`` command: run the pipeline locally or run the demo; follow runs, read their logs, decide
them and tear a stack down, on AWS or in local mode."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftline.cli_errors import CommandError, explain
from driftline.local.settings import DEFAULT_PORT, REPO_ROOT, LocalSettings

SAMPLES_DIR = REPO_ROOT / "samples"
COMMAND_MODULES = (
    "driftline.approvals_cli",
    "driftline.runs_cli",
    "driftline.status_cli",
    "driftline.logs_cli",
    "driftline.destroy_cli",
    "driftline.cost_cli",
    "driftline.console_cli",
)
"""Commands that live in their own module: each has ``add_parser(commands)``, which sets ``run_command``, and
``run(args) -> int``."""


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
    demo.add_argument(
        "--ab",
        action="store_true",
        help="instead, an A/B trial end to end (a few minutes): a weak first model serves, a second joins it for a "
        "one-minute 50/50 split trial on labelled live traffic, and the winner serves alone (deploys with "
        "ABTestMode=Split ABTestChallengerShare=0.5 ABTestTrialMinutes=1 ABTestMinLabelledRows=50)",
    )

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "local" and args.local_command == "outputs":
        return run_reported(_print_outputs, args)
    if getattr(args, "run_command", None) is not None:
        return run_reported(args.run_command, args)
    settings = LocalSettings(port=args.port, state_dir=args.state_dir.resolve(), fresh=args.fresh)
    if getattr(args, "ab", False):
        if args.no_approve:
            parser.error("--ab approves both of its models itself; leave out --no-approve")
        from driftline.local.demo import AB_DEMO_PARAMETERS

        settings.parameters.update(AB_DEMO_PARAMETERS)
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
            ab=args.ab,
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
        help="where outputs, jobs, email and logs are kept, and the state local mode saves and restores",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start empty: discard the state a previous local mode saved in the state folder instead of restoring it",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as sam deploy takes them (e.g. DriftMonitor=ModelMonitor); local mode's own "
        "settings (scaled waits, the inbox) apply unless named here",
    )


def run_reported(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; an expected condition (no region, no credentials, no such stack or run, local mode not
    running, an endpoint out of reach) is told in a line or two on stderr, without a traceback."""
    try:
        return command(args)
    except CommandError as error:
        _tell(str(error))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        explained = explain(error)
        if explained is None:
            raise
        _tell(explained)
        return 1


def _tell(text: str) -> None:
    for line in text.splitlines():
        print(f"driftline: {line}", file=sys.stderr)


def _print_outputs(args: argparse.Namespace) -> int:
    """The running local mode's stack file; nothing on stdout when none runs from the state folder."""
    from driftline.stack_target import LocalState, local_state, stopped_message, where_local_mode_runs

    state, document = local_state(args.state_dir)
    if state is LocalState.ABSENT:
        raise CommandError(where_local_mode_runs(args.state_dir))
    if state is LocalState.STOPPED:
        raise CommandError(stopped_message(args.state_dir))
    print(json.dumps(document, indent=2))
    return 0


def _start(settings: LocalSettings) -> Any:
    from driftline.local.emulator import LocalCloud

    cloud = LocalCloud(settings)
    print(f"Starting local mode on {settings.endpoint_url} (state in {settings.state_dir}) ...", flush=True)
    stack = cloud.start()
    verb = "restored" if cloud.restored else "deployed"
    print(f"Stack '{settings.stack_name}' {verb} in {cloud.deploy_seconds:.1f} s. Outputs:")
    print(json.dumps(stack.outputs, indent=2), flush=True)
    return cloud


@contextlib.contextmanager
def _recorded(settings: LocalSettings) -> Any:
    """While local mode runs, a note in the user's runtime folder says where its state is, so that commands run
    from another folder can point there."""
    from driftline.local.instances import forget_running, record_running

    note = record_running(settings.endpoint_url, settings.state_dir, settings.stack_name)
    try:
        yield
    finally:
        forget_running(note)


def _serve(settings: LocalSettings) -> int:
    cloud = _start(settings)
    with _recorded(settings):
        return _serve_until_stopped(cloud, settings)


def _serve_until_stopped(cloud: Any, settings: LocalSettings) -> int:
    bucket = cloud.outputs.get("DataBucketName", "<data bucket>")
    print(
        "\nLocal mode is up. From another terminal:\n"
        f"  export AWS_ENDPOINT_URL={settings.endpoint_url} AWS_DEFAULT_REGION={settings.region} "
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n"
        f"  aws s3 cp my.csv s3://{bucket}/data/<dataset>/my.csv\n"
        f"Follow runs, approve models and watch endpoints and drift in the console: {settings.console_url}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    wait_for_stop_signal()
    print("Stopping local mode ...", flush=True)
    cloud.stop()
    return 0


STOP_SIGNAL_POLL_SECONDS = 0.5


def wait_for_stop_signal() -> None:
    """Return once Ctrl-C (SIGINT) or SIGTERM arrives.

    The kernel may hand a process's signal to any of local mode's threads, and Python runs its handler only when
    the main thread next runs Python code: a main thread asleep in a wait without a timeout never would. So the
    wait wakes now and then, and a signal always ends it. The signals' earlier handlers are put back, so a second
    Ctrl-C while local mode stops interrupts the stop.
    """
    stop = threading.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in signals}
    try:
        while not stop.wait(STOP_SIGNAL_POLL_SECONDS):
            pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _demo(
    settings: LocalSettings,
    dataset: str,
    rows: int,
    *,
    keep_running: bool,
    approve: bool = True,
    drift: bool = True,
    ab: bool = False,
) -> int:
    from driftline.local.demo import run_ab_demo, run_demo

    cloud = _start(settings)
    try:
        with _recorded(settings):
            with tempfile.TemporaryDirectory() as scratch:
                if ab:
                    ok = run_ab_demo(cloud, dataset=dataset, rows=rows, scratch=Path(scratch))
                else:
                    ok = run_demo(
                        cloud, dataset=dataset, rows=rows, scratch=Path(scratch), approve=approve, drift=drift
                    )
            if keep_running or not approve:
                print(f"\nLocal mode stays up on {settings.endpoint_url}; press Ctrl-C to stop.", flush=True)
                wait_for_stop_signal()
    finally:
        cloud.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
