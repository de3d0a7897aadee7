"""What a Driftline deployment costs a month: its template parameters and its usage, at on-demand prices.

Every resource the template creates, and every resource its functions create, is either a line of the estimate
(quantity, unit price, monthly figure) or named in ``NOT_COUNTED``. Quantities follow the pipeline as it is built: an
endpoint per dataset around the clock (or a serverless one billed by the request), a drift monitoring job per window
and dataset, each run's preprocessing, training and evaluation jobs and each deployment's baseline job, data capture
in S3, and the small items (state transitions, Lambda, SNS, DynamoDB, the approval API, CloudWatch alarms and custom
metrics, the topic's KMS key, the signing key's secret). Prices are the layer's (``driftline_core.costs.prices``):
the Price List API's when a client is given and it answers, else the shipped snapshot's, and each line says which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.layer_modules import layer_module
from driftline.local.cron import parse_cron, rate_minutes
from driftline.local.settings import REPO_ROOT

if TYPE_CHECKING:
    from driftline_core.costs.prices import Price, PriceSnapshot

TEMPLATE = REPO_ROOT / "template.yaml"
HOURS_PER_MONTH: int = layer_module("driftline_core.costs.prices").HOURS_PER_MONTH
STATE_TRANSITIONS_PER_RUN = 12
"""A deployed run enters 12 states (README, "What a run costs"); a run that stops earlier enters fewer."""
LAMBDA_INVOCATIONS_PER_RUN = 19
"""StartRun, the ten task states, JobEvents for each of the three jobs and the endpoint, ApprovalApi twice (the page
and the decision), ApprovalEvents for the registry's status change, and StartRetrain at the run's end."""
LAMBDA_INVOCATIONS_PER_DEPLOYMENT = 1
"""StartMonitoring hears the baseline job's end."""
EMAILS_PER_RUN = 2
"""The approval request and the run's outcome."""
DYNAMODB_WRITES_PER_RUN = 11
"""A task token stored and taken for each job and the endpoint (8), and the approval's record, decision and end (3)."""
DYNAMODB_READS_PER_RUN = 6
APPROVAL_REQUESTS_PER_RUN = 2
"""The approval page, then the decision's form."""
RUN_LAMBDA_REQUESTS = LAMBDA_INVOCATIONS_PER_RUN + LAMBDA_INVOCATIONS_PER_DEPLOYMENT
LAMBDA_SECONDS_PER_INVOCATION = 1.0
ALARM_METRICS_PER_PROVISIONED_ENDPOINT = 6
"""The drift alarm (1 metric), the 5xx rollback alarm (metric math over 2), the p99 latency alarm (1) and the two
alarms Application Auto Scaling's target tracking creates (1 each)."""
ALARM_METRICS_PER_SERVERLESS_ENDPOINT = 3
"""The two rollback alarms only: a serverless endpoint has no drift monitor and no autoscaling."""
STACK_ALARM_METRICS = 1
"""``<stack>-undelivered-events``."""
MODEL_MONITOR_MINUTES = 10.0
DRIFTLINE_MONITOR_MINUTES = 4.0

NOT_COUNTED = (
    "CloudWatch Logs ingestion and storage of the functions', jobs' and state machine's logs ($0.50 per GB ingested)",
    "X-Ray traces of the functions and the state machine (100,000 a month free)",
    "S3 storage and requests of uploads, run artifacts, monitoring reports and access logs (your data's size)",
    "SageMaker ML storage: each job's 30 GB volume while it runs, and the endpoints' instance storage",
    "SageMaker data processed in and out of endpoints ($0.016 per GB)",
    "instances autoscaling adds above EndpointInstanceCount, and the old fleet's overlap in a blue/green update",
    "a staging endpoint (StagingEndpoint) from each candidate's staging deployment until its approval is decided",
    "an A/B trial's challenger variant (ABTestMode) for ABTestTrialMinutes, and its analysis job",
    "EventBridge (AWS service events are free) and EventBridge Scheduler (14 million invocations a month free)",
    "SNS publish requests, SQS (the undelivered-events queue), KMS and Secrets Manager requests",
    "DynamoDB storage and point-in-time recovery of the two small tables",
    "data transfer out of AWS, and every free tier (nothing is subtracted)",
)
"""What the stack creates or makes that the estimate leaves out: each small or set by your data and traffic."""


@dataclass(frozen=True)
class Usage:
    """How the deployment is used: what the template cannot know. The defaults are a modest first month."""

    datasets: int = 1
    runs_per_month: float = 4
    """Pipeline runs a month, all datasets together (uploads and retrains)."""
    deployments_per_month: float | None = None
    """Runs whose model is deployed (each then runs a baseline job); default: every run."""
    preprocess_minutes: float = 5
    """Billed minutes of each preprocessing instance."""
    training_minutes: float = 10
    """Billed minutes of each training instance."""
    evaluation_minutes: float = 5
    baseline_minutes: float = 5
    monitor_minutes: float | None = None
    """Billed minutes of one monitoring job; default: 4 (Driftline's monitor) or 10 (Model Monitor's analyzer)."""
    rows_per_run: float = 100_000
    """Rows of a run's data: a run of more than PreprocessRowsPerInstance rows preprocesses on several instances."""
    training_instances: int = 1
    """Instances a run trains on: a dataset's ``model.instance_count`` (SageMaker's XGBoost algorithm)."""
    requests_per_month: float = 100_000
    """Requests each endpoint serves a month."""
    capture_kb_per_request: float = 2
    """A captured request and answer with their metadata, in SageMaker's capture format."""
    inference_ms: float = 100
    """Serverless endpoints: how long one request computes."""
    features: int = 10
    """Feature columns per dataset: the drift monitor publishes a metric for each, and one more."""
    pipeline_metrics: int = 15
    """Metric names the functions publish in the Driftline namespace in a month (runs, jobs, approvals, ...)."""

    @property
    def deployments(self) -> float:
        return self.runs_per_month if self.deployments_per_month is None else self.deployments_per_month


@dataclass(frozen=True)
class Line:
    item: str
    quantity: float
    unit: str
    price: Price
    """USD per ``unit``."""

    @property
    def monthly(self) -> float:
        return self.quantity * self.price.usd


@dataclass(frozen=True)
class Estimate:
    region: str
    parameters: Mapping[str, str]
    usage: Usage
    lines: tuple[Line, ...]
    assumptions: tuple[str, ...]
    not_counted: tuple[str, ...] = NOT_COUNTED
    parameters_from: str = "template.yaml's defaults"

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    @property
    def prices(self) -> str:
        return str(_prices().prices_described(line.price for line in self.lines))

    def as_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "currency": "USD",
            "total_monthly_usd": round(self.total, 6),
            "prices": self.prices,
            "parameters_from": self.parameters_from,
            "lines": [
                {
                    "item": line.item,
                    "quantity": round(line.quantity, 6),
                    "unit": line.unit,
                    "unit_price_usd": line.price.usd,
                    "price_source": line.price.source,
                    "price_date": line.price.as_of,
                    "price_note": line.price.note,
                    "monthly_usd": round(line.monthly, 6),
                }
                for line in self.lines
            ],
            "usage": asdict(self.usage) | {"deployments_per_month": self.usage.deployments},
            "parameters": dict(self.parameters),
            "assumptions": list(self.assumptions),
            "not_counted": list(self.not_counted),
        }


def _prices() -> Any:
    return layer_module("driftline_core.costs.prices")


# Parameters ------------------------------------------------------------------------------------------------


@cache
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse(path.read_text()))


def template_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: _parameter_text(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }


def _parameter_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


class ParametersRefused(ValueError):
    """Parameters CloudFormation would refuse; the message is CloudFormation's."""


def deployment_parameters(
    template: Mapping[str, Any], *, deployed: Mapping[str, str] | None = None, overrides: Mapping[str, str]
) -> dict[str, str]:
    """The template's defaults, then a deployed stack's values, then the overrides (checked as CloudFormation would)."""
    from driftline.local.cloudformation import parameter_problems

    declared = template.get("Parameters", {})
    problems = [
        problem
        for name, value in overrides.items()
        for problem in parameter_problems({name: declared[name]} if name in declared else {}, {name: value})
    ]
    if problems:
        raise ParametersRefused("; ".join(problems))
    return {**template_defaults(template), **(deployed or {}), **overrides}


# Quantities ------------------------------------------------------------------------------------------------


def windows_per_month(expression: str) -> float:
    """How often a monitoring schedule fires in 730 hours: its rate, or its cron's firings over 730 hours."""
    minutes = rate_minutes(expression)
    if minutes is not None:
        return HOURS_PER_MONTH * 60 / minutes
    cron = parse_cron(expression)
    start = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday: weekday fields count as in any ordinary month
    end = start + timedelta(hours=HOURS_PER_MONTH)
    count, moment = 0, cron.next_after(start - timedelta(seconds=1))
    while moment is not None and moment < end:
        count += 1
        moment = cron.next_after(moment)
    return float(count)


def captured_bytes_per_window(parameters: Mapping[str, str], usage: Usage, windows: float) -> float:
    sampled = _number(parameters, "DataCaptureSamplingPercentage") / 100
    return usage.requests_per_month * sampled * usage.capture_kb_per_request * 1000 / windows


def monitor_instances(parameters: Mapping[str, str], usage: Usage, windows: float) -> int:
    """Instances one window's drift monitor runs on, as StartMonitoring sizes it: one per MonitorBytesPerInstance of
    captured bytes, at most MonitorMaxInstances (a window on several is then merged by one more job)."""
    per_instance = _number(parameters, "MonitorBytesPerInstance")
    needed = math.ceil(captured_bytes_per_window(parameters, usage, windows) / per_instance)
    return max(1, min(int(_number(parameters, "MonitorMaxInstances")), needed))


def preprocessing_instances(parameters: Mapping[str, str], usage: Usage) -> int:
    """Instances a run's preprocessing job runs on, as Preprocess sizes it: one per PreprocessRowsPerInstance rows,
    at most PreprocessMaxInstances."""
    needed = math.ceil(usage.rows_per_run / _number(parameters, "PreprocessRowsPerInstance"))
    return max(1, min(int(_number(parameters, "PreprocessMaxInstances")), needed))


def training_instances(parameters: Mapping[str, str], usage: Usage) -> int:
    """Instances a run trains on; more than the stack's MaxTrainingInstances is a run Validate refuses."""
    most = int(_number(parameters, "MaxTrainingInstances"))
    if not 1 <= usage.training_instances <= most:
        raise CostCommandError(
            f"--training-instances {usage.training_instances} is not from 1 to the stack's MaxTrainingInstances "
            f"({most}): Validate refuses a dataset asking for more; raise MaxTrainingInstances or ask for fewer."
        )
    return usage.training_instances


def _number(parameters: Mapping[str, str], name: str) -> float:
    return float(parameters[name])


# Pricing ---------------------------------------------------------------------------------------------------


@dataclass
class PriceBook:
    """The prices one estimate needs in one region: live where ``client`` is given and answers, else the snapshot.

    Once the Price List API has not answered, the rest come from the snapshot at once, each saying why.
    """

    region: str
    snapshot: PriceSnapshot
    client: Any = None
    failure: str = ""
    _instances: dict[tuple[str, str], Price] = field(default_factory=dict)
    _units: dict[str, Price] = field(default_factory=dict)

    def instance_hour(self, component: str, instance_type: str) -> Price:
        key = (component, instance_type)
        if key not in self._instances:
            self._instances[key] = self._asked(
                lambda client: _prices().instance_hour_prices(
                    self.region, instance_type, [component], client=client, snapshot=self.snapshot
                )[component]
            )
        return self._instances[key]

    def unit(self, key: str) -> Price:
        if key not in self._units:
            self._units[key] = self._asked(
                lambda client: _prices().unit_price(self.region, key, client=client, snapshot=self.snapshot)
            )
        return self._units[key]

    def _asked(self, lookup: Callable[[Any], Price]) -> Price:
        if self.failure:
            return replace(lookup(None), note=self.failure)
        price = lookup(self.client)
        if price.note.startswith(_prices().NO_ANSWER):
            self.failure = price.note
        return price


def estimate(
    parameters: Mapping[str, str],
    usage: Usage,
    prices: PriceBook,
    *,
    template: Mapping[str, Any] | None = None,
    parameters_from: str = "template.yaml's defaults",
) -> Estimate:
    """The monthly estimate of a deployment with these parameters and this usage (``Line`` per counted item)."""
    template = load_template() if template is None else template
    p = parameters
    serverless = p["EndpointType"] == "Serverless"
    model_monitor = p["DriftMonitor"] == "ModelMonitor"
    datasets, runs, deployments = usage.datasets, usage.runs_per_month, usage.deployments
    processing, training, hosting = p["ProcessingInstanceType"], p["TrainingInstanceType"], p["EndpointInstanceType"]
    windows = windows_per_month(p["MonitoringScheduleExpression"])
    monitor_minutes = usage.monitor_minutes
    if monitor_minutes is None:
        monitor_minutes = MODEL_MONITOR_MINUTES if model_monitor else DRIFTLINE_MONITOR_MINUTES
    memory_gb = float(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)) / 1024
    reconciles = HOURS_PER_MONTH * 60 / _number(p, "ReconcileIntervalMinutes")
    lines: list[Line] = []

    def add(item: str, quantity: float, unit: str, price: Price) -> None:
        lines.append(Line(item, quantity, unit, price))

    def datasets_text() -> str:
        return f"{datasets} dataset{'s' if datasets != 1 else ''}"

    if serverless:
        memory_mb = _number(p, "ServerlessMemorySizeInMB")
        add(
            f"Serverless endpoints ({datasets_text()}): {usage.requests_per_month:,.0f} requests of "
            f"{usage.inference_ms:g} ms at {memory_mb:g} MB",
            datasets * usage.requests_per_month * usage.inference_ms / 1000 * memory_mb / 1024,
            "GB-second",
            prices.unit("sagemaker_serverless_gb_second"),
        )
    else:
        count = _number(p, "EndpointInstanceCount")
        add(
            f"Endpoints ({datasets_text()}): {count:g} x {hosting} around the clock",
            datasets * count * HOURS_PER_MONTH,
            "instance-hour",
            prices.instance_hour("hosting", hosting),
        )
        monitor = "Model Monitor executions" if model_monitor else "Drift monitor jobs"
        instances = 1 if model_monitor else monitor_instances(p, usage, windows)
        on = f"{instances} x {processing}" if instances > 1 else processing
        add(
            f"{monitor}: {windows:,.0f} windows x {monitor_minutes:g} min on {on}",
            datasets * windows * instances * monitor_minutes / 60,
            "instance-hour",
            prices.instance_hour("processing", processing),
        )
        if instances > 1:
            add(
                f"Drift merge jobs: {windows:,.0f} windows x {monitor_minutes:g} min on {processing}",
                datasets * windows * monitor_minutes / 60,
                "instance-hour",
                prices.instance_hour("processing", processing),
            )
    for label, component, instance_type, count_of, minutes, instances in (
        (
            "Preprocessing jobs",
            "processing",
            processing,
            runs,
            usage.preprocess_minutes,
            preprocessing_instances(p, usage),
        ),
        ("Training jobs", "training", training, runs, usage.training_minutes, training_instances(p, usage)),
        ("Evaluation jobs", "processing", processing, runs, usage.evaluation_minutes, 1),
        ("Baseline jobs", "processing", processing, deployments, usage.baseline_minutes, 1),
    ):
        what = "deployments" if label == "Baseline jobs" else "runs"
        on = f"{instances} x {instance_type}" if instances > 1 else instance_type
        add(
            f"{label}: {count_of:g} {what} x {minutes:g} min on {on}",
            count_of * minutes * instances / 60,
            "instance-hour",
            prices.instance_hour(component, instance_type),
        )
    if not serverless:
        sampled = _number(p, "DataCaptureSamplingPercentage") / 100
        add(
            f"Data capture in S3: {sampled:.0%} of {usage.requests_per_month:,.0f} requests x "
            f"{usage.capture_kb_per_request:g} KB",
            datasets * usage.requests_per_month * sampled * usage.capture_kb_per_request / 1_000_000,
            "GB-month",
            prices.unit("s3_standard_gb_month"),
        )
    monitoring_invocations = 0.0 if serverless else datasets * windows * (1 if model_monitor else 2)
    invocations = (
        runs * LAMBDA_INVOCATIONS_PER_RUN
        + deployments * LAMBDA_INVOCATIONS_PER_DEPLOYMENT
        + reconciles
        + monitoring_invocations
    )
    add(
        "Step Functions state transitions",
        runs * STATE_TRANSITIONS_PER_RUN,
        "state transition",
        prices.unit("step_functions_transition"),
    )
    add("Lambda requests", invocations, "request", prices.unit("lambda_request"))
    add(
        f"Lambda compute: {LAMBDA_SECONDS_PER_INVOCATION:g} s per request at {memory_gb * 1024:g} MB",
        invocations * LAMBDA_SECONDS_PER_INVOCATION * memory_gb,
        "GB-second",
        prices.unit("lambda_gb_second"),
    )
    add("SNS email notifications", runs * EMAILS_PER_RUN, "email", prices.unit("sns_email"))
    add(
        "DynamoDB on-demand writes",
        runs * DYNAMODB_WRITES_PER_RUN,
        "write request",
        prices.unit("dynamodb_write_request"),
    )
    add(
        "DynamoDB on-demand reads (one reconciler scan per pass)",
        runs * DYNAMODB_READS_PER_RUN + reconciles,
        "read request",
        prices.unit("dynamodb_read_request"),
    )
    add("Approval HTTP API requests", runs * APPROVAL_REQUESTS_PER_RUN, "request", prices.unit("http_api_request"))
    per_endpoint = ALARM_METRICS_PER_SERVERLESS_ENDPOINT if serverless else ALARM_METRICS_PER_PROVISIONED_ENDPOINT
    add(
        "CloudWatch alarm metrics",
        datasets * per_endpoint + STACK_ALARM_METRICS,
        "alarm metric-month",
        prices.unit("cloudwatch_alarm_metric_month"),
    )
    drift_metrics = 0 if serverless else datasets * (usage.features + 1)
    drift_named = ": the pipeline's" if serverless else f": drift ({usage.features + 1} per dataset) and the pipeline's"
    add(
        f"CloudWatch custom metrics{drift_named}",
        drift_metrics + usage.pipeline_metrics,
        "metric-month",
        prices.unit("cloudwatch_custom_metric_month"),
    )
    if not p.get("KmsKeyArn"):
        add("KMS key of the notification topic", 1, "key-month", prices.unit("kms_key_month"))
    add("Secrets Manager secret (approval signing key)", 1, "secret-month", prices.unit("secrets_manager_secret_month"))
    return Estimate(
        region=prices.region,
        parameters=dict(parameters),
        usage=usage,
        lines=tuple(lines),
        assumptions=_assumptions(p, usage, serverless=serverless, model_monitor=model_monitor, windows=windows),
        parameters_from=parameters_from,
    )


def _assumptions(
    p: Mapping[str, str], usage: Usage, *, serverless: bool, model_monitor: bool, windows: float
) -> tuple[str, ...]:
    found = [
        f"A month is {HOURS_PER_MONTH} hours; prices are on-demand, without free tiers, savings plans or taxes.",
        f"Runs: {usage.runs_per_month:g} a month, {usage.deployments:g} of them deployed (each deployment runs a "
        f"baseline job); a deployed run is {STATE_TRANSITIONS_PER_RUN} state transitions, {RUN_LAMBDA_REQUESTS} "
        f"Lambda requests and {EMAILS_PER_RUN} emails.",
        "Job minutes are billed time per job (set them with --preprocess-minutes, --training-minutes, "
        "--evaluation-minutes, --baseline-minutes, --monitor-minutes).",
        f"Lambda requests include ReconcileJobs every {p['ReconcileIntervalMinutes']} minutes; each request computes "
        f"about {LAMBDA_SECONDS_PER_INVOCATION:g} s.",
    ]
    if serverless:
        found.append(
            "Serverless endpoints are billed per request's compute time and memory, not by the hour; they capture "
            "nothing, so no drift monitor, data capture or drift alarm runs for them."
        )
    else:
        found.append(
            f"Endpoints run EndpointInstanceCount ({p['EndpointInstanceCount']}) instances all month; autoscaling "
            f"may add up to EndpointMaxInstances ({p['EndpointMaxInstances']}), each at the same hourly price."
        )
        monitor = "Model Monitor" if model_monitor else "Driftline's monitor"
        sizing = (
            "on one instance"
            if model_monitor
            else f"on an instance per MonitorBytesPerInstance ({p['MonitorBytesPerInstance']}) captured bytes, at "
            f"most MonitorMaxInstances ({p['MonitorMaxInstances']}); a window without captured requests starts no job"
        )
        found.append(
            f"{monitor} analyses {windows:,.0f} windows a month ({p['MonitoringScheduleExpression']}) per endpoint, "
            f"with traffic in every window, each {sizing}."
        )
        found.append(
            "Data capture: one month's captured requests; kept longer, S3 storage grows by as much each month."
        )
    return tuple(found)


# The command's work -----------------------------------------------------------------------------------------


class CostCommandError(RuntimeError):
    """What keeps ``driftline cost`` from answering, in a sentence that says what to do."""


def price_list_client(region: str, session: Any = None) -> Any:
    """A Price List API client for ``region``'s prices, at the API's nearest endpoint."""
    import boto3
    from botocore.config import Config

    session = session or boto3.session.Session()
    config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
    return session.client("pricing", region_name=_prices().price_list_region(region), config=config)


def stack_parameters(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """A deployed stack's parameter values (DescribeStacks)."""
    from botocore.exceptions import BotoCoreError, ClientError

    region = cloudformation.meta.region_name
    try:
        [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message") or str(error)
        raise CostCommandError(
            f"cannot read the stack {stack_name!r} in {region}: {message}. Give the name (--stack-name) and region "
            "(--region) of a deployed Driftline stack."
        ) from None
    except BotoCoreError as error:
        raise CostCommandError(
            f"cannot read the stack {stack_name!r} in {region}: {error}. Configure AWS credentials for its account "
            "(or leave out --stack-name to estimate from the template's defaults)."
        ) from None
    return {item["ParameterKey"]: str(item.get("ParameterValue", "")) for item in stack.get("Parameters", [])}


def estimate_deployment(
    *,
    overrides: Mapping[str, str],
    usage: Usage,
    stack_name: str | None = None,
    region: str | None = None,
    live_prices: bool = True,
    session: Any = None,
) -> Estimate:
    """The estimate ``driftline cost`` prints: parameters from the template, the stack and the overrides; live prices
    when AWS credentials are at hand and ``live_prices``, else the snapshot's."""
    from driftline.stack_target import aws_session

    session = session or aws_session(region)
    template = load_template()
    sources = ["template.yaml's defaults"]
    deployed = None
    if stack_name:
        if not session.region_name:
            raise CostCommandError(f"no AWS region to find the stack {stack_name!r} in: pass --region")
        deployed = stack_parameters(session.client("cloudformation"), stack_name)
        sources.append(f"stack {stack_name}'s parameters")
    if overrides:
        sources.append("--parameter-overrides " + " ".join(f"{key}={value}" for key, value in overrides.items()))
    try:
        parameters = deployment_parameters(template, deployed=deployed, overrides=overrides)
    except ParametersRefused as refused:
        raise CostCommandError(f"CloudFormation would refuse these parameters: {refused}") from None
    priced_in = region or session.region_name or "us-east-1"
    client = price_list_client(priced_in, session) if live_prices and session.get_credentials() else None
    book = PriceBook(priced_in, _prices().load_snapshot(), client)
    try:
        result = estimate(parameters, usage, book, template=template, parameters_from=", then ".join(sources))
    except _prices().PriceUnknown as unknown:
        raise CostCommandError(str(unknown)) from None
    if client is None:
        why = "--snapshot-prices" if not live_prices else "no AWS credentials to ask the Price List API"
        result = replace(result, assumptions=(*result.assumptions, f"Prices from the shipped snapshot ({why})."))
    if not (region or session.region_name):
        result = replace(result, assumptions=(*result.assumptions, "No region given or configured: us-east-1."))
    return result


def refresh_snapshot(
    client: Any, snapshot: PriceSnapshot, *, today: str, regions: list[str], instance_types: list[str]
) -> tuple[PriceSnapshot, list[str]]:
    """The snapshot read again from the Price List API: every region and instance type it has, plus those given.

    A price the API does not list is kept with its own date (``kept``), and said so; an instance type offered for
    only some uses (``ml.t2.medium`` hosts, it does not train) keeps only those.
    """
    prices = _prices()
    types = sorted({*instance_types, *(t for c in prices.COMPONENTS for t in snapshot.instance_types(c))})
    refreshed: dict[str, Any] = {}
    kept: dict[str, str] = {}
    said: list[str] = []

    def keep(path: str, what: str) -> None:
        kept[path] = snapshot.kept.get(path, snapshot.date)
        said.append(f"{what} (the Price List API lists none; price of {kept[path]})")

    for region in sorted({*snapshot.regions, *regions}):
        old = snapshot.regions.get(region, {"sagemaker_instance_hour": {}, "unit": {}})
        hours: dict[str, dict[str, float]] = {component: {} for component in prices.COMPONENTS}
        for instance_type in types:
            listed = prices.listed_instance_hours(client, region, instance_type)
            for component in prices.COMPONENTS:
                before = old["sagemaker_instance_hour"].get(component, {}).get(instance_type)
                if component in listed:
                    hours[component][instance_type] = listed[component].usd
                elif before is not None:
                    hours[component][instance_type] = before
                    keep(f"{region}/{component}/{instance_type}", f"{region} {component} {instance_type}")
        units: dict[str, float] = {}
        for unit in prices.UNIT_PRICES:
            live = prices.listed_unit(client, region, unit)
            if live is not None:
                units[unit.key] = live.usd
            elif unit.key in old["unit"]:
                units[unit.key] = old["unit"][unit.key]
                keep(f"{region}/unit/{unit.key}", f"{region} {unit.key}")
        refreshed[region] = {"sagemaker_instance_hour": hours, "unit": units}
    source = (
        f"Read from the AWS Price List API (pricing:GetProducts: on-demand terms, first paid tier) on {today} by "
        "`driftline cost --refresh-prices`; a price it did not list is kept from before, with its own date in 'kept'."
    )
    return prices.PriceSnapshot(today, source, refreshed, kept), said
