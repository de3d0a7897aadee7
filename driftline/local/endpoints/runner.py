"""The endpoint runner: the local servers behind each SageMaker endpoint, started, swapped and stopped as
CreateEndpoint, UpdateEndpoint, UpdateEndpointWeightsAndCapacities and DeleteEndpoint ask, with the status and
events SageMaker reports.

- CreateEndpoint starts one server process per variant of the endpoint config, production and shadow, on
  ``127.0.0.1`` (a free port each), each with its own model's serving program, as the scikit-learn container
  would: ``model.tar.gz`` is downloaded from the emulated S3 and unpacked, ``SAGEMAKER_SUBMIT_DIRECTORY`` is
  unpacked and checked against the application's published ``ml/`` files (the same check local jobs pass; nothing
  else ever runs), ``SAGEMAKER_PROGRAM`` must be one of its scripts, and the model's execution role must be allowed
  to pull its image. The endpoint is ``Creating``, then ``InService`` once every server answers ``/ping``, or
  ``Failed`` with a ``FailureReason`` naming the variant whose model does not load or never becomes healthy.
- UpdateEndpoint is ``Updating`` while the new configuration's servers start (a new fleet, every variant, as a
  blue/green update deploys); once they all answer ``/ping`` requests switch to them (all at once) and requests
  already sent to the old servers finish there. The update's ``DeploymentConfig`` is followed as SageMaker's
  deployment guardrails follow a blue/green update: for the bake period (``WaitIntervalInSeconds``) the rollback
  alarms are watched, and one in ALARM, or an update that outlasts ``MaximumExecutionTimeoutInSeconds``, switches
  traffic back to the old servers; otherwise the old servers are kept for ``TerminationWaitInSeconds`` and then
  stopped. When a new server fails or the update rolls back, the endpoint is back ``InService`` on its previous
  configuration with the ``FailureReason`` of the update, as SageMaker reports a failed update.
- UpdateEndpointWeightsAndCapacities is ``Updating`` until the new weights route requests (they switch at once,
  the servers stay), then ``InService``; instance counts are recorded, one server answers for a variant.
- DeleteEndpoint stops the servers and writes out captured data.
- An invocation goes to one production variant, at random by the variants' weights or to its ``TargetVariant``
  (``variants``); a shadow variant gets a copy of a share of them in the background (none while
  ``SHADOW_BACKLOG`` copies wait for its answers). Each answer counts in its
  variant's CloudWatch metrics (``metrics``) and a sampled one is captured under its variant (``capture``).

Every status change sends SageMaker's "SageMaker Endpoint State Change" event to local EventBridge.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
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
    INVOKE_TIMEOUT_SECONDS,
    MODEL_CODE_DIR,
    PYTORCH_INFERENCE_REPOSITORY,
    PYTORCH_SERVING_LIBRARIES,
    START_TIMEOUT_SECONDS,
    EndpointFailed,
    ModelServer,
    image_repository,
    launch_server,
    post_invocation,
)
from driftline.local.endpoints.variants import Fleet, routing_of, variant_summaries
from driftline.local.s3_uris import split_s3_uri
from driftline.local.times import epoch_millis, utc_now

if TYPE_CHECKING:  # the server process imports this package, and neither moto nor the job runner
    from driftline.local.console import Console
    from driftline.local.sagemaker import ApplicationCode


@dataclass
class LocalEndpoint:
    name: str
    fleet: Fleet | None = None
    """The servers answering now, and how requests are routed among them."""
    captured: list[tuple[ModelServer, CapturedRecord]] = field(default_factory=list)
    """Captured records not written yet, each with the server that answered (its model's role writes it)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def servers(self) -> dict[str, ModelServer]:
        """The server of each variant answering now, production and shadow, by variant name."""
        fleet = self.fleet
        return {server.variant: server for server in fleet.servers} if fleet is not None else {}


BAKE_CHECK_SECONDS = 0.25
"""How often the rollback alarms are looked at during a bake period."""
SHADOW_WORKERS = 4
"""Threads sending shadow variants their copies of requests, so a caller never waits for a shadow's answer."""
SHADOW_BACKLOG = 32
"""Copies a shadow variant may have unanswered; past that, copies are not sent: a shadow that hangs holds at most
this many requests' bodies, and stopping local mode waits for those, not for a copy of every request since."""


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
        self._shadow_pool: ThreadPoolExecutor | None = None
        self._shadow_copies = 0
        self._shadow_done = threading.Condition()
        self._backlogged_shadows: set[Path] = set()

    # -- lifecycle called from the SageMaker API --------------------------------------------------
    def create(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        with self._lock:
            self.endpoints[fake.endpoint_name] = LocalEndpoint(fake.endpoint_name)
        fake.production_variants = variant_summaries(config.get("ProductionVariants") or [])
        fake.shadow_production_variants = variant_summaries(config.get("ShadowProductionVariants") or []) or None
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
        retained: frozenset[str] = frozenset(),
    ) -> None:
        """Deploy ``config`` as a new fleet; ``retained``: the variant properties (``DesiredWeight``,
        ``DesiredInstanceCount``) a variant already on the endpoint keeps (``RetainAllVariantProperties``)."""
        summaries = variant_summaries(config.get("ProductionVariants") or [], fake.production_variants or [], retained)
        shadows = variant_summaries(config.get("ShadowProductionVariants") or [], _shadow_summaries(fake), retained)
        fake.failure_reason = None
        fake.pending_deployment_summary = _pending_deployment(config, summaries, shadows, "Creating")
        self._set_status(fake, "Updating")
        plan = BlueGreenUpdate.from_deployment_config(deployment or {})
        self._background(
            fake.endpoint_name, lambda: self._update(fake, config, resolve_model, plan, summaries, shadows)
        )

    def update_weights(self, fake: Any, desired: Iterable[Mapping[str, Any]]) -> None:
        """UpdateEndpointWeightsAndCapacities, its request checked: the desired weights and instance counts now,
        routing by them once the endpoint is back InService."""
        by_name = {str(summary["VariantName"]): summary for summary in _all_summaries(fake)}
        for entry in desired:
            summary = by_name[str(entry["VariantName"])]
            if entry.get("DesiredWeight") is not None:
                summary["DesiredWeight"] = float(entry["DesiredWeight"])
            if entry.get("DesiredInstanceCount") is not None:
                summary["DesiredInstanceCount"] = int(entry["DesiredInstanceCount"])
        fake.failure_reason = None
        self._set_status(fake, "Updating")
        self._background(fake.endpoint_name, lambda: self._apply_weights(fake))

    def restore(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> bool:
        """Serve again an endpoint restored from local mode's saved state; False when it has nothing to serve.

        An endpoint InService (or Creating) starts a server for each variant of its configuration, with the weights
        it had, as a SageMaker endpoint keeps serving; one that was Updating when local mode stopped serves its
        previous configuration, InService with a ``FailureReason`` saying the update did not complete (a weights
        update that had not completed keeps the weights it had). A model that cannot be served any more (its
        artifact gone, say) leaves the endpoint Failed with the reason.
        """
        if fake.endpoint_status not in ("InService", "Creating", "Updating"):
            return False
        keep = frozenset({"DesiredWeight", "DesiredInstanceCount"})
        fake.production_variants = variant_summaries(
            config.get("ProductionVariants") or [], fake.production_variants or [], keep
        )
        fake.shadow_production_variants = (
            variant_summaries(config.get("ShadowProductionVariants") or [], _shadow_summaries(fake), keep) or None
        )
        fake.pending_deployment_summary = None
        with self._lock:
            self.endpoints[fake.endpoint_name] = LocalEndpoint(fake.endpoint_name)
        self._background(fake.endpoint_name, lambda: self._restore(fake, config, resolve_model))
        return True

    def _restore(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        name, status = fake.endpoint_name, fake.endpoint_status
        fleet = self._serve(
            fake, config, resolve_model, "local mode could not serve this endpoint again after a restart: "
        )
        if fleet is None:
            return
        if status == "Updating":
            fake.failure_reason = (
                f"Local mode stopped during an update of this endpoint; the update did not complete and "
                f"{config['EndpointConfigName']} serves"
            )
        if status != "InService":
            self._set_status(fake, "InService")
        self._ensure_flusher()
        self.console.line(name, f"InService again: {_fleet_text(fleet)}")

    def delete(self, name: str) -> None:
        with self._lock:
            endpoint = self.endpoints.pop(name, None)
        if endpoint is None:
            return
        if endpoint.fleet is not None:
            _retire(endpoint.fleet)  # the requests it is answering are answered, and captured, first
        self._flush(endpoint)

    def stop(self) -> None:
        """Stop every server (local mode is stopping); shadow copies already sent finish, captured records are
        written first."""
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout=START_TIMEOUT_SECONDS)
        with self._lock:
            pool, self._shadow_pool = self._shadow_pool, None
        if pool is not None:
            pool.shutdown(wait=True)
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
    ) -> Fleet | None:
        """Start the config's servers and attach them to the endpoint; None when one failed (the endpoint is then
        Failed, ``failed_as`` leading its reason) or the endpoint was deleted while they started."""
        name = fake.endpoint_name
        try:
            fleet = self._start_fleet(
                name, config, resolve_model, fake.production_variants or [], _shadow_summaries(fake)
            )
        except EndpointFailed as error:
            fake.failure_reason = f"{failed_as}{error}"[:1024]
            self._set_status(fake, "Failed")
            self.console.line(name, f"FAILED: {fake.failure_reason}")
            return None
        endpoint = self.endpoints.get(name)
        if endpoint is None:  # deleted while it was starting
            for server in fleet.servers:
                server.stop()
            return None
        with endpoint.lock:
            endpoint.fleet = fleet
        return fleet

    def _create(self, fake: Any, config: dict[str, Any], resolve_model: Callable[[str], dict[str, Any]]) -> None:
        name = fake.endpoint_name
        fleet = self._serve(fake, config, resolve_model)
        if fleet is None:
            return
        fake.data_capture_config = capture_summary(config)
        self._set_status(fake, "InService")
        self._ensure_flusher()
        self.console.line(name, f"InService: {_fleet_text(fleet)}")

    def _update(
        self,
        fake: Any,
        config: dict[str, Any],
        resolve_model: Callable[[str], dict[str, Any]],
        plan: BlueGreenUpdate,
        summaries: list[dict[str, Any]],
        shadows: list[dict[str, Any]],
    ) -> None:
        name = fake.endpoint_name
        target = str(config["EndpointConfigName"])
        started = time.monotonic()
        endpoint = self.endpoints.get(name)
        try:
            if endpoint is None:
                raise EndpointFailed(f"endpoint {name} is not running locally")
            fleet = self._start_fleet(name, config, resolve_model, summaries, shadows, plan.rollback_alarms)
        except EndpointFailed as error:
            self._update_failed(fake, f"Update to {target} failed: {error}")
            return
        assert endpoint is not None
        with endpoint.lock:
            previous, endpoint.fleet = endpoint.fleet, fleet
        fake.pending_deployment_summary = _pending_deployment(config, summaries, shadows, "Baking")
        self.console.line(
            name, f"{target} serves all traffic; baking for {plan.bake_seconds:g} s under the rollback alarms"
        )
        why = self._bake(plan, started)
        if why is not None:
            with endpoint.lock:
                endpoint.fleet = previous
            _retire(fleet)
            self._update_failed(fake, f"Update to {target} rolled back: {why}")
            return
        if previous is not None and plan.termination_wait_seconds:
            self._stopping.wait(plan.termination_wait_seconds)
        fake.endpoint_config_name = target
        fake.production_variants = summaries
        fake.shadow_production_variants = shadows or None
        fake.data_capture_config = capture_summary(config)
        fake.pending_deployment_summary = None
        self._set_status(fake, "InService")
        if previous is not None:
            _retire(previous)
        self.console.line(name, f"updated to {_fleet_text(fleet)}")

    def _apply_weights(self, fake: Any) -> None:
        """The desired weights and instance counts become current, and route the requests from now on."""
        for summary in _all_summaries(fake):
            summary["CurrentWeight"] = summary.get("DesiredWeight", summary.get("CurrentWeight"))
            if summary.get("DesiredInstanceCount") is not None:
                summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"]
        weights, instances = routing_of(_all_summaries(fake))
        endpoint = self.endpoints.get(fake.endpoint_name)
        if endpoint is not None:
            with endpoint.lock:
                if endpoint.fleet is not None:
                    endpoint.fleet = endpoint.fleet.with_weights(weights, instances)
        self._set_status(fake, "InService")
        shown = ", ".join(f"{variant} {weight:g}" for variant, weight in weights.items())
        self.console.line(fake.endpoint_name, f"weights now {shown}")

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
        fake.pending_deployment_summary = None
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

    # -- starting servers ---------------------------------------------------------------------------
    def _start_fleet(
        self,
        name: str,
        config: dict[str, Any],
        resolve_model: Callable[[str], dict[str, Any]],
        summaries: Iterable[Mapping[str, Any]],
        shadows: Iterable[Mapping[str, Any]],
        rollback_alarms: tuple[str, ...] = (),
    ) -> Fleet:
        """A server for every variant of ``config``, started side by side, routed by the weights ``summaries`` and
        ``shadows`` give; when one does not start, the others are stopped and the error names each variant that
        failed."""
        config_name = str(config["EndpointConfigName"])
        production = list(config.get("ProductionVariants") or [])
        shadow_variants = list(config.get("ShadowProductionVariants") or [])
        if not production:
            raise EndpointFailed(f"ClientError: endpoint config {config_name} has no production variant")
        variants = [("production", variant) for variant in production] + [("shadow", v) for v in shadow_variants]

        def start(variant: Mapping[str, Any]) -> ModelServer:
            return self._start_server(name, config_name, variant, resolve_model, rollback_alarms)

        if len(variants) == 1:
            outcomes = [_outcome(start, variants[0][1])]
        else:
            with ThreadPoolExecutor(max_workers=len(variants), thread_name_prefix=f"endpoint-{name}") as pool:
                futures = [pool.submit(_outcome, start, variant) for _, variant in variants]
                outcomes = [future.result() for future in futures]
        servers = [outcome for outcome in outcomes if isinstance(outcome, ModelServer)]
        failures = [
            f"{kind} variant {variant['VariantName']}: {_failure_text(outcome)}"
            for (kind, variant), outcome in zip(variants, outcomes, strict=True)
            if not isinstance(outcome, ModelServer)
        ]
        if failures:
            for server in servers:
                server.stop()
            raise EndpointFailed("; ".join(failures))
        weights, instances = routing_of([*summaries, *shadows])
        return Fleet(
            config_name=config_name,
            production=tuple(servers[: len(production)]),
            shadow=servers[len(production)] if shadow_variants else None,
            weights=weights,
            instances=instances,
            capture=capture_settings(config),
        )

    def _start_server(
        self,
        name: str,
        config_name: str,
        variant: Mapping[str, Any],
        resolve_model: Callable[[str], dict[str, Any]],
        rollback_alarms: tuple[str, ...] = (),
    ) -> ModelServer:
        """One variant's server: its model's container checked, unpacked and serving (``/ping`` answers)."""
        from driftline.local.sagemaker import JobFailed, refused_environment

        variant_name = str(variant["VariantName"])
        container = resolve_model(str(variant.get("ModelName")))
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
        # SageMaker's PyTorch serving image imports the program from the model's own code/ folder.
        torchserve = image_repository(str(container.get("Image") or "")) == PYTORCH_INFERENCE_REPOSITORY
        if not program or not model_uri or not (submit or torchserve):
            raise EndpointFailed(
                "ClientError: the model's container needs ModelDataUrl and the SAGEMAKER_PROGRAM and "
                "SAGEMAKER_SUBMIT_DIRECTORY environment variables (the scikit-learn serving container's contract)"
            )
        folder = self.endpoints_dir / name / f"{config_name}-{variant_name}-{uuid.uuid4().hex[:8]}"
        credentials = model_role_credentials(container, rollback_alarms, self.region)
        try:
            self.code.require_script(program, "SAGEMAKER_PROGRAM")
            model_dir, code_dir = folder / "model", folder / "code"
            self._unpack(str(model_uri), folder / "model.tar.gz", model_dir, credentials)
            if torchserve:
                shown_as = f"{model_uri} ({MODEL_CODE_DIR}/)"
                if not (model_dir / MODEL_CODE_DIR).is_dir():
                    raise JobFailed(
                        f"ClientError: {model_uri} holds no {MODEL_CODE_DIR}/ folder, where SageMaker's PyTorch "
                        f"serving image imports {program} from"
                    )
                shutil.copytree(model_dir / MODEL_CODE_DIR, code_dir)
            else:
                shown_as = f"SAGEMAKER_SUBMIT_DIRECTORY {submit}"
                self._unpack(str(submit), folder / "sourcedir.tar.gz", code_dir, credentials)
            self.code.verify_folder(code_dir, shown_as)
        except JobFailed as error:
            raise EndpointFailed(str(error)) from error
        server = launch_server(
            folder,
            program,
            environment,
            config_name=config_name,
            variant=variant_name,
            library_dir=PYTORCH_SERVING_LIBRARIES if torchserve else None,
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
        self,
        name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        inference_id: str | None = None,
        target_variant: str | None = None,
    ) -> tuple[int, bytes, str, str]:
        """Forward one invocation: ``(status, body, content type, variant that answered)``.

        Raises KeyError when the endpoint is not serving, ``VariantNotFound`` for a ``target_variant`` that is not
        one of its production variants and ``NoWeightedVariant`` when no variant has weight and none is targeted.
        """
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise KeyError(name)
        with endpoint.lock:  # chosen and counted together: a fleet swapped out now waits for this request
            fleet = endpoint.fleet
            if fleet is None:
                raise KeyError(name)
            server = fleet.choose(target_variant)
            shadow = fleet.shadow_copy(server)
            server.begin_request()
            backlogged = None
            if shadow is not None and not shadow.begin_request(SHADOW_BACKLOG):
                backlogged, shadow = shadow, None
        if backlogged is not None:
            self._skip_shadow_copy(endpoint, backlogged)
        if shadow is not None:
            self._send_shadow_copy(endpoint, fleet, shadow, body, content_type, accept, inference_id)
        status, answer, answer_type = self._answer(endpoint, fleet, server, body, content_type, accept, inference_id)
        return status, answer, answer_type, server.variant

    def _answer(
        self,
        endpoint: LocalEndpoint,
        fleet: Fleet,
        server: ModelServer,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        inference_id: str | None,
    ) -> tuple[int, bytes, str]:
        """One request to one variant's server (counted in by the caller): its answer, counted in the variant's
        metrics and captured under its name when sampled."""
        try:
            sent = time.monotonic()
            try:
                status, answer, answer_type = post_invocation(server.port, body, content_type, accept)
            except OSError as error:
                reason = f"the model's server is not answering ({error}); see {server.folder / 'server.log'}"
                status, answer, answer_type = 500, json.dumps({"message": reason}).encode(), "application/json"
            answered = time.monotonic() - sent
            instances = fleet.instances.get(server.variant, 1)
            self.metrics.record(endpoint.name, server.variant, status, answered, answered, time.time(), instances)
            self._ensure_metrics_publisher()
            if 200 <= status < 300 and fleet.capture is not None:
                self._capture(endpoint, fleet.capture, server, body, content_type, answer, answer_type, inference_id)
        finally:  # counted and captured before the server may stop: stopping it waits for this
            server.end_request()
        return status, answer, answer_type

    def _send_shadow_copy(
        self,
        endpoint: LocalEndpoint,
        fleet: Fleet,
        shadow: ModelServer,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        inference_id: str | None,
    ) -> None:
        """The shadow variant's copy of a request, answered in the background: its answer is captured and counted,
        never returned, and whatever happens to it never reaches the caller."""

        def copy() -> None:
            try:
                self._answer(endpoint, fleet, shadow, body, content_type, accept, inference_id)
            except Exception as error:  # a shadow's failure is the shadow's: the caller's request is answered
                self.console.line(endpoint.name, f"shadow variant {shadow.variant}: its copy failed: {error}")
            finally:
                with self._shadow_done:
                    self._shadow_copies -= 1
                    self._shadow_done.notify_all()

        with self._shadow_done:
            self._shadow_copies += 1
        try:
            self._shadow_workers().submit(copy)
        except RuntimeError:  # local mode is stopping: the copy is not sent
            shadow.end_request()
            with self._shadow_done:
                self._shadow_copies -= 1
                self._shadow_done.notify_all()

    def _skip_shadow_copy(self, endpoint: LocalEndpoint, shadow: ModelServer) -> None:
        """A copy the shadow is not sent: ``SHADOW_BACKLOG`` copies are still unanswered (the console says so the
        first time for each server)."""
        with self._lock:
            first = shadow.folder not in self._backlogged_shadows
            self._backlogged_shadows.add(shadow.folder)
        if first:
            self.console.line(
                endpoint.name,
                f"shadow variant {shadow.variant} has {SHADOW_BACKLOG} copies of requests unanswered; further copies "
                f"are not sent until it answers (see {shadow.folder / 'server.log'})",
            )

    def _shadow_workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._shadow_pool is None:
                if self._stopping.is_set():
                    raise RuntimeError("local mode is stopping")
                self._shadow_pool = ThreadPoolExecutor(SHADOW_WORKERS, thread_name_prefix="endpoint-shadow")
            return self._shadow_pool

    def wait_for_shadow_copies(self, timeout: float = INVOKE_TIMEOUT_SECONDS) -> bool:
        """Wait until the shadow copies sent so far are answered; False when some still are not after ``timeout``."""
        with self._shadow_done:
            return self._shadow_done.wait_for(lambda: self._shadow_copies == 0, timeout)

    # -- data capture ---------------------------------------------------------------------------
    def _capture(
        self,
        endpoint: LocalEndpoint,
        settings: dict[str, Any],
        server: ModelServer,
        body: bytes,
        content_type: str | None,
        answer: bytes,
        answer_type: str,
        inference_id: str | None,
    ) -> None:
        if not sampled(settings):
            return
        captured = capture_record(settings, server.variant, body, content_type, answer, answer_type, inference_id)
        with endpoint.lock:
            endpoint.captured.append((server, captured))

    def flush_captures(self) -> None:
        """Write every captured record now, shadow copies already sent included (local mode writes every few
        seconds and when it stops)."""
        self.wait_for_shadow_copies()
        self._flush_all()

    def _flush_all(self) -> None:
        for endpoint in list(self.endpoints.values()):
            self._flush(endpoint)

    def _flush(self, endpoint: LocalEndpoint) -> None:
        """Write the endpoint's captured records, each variant's as its model's role (SageMaker writes with it)."""
        with endpoint.lock:
            records, endpoint.captured = endpoint.captured, []
        by_server: dict[int, tuple[dict[str, str], list[CapturedRecord]]] = {}
        for server, record in records:
            by_server.setdefault(id(server), (server.credentials, []))[1].append(record)
        for credentials, written in by_server.values():
            write_captures(
                endpoint.name,
                written,
                functools.partial(self._s3, credentials),
                lambda message: self.console.line(endpoint.name, message),
            )

    def _ensure_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_periodically, name="endpoint-capture", daemon=True)
            self._flusher.start()

    # -- metrics ----------------------------------------------------------------------------------
    def publish_metrics(self, before: float | None = None) -> None:
        """Send the invocation metrics of every period that has ended to CloudWatch, as SageMaker does, shadow
        copies already sent included."""
        self.wait_for_shadow_copies()
        self._publish(before)

    def _publish(self, before: float | None = None) -> None:
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
                self._publish()
            except Exception as error:  # a metric that cannot be stored must not stop the next ones
                self.console.line("endpoints", f"could not publish invocation metrics: {error}")

    def _flush_periodically(self) -> None:
        while not self._stopping.wait(self.capture_flush_seconds):
            self._flush_all()


def _outcome(
    start: Callable[[Mapping[str, Any]], ModelServer], variant: Mapping[str, Any]
) -> ModelServer | BaseException:
    """A variant's server, or what stopped it from starting (kept, so the servers that did start can be stopped)."""
    try:
        return start(variant)
    except Exception as error:
        return error


def _failure_text(error: object) -> str:
    if isinstance(error, EndpointFailed):
        return str(error)
    return f"InternalServerError: {type(error).__name__}: {error}"


def _retire(fleet: Fleet) -> None:
    """Stop a fleet's servers once the requests already sent to them are answered."""
    for server in fleet.servers:
        server.drain_and_stop()


def _shadow_summaries(fake: Any) -> list[dict[str, Any]]:
    """DescribeEndpoint's ShadowProductionVariants (an endpoint saved before shadows were kept has none)."""
    return list(getattr(fake, "shadow_production_variants", None) or [])


def _all_summaries(fake: Any) -> list[dict[str, Any]]:
    return [*(fake.production_variants or []), *_shadow_summaries(fake)]


def _pending_deployment(
    config: Mapping[str, Any], summaries: list[dict[str, Any]], shadows: list[dict[str, Any]], status: str
) -> dict[str, Any]:
    """DescribeEndpoint's PendingDeploymentSummary of an update in progress: the configuration being deployed and
    its variants' stage (``Creating`` while the servers start, ``Baking`` under the rollback alarms)."""
    instance_types = {
        str(variant["VariantName"]): variant.get("InstanceType")
        for variant in [*(config.get("ProductionVariants") or []), *(config.get("ShadowProductionVariants") or [])]
    }
    started = utc_now()

    def pending(summary: Mapping[str, Any]) -> dict[str, Any]:
        described = {
            key: summary[key]
            for key in ("VariantName", "DesiredWeight", "DesiredInstanceCount", "DesiredServerlessConfig")
            if key in summary
        }
        if instance_types.get(summary["VariantName"]):
            described["InstanceType"] = instance_types[summary["VariantName"]]
        described["VariantStatus"] = [{"Status": status, "StartTime": started}]
        return described

    deployment: dict[str, Any] = {
        "EndpointConfigName": str(config["EndpointConfigName"]),
        "ProductionVariants": [pending(summary) for summary in summaries],
        "StartTime": started,
    }
    if shadows:
        deployment["ShadowProductionVariants"] = [pending(summary) for summary in shadows]
    return deployment


def _fleet_text(fleet: Fleet) -> str:
    """What the console says of a fleet: each variant's address and weight."""
    parts = [
        f"{server.variant} at http://127.0.0.1:{server.port} (weight {fleet.weights.get(server.variant, 1.0):g})"
        for server in fleet.production
    ]
    if fleet.shadow is not None:
        parts.append(f"shadow {fleet.shadow.variant} at http://127.0.0.1:{fleet.shadow.port}")
    return f"{fleet.config_name}: {', '.join(parts)}"


def endpoint_state_change_event(fake: Any) -> dict[str, Any]:
    """The PutEvents entry of an endpoint's state change, in the shape AWS documents for the event.

    The status is written as the event writes it (``IN_SERVICE``, ``UPDATING``), not as DescribeEndpoint does;
    times are epoch milliseconds and tags a name-to-value object.
    """
    status = re.sub(r"(?<!^)(?=[A-Z])", "_", str(fake.endpoint_status)).upper()
    variants = [
        {
            "DesiredWeight": float(_first_set(variant, "DesiredWeight", "CurrentWeight", default=1.0)),
            "DesiredInstanceCount": float(
                _first_set(variant, "DesiredInstanceCount", "CurrentInstanceCount", default=1)
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


def _first_set(summary: Mapping[str, Any], *keys: str, default: float) -> Any:
    """The first of ``keys`` the summary gives a value (a weight of 0 is a value), else ``default``."""
    return next((summary[key] for key in keys if summary.get(key) is not None), default)
