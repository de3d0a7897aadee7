"""``driftline destroy``: take a deployed stack down with everything its runs created, or delete local mode's state.

On AWS, CloudFormation deletes what the stack created; what the pipeline created at run time (endpoints, their
scaling targets, endpoint configs and models, drift monitor schedules, Model Monitor schedules and job
definitions, alarms, Model Registry groups and their packages, the functions' log groups and the jobs' log
streams) is deleted here, after the stack, so that no run creates more meanwhile. The buckets are kept by the
template (``DeletionPolicy: Retain``); the artifact bucket is emptied and deleted here, the data bucket (your
uploads) and the access-log bucket only with ``--delete-data``.

Names are matched on ``<stack>-``; names of another live stack whose name starts with ``<stack>-`` are left alone.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from driftline.cli_errors import CommandError
from driftline.run_logs import JOB_LOG_GROUPS, log_group_names, log_stream_names
from driftline.stack_target import MACHINE_OUTPUT, STACK_FILE, LocalState, local_state

ACCESS_LOGS_BUCKET = "AccessLogsBucket"
"""The template's access-log bucket: not an output, so it is read from the stack's resources."""
STOP_CAUSE = "driftline destroy is deleting the stack"
GONE_CODES = frozenset({"ResourceNotFoundException", "ResourceNotFound", "ObjectNotFoundException", "NoSuchBucket"})
GONE_PHRASES = ("could not find", "does not exist", "not found", "no scalable target")
"""SageMaker answers ValidationException "Could not find endpoint ..." for one that is gone."""
LOCAL_STATE_ENTRIES = frozenset({STACK_FILE, "s3", "jobs", "outbox", "endpoints", "logs", "model-packages"})
"""What local mode writes to its state folder."""
SERVICES = (
    "cloudformation",
    "stepfunctions",
    "sagemaker",
    "application-autoscaling",
    "scheduler",
    "cloudwatch",
    "s3",
    "logs",
)


@dataclass
class Teardown:
    """What ``driftline destroy`` deletes on AWS, found before anything is deleted."""

    stack_name: str
    stack_id: str | None = None
    runs_to_stop: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    endpoint_configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)
    monitoring_schedules: list[str] = field(default_factory=list)
    job_definitions: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    package_groups: dict[str, list[str]] = field(default_factory=dict)
    buckets: list[str] = field(default_factory=list)
    kept_buckets: list[tuple[str, str]] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    job_log_streams: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.stack_id is None and not any(
            (
                self.endpoints,
                self.endpoint_configs,
                self.models,
                self.schedules,
                self.monitoring_schedules,
                self.job_definitions,
                self.alarms,
                self.package_groups,
                self.buckets,
                self.log_groups,
                self.job_log_streams,
            )
        )

    def lines(self) -> list[str]:
        """What will be deleted and what is kept, for the person confirming."""
        lines = []
        if self.runs_to_stop:
            names = [arn.rsplit(":", 1)[-1] for arn in self.runs_to_stop]
            lines.append(f"stop {len(names)} running run(s): {_names(names)}")
        if self.stack_id:
            lines.append(f"delete stack {self.stack_name} with CloudFormation (what it created)")
        listed = (
            ("endpoint", self.endpoints),
            ("endpoint config", self.endpoint_configs),
            ("model", self.models),
            ("drift monitor schedule", self.schedules),
            ("Model Monitor schedule", self.monitoring_schedules),
            ("data-quality job definition", self.job_definitions),
            ("alarm", self.alarms),
        )
        for kind, names in listed:
            if names:
                lines.append(f"delete {len(names)} {kind}{'s' if len(names) > 1 else ''}: {_names(names)}")
        for group, packages in self.package_groups.items():
            lines.append(f"delete Model Registry group {group} and its {len(packages)} model package(s)")
        for bucket in self.buckets:
            lines.append(f"empty and delete bucket {bucket} (every object version)")
        if self.log_groups:
            lines.append(f"delete {len(self.log_groups)} function log group(s): {_names(self.log_groups)}")
        if self.job_log_streams:
            groups = sorted({group for group, _ in self.job_log_streams})
            lines.append(f"delete {len(self.job_log_streams)} log stream(s) of the stack's jobs in {', '.join(groups)}")
        lines.extend(f"keep bucket {bucket}: {why}" for bucket, why in self.kept_buckets)
        lines.extend(self.notes)
        return lines


def plan_teardown(clients: dict[str, Any], stack_name: str, *, delete_data: bool) -> Teardown:
    """Find everything ``driftline destroy`` would delete, deleting nothing."""
    plan = Teardown(stack_name=stack_name)
    prefix = f"{stack_name}-"
    others = _other_stack_prefixes(clients["cloudformation"], stack_name)
    if others:
        plan.notes.append(f"names of the stacks {', '.join(p[:-1] for p in others)} are left alone")

    def ours(name: str) -> bool:
        return name.startswith(prefix) and not any(name.startswith(other) for other in others)

    outputs = _read_stack(clients["cloudformation"], plan)
    if plan.stack_id is None:
        plan.notes.append(
            f"stack {stack_name} does not exist (deleted already?): only what its runs left behind is deleted; "
            "its buckets cannot be found without it"
        )
    run_names = _runs(clients["stepfunctions"], outputs.get(MACHINE_OUTPUT), plan)
    sagemaker = clients["sagemaker"]
    plan.endpoints = [
        n for n in _sagemaker_names(sagemaker, "list_endpoints", "Endpoints", "EndpointName", stack_name) if ours(n)
    ]
    plan.endpoint_configs = [
        n
        for n in _sagemaker_names(
            sagemaker, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", stack_name
        )
        if ours(n)
    ]
    plan.models = [n for n in _sagemaker_names(sagemaker, "list_models", "Models", "ModelName", stack_name) if ours(n)]
    plan.schedules = [n for n in _scheduler_names(clients["scheduler"], prefix) if ours(n)]
    try:
        plan.monitoring_schedules = [
            n
            for n in _sagemaker_names(
                sagemaker,
                "list_monitoring_schedules",
                "MonitoringScheduleSummaries",
                "MonitoringScheduleName",
                stack_name,
            )
            if ours(n)
        ]
        plan.job_definitions = [
            n
            for n in _sagemaker_names(
                sagemaker,
                "list_data_quality_job_definitions",
                "JobDefinitionSummaries",
                "MonitoringJobDefinitionName",
                stack_name,
            )
            if ours(n)
        ]
    except ClientError as error:
        plan.notes.append(f"Model Monitor schedules and job definitions not listed: {_message(error)}")
    plan.alarms = [n for n in _alarm_names(clients["cloudwatch"], prefix) if ours(n)]
    for group in _sagemaker_names(
        sagemaker, "list_model_package_groups", "ModelPackageGroupSummaryList", "ModelPackageGroupName", stack_name
    ):
        if ours(group):
            plan.package_groups[group] = _model_packages(sagemaker, group)
    _plan_buckets(clients["cloudformation"], plan, outputs, delete_data=delete_data)
    plan.log_groups = [
        g for g in log_group_names(clients["logs"], f"/aws/lambda/{prefix}") if ours(g.removeprefix("/aws/lambda/"))
    ]
    for group in JOB_LOG_GROUPS.values():
        # The stack's own jobs (baselines, monitor windows) are named <stack>-...; a run's jobs <run name>-<step>.
        plan.job_log_streams.extend((group, s) for s in log_stream_names(clients["logs"], group, prefix) if ours(s))
        for name in run_names:
            plan.job_log_streams.extend((group, s) for s in log_stream_names(clients["logs"], group, f"{name}-"))
    return plan


def execute_teardown(
    clients: dict[str, Any], plan: Teardown, *, show: Callable[[str], None], wait_delay: float = 10
) -> list[str]:
    """Delete what the plan found, saying each step; returns what could not be deleted (an empty list: all went)."""
    failed: list[str] = []

    def attempt(what: str, call: Callable[..., Any], quiet_if_gone: bool = False, **request: Any) -> None:
        try:
            call(**request)
        except ClientError as error:
            if already_gone(error):
                if not quiet_if_gone:
                    show(f"{what}: already gone")
                return
            failed.append(f"{what}: {_code(error)}: {_message(error)}")
            show(f"could not {what}: {_code(error)}: {_message(error)}")
            return
        show(what)

    sfn, sagemaker, logs = clients["stepfunctions"], clients["sagemaker"], clients["logs"]
    for run in plan.runs_to_stop:
        attempt(f"stopped run {run.rsplit(':', 1)[-1]}", sfn.stop_execution, executionArn=run, cause=STOP_CAUSE)
    if plan.stack_id:
        _delete_stack(clients["cloudformation"], plan, show=show, wait_delay=wait_delay)
    for endpoint in plan.endpoints:
        attempt(
            f"deregistered the scaling target of endpoint {endpoint}",
            clients["application-autoscaling"].deregister_scalable_target,
            quiet_if_gone=True,  # an endpoint without autoscaling (serverless, say) has none
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/{endpoint}/variant/AllTraffic",
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        )
        attempt(f"deleted endpoint {endpoint}", sagemaker.delete_endpoint, EndpointName=endpoint)
    for config in plan.endpoint_configs:
        attempt(f"deleted endpoint config {config}", sagemaker.delete_endpoint_config, EndpointConfigName=config)
    for model in plan.models:
        attempt(f"deleted model {model}", sagemaker.delete_model, ModelName=model)
    for schedule in plan.schedules:
        attempt(
            f"deleted drift monitor schedule {schedule}",
            clients["scheduler"].delete_schedule,
            Name=schedule,
            GroupName="default",
        )
    for schedule in plan.monitoring_schedules:
        attempt(
            f"deleted Model Monitor schedule {schedule}",
            sagemaker.delete_monitoring_schedule,
            MonitoringScheduleName=schedule,
        )
    for definition in plan.job_definitions:
        attempt(
            f"deleted job definition {definition}",
            sagemaker.delete_data_quality_job_definition,
            JobDefinitionName=definition,
        )
    for first in range(0, len(plan.alarms), 100):
        chunk = plan.alarms[first : first + 100]
        attempt(f"deleted alarms {', '.join(chunk)}", clients["cloudwatch"].delete_alarms, AlarmNames=chunk)
    for group, packages in plan.package_groups.items():
        for package in packages:
            attempt(f"deleted model package {package}", sagemaker.delete_model_package, ModelPackageName=package)
        attempt(
            f"deleted Model Registry group {group}", sagemaker.delete_model_package_group, ModelPackageGroupName=group
        )
    for bucket in plan.buckets:
        attempt(f"emptied and deleted bucket {bucket}", empty_and_delete_bucket, s3=clients["s3"], bucket=bucket)
    for log_group in plan.log_groups:
        attempt(f"deleted log group {log_group}", logs.delete_log_group, logGroupName=log_group)
    for log_group, stream in plan.job_log_streams:
        attempt(
            f"deleted log stream {stream} of {log_group}",
            logs.delete_log_stream,
            logGroupName=log_group,
            logStreamName=stream,
        )
    return failed


def empty_and_delete_bucket(s3: Any, bucket: str, attempts: int = 3) -> None:
    """Delete every object version and delete marker, a thousand at a time, then the bucket (again if a late write,
    an access-log delivery say, landed meanwhile)."""
    for attempt in range(attempts):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            objects = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        try:
            s3.delete_bucket(Bucket=bucket)
            return
        except ClientError as error:
            if _code(error) != "BucketNotEmpty" or attempt == attempts - 1:
                raise


# Local mode -------------------------------------------------------------------------------------------------


def local_teardown_lines(state_dir: Path) -> list[str]:
    """What deleting local mode's state folder deletes; refused while local mode runs from it, or when the folder
    is not one local mode wrote."""
    if not state_dir.is_dir():
        raise CommandError(
            f"no local state folder at {state_dir}: nothing to delete (pass --state-dir with local mode's)"
        )
    state, document = local_state(state_dir)
    if state is LocalState.RUNNING:
        raise CommandError(
            f"local mode is running with the state folder {state_dir} ({document.get('endpoint_url')}): stop it first "
            "(Ctrl-C in its terminal), then run `driftline destroy --local` again"
        )
    entries = {entry.name for entry in state_dir.iterdir()}
    if state is LocalState.ABSENT and not entries <= LOCAL_STATE_ENTRIES:
        raise CommandError(
            f"{state_dir} does not look like local mode's state folder (no {STACK_FILE}, and it holds "
            f"{_names(sorted(entries - LOCAL_STATE_ENTRIES))}); delete it yourself if you mean to"
        )
    files = [path for path in state_dir.rglob("*") if path.is_file()]
    size = sum(path.stat().st_size for path in files)
    return [
        f"delete {state_dir.resolve()}: {len(files)} file(s), {size / 1_048_576:.1f} MiB "
        "(the S3 copies, job folders, emails and stack.json of local mode; nothing runs there now)"
    ]


def delete_local_state(state_dir: Path) -> None:
    local_teardown_lines(state_dir)  # checked again: local mode may have started while the person confirmed
    shutil.rmtree(state_dir)


# Reading what exists ------------------------------------------------------------------------------------------


def _read_stack(cloudformation: Any, plan: Teardown) -> dict[str, str]:
    try:
        stack = cloudformation.describe_stacks(StackName=plan.stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in _message(error):
            return {}
        raise
    if stack.get("StackStatus") == "DELETE_COMPLETE":
        return {}
    plan.stack_id = str(stack["StackId"])
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs") or []}


def _other_stack_prefixes(cloudformation: Any, stack_name: str) -> list[str]:
    """``<other>-`` for each live stack named ``<stack>-...``: its resources share our prefix."""
    found = []
    for page in cloudformation.get_paginator("list_stacks").paginate():
        for summary in page.get("StackSummaries", []):
            name = str(summary["StackName"])
            if name.startswith(f"{stack_name}-") and summary.get("StackStatus") != "DELETE_COMPLETE":
                found.append(f"{name}-")
    return sorted(set(found))


def _runs(sfn: Any, machine_arn: str | None, plan: Teardown) -> list[str]:
    if not machine_arn:
        return []
    names = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
        for execution in page.get("executions", []):
            names.append(str(execution["name"]))
            if execution.get("status") == "RUNNING":
                plan.runs_to_stop.append(str(execution["executionArn"]))
    return names


def _listed(client: Any, operation: str, items_key: str, name_key: str, **request: Any) -> list[str]:
    """The ``name_key`` of every item a List/Describe operation answers, over all its pages."""
    pages = client.get_paginator(operation).paginate(**request)
    return [str(item[name_key]) for page in pages for item in page.get(items_key, [])]


def _sagemaker_names(sagemaker: Any, operation: str, key: str, name_key: str, contains: str) -> list[str]:
    return _listed(sagemaker, operation, key, name_key, NameContains=contains)


def _model_packages(sagemaker: Any, group: str) -> list[str]:
    return _listed(
        sagemaker, "list_model_packages", "ModelPackageSummaryList", "ModelPackageArn", ModelPackageGroupName=group
    )


def _scheduler_names(scheduler: Any, prefix: str) -> list[str]:
    return _listed(scheduler, "list_schedules", "Schedules", "Name", GroupName="default", NamePrefix=prefix)


def _alarm_names(cloudwatch: Any, prefix: str) -> list[str]:
    names: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix):
        names.extend(
            str(alarm["AlarmName"]) for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]
        )
    return names


def _plan_buckets(cloudformation: Any, plan: Teardown, outputs: dict[str, str], *, delete_data: bool) -> None:
    if outputs.get("ArtifactBucketName"):
        plan.buckets.append(outputs["ArtifactBucketName"])
    access_logs = _stack_resource(cloudformation, plan.stack_name, ACCESS_LOGS_BUCKET) if plan.stack_id else None
    kept = (
        (outputs.get("DataBucketName"), "your uploads; --delete-data deletes it too"),
        (
            access_logs,
            "who read and wrote the buckets (audit evidence, expired by its lifecycle rule); --delete-data deletes it",
        ),
    )
    for bucket, why in kept:
        if bucket:
            if delete_data:
                plan.buckets.append(bucket)
            else:
                plan.kept_buckets.append((bucket, why))


def _stack_resource(cloudformation: Any, stack_name: str, logical_id: str) -> str | None:
    try:
        found = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    except ClientError:
        return None
    return str(found["StackResourceDetail"].get("PhysicalResourceId") or "") or None


def _delete_stack(cloudformation: Any, plan: Teardown, *, show: Callable[[str], None], wait_delay: float) -> None:
    assert plan.stack_id is not None
    cloudformation.delete_stack(StackName=plan.stack_id)
    show(f"deleting stack {plan.stack_name} with CloudFormation ...")
    started = time.time()
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=plan.stack_id, WaiterConfig={"Delay": max(int(wait_delay), 1), "MaxAttempts": 360}
        )
    except WaiterError as error:
        response: dict[str, Any] = dict(error.last_response or {})
        reason = (response.get("Stacks") or [{}])[0].get("StackStatusReason") or str(error)
        raise CommandError(
            f"CloudFormation could not delete stack {plan.stack_name}: {reason}\n"
            "fix what it names (the stack's events in the CloudFormation console say more), then run "
            "`driftline destroy` again; nothing the runs created has been deleted yet"
        ) from error
    show(f"deleted stack {plan.stack_name} ({time.time() - started:.0f} s)")


def already_gone(error: ClientError) -> bool:
    """Whether an API's error says the thing to delete no longer exists."""
    code = _code(error)
    return code in GONE_CODES or (
        code in ("ValidationException", "ValidationError") and any(p in _message(error).lower() for p in GONE_PHRASES)
    )


def _names(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or str(error)
