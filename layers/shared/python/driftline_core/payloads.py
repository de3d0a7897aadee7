"""The small JSON documents passed between pipeline states, and what the event-driven handlers answer.

The rule: what crosses a process boundary as JSON (a state's input or output, a handler's answer, a
schedule's Input) is a pydantic model here; a value that stays inside one function's call is a frozen
dataclass beside the code that makes it. Payloads carry S3 URIs and a few numbers, never data. Every
Lambda input carries the execution id for log correlation. Field names here are the names in the ASL
(``statemachine/pipeline.asl.json``).

Annotations are evaluated as each class is defined (no ``from __future__ import annotations``), so pydantic
reads them as types instead of compiling each one from its string at import: a model refers only to
models defined above it.
"""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from driftline_core.errors import JobsNotReconciled

ProblemType = Literal["binary_classification", "multiclass_classification", "regression"]
RunOutcome = Literal[
    "registered", "rejected", "failed", "approved", "approval_rejected", "approval_expired", "deployed", "trial_started"
]


class _Payload(BaseModel):
    """Builds its validator on first use, so a Lambda pays at cold start only for the payloads it handles."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


class DataObject(_Payload):
    """The uploaded object a run was started for (an exact S3 object version)."""

    bucket: str
    key: str
    version_id: str | None = None
    uri: str


class DriftedFeature(_Payload):
    """One feature past its drift threshold in the monitoring window that set off a retrain."""

    name: str
    distance: float | None = None
    threshold: float | None = None


class RunTrigger(_Payload):
    source: Literal["upload", "drift"] = "upload"
    event_id: str | None = None
    reason: str | None = None
    """Drift runs: why this run retrains, in a sentence."""
    alarm_name: str | None = None
    drifted_features: list[DriftedFeature] = Field(default_factory=list)
    report_uri: str | None = None
    """The drift report of the window that set off the retrain."""
    retrain_uri: str | None = None
    """``runs/<execution>/retrain.json``: the reason, the drift and the labelled data window the retrain covers."""

    @model_serializer(mode="wrap")
    def _drift_fields_only_when_set(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Upload runs keep their input ``{"source", "event_id"}``; drift fields appear when a drift run sets them."""
        data: dict[str, Any] = serialize(self)
        return {k: v for k, v in data.items() if k in ("source", "event_id") or v not in (None, [])}


class RetrainUpload(_Payload):
    """One upload of a retrain's labelled data window, pinned to the version listed when the retrain started."""

    uri: str
    version_id: str | None = None
    last_modified: str | None = None
    """ISO 8601, as S3 reported it."""
    size: int | None = None


class RetrainManifest(_Payload):
    """``runs/<execution>/retrain.json``: why a drift run retrains and the window of uploads it trains on."""

    reason: str = "drift"
    alarm_name: str | None = None
    drifted_features: list[DriftedFeature] = Field(default_factory=list)
    report_uri: str | None = None
    window_days: int | None = None
    uploads: list[RetrainUpload] = Field(default_factory=list)


class RunInput(_Payload):
    """Execution input, written by StartRun."""

    dataset: str
    data: DataObject
    trigger: RunTrigger = Field(default_factory=RunTrigger)


class StepInput(RunInput):
    """What every step Lambda receives: the run input plus the execution's identity."""

    execution_id: str
    execution_name: str


class ABTestPlan(_Payload):
    """How an approved challenger is tried against the serving model: ``ab_test`` in dataset.json, else the stack's
    ABTest* parameters."""

    mode: Literal["split", "shadow"]
    """split: the challenger answers its share of requests; shadow: it answers copies that are never returned."""
    challenger_share: float
    """split: the challenger's share of the traffic; shadow: the share of requests copied to it."""
    trial_minutes: int
    min_labelled_rows: int
    """Labelled rows each variant needs before the trial may name a winner."""
    significance: float
    promotion: Literal["approval", "automatic"] = "approval"
    """approval: a challenger that won takes all traffic only once a person approves its promotion (rejected or
    expired, the serving model stays); automatic: the trial's winner takes it at once."""


class ReleasePlan(_Payload):
    """How a candidate that passed the gate reaches production; decided once, by Validate, for the whole run."""

    staging: bool = False
    """Deploy and test the candidate on a staging endpoint before asking for approval (StagingEndpoint)."""
    ab_test: ABTestPlan | None = None
    """Approved challengers join the serving endpoint for a trial instead of replacing its model."""


class ValidationResult(_Payload):
    config_uri: str
    schema_uri: str
    schema_source: Literal["declared", "inferred", "stored"]
    rows: int
    columns: int
    files: int | None = None
    """Drift runs: how many uploads of the labelled data window were checked and copied (``rows`` is their total)."""
    release: ReleasePlan = Field(default_factory=ReleasePlan)
    transforms_test_rows: bool = False
    """The model is the dataset's own container: a batch transform answers the held-out rows before evaluation."""

    @model_serializer(mode="wrap")
    def _files_only_when_set(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Upload runs (one file) keep their result as it was; ``files`` appears on window runs."""
        data: dict[str, Any] = serialize(self)
        return {k: v for k, v in data.items() if k != "files" or v is not None}


class JobStarted(_Payload):
    """What a job-starting Lambda returns to its (ignored) invoke; the state waits for the job's callback."""

    job_name: str
    job_arn: str


class JobResult(_Payload):
    """Task output sent with the task token when a SageMaker job completes."""

    job_name: str
    job_type: Literal["processing", "training", "transform"]
    status: str
    outputs: dict[str, str] = Field(default_factory=dict)
    """Processing: output name -> S3 URI prefix. Training: ``model`` -> model.tar.gz URI. Transform: ``answers`` ->
    its output prefix."""


class WaitingStepInput(StepInput):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    """Parse errors must not echo the payload: it carries the task token."""
    task_token: str
    validation: ValidationResult


class TrainInput(WaitingStepInput):
    preprocess: JobResult


class EvaluateInput(TrainInput):
    training: JobResult


class GateInput(StepInput):
    validation: ValidationResult
    evaluation: JobResult


class FeatureDistance(_Payload):
    """One feature's drift distance from the serving model's baseline, against its threshold."""

    name: str
    distance: float
    threshold: float
    margin: float = 0.0
    """The Robust method's sampling-noise margin: the feature drifts when distance - margin > threshold."""


class DataDriftSummary(_Payload):
    """How the run's rows differ from the serving model's drift baseline: URIs and a few numbers, never data.

    The evaluation job compares them; the gate carries this summary to the notifications. It informs the people
    deciding and never changes the gate's decision.
    """

    compared: bool
    reason: str | None = None
    """Why nothing was compared (a clause: "no model of this dataset is approved yet")."""
    model_package_arn: str | None = None
    """The approved (serving) model whose baseline the rows were compared with."""
    baseline_uri: str | None = None
    report_uri: str | None = None
    """``data_drift.html`` beside the evaluation report; ``data_drift.json`` has every feature."""
    rows_compared: int | None = None
    features: int = 0
    drifted_count: int = 0
    drifted_features: list[FeatureDistance] = Field(default_factory=list)
    """The drifted features, the farthest first, a few at most (``drifted_count`` counts them all)."""
    missing_columns: list[str] = Field(default_factory=list)
    extra_columns: list[str] = Field(default_factory=list)


class GateResult(_Payload):
    passed: bool
    metric: str
    value: float
    threshold: float
    higher_is_better: bool
    incumbent_model_package_arn: str | None = None
    incumbent_value: float | None = None
    evaluation_uri: str
    reasons: list[str] = Field(default_factory=list)
    """Readable sentences saying why the gate passed or failed."""
    data_drift: DataDriftSummary | None = None
    """The run's data against the serving model's baseline; None for a report written without the comparison."""


class RegisterInput(StepInput):
    validation: ValidationResult
    preprocess: JobResult
    training: JobResult
    evaluation: JobResult
    gate: GateResult


class RegistrationResult(_Payload):
    model_package_arn: str
    model_package_group: str
    approval_status: str


class SmokeTestResult(_Payload):
    """The staging smoke test: the evaluation's held-out rows sent through the staging endpoint."""

    rows: int
    """Rows sent (every held-out row, up to the smoke test's limit)."""
    mismatches: int
    """Rows whose answer differs from the evaluation job's prediction for that row, or that got no answer."""
    unanswered: int = 0
    """Rows whose request failed (an error, or no answer in time); counted in ``mismatches`` too."""
    passed: bool
    examples: list[str] = Field(default_factory=list)
    """Up to three mismatches or errors, one readable line each."""


class LoadTestResult(_Payload):
    """The staging load test: requests at a steady rate for a while, and how the endpoint answered them."""

    requests_per_second: float
    seconds: int
    requests: int
    errors: int
    p50_milliseconds: float
    p99_milliseconds: float
    max_p99_milliseconds: float
    """The limit p99 must stay under (StagingMaxP99Milliseconds)."""
    passed: bool
    examples: list[str] = Field(default_factory=list)
    """Up to three failed requests, one readable line each."""


class StagingTestResult(_Payload):
    """What TestStaging measured on the staging endpoint; the run carries it at ``$.staging_test``."""

    endpoint_name: str
    smoke: SmokeTestResult
    load: LoadTestResult
    report_uri: str
    """``runs/<execution>/staging/staging_test.json``: both results in full."""


def _no_staging_test(value: Any) -> Any:
    return None if value == {} else value


StagingTestOrNone = Annotated[StagingTestResult | None, BeforeValidator(_no_staging_test)]
"""``$.staging_test``: the SkipStaging state writes ``{}`` for a run without a staging endpoint (an empty object means
the same in every ASL reading, where a Pass state's ``Result: null`` might be taken for no Result at all)."""


class ApprovalRequestInput(StepInput):
    """What RequestApproval receives: the registered candidate and the token the run waits on."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    """Parse errors must not echo the payload: it carries the task token."""
    task_token: str
    validation: ValidationResult
    training: JobResult
    gate: GateResult
    registration: RegistrationResult
    staging_test: StagingTestOrNone = None
    """What the candidate showed on its staging endpoint; None when the run tests on no staging endpoint."""


class ApprovalRequested(_Payload):
    """What RequestApproval returns to its (ignored) invoke; the run waits for the decision."""

    approval_id: str
    model_package_arn: str
    expires_at: int


class ApprovalDecision(_Payload):
    """Task output sent with the task token when a person approves; the run carries it at ``$.approval``."""

    approval_id: str
    decision: Literal["approved", "rejected"]
    decided_by: str
    decided_at: str
    """ISO 8601 UTC."""
    source: Literal["link", "registry"]
    """Where the decision was made: the emailed link, or the Model Registry (Studio, CLI, API)."""
    reason: str = ""


class TrialDeployment(_Payload):
    """An A/B trial on the dataset's endpoint: the serving model (champion) beside the approved challenger."""

    mode: Literal["split", "shadow"]
    champion_variant: str
    challenger_variant: str
    champion_endpoint_config_name: str
    """The single-variant config the endpoint served before the trial, and serves again when the champion stays."""
    champion_model_name: str
    champion_model_package_arn: str | None = None
    challenger_model_name: str
    challenger_model_package_arn: str
    challenger_share: float
    trial_minutes: int
    min_labelled_rows: int
    significance: float
    started_at: str = ""
    """ISO 8601 UTC, when the endpoint began serving both variants."""
    ends_at: str = ""
    """ISO 8601 UTC (``YYYY-MM-DDTHH:MM:SSZ``, as a Wait state's TimestampPath needs): when the analysis starts."""


class DeployInput(StepInput):
    """What Deploy receives: the approved package and the token the run waits on until the endpoint settles."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    """Parse errors must not echo the payload: it carries the task token."""
    task_token: str
    registration: RegistrationResult
    approval: ApprovalDecision | None = None
    """None when deploying to staging, before anyone decided."""
    target: Literal["production", "staging", "shift", "conclude"] = "production"
    """production: the dataset's endpoint; staging: the candidate's own staging endpoint (``staging_endpoint_name``);
    shift: a split trial's winner gets all traffic (UpdateEndpointWeightsAndCapacities); conclude: the endpoint
    serves the trial's winner alone (UpdateEndpoint to its single-variant config)."""
    trial: TrialDeployment | None = None
    """shift and conclude: the trial on the endpoint."""
    winner: Literal["champion", "challenger"] | None = None
    """shift and conclude: who serves after the trial."""
    release: ReleasePlan | None = None
    """production: the run's release plan (``$.validation.release``); an A/B plan starts a trial."""


class DeploymentStarted(_Payload):
    """What Deploy returns to its (ignored) invoke; the run waits for the endpoint's state change."""

    endpoint_name: str
    endpoint_config_name: str
    action: Literal["created", "updated", "unchanged", "trial", "concluded"]


class DeploymentResult(_Payload):
    """Task output sent once the endpoint serves the new model; the run carries it at ``$.deployment``."""

    endpoint_name: str
    endpoint_arn: str
    endpoint_config_name: str
    model_name: str
    model_package_arn: str
    action: Literal["created", "updated", "unchanged", "trial", "concluded"]
    """``unchanged``: the endpoint already served this model version (a repeated deployment); ``trial``: the model
    joined the endpoint beside the serving one for an A/B trial; ``concluded``: a trial's winner serves alone."""
    endpoint_type: Literal["Provisioned", "Serverless"]
    previous_endpoint_config_name: str | None = None
    data_capture_uri: str | None = None
    """Where sampled requests and answers land; None for serverless endpoints, which capture nothing."""
    alarms: list[str] = Field(default_factory=list)
    """The CloudWatch alarms that roll a blue/green update back."""
    trial: TrialDeployment | None = None


class TrialAnalysisInput(WaitingStepInput):
    """What AnalyseTrial receives once the trial period is over: the endpoint serving both variants."""

    deployment: DeploymentResult


class TrialDecision(_Payload):
    """What the trial's analysis decided; the run carries it at ``$.trial``."""

    decision: Literal["challenger", "champion", "not_enough_evidence"]
    winner: Literal["challenger", "champion"]
    """Who serves alone after the trial: the champion unless the challenger was significantly better."""
    reason: str
    """One readable sentence with the numbers."""
    metric: str
    champion_value: float | None = None
    challenger_value: float | None = None
    champion_rows: int = 0
    challenger_rows: int = 0
    p_value: float | None = None
    test: str = ""
    trial_uri: str
    """``trial.json``: every figure of the analysis."""
    report_uri: str
    """``trial_report.html``: the same for people."""


class PromotionRequestInput(StepInput):
    """What RequestApproval receives to ask whether a challenger that won its trial takes all traffic."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    """Parse errors must not echo the payload: it carries the task token."""
    request: Literal["promotion"]
    task_token: str
    registration: RegistrationResult
    deployment: DeploymentResult
    """The endpoint serving the trial (``deployment.trial``)."""
    trial: TrialDecision


class DecideTrialInput(StepInput):
    """What DecideTrial receives: the trial on the endpoint and the analysis job's outputs."""

    deployment: DeploymentResult
    trial_analysis: JobResult


class RemoveStagingInput(StepInput):
    """What RemoveStaging receives: the registered candidate (absent when the run failed before registering)."""

    registration: RegistrationResult | None = None
    staging: bool = True
    """The run's ``release.staging``: a run without a staging endpoint has nothing to remove."""
    keep_model: bool = False
    """True once production serves the candidate: its SageMaker Model is shared with the production endpoint."""


class StagingRemoval(_Payload):
    """What RemoveStaging did; the run carries it at ``$.staging_removal``."""

    endpoint_name: str | None = None
    removed: list[str] = Field(default_factory=list)
    """The SageMaker resources deleted, as ``<kind> <name>``."""


class StagingTestInput(StepInput):
    """What TestStaging receives: the run's test split and predictions, and the staging endpoint serving the
    candidate."""

    preprocess: JobResult
    evaluation: JobResult
    staging: DeploymentResult


class ServingSetupInput(StepInput):
    """What FinishDeployment receives: the endpoint now serving the approved model."""

    deployment: DeploymentResult


class ServingSetup(_Payload):
    """What FinishDeployment set up on the serving endpoint; the run carries it at ``$.serving``."""

    autoscaling: str
    """One readable sentence: the scaling policy registered, or why there is none."""


class StepError(_Payload):
    """What a Catch puts at ``$.error``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


class NotifyInput(_Payload):
    outcome: RunOutcome
    execution_id: str
    execution_name: str
    run: dict[str, Any]
    """The state document at the point of notification (small by construction)."""
    error: StepError | None = None


class NotificationResult(_Payload):
    subject: str
    message_id: str | None = None
    error: str
    """Error name for the Fail state (empty on success outcomes)."""
    cause: str
    """One readable sentence for the Fail state and the execution output."""


class MonitoringSetup(_Payload):
    schedule_name: str
    schedule_expression: str
    alarm_name: str
    baseline_uri: str
    baseline_job_name: str


# What the event-driven handlers answer, and what they read --------------------------------------------


class StartRunResult(_Payload):
    """What StartRun returns; ``reason`` says in a sentence why a run did or did not start."""

    started: bool
    execution_arn: str | None = None
    execution_name: str | None = None
    dataset: str | None = None
    reason: str
    notified: bool = False
    """True when the topic was told why this upload started no run."""


WindowOutcome = Literal["started", "already_started", "no_data", "no_baseline", "endpoint_gone"]


class MonitoringStarted(_Payload):
    outcome: WindowOutcome
    reason: str
    window_start: str
    window_end: str
    job_name: str | None = None
    capture_prefixes: list[str] = Field(default_factory=list)
    capture_bytes: int = 0
    instance_count: int = 0


DriftJob = Literal["monitor", "merge", "baseline"]


class DriftJobOutcome(_Payload):
    job_name: str
    job: Literal["monitor", "merge", "baseline", "other"]
    status: str
    action: Literal["published", "notified", "ignored", "merge_started", "merge_already_started"]
    metrics: int = 0
    merge_job_name: str | None = None


class RetrainResult(_Payload):
    started: bool
    reason: str
    dataset: str | None = None
    execution_name: str | None = None
    execution_arn: str | None = None
    notified: bool = False
    held: bool = False
    """True when the drift waits for the dataset's runs in progress to end (``drift/<dataset>/held-drift.json``)."""


class HeldDrift(_Payload):
    """``drift/<dataset>/held-drift.json``: a drift alarm's ALARM state that found a run of its dataset in progress.

    It decides when a run it waited for ends without a new serving model, and is released (kept, marked) once.
    """

    status: Literal["held", "released"] = "held"
    alarm_event: dict[str, Any]
    """The "CloudWatch Alarm State Change" event as it arrived: the retrain it starts is that episode's."""
    episode: str
    """The alarm's state timestamp: of two held episodes the later one is kept."""
    held_at: str
    """ISO 8601."""
    waiting_for: list[str] = Field(default_factory=list)
    """Names of the runs that were in progress."""
    released_by: str | None = None
    """The run whose end released it."""
    released_at: str | None = None
    outcome: str | None = None
    """What its release did, in a sentence."""


REQUEST_SOURCE: Literal["driftline.monitoring-schedule"] = "driftline.monitoring-schedule"
"""Marks the schedule's Input, so StartMonitoring tells it from the job state-change events it also receives."""


SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
"""EventBridge Scheduler replaces this keyword in the Input with the time the schedule fired for."""


class MonitoringRequest(_Payload):
    """The schedule's Input, what StartMonitoring receives at each firing."""

    source: Literal["driftline.monitoring-schedule"] = REQUEST_SOURCE
    dataset: str
    endpoint_name: str
    variant_name: str
    schedule_name: str
    model_package_arn: str
    execution_name: str
    """The run that trained the deployed model; its baseline is the monitor's reference."""
    baseline_uri: str
    scheduled_time: str = SCHEDULED_TIME


class ReconcileReport(_Payload):
    """What one reconciler pass found, by outcome (``succeeded``, ``failed``, ``still_running``, ...)."""

    checked: int = 0
    outcomes: dict[str, int] = {}
    failed_jobs: list[str] = []
    """Jobs whose check or resume raised; their tokens stay stored and the next pass tries again."""
    stopped_early: bool = False
    """True when the pass ran out of time or reached its limit before every waiting job was checked."""

    def raise_for_failures(self) -> None:
        if self.failed_jobs:
            names = ", ".join(self.failed_jobs[:10])
            more = f" and {len(self.failed_jobs) - 10} more" if len(self.failed_jobs) > 10 else ""
            raise JobsNotReconciled(
                f"could not check or resume {len(self.failed_jobs)} waiting job(s): {names}{more}. Their runs "
                "keep waiting and the next scheduled pass tries again; the reconciler's log has each error."
            )


class RunDocument(_Payload):
    """The parts of the state document a notification reports on; each exists once its step succeeded."""

    dataset: str | None = None
    data: DataObject | None = None
    validation: ValidationResult | None = None
    preprocess: JobResult | None = None
    training: JobResult | None = None
    evaluation: JobResult | None = None
    gate: GateResult | None = None
    registration: RegistrationResult | None = None
    approval: ApprovalDecision | None = None
    deployment: DeploymentResult | None = None
    staging: DeploymentResult | None = None
    staging_test: StagingTestOrNone = None
    trial: TrialDecision | None = None
    promotion: ApprovalDecision | None = None
    """A winning challenger's promotion, when a person approved it."""
    promotion_error: StepError | None = None
    """Why a winning challenger was not promoted: its promotion rejected (ApprovalRejected) or expired."""
    serving: dict[str, Any] | None = None
