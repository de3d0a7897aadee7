"""Named domain errors: each class name is the error name Step Functions sees and routes on."""


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
