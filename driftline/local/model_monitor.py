"""SageMaker Model Monitor: monitoring schedules, as the SageMaker API answers them.

moto implements the data-quality job definitions (and lets a second CreateDataQualityJobDefinition of the same
name replace the first, which AWS refuses with ResourceInUse) but none of the monitoring-schedule actions. Here
CreateMonitoringSchedule, DescribeMonitoringSchedule, UpdateMonitoringSchedule, DeleteMonitoringSchedule,
ListMonitoringSchedules and ListMonitoringExecutions answer with the API reference's shapes and errors, and
refuse a ``ScheduleExpression`` that Model Monitor refuses (it takes only the hourly, daily and every-N-hours
``cron`` forms, or ``NOW``).

Schedules are stored beside moto's SageMaker backend of their account and region, so a reset emulator
forgets them with everything else.

``MonitoringTimer`` runs each ``Scheduled`` schedule at the local pace (its interval in scaled hours, as the
EventBridge Scheduler timer scales ``rate(...)``): every firing starts a processing job, as Model Monitor
does, through the local SageMaker job runner. Model Monitor's analyzer image cannot run here, so the job runs
``ml/monitor.py`` from the application's published code with the environment Model Monitor gives its analyzer
(``dataset_source``, ``output_path``, ``baseline_statistics``, ``baseline_constraints``,
``sagemaker_endpoint_name``, ``sagemaker_monitoring_schedule_name``, ``start_time``, ``end_time``, ...), over the
endpoint's capture folders of every clock hour the window touches (a scaled window may cross an hour), writing to
``<output>/<endpoint>/<schedule>/yyyy/mm/dd/hh/``; the monitor analyses the records whose inferenceTime is in
[``start_time``, ``end_time``). A window is the interval before its execution's scheduled time, and scheduled
times are one interval apart whatever the timer's lateness (``cron.DueTimes``), so each window is analysed once.
A window whose folders hold no captured requests is recorded as a failed execution, "Job inputs had no data",
without a job. As on SageMaker, an execution's processing job carries its schedule's ARN (DescribeProcessingJob's
``MonitoringScheduleArn``), and so does its "SageMaker Processing Job State Change" event.
ListMonitoringExecutions and the schedule's ``LastMonitoringExecutionSummary`` report the executions.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import FakeProcessingJob, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from driftline.local import seams
from driftline.local.clients import emulator_client
from driftline.local.console import Console
from driftline.local.events import ScheduleTimer
from driftline.local.settings import ACCOUNT_ID
from driftline.local.times import utc_now

PATCH_GROUP = "model_monitor"
MONITORING_TYPES = ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability")
_CRON = re.compile(r"^cron\(0 (\*|(?P<hour>\d{1,2})(/(?P<every>\d{1,2}))?) \? \* \* \*\)$")


def schedule_interval_hours(expression: str) -> int | None:
    """Hours between a Model Monitor schedule's executions, or None for an expression Model Monitor refuses.

    Model Monitor takes ``cron(0 * ? * * *)`` (hourly), ``cron(0 H ? * * *)`` (daily at H UTC) and
    ``cron(0 H/N ? * * *)`` (every N hours from H); ``NOW`` (one execution at once) has no interval.
    """
    match = _CRON.match(expression.strip())
    if match is None:
        return None
    if match.group(1) == "*":
        return 1
    hour, every = int(match.group("hour")), match.group("every")
    if hour > 23:
        return None
    if every is None:
        return 24
    interval = int(every)
    return interval if 1 <= interval <= 24 else None


@dataclass
class Execution:
    scheduled_time: datetime
    status: str
    processing_job_arn: str = ""
    failure_reason: str = ""
    created: datetime = field(default_factory=utc_now)
    modified: datetime = field(default_factory=utc_now)


@dataclass
class Schedule:
    name: str
    arn: str
    config: dict[str, Any]
    endpoint_name: str
    created: datetime = field(default_factory=utc_now)
    modified: datetime = field(default_factory=utc_now)
    status: str = "Scheduled"
    executions: list[Execution] = field(default_factory=list)

    @property
    def monitoring_type(self) -> str:
        return str(self.config.get("MonitoringType") or "DataQuality")

    @property
    def job_definition_name(self) -> str:
        return str(self.config.get("MonitoringJobDefinitionName") or "")

    def summary(self) -> dict[str, Any]:
        found = {
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringScheduleStatus": self.status,
            "EndpointName": self.endpoint_name,
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringType": self.monitoring_type,
        }
        return {key: value for key, value in found.items() if value}

    def execution_summary(self, execution: Execution) -> dict[str, Any]:
        found = {
            "MonitoringScheduleName": self.name,
            "ScheduledTime": execution.scheduled_time,
            "CreationTime": execution.created,
            "LastModifiedTime": execution.modified,
            "MonitoringExecutionStatus": execution.status,
            "ProcessingJobArn": execution.processing_job_arn,
            "EndpointName": self.endpoint_name,
            "FailureReason": execution.failure_reason,
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringType": self.monitoring_type,
        }
        return {key: value for key, value in found.items() if value}

    def describe(self) -> dict[str, Any]:
        described = {
            "MonitoringScheduleArn": self.arn,
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleStatus": self.status,
            "MonitoringType": self.monitoring_type,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "MonitoringScheduleConfig": self.config,
            "EndpointName": self.endpoint_name,
        }
        if self.executions:
            described["LastMonitoringExecutionSummary"] = self.execution_summary(self.executions[-1])
        return {key: value for key, value in described.items() if value}


_stores: weakref.WeakKeyDictionary[SageMakerModelBackend, dict[str, Schedule]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_starting: dict[str, str] = {}
"""Processing job ARN -> its schedule's ARN, while an execution's CreateProcessingJob is answered."""


def schedules(backend: SageMakerModelBackend) -> dict[str, Schedule]:
    """The monitoring schedules of one account and region (moto's backend for them)."""
    with _lock:
        return _stores.setdefault(backend, {})


def schedule_arn(backend: SageMakerModelBackend, name: str) -> str:
    return f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:monitoring-schedule/{name.lower()}"


def _not_found(backend: SageMakerModelBackend, name: str) -> ResourceNotFound:
    return ResourceNotFound(f"Monitoring Schedule {schedule_arn(backend, name)} does not exist.")


def _checked_config(backend: SageMakerModelBackend, config: dict[str, Any]) -> str:
    """Refuse what Model Monitor refuses in a MonitoringScheduleConfig; the endpoint it watches."""
    expression = str((config.get("ScheduleConfig") or {}).get("ScheduleExpression") or "")
    if expression and expression != "NOW" and schedule_interval_hours(expression) is None:
        raise ValidationError(
            f"Invalid ScheduleExpression {expression}: Model Monitor supports cron(0 * ? * * *) (hourly), "
            "cron(0 [00-23] ? * * *) (daily), cron(0 [00-23]/[01-24] ? * * *) (every N hours) and NOW."
        )
    inline = config.get("MonitoringJobDefinition")
    name = config.get("MonitoringJobDefinitionName")
    if bool(inline) == bool(name):
        raise ValidationError("Exactly one of MonitoringJobDefinition or MonitoringJobDefinitionName must be set.")
    if inline:
        inputs = inline.get("MonitoringInputs") or [{}]
        return str((inputs[0].get("EndpointInput") or {}).get("EndpointName") or "")
    monitoring_type = config.get("MonitoringType")
    if monitoring_type not in MONITORING_TYPES:
        raise ValidationError("MonitoringType must be set when MonitoringJobDefinitionName is set.")
    if monitoring_type != "DataQuality":
        raise ValidationError(f"Local mode runs DataQuality schedules only, not {monitoring_type}.")
    definition = backend.data_quality_job_definitions.get(str(name))
    if definition is None:
        raise ResourceNotFound(f"Job definition {name} does not exist.")
    job_input: dict[str, Any] = definition.data_quality_job_input or {}
    return str((job_input.get("EndpointInput") or {}).get("EndpointName") or "")


def create_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    config = self._get_param("MonitoringScheduleConfig") or {}
    store = schedules(backend)
    if name in store:
        raise ResourceInUseException(f"Monitoring Schedule {schedule_arn(backend, name)} already exists.")
    endpoint = _checked_config(backend, config)
    store[name] = Schedule(name=name, arn=schedule_arn(backend, name), config=config, endpoint_name=endpoint)
    return ActionResult({"MonitoringScheduleArn": store[name].arn})


def update_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    found = schedules(backend).get(name)
    if found is None:
        raise _not_found(backend, name)
    config = self._get_param("MonitoringScheduleConfig") or {}
    found.endpoint_name = _checked_config(backend, config)
    found.config = config
    found.modified = utc_now()
    return ActionResult({"MonitoringScheduleArn": found.arn})


def describe_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    found = schedules(backend).get(name)
    if found is None:
        raise _not_found(backend, name)
    refresh_executions(backend, found)
    return ActionResult(found.describe())


def delete_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    if schedules(backend).pop(name, None) is None:
        raise _not_found(backend, name)
    return EmptyResult()


def list_monitoring_schedules(self: SageMakerResponse) -> ActionResult:
    endpoint = self._get_param("EndpointName")
    contains = self._get_param("NameContains")
    definition = self._get_param("MonitoringJobDefinitionName")
    listed = [
        found.summary()
        for found in sorted(schedules(self.sagemaker_backend).values(), key=lambda s: s.created, reverse=True)
        if (not endpoint or found.endpoint_name == endpoint)
        and (not contains or contains in found.name)
        and (not definition or found.job_definition_name == definition)
    ]
    return ActionResult({"MonitoringScheduleSummaries": listed})


def list_monitoring_executions(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("MonitoringScheduleName")
    endpoint = self._get_param("EndpointName")
    status = self._get_param("StatusEquals")
    for found in schedules(self.sagemaker_backend).values():
        refresh_executions(self.sagemaker_backend, found)
    listed = [
        (execution.scheduled_time, found.execution_summary(execution))
        for found in schedules(self.sagemaker_backend).values()
        if (not name or found.name == name) and (not endpoint or found.endpoint_name == endpoint)
        for execution in found.executions
        if not status or execution.status == status
    ]
    listed.sort(key=lambda pair: pair[0], reverse=self._get_param("SortOrder", "Descending") == "Descending")
    return ActionResult({"MonitoringExecutionSummaries": [summary for _, summary in listed]})


def refresh_executions(backend: SageMakerModelBackend, found: Schedule) -> None:
    """Each running execution takes its processing job's end: Completed (CompletedWithViolations when the
    analyzer's exit message says so, as Model Monitor reports it), Failed with the job's reason, or Stopped."""
    for execution in found.executions:
        if execution.status not in ("Pending", "InProgress") or not execution.processing_job_arn:
            continue
        job = backend.processing_jobs.get(execution.processing_job_arn.rsplit("/", 1)[-1])
        status = str(getattr(job, "processing_job_status", "") or "")
        if status not in ("Completed", "Failed", "Stopped"):
            continue
        if status == "Completed" and str(getattr(job, "exit_message", "") or "").startswith("CompletedWithViolations"):
            status = "CompletedWithViolations"
        execution.status = status
        execution.failure_reason = str(getattr(job, "failure_reason", "") or "") if status == "Failed" else ""
        execution.modified = utc_now()


def record_execution(backend: SageMakerModelBackend, name: str, execution: Execution) -> None:
    found = schedules(backend).get(name)
    if found is not None:
        found.executions.append(execution)


_ACTIONS = {
    "create_monitoring_schedule": create_monitoring_schedule,
    "update_monitoring_schedule": update_monitoring_schedule,
    "describe_monitoring_schedule": describe_monitoring_schedule,
    "delete_monitoring_schedule": delete_monitoring_schedule,
    "list_monitoring_schedules": list_monitoring_schedules,
    "list_monitoring_executions": list_monitoring_executions,
}


def install() -> None:
    """Answer the monitoring-schedule actions until ``seams.restore`` (or ``uninstall``)."""
    if not seams.claim(PATCH_GROUP):
        return
    for action, handler in _ACTIONS.items():
        seams.add(SageMakerResponse, action, handler)
    create_definition = SageMakerModelBackend.create_data_quality_job_definition

    def create_data_quality_job_definition(self: SageMakerModelBackend, **kwargs: Any) -> dict[str, str]:
        name = kwargs.get("job_definition_name", "")
        if name in self.data_quality_job_definitions:
            arn = self.data_quality_job_definitions[name].arn
            raise ResourceInUseException(f"Job definition {arn} already exists.")
        return dict(create_definition(self, **kwargs))

    seams.replace(SageMakerModelBackend, "create_data_quality_job_definition", create_data_quality_job_definition)
    create_job = FakeProcessingJob.__init__

    def create_processing_job(self: Any, *args: Any, **kwargs: Any) -> None:
        """An execution's job is created with its schedule's ARN, before anything runs it or reports its end."""
        create_job(self, *args, **kwargs)
        with _lock:
            schedule = _starting.get(self.arn)
        if schedule:
            self.monitoring_schedule_arn = schedule

    seams.replace(FakeProcessingJob, "__init__", create_processing_job)


def uninstall() -> None:
    seams.undo(
        PATCH_GROUP,
        [(SageMakerModelBackend, "create_data_quality_job_definition"), (FakeProcessingJob, "__init__")],
    )
    for action in _ACTIONS:
        if action in SageMakerResponse.__dict__:
            delattr(SageMakerResponse, action)


# Executions --------------------------------------------------------------------------------------------

CODE_DIR = "/opt/ml/processing/input/code"
MONITOR_SCRIPT = "monitor.py"
ENDPOINT_DATA_DIR = "/opt/ml/processing/input/endpoint"
BASELINE_DIR = "/opt/ml/processing/baseline"
NO_DATA = "Job inputs had no data"


class MonitoringTimer(ScheduleTimer):
    """Starts one execution of each ``Scheduled`` monitoring schedule per interval, at the local pace."""

    thread_name = "model-monitor"

    def __init__(
        self,
        region: str,
        seconds_per_minute: float,
        console: Console,
        *,
        endpoint_url: str | None,
        code_uri: Callable[[], str],
        tick: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(region, seconds_per_minute, tick=tick, clock=clock)
        self.console = console
        self.endpoint_url = endpoint_url
        self.code_uri = code_uri

    def say(self, message: str) -> None:
        self.console.line("model-monitor", message)

    def fire_due(self, now: float) -> list[str]:
        backend = sagemaker_backends[ACCOUNT_ID][self.region]
        fired = []
        for found in list(schedules(backend).values()):
            expression = str((found.config.get("ScheduleConfig") or {}).get("ScheduleExpression") or "")
            hours = schedule_interval_hours(expression)
            if found.status != "Scheduled" or hours is None:
                self.due.forget(found.arn)
                continue
            due = self.due_at(found.arn, f"monitoring schedule {found.name}", f"rate({hours * 60} minutes)", now)
            if due is not None:
                self.execute(backend, found, due, hours)
                fired.append(found.name)
        return fired

    def execute(self, backend: SageMakerModelBackend, found: Schedule, due: float, hours: int) -> Execution:
        """One execution: the processing job Model Monitor would start, or the failure it would report."""
        scheduled = datetime.fromtimestamp(due, tz=UTC)
        execution = Execution(scheduled_time=scheduled, status="Pending")
        record_execution(backend, found.name, execution)
        try:
            request = self.processing_job_request(backend, found, scheduled, hours)
        except ExecutionFailed as error:
            execution.status, execution.failure_reason = "Failed", str(error)
            self.say(f"monitoring schedule {found.name}: execution failed: {error}")
            return execution
        client = emulator_client("sagemaker", self.endpoint_url, self.region)
        job_arn = FakeProcessingJob.arn_formatter(request["ProcessingJobName"], backend.account_id, self.region)
        with _lock:
            _starting[job_arn] = found.arn
        try:
            execution.processing_job_arn = client.create_processing_job(**request)["ProcessingJobArn"]
        finally:
            with _lock:
                _starting.pop(job_arn, None)
        execution.status = "InProgress"
        execution.modified = utc_now()
        self.say(f"monitoring schedule {found.name} started {request['ProcessingJobName']}")
        return execution

    def processing_job_request(
        self, backend: SageMakerModelBackend, found: Schedule, scheduled: datetime, hours: int
    ) -> dict[str, Any]:
        definition = backend.data_quality_job_definitions.get(found.job_definition_name)
        if definition is None:
            raise ExecutionFailed(f"job definition {found.job_definition_name} does not exist")
        endpoint = backend.endpoints.get(found.endpoint_name)
        if endpoint is None:
            raise ExecutionFailed(f"Endpoint {found.endpoint_name} not found")
        config = backend.endpoint_configs[endpoint.endpoint_config_name]
        capture = str((config.data_capture_config or {}).get("DestinationS3Uri") or "").rstrip("/")
        if not capture:
            raise ExecutionFailed(f"Endpoint {found.endpoint_name} captures no data")
        variant = config.production_variants[0]["VariantName"]
        start = scheduled - timedelta(seconds=hours * 60 * self.seconds_per_minute)
        folders = [
            folder
            for folder in (
                f"{found.endpoint_name}/{variant}/{hour:%Y/%m/%d/%H}" for hour in hours_touched(start, scheduled)
            )
            if _has_objects(self.endpoint_url, self.region, f"{capture}/{folder}/")
        ]
        if not folders:
            raise ExecutionFailed(NO_DATA)
        baseline = definition.data_quality_baseline_config or {}
        statistics = baseline["StatisticsResource"]["S3Uri"]
        constraints = baseline["ConstraintsResource"]["S3Uri"]
        [output] = definition.data_quality_job_output_config["MonitoringOutputs"]
        output_path = output["S3Output"]["LocalPath"]
        window = f"{found.endpoint_name}/{found.name}/{scheduled:%Y/%m/%d/%H}"
        environment = {
            **(definition.data_quality_app_specification or {}).get("Environment", {}),
            "dataset_format": '{"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}',
            "dataset_source": ENDPOINT_DATA_DIR,
            "output_path": output_path,
            "baseline_statistics": f"{BASELINE_DIR}/stats/{statistics.rsplit('/', 1)[-1]}",
            "baseline_constraints": f"{BASELINE_DIR}/constraints/{constraints.rsplit('/', 1)[-1]}",
            "sagemaker_endpoint_name": found.endpoint_name,
            "sagemaker_monitoring_schedule_name": found.name,
            "monitoring_type": found.monitoring_type,
            "start_time": f"{start:%Y-%m-%dT%H:%M:%SZ}",
            "end_time": f"{scheduled:%Y-%m-%dT%H:%M:%SZ}",
            "metric_time": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        }
        name = f"model-monitoring-{scheduled:%Y%m%d%H%M}-{uuid.uuid4().hex[:8]}"
        return {
            "ProcessingJobName": name,
            "ProcessingInputs": [
                _input("code", f"{self.code_uri().rstrip('/')}/src/", CODE_DIR),
                *(
                    _input(f"input_{number}", f"{capture}/{folder}", f"{ENDPOINT_DATA_DIR}/{folder}")
                    for number, folder in enumerate(folders, 1)
                ),
                _input("baseline", statistics, f"{BASELINE_DIR}/stats"),
                _input("constraints", constraints, f"{BASELINE_DIR}/constraints"),
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "result",
                        "S3Output": {
                            "S3Uri": f"{output['S3Output']['S3Uri'].rstrip('/')}/{window}",
                            "LocalPath": output_path,
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "ProcessingResources": definition.job_resources,
            "StoppingCondition": definition.stopping_condition or {"MaxRuntimeInSeconds": 3600},
            # The analyzer's image cannot run here: Driftline's monitor reads the same environment.
            "AppSpecification": {
                "ImageUri": definition.data_quality_app_specification["ImageUri"],
                "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{MONITOR_SCRIPT}"],
            },
            "Environment": environment,
            "NetworkConfig": definition.network_config or {},
            "RoleArn": definition.role_arn,
        }


def hours_touched(start: datetime, end: datetime) -> list[datetime]:
    """The clock hours [start, end) overlaps: data capture writes a record in its hour's folder."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


class ExecutionFailed(Exception):
    """An execution Model Monitor would report Failed before starting its job."""


def _input(name: str, uri: str, local_path: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def _has_objects(endpoint_url: str | None, region: str, uri: str) -> bool:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = emulator_client("s3", endpoint_url, region)
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount"))


_timers: list[MonitoringTimer] = []


def start(
    region: str,
    seconds_per_minute: float,
    console: Console,
    *,
    endpoint_url: str,
    code_uri: Callable[[], str],
    due_times: dict[str, Any] | None = None,
) -> None:
    """Answer the monitoring-schedule actions and run the schedules until ``stop`` (from saved ``due_times``)."""
    stop()
    install()
    timer = MonitoringTimer(region, seconds_per_minute, console, endpoint_url=endpoint_url, code_uri=code_uri)
    timer.resume_due_times(due_times or {})
    _timers.append(timer)
    timer.start()


def due_times() -> dict[str, Any]:
    """The schedules' next due times, to save."""
    return _timers[-1].due_times() if _timers else {}


def saved_schedules() -> list[tuple[SageMakerModelBackend, dict[str, Schedule]]]:
    """Every account's and Region's monitoring schedules beside the SageMaker backend they belong to, to save."""
    with _lock:
        return [(backend, dict(found)) for backend, found in _stores.items() if found]


def restore_schedules(saved: list[tuple[SageMakerModelBackend, dict[str, Schedule]]]) -> None:
    """Put saved schedules back beside their (restored) SageMaker backends."""
    with _lock:
        for backend, found in saved:
            _stores[backend] = dict(found)


def stop() -> None:
    while _timers:
        _timers.pop().stop()
