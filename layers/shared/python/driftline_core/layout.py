"""The one home of Driftline's S3 key layout and resource naming.

Every key, prefix and job name the pipeline writes is built here, so a reader can find where a run's
files live without reading the handlers.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from urllib.parse import unquote, unquote_plus

DATA_PREFIX = "data/"
DATASET_CONFIG_FILE = "dataset.json"
PREPROCESSING_FILE = "preprocessing.json"
"""In the preprocess job's ``metadata`` output (``ml/preprocess.py`` writes it): features, categories, classes."""
UPLOAD_EXTENSIONS = (".csv", ".csv.gz")
"""What a user calls a CSV upload, in any letter case; SageMaker jobs read gzip-compressed CSV as it is."""

_DATASET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?$")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
MAX_EXECUTION_NAME = 50
"""Execution names stay short enough that ``<execution>-<step>`` fits SageMaker's 63-character job names."""


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Return ``(bucket, key)`` for an ``s3://bucket/key`` URI."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI has no bucket: {uri!r}")
    return bucket, key


def dataset_from_key(key: str) -> str | None:
    """Dataset name for an upload key ``data/<dataset>/<file>.csv``, or None when the key is outside that shape."""
    if not key.startswith(DATA_PREFIX):
        return None
    parts = key[len(DATA_PREFIX) :].split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0]


def is_upload_file_name(name: str) -> bool:
    """True for ``.csv`` and ``.csv.gz`` names in any letter case (``JAN.CSV``, ``jan.csv.GZ``)."""
    lowered = name.lower()
    return any(lowered.endswith(extension) and len(lowered) > len(extension) for extension in UPLOAD_EXTENSIONS)


def is_folder_marker(key: str) -> bool:
    """The zero-byte object the S3 console creates for "Create folder" has a key ending in ``/``."""
    return key.endswith("/")


def is_dataset_config_key(key: str) -> bool:
    dataset = dataset_from_key(key)
    return dataset is not None and key == dataset_config_key(dataset)


def key_readings(event_key: str) -> list[str]:
    """The object keys an event's ``object.key`` may stand for, the key as given first.

    How S3 encodes keys in EventBridge events is not settled: its classic notifications URL-encode
    them with ``+`` for a space, while events through EventBridge have been seen with keys as written,
    and with ``%20`` for a space but ``+`` as written. Each reading is a candidate to confirm against
    S3; none is safe to assume.
    """
    readings = [event_key, unquote_plus(event_key), unquote(event_key)]
    return list(dict.fromkeys(readings))


def is_valid_dataset_name(name: str) -> bool:
    """Dataset names become SageMaker resource names: letters, digits and inner hyphens, 40 characters at most."""
    return bool(_DATASET_NAME.match(name))


def dataset_config_key(dataset: str) -> str:
    """Optional per-dataset config in the data bucket, beside the uploads."""
    return f"{DATA_PREFIX}{dataset}/{DATASET_CONFIG_FILE}"


def dataset_schema_key(dataset: str) -> str:
    """Schema kept in the artifact bucket once inferred from a dataset's first accepted file."""
    return f"datasets/{dataset}/schema.json"


def run_prefix(execution_name: str) -> str:
    """Everything one pipeline run writes to the artifact bucket lives under this prefix."""
    return f"runs/{execution_name}/"


def run_config_key(execution_name: str) -> str:
    """The resolved dataset config a run uses, written by Validate and read by every later step."""
    return f"{run_prefix(execution_name)}config.json"


def run_input_key(execution_name: str, file_name: str) -> str:
    """The run's pinned copy of its upload: later uploads to the same key cannot change what this run trains on."""
    return f"{run_prefix(execution_name)}input/{file_name}"


def processing_output_prefix(execution_name: str, step: str, output_name: str) -> str:
    return f"{run_prefix(execution_name)}{step}/{output_name}/"


def training_output_prefix(execution_name: str) -> str:
    """SageMaker appends ``<job>/output/model.tar.gz`` to this path."""
    return f"{run_prefix(execution_name)}train/"


def staging_test_key(execution_name: str) -> str:
    """What TestStaging measured on the candidate's staging endpoint: the smoke and load tests in full."""
    return f"{run_prefix(execution_name)}staging/staging_test.json"


def trial_analysis_prefix(execution_name: str) -> str:
    """Where the A/B trial's analysis job writes ``trial.json`` and ``trial_report.html``."""
    return f"{run_prefix(execution_name)}trial/"


TRIAL_FILE = "trial.json"
"""The trial analysis job's decision and every figure behind it (``ml/trial_analysis.py``)."""
TRIAL_REPORT_FILE = "trial_report.html"
GROUND_TRUTH_PREFIX = "ground-truth/"


def ground_truth_prefix(dataset: str) -> str:
    """Where users upload the labels of an endpoint's captured requests, in the data bucket (outside ``data/``, so
    a label file never starts a run): Model Monitor's JSON lines or CSV files with an ``inference_id`` column."""
    return f"{GROUND_TRUTH_PREFIX}{dataset}/"


def data_capture_prefix(dataset: str) -> str:
    """Where the dataset's endpoint writes captured requests and answers; SageMaker adds ``<endpoint>/<variant>/``."""
    return f"capture/{dataset}/"


ML_CODE_FILES = "src/"
"""Under the published ``ml/`` code's prefix (``code/<version>/``): the scripts, one object per file."""
ML_CODE_TARBALL = "sourcedir.tar.gz"
"""Under the same prefix: the same files as one tarball, for the training job's script mode and the model."""


def ml_code_files_uri(ml_code_uri: str) -> str:
    return f"{ml_code_uri.rstrip('/')}/{ML_CODE_FILES}"


def ml_code_tarball_uri(ml_code_uri: str) -> str:
    return f"{ml_code_uri.rstrip('/')}/{ML_CODE_TARBALL}"


def execution_name_for_object(dataset: str, bucket: str, key: str, version_id: str | None) -> str:
    """Deterministic execution name for one uploaded object version.

    Step Functions refuses a second execution with the same name, so the same object event delivered
    twice starts one run, while a new version of the same key starts a new one.
    """
    digest = hashlib.sha256(f"{bucket}/{key}?{version_id or ''}".encode()).hexdigest()[:12]
    return f"{_safe_name(dataset, MAX_EXECUTION_NAME - 13)}-{digest}"


def job_name(execution_name: str, step: str) -> str:
    """SageMaker job name for a step of a run; deterministic so a retried step never starts a duplicate job."""
    name = f"{_safe_name(execution_name, MAX_EXECUTION_NAME)}-{step}"
    return name[:63].rstrip("-")


def _safe_name(value: str, limit: int) -> str:
    cleaned = _NAME_UNSAFE.sub("-", value).strip("-") or "run"
    return cleaned[:limit].rstrip("-")


# S3 keys of the drift monitor -------------------------------------------------------------------------

MONITORING_PREFIX = "monitoring/"
BASELINE_FILES = ("statistics.json", "constraints.json")
"""What a baseline job writes: Model Monitor's statistics and constraints of the train split."""
VIOLATIONS_FILE = "constraint_violations.json"
"""A monitoring window's verdict, in Model Monitor's format, in the window's output folder."""
DRIFT_REPORT_FILE = "drift_report.html"
METRICS_FILE = "cloudwatch_metrics.json"
"""The metrics a monitor job leaves for StartMonitoring to publish (jobs run without network access)."""


def baseline_prefix(execution_name: str) -> str:
    """The baseline of the model a run trained, beside that run's other artifacts."""
    return f"{run_prefix(execution_name)}baseline/"


def retrain_marker_key(dataset: str) -> str:
    """The dataset's last drift retrain (or no-new-data notice), which the cooldown and the claim read."""
    return f"drift/{dataset}/last-retrain.json"


def held_drift_key(dataset: str) -> str:
    """Drift that found a run of the dataset in progress, kept until such a run ends (``payloads.HeldDrift``)."""
    return f"drift/{dataset}/held-drift.json"


def run_retrain_key(execution_name: str) -> str:
    """What started a drift retrain run: the alarm, the drifted features and the uploads it trains on."""
    return f"{run_prefix(execution_name)}retrain.json"


def drift_reports_prefix(dataset: str) -> str:
    """Where a dataset's monitoring jobs write their outputs in the artifact bucket (``constraint_violations.json``,
    ``drift_report.html``), one folder per window; the retrain reads the newest."""
    return f"{MONITORING_PREFIX}{dataset}/"


def monitoring_output_prefix(dataset: str, endpoint: str, schedule: str, window_end: datetime) -> str:
    """Model Monitor's layout under the dataset's reports: ``<endpoint>/<schedule>/yyyy/mm/dd/hh/``."""
    return f"{drift_reports_prefix(dataset)}{endpoint}/{schedule}/{window_end:%Y/%m/%d/%H}/"


def capture_hour_prefix(dataset: str, endpoint: str, variant: str, hour: datetime) -> str:
    """Where SageMaker writes an hour of an endpoint variant's captured requests."""
    return f"{data_capture_prefix(dataset)}{endpoint}/{variant}/{hour:%Y/%m/%d/%H}/"


# Resource names ---------------------------------------------------------------------------------------
#
# Every name starts with ``<stack>-`` (the stack name is the model package group prefix): the template's IAM
# policies allow ``<stack>-*`` and its EventBridge rules match that prefix. A name too long for its AWS limit is
# shortened so that it keeps the prefix, for every stack name the deploy accepts (``MAX_PREFIX_LENGTH``, checked
# by ``ml/code_publisher.py``) and every dataset name Validate accepts (``is_valid_dataset_name``): see
# ``bounded_name``.

GROUP_NAME_MAX = 63
"""SageMaker's ModelPackageGroupName: ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``."""
SAGEMAKER_NAME_MAX = 63
"""Jobs, models, endpoint configs, job definitions and Model Monitor schedules."""
SCHEDULE_NAME_MAX = 64
"""EventBridge Scheduler schedules."""
ALARM_NAME_MAX = 255
GROUP_HASH_LENGTH = 10
HASH_MARKER = "--"
"""Separates a shortened name from its hash; a dataset name that holds it is itself written hashed."""
NAME_HASH_LENGTH = 8
COMPACT_HASH_LENGTH = 12
"""Base-36 digits of a compact name's hash at most (62 bits): years of a busy stack's monitor jobs stay apart."""
MIN_COMPACT_HASH_LENGTH = 8
"""Base-36 digits (41 bits) a compact name keeps at least, so that no two of a stack's endpoints share its names."""
MAX_MODEL_VERSION = 999_999_999
"""Model package versions have at most 9 digits (the ModelPackageName pattern)."""
_VERSION_SUFFIX_ROOM = len("-v") + len(str(MAX_MODEL_VERSION))
MAX_PREFIX_LENGTH = SAGEMAKER_NAME_MAX - len("-") - len("-") - MIN_COMPACT_HASH_LENGTH - _VERSION_SUFFIX_ROOM
"""The longest stack name, 42 characters: ``<stack>-``, ``-``, 8 base-36 digits of a hash of the endpoint's name and
``-v`` with a 9-digit version fill a 63-character model name. A longer stack name would leave a long dataset's
models too few characters to tell them from another dataset's. CloudFormation's Rules cannot measure the stack
name, so ``ml/code_publisher.check_stack_name`` refuses a longer one at deploy."""
LONGEST_STACK_PREFIX = MAX_PREFIX_LENGTH + 1
"""``<stack>-`` of the longest accepted stack name: the first this many characters of any name hold the prefix."""
_PREFIX = re.compile(r"^[a-z][a-z0-9-]*$")


def stack_prefix(stack: str) -> str:
    """``<stack>-``, what every resource name of the stack starts with and its IAM policies and EventBridge rules
    match; a stack name the deploy refuses (``ml/code_publisher.check_stack_name``) is refused here too."""
    if not _PREFIX.match(stack) or len(stack) > MAX_PREFIX_LENGTH:
        raise ValueError(
            f"The model package group prefix {stack!r} (the stack name) must be lowercase letters, digits and "
            f"hyphens, start with a letter and be at most {MAX_PREFIX_LENGTH} characters long; deploy the stack "
            "under such a name."
        )
    return f"{stack}-"


def model_package_group_name(prefix: str, dataset: str) -> str:
    """The dataset's Model Registry group: ``<prefix>-<dataset>``, lowercase, unique per dataset name.

    SageMaker writes names into ARNs in lowercase and the registry permissions match ``<prefix>-*``, so
    every name is lowercase and starts with the prefix. A dataset name that is not already lowercase, holds
    ``--`` or does not fit is written as a readable lowercase start, ``--`` and a 40-bit hash of the full
    name. A hashed name never equals a plain one (only hashed names contain ``--`` after the prefix), so
    two dataset names share a group only if their SHA-256 digests share their first 10 hex digits.
    """
    stack_prefix(prefix)
    room = GROUP_NAME_MAX - len(prefix) - 1
    if dataset == dataset.lower() and HASH_MARKER not in dataset and len(dataset) <= room:
        return f"{prefix}-{dataset}"
    digest = hashlib.sha256(dataset.encode()).hexdigest()[:GROUP_HASH_LENGTH]
    readable = dataset.lower()[: room - len(HASH_MARKER) - GROUP_HASH_LENGTH].rstrip("-")
    return f"{prefix}-{readable}{HASH_MARKER}{digest}"


SCHEDULE_GROUP = "default"
VARIANT_NAME = "AllTraffic"
"""The one production variant; blue/green updates need the new configuration to keep the variant's name."""
_VERSION_SUFFIX = re.compile(r"-v([1-9][0-9]{0,8})$")
ALARM_INFIX = "-drift-"

# What a compact name (``bounded_name``'s last resort, under a long stack name) ends with in place of its tail.
MONITOR_JOB_MARK = "-m"
MERGE_JOB_MARK = "-mm"
BASELINE_JOB_MARK = "-b"
JOB_DEFINITION_MARK = "-dq"
SCHEDULE_MARK = "-dm"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def bounded_name(base: str, tail: str, limit: int, *, keep: str, short_tail: str) -> str:
    """``base`` + ``tail`` within ``limit`` characters, still starting with ``keep`` (the ``<stack>-`` prefix).

    A name that does not fit becomes ``base``'s start, ``--``, 8 hex digits of a hash of ``base`` and ``tail``
    when that start still holds ``keep`` (names were always shortened so, and one that kept the prefix keeps
    its name). Otherwise (a long stack name leaves no room for ``tail``) it is compact: ``keep``, ``-``, up to 12
    base-36 digits of a hash of ``base`` and of the part of ``tail`` that ``short_tail`` leaves out, then
    ``short_tail`` (a mark such as ``MONITOR_JOB_MARK``, or a version kept whole). Compact names are lowercase like
    ``keep`` and never take another's name: a mark ends no tail, and where the version is kept a hyphen follows
    ``<stack>-``, where a whole name has its dataset's first letter or digit (for one tail, the stack name alone
    decides whether shortening with ``--`` keeps the prefix, so a stack never has both kinds).
    """
    shortened = _shortened_name(base, tail, limit, keep)
    if shortened is not None:
        return shortened
    return _compact_name(keep, base if short_tail == tail else base + tail, short_tail, limit)


def _shortened_name(base: str, tail: str, limit: int, keep: str) -> str | None:
    """``base`` + ``tail``, or its start, ``--``, a hash and ``tail``: None when neither fits and keeps ``keep``."""
    if not base.startswith(keep):
        raise ValueError(f"the name {base!r} does not start with {keep!r}, the prefix its permissions match")
    if len(base) + len(tail) <= limit:
        return base + tail
    digest = hashlib.sha256(base.encode()).hexdigest()[:NAME_HASH_LENGTH]
    room = limit - len(tail) - len(digest) - len(HASH_MARKER)
    shortened = f"{base[:room].rstrip('-')}{HASH_MARKER}{digest}{tail}"
    return shortened if room > 0 and shortened.startswith(keep) else None


def _compact_name(keep: str, stands_for: str, short_tail: str, limit: int) -> str:
    length = min(COMPACT_HASH_LENGTH, limit - len(keep) - 1 - len(short_tail))
    if length < MIN_COMPACT_HASH_LENGTH:
        raise ValueError(
            f"a name of at most {limit} characters that starts with {keep!r} and ends with {short_tail!r} has no "
            f"room for the {MIN_COMPACT_HASH_LENGTH} characters of hash that keep it unique"
        )
    return f"{keep}-{_digest36(stands_for, length)}{short_tail}"


def _digest36(text: str, length: int) -> str:
    """``length`` base-36 digits of the text's SHA-256, least significant first: a shorter digest of the same text
    is a prefix of a longer one."""
    number = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    digits = []
    for _ in range(length):
        number, digit = divmod(number, len(_BASE36))
        digits.append(_BASE36[digit])
    return "".join(digits)


def _endpoint_start(endpoint: str) -> str:
    """The endpoint name's first characters that hold ``<stack>-`` whatever the (accepted) stack name is."""
    return endpoint[:LONGEST_STACK_PREFIX]


def endpoint_name(prefix: str, dataset: str) -> str:
    """The dataset's endpoint: the same name as its Model Registry group (``<stack>-<dataset>``).

    Group names are already unique per dataset, lowercase, at most 63 characters and of SageMaker's
    name pattern, and endpoint names follow the same rules.
    """
    return model_package_group_name(prefix, dataset)


def versioned_name_base(endpoint: str, *, stack: str) -> str:
    """What every model and endpoint config name of this endpoint starts with (``versioned_name``).

    The endpoint's name when ``-v`` and nine digits still fit in 63 characters; else its start, ``--`` and a hash
    of the whole name when that start keeps ``<stack>-``; else (under the longest stack names)
    ``<stack>--`` and the first base-36 digits of a hash of the endpoint's name, which ``versioned_name`` extends
    as far as the version's digits leave room.
    """
    keep = stack_prefix(stack)
    limit = GROUP_NAME_MAX - _VERSION_SUFFIX_ROOM
    return _shortened_name(endpoint, "", limit, keep) or _compact_name(keep, endpoint, "", limit)


def versioned_name(endpoint: str, version: int, *, stack: str) -> str:
    """The Model and the EndpointConfig of one model package version share this name: ``<base>-v<version>``."""
    if not 0 < version <= MAX_MODEL_VERSION:
        raise ValueError(f"model package versions run from 1 to {MAX_MODEL_VERSION}, not {version}")
    keep = stack_prefix(stack)
    suffix = f"-v{version}"
    base = _shortened_name(endpoint, "", GROUP_NAME_MAX - _VERSION_SUFFIX_ROOM, keep)
    return f"{base}{suffix}" if base is not None else _compact_name(keep, endpoint, suffix, GROUP_NAME_MAX)


def versioned_name_version(endpoint: str, name: str, *, stack: str) -> int | None:
    """The model package version a model or endpoint config name of this endpoint is for; None for other names."""
    match = _VERSION_SUFFIX.search(name)
    if match is None:
        return None
    version = int(match.group(1))
    return version if versioned_name(endpoint, version, stack=stack) == name else None


STAGING_MARK = "-s"


def staging_endpoint_name(endpoint: str, version: int, *, stack: str) -> str:
    """A candidate's staging endpoint, and its endpoint config: ``<endpoint>--staging-v<version>``.

    One per model version, so two runs of a dataset never test on the same endpoint.
    """
    return _stage_of_version(endpoint, "staging", STAGING_MARK, version, stack=stack)


TRIAL_MARK = "-t"
CHALLENGER_VARIANT_PREFIX = "Challenger-v"


def trial_config_name(endpoint: str, version: int, *, stack: str) -> str:
    """An A/B trial's endpoint config: a model version beside the serving one, ``<endpoint>--trial-v<version>``."""
    return _stage_of_version(endpoint, "trial", TRIAL_MARK, version, stack=stack)


def _stage_of_version(endpoint: str, stage: str, mark: str, version: int, *, stack: str) -> str:
    """``<endpoint>--<stage>-v<version>`` (compact: ``<stack>--<hash><mark><version>``). ``--`` followed by no hash is a
    form no dataset's endpoint, model or versioned config has (their ``--`` is always followed by hex digits)."""
    if not 0 < version <= MAX_MODEL_VERSION:
        raise ValueError(f"model package versions run from 1 to {MAX_MODEL_VERSION}, not {version}")
    return bounded_name(
        endpoint, f"--{stage}-v{version}", SAGEMAKER_NAME_MAX, keep=stack_prefix(stack), short_tail=f"{mark}{version}"
    )


def challenger_variant_name(version: int) -> str:
    """A trial's challenger variant, named after its model version so its captures never mix with another trial's."""
    return f"{CHALLENGER_VARIANT_PREFIX}{version}"


def alarm_names(endpoint: str) -> list[str]:
    """The rollback alarms of an endpoint; their names start with the stack prefix the IAM policy allows."""
    return [f"{endpoint}-invocation-5xx-errors", f"{endpoint}-model-latency-p99"]


def scaling_resource_id(endpoint: str) -> str:
    return f"endpoint/{endpoint}/variant/{VARIANT_NAME}"


def schedule_name(endpoint: str, *, stack: str) -> str:
    """The endpoint's drift schedule in EventBridge Scheduler, named after it (so the stack prefix stays)."""
    return bounded_name(
        endpoint, "-drift-monitor", SCHEDULE_NAME_MAX, keep=stack_prefix(stack), short_tail=SCHEDULE_MARK
    )


def monitoring_schedule_name(endpoint: str, *, stack: str) -> str:
    """The endpoint's Model Monitor schedule: named like Driftline's (the alarm's MonitoringSchedule dimension)."""
    return bounded_name(
        endpoint, "-drift-monitor", SAGEMAKER_NAME_MAX, keep=stack_prefix(stack), short_tail=SCHEDULE_MARK
    )


def monitor_job_name(endpoint: str, window_end: datetime) -> str:
    """One monitor job per endpoint and window: a repeated firing for the same window finds its job.

    Named from the endpoint alone (the monitor's request and the job's environment carry it, not the stack), so a
    name too long for the window's tail keeps the endpoint's first 50 characters, which hold ``<stack>-``.
    """
    tail = f"-monitor-{window_end:%Y%m%d%H%M}"
    return bounded_name(endpoint, tail, SAGEMAKER_NAME_MAX, keep=_endpoint_start(endpoint), short_tail=MONITOR_JOB_MARK)


def merge_job_name(endpoint: str, window_end: datetime) -> str:
    """The merge job of a window analysed on several instances: the window's monitor job name plus ``-merge``."""
    tail = f"-monitor-{window_end:%Y%m%d%H%M}-merge"
    return bounded_name(endpoint, tail, SAGEMAKER_NAME_MAX, keep=_endpoint_start(endpoint), short_tail=MERGE_JOB_MARK)


def baseline_job_name(endpoint: str, version: int, *, stack: str) -> str:
    return bounded_name(
        endpoint, f"-baseline-v{version}", SAGEMAKER_NAME_MAX, keep=stack_prefix(stack), short_tail=BASELINE_JOB_MARK
    )


def job_definition_name(endpoint: str, version: int, *, stack: str) -> str:
    """One Model Monitor data-quality job definition per served model version: a definition cannot be changed."""
    return bounded_name(
        endpoint,
        f"-data-quality-v{version}",
        SAGEMAKER_NAME_MAX,
        keep=stack_prefix(stack),
        short_tail=JOB_DEFINITION_MARK,
    )


def drift_alarm_prefix(stack: str) -> str:
    return f"{stack}{ALARM_INFIX}"


def drift_alarm_name(stack: str, dataset: str) -> str:
    """``<stack>-drift-<dataset>``: the stack's EventBridge rule matches the prefix, the retrain reads the dataset."""
    name = f"{drift_alarm_prefix(stack)}{dataset}"
    if len(name) > ALARM_NAME_MAX:
        raise ValueError(f"the drift alarm name {name!r} is longer than CloudWatch's {ALARM_NAME_MAX} characters")
    return name


def dataset_from_alarm_name(stack: str, alarm_name: str) -> str | None:
    """The dataset a drift alarm of this stack watches, or None for any other alarm."""
    prefix = drift_alarm_prefix(stack)
    if not alarm_name.startswith(prefix) or len(alarm_name) == len(prefix):
        return None
    return alarm_name[len(prefix) :]
