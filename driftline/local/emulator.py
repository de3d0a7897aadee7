"""The local cloud: one emulator endpoint on 127.0.0.1 with the application deployed into it."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from driftline.local import (
    apigateway,
    cloudformation,
    cloudwatch,
    cloudwatch_logs,
    consistent_reads,
    container_images,
    dynamodb,
    endpoints,
    events,
    iam,
    lambda_runtime,
    model_monitor,
    model_registry,
    persistence,
    pricing,
    request_constraints,
    restored_runs,
    s3_mirror,
    sagemaker,
    scheduler,
    seams,
    secretsmanager,
    sns,
    stepfunctions,
)
from driftline.local.clients import emulator_client
from driftline.local.console import Console
from driftline.local.endpoints.seam import model_resolver
from driftline.local.http_guard import GuardedMotoServer
from driftline.local.lambda_runtime import CodeRegistry, LambdaRuntime
from driftline.local.settings import ACCOUNT_ID, CONSOLE_PATH, LocalSettings

STACK_FILE = "stack.json"


class LocalCloud:
    """Starts moto's server with local mode's executors and deploys ``template.yaml`` into it."""

    def __init__(self, settings: LocalSettings, console: Console | None = None) -> None:
        self.settings = settings
        self.console = console or Console()
        self.code = CodeRegistry()
        self.lambdas = LambdaRuntime(
            endpoint_url=settings.endpoint_url, region=settings.region, code=self.code, console=self.console
        )
        # The application's ml/ code is the folder beside the template it deploys, as the template's CodeUri says.
        self.jobs = sagemaker.JobRunner(
            jobs_dir=settings.jobs_dir,
            endpoint_url=settings.endpoint_url,
            region=settings.region,
            console=self.console,
            code_dir=settings.template.parent / "ml",
        )
        self.outbox = sns.Outbox(settings.outbox, self.console)
        self.endpoints = endpoints.EndpointRunner(
            endpoints_dir=settings.state_dir / "endpoints",
            endpoint_url=settings.endpoint_url,
            region=settings.region,
            console=self.console,
            code=self.jobs.code,
        )
        self._server: GuardedMotoServer | None = None
        self.stack: cloudformation.LocalStack | None = None
        self._guard = persistence.StateGuard()
        self._saver: persistence.Saver | None = None
        self.restored = False
        """Whether ``start`` restored a saved state (rather than deploying the template afresh)."""
        self._saved_with: dict[str, Any] | None = None
        """The fingerprint of what this local mode deployed or restored: what its saves are saved with."""

    def start(self) -> cloudformation.LocalStack:
        """Restore the state a previous local mode saved in the state folder, or deploy the template afresh.

        Says which in one line, and why it starts empty; a saved state it cannot restore stops it with the reason
        (``persistence.SavedStateRefused``). Once up, the state is saved as it changes (``persistence``).
        """
        from moto.moto_api._internal.models import moto_api_backend

        _require_free_state_dir(self.settings.state_dir)
        _require_free_port(self.settings.host, self.settings.port)
        os.environ["MOTO_PORT"] = str(self.settings.port)
        os.environ.setdefault("AWS_DEFAULT_REGION", self.settings.region)
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self._saved_with = persistence.fingerprint(self.settings)
        saved, starting_empty = persistence.examine(self.settings, self._saved_with)
        moto_api_backend.reset()
        restored = persistence.restore(saved) if saved is not None else None
        local = restored.local if restored is not None else persistence.LocalModeState()
        if restored is not None:
            model_monitor.restore_schedules(local.monitoring_schedules)
            persistence.end_jobs_left_running()
        cloudformation.install(self.settings.host)
        _quiet_emulator_logs()
        lambda_runtime.install(self.lambdas)
        events.install(self.console, self.settings.region)
        alarms = cloudwatch.AlarmEvaluator(self.settings.alarm_period_scale)
        cloudwatch.install(alarms)
        sagemaker.install(self.jobs)
        pricing.install()
        endpoints.install(self.endpoints)
        sns.install(self.outbox)
        stepfunctions.report_outcomes(self.console)
        secretsmanager.install()
        dynamodb.install()
        cloudwatch_logs.install()
        consistent_reads.install()
        apigateway.install(host=self.settings.host, endpoint_url=self.settings.endpoint_url)
        model_registry.install()
        container_images.install()
        s3_mirror.install(self.settings.s3_dir)
        request_constraints.install()
        iam.install()
        persistence.install_guard(self._guard)
        self._server = GuardedMotoServer(self.settings.host, self.settings.port)
        self._server.start()
        try:
            self.jobs.processes.start_server()  # imports the ML libraries while the stack deploys
            started = time.time()
            if saved is None or restored is None:
                self.console.line("local", starting_empty)
                self.stack = cloudformation.deploy(
                    self.settings, self.code, progress=lambda text: self.console.line("local", text)
                )
            else:
                self.stack = self._resume(saved, restored)
                self.restored = True
            self.deploy_seconds = time.time() - started
            for logical_id, physical_id in self.stack.resources.items():
                if logical_id.endswith("Function"):
                    self.lambdas.set_display_name(physical_id, logical_id.removesuffix("Function"))
            self.lambdas.prewarm_deployed()
            self._write_stack_file()
            self._mount_console()
        except BaseException:
            self.stop()
            raise
        # Timers start once what they fire (functions, runs, endpoints) is there; saved due times carry on.
        spm = self.settings.schedule_seconds_per_minute
        events.start_schedules(self.settings.region, spm, local.due_times.get("events"))
        scheduler.start(self.settings.region, spm, self.console, local.due_times.get("scheduler"))
        model_monitor.start(
            self.settings.region,
            spm,
            self.console,
            endpoint_url=self.settings.endpoint_url,
            code_uri=lambda: self.outputs["MlCodeUri"],
            due_times=local.due_times.get("model_monitor"),
        )
        alarms.start()
        self._saver = persistence.Saver(self._save, self._guard)
        persistence.watch_for_moments(self._saver)
        self._saver.start()
        self._saver.soon()  # what was deployed or restored is worth keeping at once
        return self.stack

    def _resume(self, saved: persistence.SavedState, restored: persistence.Restored) -> cloudformation.LocalStack:
        """Bring a restored emulator back to life: code, HTTP APIs, runs, endpoints and the S3 mirror."""
        base = self.settings.template.parent
        for bucket, key, folder in restored.local.code_folders:
            self.code.register(bucket, key, (base / folder).resolve())
        stack = cloudformation.restored(self.settings)
        try:
            apigateway.serve_restored(ACCOUNT_ID, self.settings.region)
        except apigateway.ApiPortInUse as error:
            raise PortInUse(str(error)) from error
        resumed, aborted = persistence.settle_runs(restored)
        self._serve_restored_endpoints()
        for execution in aborted:
            restored_runs.send_end(execution)
        persistence.mirror_missing_copies(self.settings.s3_dir)
        self.endpoints.wait()
        self.console.line("local", persistence.restored_line(saved, persistence.summarize(len(resumed))))
        return stack

    def _serve_restored_endpoints(self) -> None:
        from moto.sagemaker.models import sagemaker_backends

        for backend in persistence.every_backend(sagemaker_backends):
            resolve = model_resolver(backend)
            for fake in list(backend.endpoints.values()):
                try:
                    config = backend.describe_endpoint_config(fake.endpoint_config_name)
                except Exception as error:  # its configuration was deleted: SageMaker could not serve it either
                    self.console.line(fake.endpoint_name, f"not served after the restart: {error}")
                    continue
                self.endpoints.restore(fake, {**config, "EndpointConfigName": fake.endpoint_config_name}, resolve)

    def _local_state(self) -> persistence.LocalModeState:
        base = self.settings.template.parent.resolve()
        return persistence.LocalModeState(
            code_folders=[
                (bucket, key, os.path.relpath(folder, base)) for (bucket, key), folder in self.code.locations().items()
            ],
            due_times={
                "events": events.schedule_due_times(),
                "scheduler": scheduler.due_times(),
                "model_monitor": model_monitor.due_times(),
            },
            monitoring_schedules=model_monitor.saved_schedules(),
        )

    def _save(self, local: persistence.LocalModeState | None = None, *, stopping: bool = False) -> None:
        try:
            saved = persistence.save(
                self.settings, local or self._local_state(), self._guard, saved_with=self._saved_with
            )
        except persistence.SaveFailed as error:
            self.console.line("local", f"could not save local mode's state ({error}); the last saved state is kept")
            return
        if stopping:
            self.console.line(
                "local",
                f"saved the state ({saved.summary.text()}) to {saved.path} in {saved.total_seconds:.1f} s: the next "
                "start restores it, --fresh starts empty",
            )

    def stop(self) -> None:
        saving = self._saver is not None
        local = self._local_state() if saving else None  # the timers' due times, before the timers stop
        events.stop_schedules()
        scheduler.stop()
        model_monitor.stop()
        cloudwatch.uninstall()
        self.jobs.stop()  # running jobs end Stopped, their events sent while local mode is still up
        self.jobs.processes.close()
        self.endpoints.stop()  # captured data is written to S3 first
        if self._saver is not None:
            self._saver.stop()
            self._saver = None
        if saving:
            self._save(local, stopping=True)  # while the emulator still answers: nothing is half written
        self.lambdas.stop()
        apigateway.stop_servers()
        if self._server is not None:
            self._server.stop()
            self._server = None
        persistence.forget_savers()
        seams.restore()

    @property
    def outputs(self) -> dict[str, str]:
        """The deployed stack's outputs (bucket names, state machine ARN, topic)."""
        if self.stack is None:
            raise RuntimeError("local mode is not started")
        return self.stack.outputs

    def client(self, service: str) -> Any:
        return emulator_client(service, self.settings.endpoint_url, self.settings.region)

    def _stack_document(self) -> dict[str, Any]:
        assert self.stack is not None
        return {
            "endpoint_url": self.settings.endpoint_url,
            "region": self.settings.region,
            "stack_name": self.settings.stack_name,
            "outputs": self.stack.outputs,
        }

    def _write_stack_file(self) -> None:
        (self.settings.state_dir / STACK_FILE).write_text(json.dumps(self._stack_document(), indent=2) + "\n")

    def _mount_console(self) -> None:
        """The console's pages on local mode's own port, reading and deciding through the emulator like any client."""
        from driftline.console.app import ConsoleApp
        from driftline.stack_target import running_local_target

        assert self._server is not None
        target = running_local_target(self._stack_document(), self.settings.state_dir)
        self._server.mount(CONSOLE_PATH, ConsoleApp(target, self._server.port, base=CONSOLE_PATH).wsgi)


class PortInUse(RuntimeError):
    pass


class StateFolderInUse(RuntimeError):
    """Another local mode serves from this state folder: a second one would overwrite its stack file and files."""


def _require_free_state_dir(state_dir: Path) -> None:
    path = state_dir / STACK_FILE
    try:
        running = json.loads(path.read_text())
        url = str(running["endpoint_url"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # no local mode has written here, or its file is unreadable: nothing to protect
    host, _, port = url.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            pass
    except (OSError, ValueError):
        return  # a stack file left by a local mode that has stopped
    raise StateFolderInUse(
        f"local mode is already running with the state folder {state_dir} (stack {running.get('stack_name')} at "
        f"{url}); stop it first (Ctrl-C in its terminal), or give this one another folder with --state-dir"
    )


def _require_free_port(host: str, port: int) -> None:
    """Refuse to start beside another server: clients would silently talk to that one instead."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUse(
                f"port {port} on {host} is in use (is local mode already running?); stop it or pass --port"
            ) from error


def _quiet_emulator_logs() -> None:
    """The emulator's own logs are not for the terminal: its request log, its notes on resource types it skips,
    and its Step Functions interpreter's error records of a failing state, which print the interpreter's objects
    and their addresses. A run's end has its own line (``stepfunctions.outcome_line``). A request the emulator
    itself fails on (an answer 500) is a fault of local mode, and its traceback is still printed."""
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=".*not supported by moto's CloudFormation.*")


def read_stack_file(state_dir: Path) -> dict[str, Any]:
    path = state_dir / STACK_FILE
    if not path.exists():
        raise FileNotFoundError(f"no local stack found in {state_dir}: start one with `driftline local up`")
    return dict(json.loads(path.read_text()))
