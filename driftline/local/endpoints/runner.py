"""The endpoint runner: the local server behind each SageMaker endpoint, started, swapped and stopped as
CreateEndpoint, UpdateEndpoint and DeleteEndpoint ask, with the status and events SageMaker reports.

- CreateEndpoint starts one server process per endpoint on ``127.0.0.1`` (a free port) with the model's own
  serving program, as the scikit-learn container would: ``model.tar.gz`` is downloaded from the emulated S3 and
  unpacked, ``SAGEMAKER_SUBMIT_DIRECTORY`` is unpacked and checked against the application's published
  ``ml/`` files (the same check local jobs pass; nothing else ever runs), ``SAGEMAKER_PROGRAM`` must be one
  of its scripts. The endpoint is ``Creating``, then ``InService`` once ``/ping`` answers, or ``Failed``
  with a ``FailureReason`` when the model does not load or never becomes healthy.
- UpdateEndpoint is ``Updating`` while the new configuration's server starts; once it answers ``/ping``
  requests switch to it (all at once) and requests already sent to the old server finish there. The update's
  ``DeploymentConfig`` is followed as SageMaker's deployment guardrails follow a blue/green update: for the
  bake period (``WaitIntervalInSeconds``) the rollback alarms are watched, and one in ALARM, or an update
  that outlasts ``MaximumExecutionTimeoutInSeconds``, switches traffic back to the old server; otherwise the
  old server is kept for ``TerminationWaitInSeconds`` and then stopped. When the new server fails or the
  update rolls back, the endpoint is back ``InService`` on its previous configuration with the
  ``FailureReason`` of the update, as SageMaker reports a failed update.
- DeleteEndpoint stops the server and writes out captured data.
- An invocation goes to the endpoint's current server; a sampled one is captured (``capture``), and each
  one counts in the endpoint's CloudWatch metrics (``metrics``).

Every status change sends SageMaker's "SageMaker Endpoint State Change" event to local EventBridge.
"""

from __future__ import annotations

import json
import re
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.local.endpoints.capture import (
    CAPTURE_FLUSH_SECONDS,
    CapturedRecord,
    capture_record,
    capture_settings,
    capture_summary,
    sampled,
    write_captures,
)
from driftline.local.endpoints.metrics import NAMESPACE, InvocationMetrics
from driftline.local.endpoints.server_process import (
    START_TIMEOUT_SECONDS,
    EndpointFailed,
    ModelServer,
    launch_server,
    post_invocation,
)
from driftline.local.s3_uris import split_s3_uri
from driftline.local.times import epoch_millis, utc_now

if TYPE_CHECKING:  # the server process imports this package, and neither moto nor the job runner
    from driftline.local.console import Console
    from driftline.local.sagemaker import ApplicationCode


@dataclass
class LocalEndpoint:
    name: str
    server: ModelServer | None = None
    capture: dict[str, Any] | None = None
    captured: list[CapturedRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


BAKE_CHECK_SECONDS = 0.25
"""How often the rollback alarms are looked at during a bake period."""


@dataclass(frozen=True)
class BlueGreenUpdate:
    """What an UpdateEndpoint's ``DeploymentConfig`` asks of a blue/green update (SageMaker's defaults without one)."""

    bake_seconds: float = 0.0
    termination_wait_seconds: float = 0.0
    maximum_execution_seconds: float = 3600.0
    rollback_alarms: tuple[str, ...] = ()

    @classmethod
    def from_deployment_config(cls, deployment: dict[str, Any]) -> BlueGreenUpdate:
        policy = deployment.get("BlueGreenUpdatePolicy") or {}
        routing = policy.get("TrafficRoutingConfiguration") or {}
        alarms = (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
        return cls(
            bake_seconds=float(routing.get("WaitIntervalInSeconds") or 0),
            termination_wait_seconds=float(policy.get("TerminationWaitInSeconds") or 0),
            maximum_execution_seconds=float(policy.get("MaximumExecutionTimeoutInSeconds") or 3600),
            rollback_alarms=tuple(str(alarm["AlarmName"]) for alarm in alarms),
        )


def alarm_in_alarm(names: Iterable[str], region: str) -> tuple[str, str] | None:
    """The first of the named CloudWatch alarms in ALARM, with its state reason (a missing alarm is not)."""
    from moto.cloudwatch.models import cloudwatch_backends  # moto: not in the server process

    from driftline.local.settings import ACCOUNT_ID

    alarms = cloudwatch_backends[ACCOUNT_ID][region].alarms
    for name in names:
        alarm = alarms.get(name)
        if alarm is not None and alarm.state_value == "ALARM":
            return name, str(alarm.state_reason or "")
    return None


def model_role_credentials(container: dict[str, Any], rollback_alarms: Iterable[str], region: str) -> dict[str, str]:
    """The model's execution role's credentials, after checking what SageMaker does with the role first: pull
    the container's image and, for an update with rollback alarms, read those alarms (deployment guardrails)."""
    from driftline.local import iam  # moto: not in the server process
    from driftline.local.settings import ACCOUNT_ID

    role_arn = container.get("ExecutionRoleArn")
    if not role_arn:
        return {}
    session = iam.role_session(str(role_arn), "SageMaker")
    try:
        iam.authorize_image_pull(session, str(container.get("Image") or ""))
        for alarm in rollback_alarms:
            iam.authorize_action(
                session, "cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{alarm}"
            )
    except iam.AccessDenied as denied:
        raise EndpointFailed(f"ClientError: {denied}") from denied
    return session.environment()


class EndpointRunner:
    """Starts, swaps and stops the local servers behind SageMaker endpoints; writes their captured data."""

    def __init__(
        self,
        *,
        endpoints_dir: Path,
        endpoint_url: str,
        region: str,
        console: Console,
        code: ApplicationCode | None = None,
        capture_flush_seconds: float = CAPTURE_FLUSH_SECONDS,
    ) -> None:
        from driftline.local.sagemaker import ML_DIR, ApplicationCode

        self.endpoints_dir = endpoints_dir
        self.endpoint_url = endpoint_url
        self.region = region
        self.console = console
        self.code = code or ApplicationCode(ML_DIR)
        self.capture_flush_seconds = capture_flush_seconds
        self.endpoints: dict[str, LocalEndpoint] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None
        self.metrics = InvocationMetrics()
        self._publisher: threading.Thread | None = None

    # -- lifecycle called from the SageMaker API --------------------------------------------------
    def create(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        with self._lock:
            self.endpoints[fake.endpoint_name] = LocalEndpoint(fake.endpoint_name)
        fake.endpoint_status = "Creating"
        fake.failure_reason = None
        self._emit(fake)
        self._background(fake.endpoint_name, lambda: self._create(fake, config, resolve_model))

    def update(
        self,
        fake: Any,
        config: dict[str, Any],
        resolve_model: Callable[[str], dict[str, Any]],
        deployment: dict[str, Any] | None = None,
    ) -> None:
        fake.failure_reason = None
        self._set_status(fake, "Updating")
        plan = BlueGreenUpdate.from_deployment_config(deployment or {})
        self._background(fake.endpoint_name, lambda: self._update(fake, config, resolve_model, plan))

    def restore(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> bool:
        """Serve again an endpoint restored from local mode's saved state; False when it has nothing to serve.

        An endpoint InService (or Creating) starts its configuration's server, as a SageMaker endpoint keeps
        serving; one that was Updating when local mode stopped serves its previous configuration, InService with
        a ``FailureReason`` saying the update did not complete. A model that cannot be served any more (its
        artifact gone, say) leaves the endpoint Failed with the reason.
        """
        if fake.endpoint_status not in ("InService", "Creating", "Updating"):
            return False
        with self._lock:
            self.endpoints[fake.endpoint_name] = LocalEndpoint(fake.endpoint_name)
        self._background(fake.endpoint_name, lambda: self._restore(fake, config, resolve_model))
        return True

    def _restore(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        name, status = fake.endpoint_name, fake.endpoint_status
        server = self._serve(
            fake, config, resolve_model, "local mode could not serve this endpoint again after a restart: "
        )
        if server is None:
            return
        if status == "Updating":
            fake.failure_reason = (
                f"Local mode stopped during an update of this endpoint; the update did not complete and "
                f"{config['EndpointConfigName']} serves"
            )
        if status != "InService":
            self._set_status(fake, "InService")
        self._ensure_flusher()
        self.console.line(name, f"InService again at http://127.0.0.1:{server.port} ({config['EndpointConfigName']})")

    def delete(self, name: str) -> None:
        with self._lock:
            endpoint = self.endpoints.pop(name, None)
        if endpoint is None:
            return
        self._flush(endpoint)
        if endpoint.server is not None:
            endpoint.server.drain_and_stop()

    def stop(self) -> None:
        """Stop every server (local mode is stopping); captured records are written first."""
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout=START_TIMEOUT_SECONDS)
        for name in list(self.endpoints):
            self.delete(name)

    def wait(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def _background(self, name: str, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=work, name=f"endpoint-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _serve(
        self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]], failed_as: str = ""
    ) -> ModelServer | None:
        """Start the config's model server and attach it to the endpoint; None when it failed (the endpoint is then
        Failed, ``failed_as`` leading its reason) or the endpoint was deleted while it started."""
        name = fake.endpoint_name
        try:
            server = self._start_server(name, config, resolve_model)
        except EndpointFailed as error:
            fake.failure_reason = f"{failed_as}{error}"[:1024]
            self._set_status(fake, "Failed")
            self.console.line(name, f"FAILED: {fake.failure_reason}")
            return None
        endpoint = self.endpoints.get(name)
        if endpoint is None:  # deleted while it was starting
            server.stop()
            return None
        with endpoint.lock:
            endpoint.server = server
            endpoint.capture = capture_settings(config)
        return server

    def _create(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        name = fake.endpoint_name
        server = self._serve(fake, config, resolve_model)
        if server is None:
            return
        fake.data_capture_config = capture_summary(config)
        self._set_status(fake, "InService")
        self._ensure_flusher()
        self.console.line(name, f"InService at http://127.0.0.1:{server.port} ({config['EndpointConfigName']})")

    def _update(
        self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]], plan: BlueGreenUpdate
    ) -> None:
        name = fake.endpoint_name
        target = str(config["EndpointConfigName"])
        started = time.monotonic()
        endpoint = self.endpoints.get(name)
        try:
            if endpoint is None:
                raise EndpointFailed(f"endpoint {name} is not running locally")
            server = self._start_server(name, config, resolve_model, plan.rollback_alarms)
        except EndpointFailed as error:
            self._update_failed(fake, f"Update to {target} failed: {error}")
            return
        assert endpoint is not None
        self._flush(endpoint)
        with endpoint.lock:
            previous, previous_capture = endpoint.server, endpoint.capture
            endpoint.server, endpoint.capture = server, capture_settings(config)
        self.console.line(
            name, f"{target} serves all traffic; baking for {plan.bake_seconds:g} s under the rollback alarms"
        )
        why = self._bake(plan, started)
        if why is not None:
            self._flush(endpoint)
            with endpoint.lock:
                endpoint.server, endpoint.capture = previous, previous_capture
            server.drain_and_stop()
            self._update_failed(fake, f"Update to {target} rolled back: {why}")
            return
        if previous is not None and plan.termination_wait_seconds:
            self._stopping.wait(plan.termination_wait_seconds)
        fake.endpoint_config_name = target
        fake.production_variants = fake._process_production_variants(config["ProductionVariants"])
        fake.data_capture_config = capture_summary(config)
        self._set_status(fake, "InService")
        if previous is not None:
            previous.drain_and_stop()
        self.console.line(name, f"updated to {target} at http://127.0.0.1:{server.port}")

    def _bake(self, plan: BlueGreenUpdate, started: float) -> str | None:
        """Watch the rollback alarms for the bake period; why the update must roll back, or None."""
        bake_ends = time.monotonic() + plan.bake_seconds
        while True:
            alarm = alarm_in_alarm(plan.rollback_alarms, self.region)
            if alarm is not None:
                return f"rollback alarm {alarm[0]} went into ALARM during the bake period ({alarm[1]})"
            if time.monotonic() - started > plan.maximum_execution_seconds:
                return (
                    f"the update did not complete within MaximumExecutionTimeoutInSeconds "
                    f"({plan.maximum_execution_seconds} s)"
                )
            remaining = bake_ends - time.monotonic()
            if remaining <= 0 or self._stopping.wait(min(BAKE_CHECK_SECONDS, remaining)):
                return None

    def _update_failed(self, fake: Any, reason: str) -> None:
        """As on SageMaker: the previous configuration keeps serving and the endpoint says why."""
        fake.failure_reason = reason[:1024]
        self._set_status(fake, "InService")
        self.console.line(fake.endpoint_name, f"previous model still serving: {reason}")

    def _set_status(self, fake: Any, status: str) -> None:
        """The endpoint's new status, changed now, and its state-change event."""
        fake.endpoint_status = status
        fake.last_modified_time = utc_now()
        self._emit(fake)

    def _emit(self, fake: Any) -> None:
        """SageMaker's "SageMaker Endpoint State Change" event for the endpoint's status now, to local EventBridge."""
        from moto.events.models import events_backends

        account = str(fake.arn).split(":")[4]
        events_backends[account][self.region].put_events([endpoint_state_change_event(fake)])

    # -- starting a server --------------------------------------------------------------------------
    def _start_server(
        self,
        name: str,
        config: dict[str, Any],
        resolve_model: Callable[[str], dict[str, Any]],
        rollback_alarms: tuple[str, ...] = (),
    ) -> ModelServer:
        from driftline.local.sagemaker import JobFailed, refused_environment

        variants = config.get("ProductionVariants") or []
        if len(variants) != 1:
            raise EndpointFailed(
                f"ClientError: endpoint config {config['EndpointConfigName']} has {len(variants)} production variants; "
                "local mode serves exactly one per endpoint"
            )
        variant = variants[0]
        container = resolve_model(variant["ModelName"])
        environment = dict(container.get("Environment") or {})
        refused = refused_environment(environment)
        if refused:
            raise EndpointFailed(
                f"ClientError: the model's Environment sets {', '.join(refused)}, which local mode does not let a "
                "model set (they would change which code runs or where its traffic goes)"
            )
        program = environment.get("SAGEMAKER_PROGRAM")
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        model_uri = container.get("ModelDataUrl")
        if not program or not submit or not model_uri:
            raise EndpointFailed(
                "ClientError: the model's container needs ModelDataUrl and the SAGEMAKER_PROGRAM and "
                "SAGEMAKER_SUBMIT_DIRECTORY environment variables (the scikit-learn serving container's contract)"
            )
        folder = self.endpoints_dir / name / f"{config['EndpointConfigName']}-{uuid.uuid4().hex[:8]}"
        credentials = model_role_credentials(container, rollback_alarms, self.region)
        try:
            self.code.require_script(program, "SAGEMAKER_PROGRAM")
            model_dir, code_dir = folder / "model", folder / "code"
            self._unpack(str(model_uri), folder / "model.tar.gz", model_dir, credentials)
            self._unpack(str(submit), folder / "sourcedir.tar.gz", code_dir, credentials)
            self.code.verify_folder(code_dir, f"SAGEMAKER_SUBMIT_DIRECTORY {submit}")
        except JobFailed as error:
            raise EndpointFailed(str(error)) from error
        server = launch_server(
            folder,
            program,
            environment,
            config_name=str(config["EndpointConfigName"]),
            variant=str(variant["VariantName"]),
        )
        server.credentials = credentials
        return server

    def _unpack(self, uri: str, archive: Path, target: Path, credentials: dict[str, str]) -> None:
        from driftline.local.sagemaker import JobFailed

        bucket, key = split_s3_uri(uri, EndpointFailed)
        archive.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._s3(credentials).download_file(bucket, key, str(archive))
        except Exception as error:
            raise JobFailed(f"ClientError: could not download {uri} ({error})") from error
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise JobFailed(f"ClientError: {uri} is not a readable .tar.gz archive ({error})") from error

    def _s3(self, credentials: dict[str, str]) -> Any:
        from driftline.local.clients import emulator_client  # boto3: not in the server process

        return emulator_client("s3", self.endpoint_url, self.region, credentials)

    # -- invocations ----------------------------------------------------------------------------
    def invoke(
        self, name: str, body: bytes, content_type: str | None, accept: str | None, inference_id: str | None = None
    ) -> tuple[int, bytes, str, str]:
        """Forward one invocation: ``(status, body, content type, variant)``; raises KeyError when not serving."""
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise KeyError(name)
        with endpoint.lock:
            server = endpoint.server
            if server is None:
                raise KeyError(name)
            with server.idle:
                server.in_flight += 1
        sent = time.monotonic()
        try:
            status, answer, answer_type = post_invocation(server.port, body, content_type, accept)
        except OSError as error:
            reason = f"the model's server is not answering ({error}); see {server.folder / 'server.log'}"
            status, answer, answer_type = 500, json.dumps({"message": reason}).encode(), "application/json"
        finally:
            with server.idle:
                server.in_flight -= 1
                server.idle.notify_all()
        answered = time.monotonic() - sent
        self.metrics.record(name, server.variant, status, answered, answered, time.time())
        self._ensure_metrics_publisher()
        if 200 <= status < 300 and endpoint.capture is not None:
            self._capture(endpoint, server.variant, body, content_type, answer, answer_type, inference_id)
        return status, answer, answer_type, server.variant

    # -- data capture ---------------------------------------------------------------------------
    def _capture(
        self,
        endpoint: LocalEndpoint,
        variant: str,
        body: bytes,
        content_type: str | None,
        answer: bytes,
        answer_type: str,
        inference_id: str | None,
    ) -> None:
        settings = endpoint.capture
        if settings is None or not sampled(settings):
            return
        captured = capture_record(settings, variant, body, content_type, answer, answer_type, inference_id)
        with endpoint.lock:
            endpoint.captured.append(captured)

    def flush_captures(self) -> None:
        """Write every captured record now (local mode does it every few seconds and when it stops)."""
        for endpoint in list(self.endpoints.values()):
            self._flush(endpoint)

    def _flush(self, endpoint: LocalEndpoint) -> None:
        with endpoint.lock:
            records, endpoint.captured = endpoint.captured, []
        credentials = endpoint.server.credentials if endpoint.server is not None else {}
        write_captures(
            endpoint.name,
            records,
            lambda: self._s3(credentials),
            lambda message: self.console.line(endpoint.name, message),
        )

    def _ensure_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_periodically, name="endpoint-capture", daemon=True)
            self._flusher.start()

    def publish_metrics(self, before: float | None = None) -> None:
        """Send the invocation metrics of every period that has ended to CloudWatch, as SageMaker does."""
        from moto.cloudwatch.models import cloudwatch_backends  # moto: not in the server process

        from driftline.local.settings import ACCOUNT_ID

        entries = self.metrics.drain(time.time() if before is None else before)
        for start in range(0, len(entries), 1000):
            cloudwatch_backends[ACCOUNT_ID][self.region].put_metric_data(NAMESPACE, entries[start : start + 1000])

    def _ensure_metrics_publisher(self) -> None:
        with self._lock:
            if self._publisher is not None:
                return
            self._publisher = threading.Thread(target=self._publish_periodically, name="endpoint-metrics", daemon=True)
            self._publisher.start()

    def _publish_periodically(self) -> None:
        while not self._stopping.wait(self.metrics.period / 2):
            try:
                self.publish_metrics()
            except Exception as error:  # a metric that cannot be stored must not stop the next ones
                self.console.line("endpoints", f"could not publish invocation metrics: {error}")

    def _flush_periodically(self) -> None:
        while not self._stopping.wait(self.capture_flush_seconds):
            self.flush_captures()


def endpoint_state_change_event(fake: Any) -> dict[str, Any]:
    """The PutEvents entry of an endpoint's state change, in the shape AWS documents for the event.

    The status is written as the event writes it (``IN_SERVICE``, ``UPDATING``), not as DescribeEndpoint does;
    times are epoch milliseconds and tags a name-to-value object.
    """
    status = re.sub(r"(?<!^)(?=[A-Z])", "_", str(fake.endpoint_status)).upper()
    variants = [
        {
            "DesiredWeight": float(variant.get("DesiredWeight", variant.get("CurrentWeight", 1.0)) or 1.0),
            "DesiredInstanceCount": float(
                variant.get("DesiredInstanceCount", variant.get("CurrentInstanceCount", 1)) or 1
            ),
        }
        for variant in (fake.production_variants or [])
    ]
    detail: dict[str, Any] = {
        "EndpointName": fake.endpoint_name,
        "EndpointArn": fake.arn,
        "EndpointConfigName": fake.endpoint_config_name,
        "ProductionVariants": variants,
        "EndpointStatus": status,
        "CreationTime": _event_millis(fake.creation_time),
        "LastModifiedTime": _event_millis(fake.last_modified_time),
        "Tags": {tag["Key"]: tag["Value"] for tag in (fake.tags or [])},
    }
    if fake.failure_reason:
        detail["FailureReason"] = fake.failure_reason
    return {
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker Endpoint State Change",
        "Detail": json.dumps(detail),
        "Resources": [fake.arn],
    }


def _event_millis(value: Any) -> float:
    """An endpoint's time as its state-change event writes it: moto keeps a datetime or an ISO 8601 text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return float(epoch_millis(value))
    return float(value or 0)
