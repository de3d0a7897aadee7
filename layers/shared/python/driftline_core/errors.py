"""Every named error of the layer, and the error names the state machine routes on.

A ``DriftlineError`` subclass's name is the error name Step Functions sees when a handler raises it, so the
ASL's ``ErrorEquals`` and these class names must agree; the constants below are the names a step sends with
``SendTaskFailure`` instead of raising.
"""


class DriftlineError(Exception):
    """Base class; the message is written for the person reading the failure notification."""


class ValidationFailed(DriftlineError):
    """The uploaded file cannot be used: wrong shape, wrong types, empty, not CSV."""


class DatasetConfigInvalid(DriftlineError):
    """``data/<dataset>/dataset.json`` exists but cannot be used."""


class SageMakerJobFailed(DriftlineError):
    """A processing or training job ended Failed or Stopped."""


class EvaluationReportInvalid(DriftlineError):
    """The evaluation report lacks the metric the quality gate needs."""


class TransientAwsError(DriftlineError):
    """Throttling or a service hiccup that outlasted boto3's own retries; the state machine retries it."""


class DeploymentFailed(DriftlineError):
    """The endpoint could not be created or updated; an endpoint that was serving keeps its previous model."""


class EndpointBusy(DriftlineError):
    """The endpoint is being created, updated or deleted by something else; the state machine retries later."""


class StagingTestFailed(DriftlineError):
    """The candidate on its staging endpoint answered held-out rows unlike its evaluation, or too slowly or with
    errors under load; it is not put up for approval."""


# Errors that never reach the state machine ------------------------------------------------------------


class MonitoringNotConfigured(ValueError):
    """The function lacks the monitoring settings the template gives it."""


class UnsupportedMonitorSchedule(ValueError):
    """MonitoringScheduleExpression has no Model Monitor equivalent."""


class JobsNotReconciled(RuntimeError):
    """Some waiting jobs could not be checked or resumed in this pass."""


class LinkRefused(Exception):
    """An approval link that must not decide anything; ``status`` is the HTTP status its page answers with."""

    status = 403


class LinkInvalid(LinkRefused):
    """Forged, altered or malformed."""


class LinkExpired(LinkRefused):
    status = 410


# Error names sent with SendTaskFailure -----------------------------------------------------------------

JOB_FAILED_ERROR = SageMakerJobFailed.__name__
"""A waiting job step's failure, sent when the job's state-change event reports it ended Failed or Stopped."""
DEPLOYMENT_FAILED_ERROR = DeploymentFailed.__name__
"""A waiting deployment's failure, sent when the endpoint's update failed or rolled back."""
APPROVAL_REJECTED_ERROR = "ApprovalRejected"
"""The error a rejection fails the waiting approval with; the state machine's Catch routes on it."""
APPROVAL_EXPIRED_ERROR = "ApprovalExpired"
"""What an approval that nobody decided in time is reported as."""
