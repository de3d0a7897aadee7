"""A run's logs from CloudWatch Logs: its functions' lines that name it and the output of the SageMaker jobs it
started, one time-ordered list.

Where they are is read from the run's history: each task's Lambda function (``/aws/lambda/<function>``) and each
job the run started (``/aws/sagemaker/ProcessingJobs`` or ``/aws/sagemaker/TrainingJobs``, streams
``<job>/algo-<n>-<epoch>``). The handlers log the run's execution ARN (their correlation id, or an
``execution_id``/``execution_arn`` key), so a function's lines are the ones that contain the run's name; the stack's
event-driven functions (StartRun, JobEvents, the approvals) are searched the same way. Local mode writes the same
groups and streams, so the same requests read both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from driftline.cli_errors import CommandError
from driftline.local.console import readable_log_line
from driftline.stepfunctions_history import Step

JOB_LOG_GROUPS = {"processing": "/aws/sagemaker/ProcessingJobs", "training": "/aws/sagemaker/TrainingJobs"}
"""Where SageMaker writes each kind of job's output (one stream per instance: ``<job>/algo-<n>-<epoch>``)."""
BEFORE_START_MS = 60_000
"""StartRun logs a run's name just before the run starts."""
AFTER_END_MS = 600_000
"""A run's end reaches the stack's event-driven functions (StartRetrain) after it ends."""
STEP_MARGIN_MS = 1_000
MAX_STREAMS_PER_REQUEST = 100
"""FilterLogEvents takes at most 100 ``logStreamNames``."""
JOB_NAME_KEYS = ("job_name", "baseline_job_name")
"""Log keys under which the run's functions name the jobs they started or resumed on."""


@dataclass(frozen=True)
class LogLine:
    timestamp_ms: int
    source: str
    message: str

    def formatted(self) -> list[str]:
        """The line as a person reads it: time, source, level and message (a logged exception below it)."""
        stamp = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
        text = readable_log_line(self.message)
        if text is None:
            return []
        lines = [f"{stamp} [{self.source}] {text}"]
        record = _json_record(self.message)
        exception = record.get("exception")
        if isinstance(exception, str) and exception.strip():
            lines.extend(f"    {line}" for line in exception.strip().splitlines())
        return lines


@dataclass(frozen=True)
class _FunctionSource:
    function_name: str
    label: str
    windows: tuple[tuple[int, int | None], ...] = ()
    """Keep only lines in these (start, end) milliseconds; empty keeps every line of the run."""


def run_log_lines(
    logs: Any,
    *,
    stack_name: str,
    execution_name: str,
    started: datetime,
    stopped: datetime | None,
    steps: list[Step],
    step: str | None = None,
) -> list[LogLine]:
    """The run's log lines in time order; ``step`` keeps those of one step (its function's and its jobs')."""
    chosen = select_steps(steps, step) if step else steps
    start_ms = _ms(started) - BEFORE_START_MS
    end_ms = _ms(stopped) + AFTER_END_MS if stopped else None
    sources = _function_sources(chosen, stack_name, narrowed=step is not None)
    if step is None:
        known = {source.function_name for source in sources}
        for function in stack_functions(logs, stack_name):
            if function not in known:
                sources.append(_FunctionSource(function, short_function_name(function, stack_name)))
    lines: list[LogLine] = []
    for source in sources:
        for event in _filter_events(
            logs,
            f"/aws/lambda/{source.function_name}",
            filterPattern=f'"{execution_name}"',
            startTime=max(start_ms, 0),
            **({"endTime": end_ms} if end_ms is not None else {}),
        ):
            message = str(event.get("message", ""))
            stamp = int(event.get("timestamp", 0))
            if execution_name in message and _within(stamp, source.windows):
                lines.append(LogLine(stamp, source.label, message))
    jobs = _step_jobs(chosen)
    for line in list(lines):
        for name in _logged_job_names(line.message):
            jobs.setdefault(name, None)
    for job, kind in jobs.items():
        label = f"{job.removeprefix(execution_name + '-')} job" if job.startswith(execution_name + "-") else job
        lines.extend(LogLine(stamp, label, message) for stamp, message in job_log_events(logs, job, kind))
    return sorted(lines, key=lambda line: line.timestamp_ms)


def select_steps(steps: list[Step], step: str) -> list[Step]:
    """The visits of the step a person named (``Train``, ``train``, ``quality-gate``); an unknown name is refused
    with the run's steps."""
    wanted = _normalized(step)
    chosen = [candidate for candidate in steps if _normalized(candidate.name) == wanted]
    if not chosen:
        names = ", ".join(dict.fromkeys(candidate.name for candidate in steps)) or "none yet"
        raise CommandError(f"the run has no step {step!r}; its steps: {names}")
    return chosen


def stack_functions(logs: Any, stack_name: str) -> list[str]:
    """The stack's functions that have logged, from their log groups ``/aws/lambda/<stack>-*``."""
    return [name.removeprefix("/aws/lambda/") for name in log_group_names(logs, f"/aws/lambda/{stack_name}-")]


def log_group_names(logs: Any, prefix: str) -> list[str]:
    pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix)
    return [str(group["logGroupName"]) for page in pages for group in page.get("logGroups", [])]


def log_stream_names(logs: Any, group: str, prefix: str) -> list[str]:
    """The group's streams named ``prefix...``; a log group not created yet (nothing logged) has none."""
    pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=group, logStreamNamePrefix=prefix)
    try:
        names = [str(stream["logStreamName"]) for page in pages for stream in page.get("logStreams", [])]
    except ClientError as error:
        if _not_found(error):
            return []
        raise
    return [name for name in names if name.startswith(prefix)]


def job_log_events(logs: Any, job: str, kind: str | None) -> Iterator[tuple[int, str]]:
    """A SageMaker job's output lines: every stream ``<job>/...`` of its kind's log group (both when unknown)."""
    for group in [JOB_LOG_GROUPS[kind]] if kind in JOB_LOG_GROUPS else list(JOB_LOG_GROUPS.values()):
        streams = log_stream_names(logs, group, f"{job}/")
        for first in range(0, len(streams), MAX_STREAMS_PER_REQUEST):
            chunk = streams[first : first + MAX_STREAMS_PER_REQUEST]
            for event in _filter_events(logs, group, logStreamNames=chunk):
                if str(event.get("logStreamName", "")) in chunk:
                    yield int(event.get("timestamp", 0)), str(event.get("message", ""))


def short_function_name(function: str, stack_name: str) -> str:
    """``driftline-JobEventsFunction-GGJRZ6N36DLF`` reads ``JobEvents``: CloudFormation names a function
    ``<stack>-<logical id>-<suffix>``."""
    name = function.removeprefix(f"{stack_name}-")
    name = re.sub(r"-[A-Za-z0-9]{8,16}$", "", name)
    return name.removesuffix("Function") or function


def _function_sources(steps: list[Step], stack_name: str, *, narrowed: bool) -> list[_FunctionSource]:
    served: dict[str, list[Step]] = {}
    for step in steps:
        if step.function_name:
            served.setdefault(step.function_name, []).append(step)
    sources = []
    for function, visits in served.items():
        names = {visit.name for visit in visits}
        label = visits[0].name if len(names) == 1 else short_function_name(function, stack_name)
        windows: tuple[tuple[int, int | None], ...] = ()
        if narrowed:
            windows = tuple(
                (_ms(visit.entered) - STEP_MARGIN_MS, _ms(visit.exited) + STEP_MARGIN_MS if visit.exited else None)
                for visit in visits
            )
        sources.append(_FunctionSource(function, label, windows))
    return sources


def _step_jobs(steps: list[Step]) -> dict[str, str | None]:
    """Each job the steps started, with its kind when its ARN or its callback says it."""
    jobs: dict[str, str | None] = {}
    for step in steps:
        for answer in (step.submitted, step.result):
            name = answer.get("job_name")
            if not name:
                continue
            arn = str(answer.get("job_arn") or "")
            kind = answer.get("job_type") or (
                "training" if ":training-job/" in arn else "processing" if ":processing-job/" in arn else None
            )
            if jobs.get(str(name)) is None:
                jobs[str(name)] = kind
    return jobs


def _logged_job_names(message: str) -> list[str]:
    record = _json_record(message)
    return [str(record[key]) for key in JOB_NAME_KEYS if isinstance(record.get(key), str) and record[key]]


def _filter_events(logs: Any, group: str, **request: Any) -> Iterator[dict[str, Any]]:
    """FilterLogEvents over every page; a log group not created yet (nothing logged) has no events."""
    kwargs: dict[str, Any] = {"logGroupName": group, **request}
    while True:
        try:
            page = logs.filter_log_events(**kwargs)
        except ClientError as error:
            if _not_found(error):
                return
            raise
        yield from page.get("events", [])
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return
        kwargs["nextToken"] = token


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"


def _within(stamp: int, windows: tuple[tuple[int, int | None], ...]) -> bool:
    return not windows or any(start <= stamp and (end is None or stamp <= end) for start, end in windows)


def _json_record(message: str) -> dict[str, Any]:
    stripped = message.strip()
    if not stripped.startswith("{"):
        return {}
    try:
        record = json.loads(stripped)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
