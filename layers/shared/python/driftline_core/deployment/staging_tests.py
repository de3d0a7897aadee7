"""TestStaging: the candidate on its staging endpoint answers as its evaluation did, and keeps up under load.

Smoke test: the run's held-out rows (``test_features.csv``, the preprocess job's ``test`` output, as uploaded) go
to the staging endpoint through SageMaker Runtime's InvokeEndpoint as ``text/csv``, a batch of rows per request,
and each answer (``Accept: text/csv``) is compared with the evaluation job's answer for that row (its
``predictions.csv``, written by the serving code itself). A classifier's label must be the same text; every number
(its class probabilities, a regressor's value) must agree within a relative tolerance of 1e-9: the same model on
the same rows, so only arithmetic done in another order for another batch size may differ. A request that fails
counts every row it carried as answered wrongly.

Load test: one row per request, at a steady rate for a while, on an open-loop schedule: each request leaves at
its planned time from a small pool of threads, so a slow answer never holds the next request back (a closed loop
would slow down with the endpoint and hide it). Latency is client-side, from a request's planned time to its whole
answer, so a request that waited for a free thread counts that wait. It passes with no failed request and a p99 at
or under the limit.

Both results go to ``runs/<execution>/staging/staging_test.json``. ``raise_if_failed`` then raises
``StagingTestFailed``, whose message says which test failed and with which figures; the state machine catches it
by name. The tests fit in the function's time: the load test's length is fixed, so the smoke test gets what is
left and stops sending when that runs out, and answers still out when the load test ends get a bounded wait.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from driftline_core import layout
from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, error_message, is_missing_object
from driftline_core.aws.s3io import read_json, write_json
from driftline_core.errors import StagingTestFailed
from driftline_core.ingest.csv_stream import READ_CHUNK_BYTES, split_lines
from driftline_core.layout import PREPROCESSING_FILE
from driftline_core.notifications.serving_example import held_out_feature_files
from driftline_core.payloads import LoadTestResult, SmokeTestResult, StagingTestInput, StagingTestResult
from driftline_core.settings import Settings, StagingSettings, forgotten_on_reset
from driftline_core.training.job_requests import EVALUATION_OUTPUT

PREDICTIONS_FILE = "predictions.csv"
"""In the evaluation job's ``evaluation`` output: the endpoint's ``text/csv`` answer to each held-out row, in order."""
TEST_OUTPUT = "test"
"""The preprocess job's output holding ``test_features.csv`` (or its parts)."""
METADATA_OUTPUT = "metadata"
"""The preprocess job's output holding ``preprocessing.json``, which lists the parts."""
CSV = "text/csv"

SMOKE_BATCH_ROWS = 200
"""Rows per smoke test request: few requests, each small next to the endpoint's 60 s to answer."""
SMOKE_BATCH_BYTES = 5 * 1024 * 1024
"""A batch's body stays under this: InvokeEndpoint's ``Body`` is at most 6 MB (6,291,456 bytes)."""
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12
"""Numbers in an answer agree within these (``math.isclose``); the absolute one is for probabilities near zero."""
EXAMPLES = 3
"""Mismatches or errors shown in the payload and the failure message; the report keeps up to ``REPORT_DETAILS``."""
REPORT_DETAILS = 100
SHOWN_CHARACTERS = 80
"""An answer longer than this is cut in a readable line (a classifier with many classes)."""

SMOKE_READ_TIMEOUT_SECONDS = 60
"""SageMaker gives a real-time endpoint's container 60 s to answer an invocation."""
MIN_SMOKE_SECONDS = 10.0
REPORT_RESERVE_SECONDS = 10.0
"""Kept back from the function's time for writing the report and returning."""
MAX_LOAD_WORKERS = 64
LOAD_CONNECT_TIMEOUT_SECONDS = 5


class RequestFailed(Exception):
    """A request the endpoint did not answer: an AWS error, a connection or read failure; the message says which."""


# What is sent and what is expected ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldOutRow:
    number: int
    """1 for the first data row of ``test_features.csv``."""
    body: str
    """The row as ``text/csv``, without a line break."""
    expected: tuple[str, ...]
    """The evaluation's answer for the row: its ``predictions.csv`` line, split into fields."""


def csv_line(values: Sequence[str]) -> str:
    """One row as a client sends it; a lone empty value is written ``""`` (a blank line would be no row at all)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()[:-1]


def answer_rows(text: str) -> list[list[str]]:
    """The rows of a ``text/csv`` answer, one per row sent (labels holding a comma come quoted)."""
    return [row for row in csv.reader(io.StringIO(text, newline="")) if row]


def answers_agree(answer: Sequence[str], expected: Sequence[str]) -> bool:
    """A classifier's ``label,p1,...``: the label exactly, then each probability; a regressor's value as a number."""
    if len(answer) != len(expected):
        return False
    if len(expected) > 1 and answer[0] != expected[0]:
        return False
    numbers = range(len(expected)) if len(expected) == 1 else range(1, len(expected))
    return all(_numbers_agree(answer[i], expected[i]) for i in numbers)


def _numbers_agree(answer: str, expected: str) -> bool:
    try:
        return math.isclose(float(answer), float(expected), rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    except ValueError:
        return answer == expected


def describe_difference(row: int, answer: Sequence[str], expected: Sequence[str]) -> str:
    """``row 17: endpoint said 'b', evaluation 'a'``: the labels when they differ, else the whole answers."""
    if len(answer) > 1 and len(expected) > 1 and answer[0] != expected[0]:
        said, wanted = answer[0], expected[0]
    else:
        said, wanted = ",".join(answer), ",".join(expected)
    return f"row {row}: endpoint said {_shown(said)!r}, evaluation {_shown(wanted)!r}"


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[: SHOWN_CHARACTERS - 3]}..."


def batches(rows: Sequence[HeldOutRow], max_rows: int, max_bytes: int) -> Iterator[list[HeldOutRow]]:
    """Consecutive rows, at most ``max_rows`` and ``max_bytes`` of body a batch (a row over the limit goes alone)."""
    batch: list[HeldOutRow] = []
    size = 0
    for row in rows:
        row_bytes = len(row.body.encode("utf-8")) + 1
        if batch and (len(batch) == max_rows or size + row_bytes > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row_bytes
    if batch:
        yield batch


def request_body(batch: Sequence[HeldOutRow]) -> str:
    return "".join(f"{row.body}\n" for row in batch)


def row_range(batch: Sequence[HeldOutRow]) -> str:
    first, last = batch[0].number, batch[-1].number
    return f"row {first}" if first == last else f"rows {first}-{last}"


def percentile(values: Sequence[float], percent: float) -> float:
    """Nearest rank: the smallest value that ``percent`` % of the values are at or under (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


# The smoke test -----------------------------------------------------------------------------------------------


@dataclass
class SmokeOutcome:
    rows: int = 0
    mismatches: int = 0
    unanswered: int = 0
    requests: int = 0
    examples: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    """Each mismatch (row, both answers) and each failed request (rows, error), up to ``REPORT_DETAILS``."""

    def note(self, example: str, detail: dict[str, Any]) -> None:
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)
        if len(self.details) < REPORT_DETAILS:
            self.details.append(detail)

    @property
    def passed(self) -> bool:
        return self.rows > 0 and self.mismatches == 0


def run_smoke_test(
    rows: Sequence[HeldOutRow],
    send_batch: Callable[[str], str],
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> SmokeOutcome:
    """Send the rows in batches through ``send_batch`` (body in, ``text/csv`` answer out) and compare the answers.

    A batch still unanswered at ``deadline`` (a ``clock`` reading) and every batch after it count as unanswered.
    """
    outcome = SmokeOutcome(rows=len(rows))
    pending = list(batches(rows, SMOKE_BATCH_ROWS, SMOKE_BATCH_BYTES))
    sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smoke-test")
    try:
        for index, batch in enumerate(pending):
            left = deadline - clock()
            if left <= 0:
                _out_of_time(outcome, [row for later in pending[index:] for row in later])
                break
            outcome.requests += 1
            future = sender.submit(send_batch, request_body(batch))
            done, _ = wait([future], timeout=left)
            if not done:
                _out_of_time(outcome, [row for later in pending[index:] for row in later])
                break
            try:
                answers = answer_rows(future.result())
            except RequestFailed as error:
                _unanswered(outcome, batch, f"{row_range(batch)} got no answer ({error})")
                continue
            if len(answers) != len(batch):
                _unanswered(outcome, batch, f"{row_range(batch)} got {len(answers)} answer lines for {len(batch)} rows")
                continue
            for row, answer in zip(batch, answers, strict=True):
                if not answers_agree(answer, row.expected):
                    outcome.mismatches += 1
                    outcome.note(
                        describe_difference(row.number, answer, row.expected),
                        {"row": row.number, "endpoint": ",".join(answer), "evaluation": ",".join(row.expected)},
                    )
    finally:
        sender.shutdown(wait=False, cancel_futures=True)
    return outcome


def _unanswered(outcome: SmokeOutcome, batch: Sequence[HeldOutRow], reason: str) -> None:
    outcome.mismatches += len(batch)
    outcome.unanswered += len(batch)
    outcome.note(reason, {"rows": row_range(batch), "error": reason})


def _out_of_time(outcome: SmokeOutcome, rows: Sequence[HeldOutRow]) -> None:
    _unanswered(
        outcome,
        rows,
        f"{row_range(rows)} got no answer before the smoke test's time ran out (the function's Timeout leaves the "
        "smoke test what the load test does not use)",
    )


# The load test ------------------------------------------------------------------------------------------------


@dataclass
class LoadOutcome:
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    sending_seconds: float = 0.0
    """From the first planned request to the last one sent."""

    def failed(self, reason: str) -> None:
        self.errors += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(reason)


def load_test_workers(requests_per_second: float, max_p99_milliseconds: float) -> int:
    """Enough threads for the requests in flight while each answers within the limit (rate x limit), and a spare."""
    return min(MAX_LOAD_WORKERS, max(2, math.ceil(requests_per_second * max_p99_milliseconds / 1000) + 1))


def run_load_test(
    bodies: Sequence[str],
    send_one: Callable[[str], object],
    *,
    requests_per_second: float,
    seconds: float,
    workers: int,
    drain_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadOutcome:
    """Send ``bodies`` in turn (cycling) at ``requests_per_second`` for ``seconds``, one per planned time.

    Nothing is sent after ``seconds``; answers still out then get ``drain_seconds`` more, and count as errors after.
    """
    outcome = LoadOutcome()
    if not bodies:
        return outcome
    interval = 1.0 / requests_per_second
    planned = max(1, round(requests_per_second * seconds))

    def timed(body: str, due: float) -> float:
        send_one(body)
        return (clock() - due) * 1000

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load-test")
    futures: list[Future[float]] = []
    try:
        start = clock()
        end = start + seconds
        for index in range(planned):
            due = start + index * interval
            ahead = due - clock()
            if ahead > 0:
                sleep(ahead)
            if clock() >= end:
                break  # a schedule that fell behind stops at the end rather than crowding its last requests
            futures.append(pool.submit(timed, bodies[index % len(bodies)], due))
        outcome.sending_seconds = clock() - start
        done, not_done = wait(futures, timeout=max(0.0, end - clock()) + drain_seconds)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    outcome.requests = len(futures)
    for future in futures:
        if future not in done:
            continue
        error = future.exception()
        if error is None:
            outcome.latencies_ms.append(future.result())
        elif isinstance(error, RequestFailed):
            outcome.failed(str(error))
        else:
            raise error
    for _ in not_done:
        outcome.failed(f"no answer within {drain_seconds:g} s after the load test ended")
    return outcome


# SageMaker Runtime --------------------------------------------------------------------------------------------


@forgotten_on_reset
def runtime_client(read_timeout: int, attempts: int, pool_size: int) -> Any:
    """A SageMaker Runtime client of its own: its timeouts, retries and connection pool are the tests' to set."""
    config = Config(
        connect_timeout=LOAD_CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
        max_pool_connections=pool_size,
    )
    return boto3.client("sagemaker-runtime", config=config)


def endpoint_sender(client: Any, endpoint_name: str) -> Callable[[str], str]:
    """Send a ``text/csv`` body to the endpoint and return its ``text/csv`` answer; ``RequestFailed`` says why not."""

    def send(body: str) -> str:
        try:
            response = client.invoke_endpoint(
                EndpointName=endpoint_name, Body=body.encode("utf-8"), ContentType=CSV, Accept=CSV
            )
            return str(response["Body"].read().decode("utf-8", errors="replace"))
        except ClientError as error:
            raise RequestFailed(_one_line(describe_client_error(error))) from error
        except BotoCoreError as error:
            raise RequestFailed(_one_line(f"{type(error).__name__}: {error}")) from error

    return send


def describe_client_error(error: ClientError) -> str:
    """``ModelError: the model answered 400: <its message>`` for the model's own refusals (its serving code's JSON
    error body read for its message); the code and message SageMaker Runtime gives otherwise."""
    status, original = error.response.get("OriginalStatusCode"), error.response.get("OriginalMessage")
    if error_code(error) != "ModelError" or status is None or not isinstance(original, str):
        return f"{error_code(error)}: {error_message(error)}"
    try:
        body = json.loads(original)
    except ValueError:
        body = None
    said = body["message"] if isinstance(body, dict) and isinstance(body.get("message"), str) else original
    return f"ModelError: the model answered {status}: {said}"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def load_read_timeout(max_p99_milliseconds: float) -> int:
    """A load test request slower than ten times the p99 limit (5 to 60 s) counts as failed rather than waited for."""
    return int(min(SMOKE_READ_TIMEOUT_SECONDS, max(5, math.ceil(10 * max_p99_milliseconds / 1000))))


# The run's files ----------------------------------------------------------------------------------------------


def output_file_uri(outputs: dict[str, str], output: str, file_name: str, step: str) -> str:
    prefix = outputs.get(output)
    if not prefix:
        raise ValueError(
            f"The {step} job reported no {output!r} output, so TestStaging has no {file_name} to read; run the "
            "pipeline again."
        )
    return f"{prefix.rstrip('/')}/{file_name}"


def held_out_uris(outputs: dict[str, str]) -> list[str]:
    """The preprocess job's files of held-out rows as uploaded, in order (``preprocessing.json`` lists the parts
    several preprocessing instances wrote)."""
    metadata_uri = output_file_uri(outputs, METADATA_OUTPUT, PREPROCESSING_FILE, "preprocess")
    try:
        preprocessing = read_json(metadata_uri)
    except (ClientError, ValueError) as error:
        code = f"{error_code(error)}: {error_message(error)}" if isinstance(error, ClientError) else str(error)
        raise ValueError(
            f"TestStaging cannot read {metadata_uri} ({code}); run the pipeline "
            "again, and check the function's s3:GetObject permission on the run's files."
        ) from error
    return [output_file_uri(outputs, TEST_OUTPUT, name, "preprocess") for name in held_out_feature_files(preprocessing)]


def read_held_out_rows(test_features_uris: list[str], predictions_uri: str, limit: int) -> list[HeldOutRow]:
    """The first ``limit`` held-out rows (the test rows as uploaded: one file, or the parts several preprocessing
    instances wrote, in order), each with the evaluation's answer for it, read as they stream from S3."""
    first = test_features_uris[0]
    rows: list[HeldOutRow] = []
    header: list[str] | None = None
    with closing(_s3_body(predictions_uri)) as predictions:
        answers = csv.reader(_text_lines(predictions, predictions_uri))
        for uri in test_features_uris:
            with closing(_s3_body(uri)) as features:
                feature_rows = csv.reader(_text_lines(features, uri))
                part_header = next(feature_rows, None)
                if not part_header:
                    raise ValueError(f"{uri} is empty; run the pipeline again so preprocessing writes it.")
                if header is not None and part_header != header:
                    raise ValueError(f"{uri} has other columns than {first}; run the pipeline again.")
                header = part_header
                for values in feature_rows:
                    if len(rows) == limit:
                        return rows
                    expected = next(answers, None)
                    if expected is None:
                        raise _different_lengths(first, predictions_uri)
                    if not values and len(header) == 1:
                        values = [""]  # a lone feature's missing value is an empty line
                    if len(values) != len(header):
                        raise ValueError(
                            f"{uri} row {len(rows) + 1} has {len(values)} values under a header of "
                            f"{len(header)} columns; run the pipeline again."
                        )
                    rows.append(HeldOutRow(len(rows) + 1, csv_line(values), tuple(expected)))
        if next(answers, None) is not None:
            raise _different_lengths(first, predictions_uri)
        return rows


def _different_lengths(test_features_uri: str, predictions_uri: str) -> ValueError:
    return ValueError(
        f"{predictions_uri} and {test_features_uri} do not hold the same number of rows (the evaluation job writes "
        "one answer per held-out row); run the pipeline again."
    )


def _s3_body(uri: str) -> Any:
    bucket, key = layout.split_s3_uri(uri)
    try:
        return get_client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as error:
        hint = (
            "it is missing (an evaluation from before staging tests writes no predictions.csv) or TestStaging may "
            "not read it"
            if is_missing_object(error)
            else "S3 refused the read"
        )
        raise ValueError(
            f"TestStaging cannot read {uri} ({error_code(error)}: {error_message(error)}): {hint}; run the pipeline "
            "again, and check the function's s3:GetObject permission on the run's files."
        ) from error


def _text_lines(body: Any, uri: str) -> Iterable[str]:
    """The object's lines with their endings (what the csv module needs for quoted line breaks), in bounded memory:
    ``split_lines`` refuses a line past ``MAX_ROW_BYTES`` as it grows, in time linear in the object's size."""
    return codecs.iterdecode(split_lines(body.iter_chunks(READ_CHUNK_BYTES), uri), "utf-8")


# The step -----------------------------------------------------------------------------------------------------


def run_staging_tests(
    step: StagingTestInput,
    settings: Settings,
    staging: StagingSettings,
    *,
    seconds_left: float,
    clock: Callable[[], float] = time.monotonic,
) -> StagingTestResult:
    """Run both tests on the staging endpoint within ``seconds_left`` and write the report; never raises for a test
    that failed (``raise_if_failed`` does, once the caller has logged the figures)."""
    started = clock()
    endpoint = step.staging.endpoint_name
    read_timeout = load_read_timeout(staging.staging_max_p99_milliseconds)
    drain_seconds = float(read_timeout + LOAD_CONNECT_TIMEOUT_SECONDS + 1)
    smoke_seconds = seconds_left - staging.staging_load_test_seconds - drain_seconds - REPORT_RESERVE_SECONDS
    if smoke_seconds < MIN_SMOKE_SECONDS:
        needed = math.ceil(seconds_left - smoke_seconds + MIN_SMOKE_SECONDS)
        raise ValueError(
            f"TestStaging has {seconds_left:.0f} s before its timeout but needs at least {needed} s: its load test "
            f"runs {staging.staging_load_test_seconds} s, answers still out then get {drain_seconds:.0f} s, the smoke "
            f"test at least {MIN_SMOKE_SECONDS:.0f} s and the report {REPORT_RESERVE_SECONDS:.0f} s. Give the "
            "TestStaging function a longer Timeout, or lower StagingLoadTestSeconds."
        )
    test_features_uris = held_out_uris(step.preprocess.outputs)
    test_features_uri = test_features_uris[0]
    predictions_uri = output_file_uri(step.evaluation.outputs, EVALUATION_OUTPUT, PREDICTIONS_FILE, "evaluation")
    rows = read_held_out_rows(test_features_uris, predictions_uri, staging.staging_smoke_test_max_rows)

    smoke_client = runtime_client(SMOKE_READ_TIMEOUT_SECONDS, 2, 1)
    smoke = run_smoke_test(rows, endpoint_sender(smoke_client, endpoint), deadline=started + smoke_seconds, clock=clock)

    rate, seconds = staging.staging_load_test_requests_per_second, staging.staging_load_test_seconds
    workers = load_test_workers(rate, staging.staging_max_p99_milliseconds)
    load_client = runtime_client(read_timeout, 1, workers)
    load = run_load_test(
        [row.body for row in rows],
        endpoint_sender(load_client, endpoint),
        requests_per_second=rate,
        seconds=seconds,
        workers=workers,
        drain_seconds=drain_seconds,
        clock=clock,
    )
    result = staging_test_result(step, settings, smoke, load, staging)
    write_json(
        settings.artifact_bucket,
        layout.staging_test_key(step.execution_name),
        report_document(step, result, smoke, load, test_features_uri, predictions_uri, workers, read_timeout),
    )
    return result


def staging_test_result(
    step: StagingTestInput, settings: Settings, smoke: SmokeOutcome, load: LoadOutcome, staging: StagingSettings
) -> StagingTestResult:
    p99 = percentile(load.latencies_ms, 99)
    limit = float(staging.staging_max_p99_milliseconds)
    return StagingTestResult(
        endpoint_name=step.staging.endpoint_name,
        smoke=SmokeTestResult(
            rows=smoke.rows,
            mismatches=smoke.mismatches,
            unanswered=smoke.unanswered,
            passed=smoke.passed,
            examples=smoke.examples,
        ),
        load=LoadTestResult(
            requests_per_second=staging.staging_load_test_requests_per_second,
            seconds=staging.staging_load_test_seconds,
            requests=load.requests,
            errors=load.errors,
            p50_milliseconds=round(percentile(load.latencies_ms, 50), 1),
            p99_milliseconds=round(p99, 1),
            max_p99_milliseconds=limit,
            passed=load.requests > 0 and load.errors == 0 and p99 <= limit,
            examples=load.examples,
        ),
        report_uri=layout.s3_uri(settings.artifact_bucket, layout.staging_test_key(step.execution_name)),
    )


def report_document(
    step: StagingTestInput,
    result: StagingTestResult,
    smoke: SmokeOutcome,
    load: LoadOutcome,
    test_features_uri: str,
    predictions_uri: str,
    workers: int,
    read_timeout: int,
) -> dict[str, Any]:
    """``staging_test.json``: both results, how they were measured, and every mismatch and error up to a hundred."""
    latencies = load.latencies_ms
    return {
        "execution_id": step.execution_id,
        "endpoint_name": result.endpoint_name,
        "endpoint_arn": step.staging.endpoint_arn,
        "model_package_arn": step.staging.model_package_arn,
        "passed": result.smoke.passed and result.load.passed,
        "failure": failure_message(result),
        "smoke_test": {
            **result.smoke.model_dump(mode="json"),
            "test_features_uri": test_features_uri,
            "predictions_uri": predictions_uri,
            "requests": smoke.requests,
            "rows_per_request": SMOKE_BATCH_ROWS,
            "relative_tolerance": RELATIVE_TOLERANCE,
            "absolute_tolerance": ABSOLUTE_TOLERANCE,
            "details": smoke.details,
        },
        "load_test": {
            **result.load.model_dump(mode="json"),
            "answered": len(latencies),
            "sending_seconds": round(load.sending_seconds, 3),
            "p90_milliseconds": round(percentile(latencies, 90), 1),
            "max_milliseconds": round(max(latencies, default=0.0), 1),
            "latency": "client-side, from each request's planned time to its whole answer; percentiles by nearest rank",
            "threads": workers,
            "read_timeout_seconds": read_timeout,
        },
    }


# The verdict --------------------------------------------------------------------------------------------------


def smoke_failure(endpoint: str, smoke: SmokeTestResult) -> str | None:
    if smoke.passed:
        return None
    if smoke.rows == 0:
        return f"Smoke test on endpoint {endpoint}: the run has no held-out rows to send"
    differing = smoke.mismatches - smoke.unanswered
    parts = []
    if differing:
        parts.append(f"{differing} of {smoke.rows} held-out rows answered differently from the evaluation")
    if smoke.unanswered:
        parts.append(f"{smoke.unanswered} of {smoke.rows} held-out rows got no answer")
    shown = f" ({'; '.join(smoke.examples)})" if smoke.examples else ""
    return f"Smoke test on endpoint {endpoint}: {' and '.join(parts)}{shown}"


def load_failure(endpoint: str, load: LoadTestResult) -> str | None:
    if load.passed:
        return None
    run = f"at {load.requests_per_second:g} requests/s for {load.seconds} s"
    if load.requests == 0:
        return f"Load test on endpoint {endpoint}: no request was sent {run} (the run has no held-out rows)"
    errors = f"{load.errors} error" if load.errors == 1 else f"{load.errors} errors"
    figures = f"p50 {load.p50_milliseconds:g} ms, p99 {load.p99_milliseconds:g} ms, {load.requests} requests, {errors}"
    parts = []
    if load.errors:
        parts.append(f"{load.errors} of {load.requests} requests {run} failed ({'; '.join(load.examples)})")
    if load.p99_milliseconds > load.max_p99_milliseconds:
        parts.append(
            f"p99 latency {load.p99_milliseconds:g} ms {run} is over the {load.max_p99_milliseconds:g} ms limit"
        )
    return f"Load test on endpoint {endpoint}: {' and '.join(parts)} ({figures})"


def failure_message(result: StagingTestResult) -> str | None:
    """Which test failed, with its figures, in sentences for the failure notification; None when both passed."""
    failures = [
        text
        for text in (smoke_failure(result.endpoint_name, result.smoke), load_failure(result.endpoint_name, result.load))
        if text
    ]
    if not failures:
        return None
    return f"{'. '.join(failures)}; the candidate was not put up for approval. Every figure is in {result.report_uri}."


def raise_if_failed(result: StagingTestResult) -> None:
    message = failure_message(result)
    if message:
        raise StagingTestFailed(message)
