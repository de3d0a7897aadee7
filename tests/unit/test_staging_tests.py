"""The staging tests' own logic, with the endpoint played by plain functions: what is sent, how answers are judged,
how the load test keeps its rate, and the sentences a failure is reported in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from driftline_core.deployment.staging_tests import (
    SMOKE_BATCH_BYTES,
    SMOKE_BATCH_ROWS,
    HeldOutRow,
    RequestFailed,
    answer_rows,
    answers_agree,
    batches,
    csv_line,
    describe_client_error,
    describe_difference,
    failure_message,
    load_test_workers,
    percentile,
    raise_if_failed,
    request_body,
    run_load_test,
    run_smoke_test,
    run_staging_tests,
)
from driftline_core.errors import StagingTestFailed
from driftline_core.payloads import LoadTestResult, SmokeTestResult, StagingTestInput, StagingTestResult
from driftline_core.settings import Settings, StagingSettings
from tests.conftest import load_event

ENDPOINT = "driftline-credit--staging-v3"
REPORT = "s3://driftline-artifacts/runs/credit-5e4f54c7bade/staging/staging_test.json"


def held_out(
    count: int, answer: Callable[[int], str] = lambda n: f"{'yes' if n % 2 else 'no'},0.25,0.75"
) -> list[HeldOutRow]:
    """Rows ``<n>,red``; the evaluation answered each with ``answer(n)``."""
    return [HeldOutRow(n, f"{n},red", tuple(answer(n).split(","))) for n in range(1, count + 1)]


def endpoint_like(rows: list[HeldOutRow], *, differs: dict[int, str] | None = None) -> Callable[[str], str]:
    """An endpoint answering each row of a body as the evaluation did, except the rows in ``differs``."""
    expected = {row.body: ",".join(row.expected) for row in rows}
    numbers = {row.body: row.number for row in rows}

    def answer(body: str) -> str:
        lines = body.splitlines()
        return "".join(f"{(differs or {}).get(numbers[line], expected[line])}\n" for line in lines)

    return answer


# Percentiles, comparison, batching ----------------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    latencies = [float(n) for n in range(1, 201)]

    assert percentile(latencies, 50) == 100.0
    assert percentile(latencies, 99) == 198.0
    assert percentile([7.0, 3.0, 5.0], 99) == 7.0
    assert percentile([4.0], 50) == 4.0
    assert percentile([], 99) == 0.0


def test_a_classifiers_label_must_match_exactly_and_its_probabilities_within_the_tolerance() -> None:
    assert answers_agree(["yes", "0.25", "0.75"], ["yes", "0.25", "0.75"])
    assert answers_agree(["yes", "0.2500000000000001", "0.75"], ["yes", "0.25", "0.75"])
    assert answers_agree(["yes", "1e-17", "1.0"], ["yes", "0.0", "1.0"])
    assert not answers_agree(["Yes", "0.25", "0.75"], ["yes", "0.25", "0.75"])
    assert not answers_agree(["yes", "0.2501", "0.7499"], ["yes", "0.25", "0.75"])
    assert not answers_agree(["yes", "0.25"], ["yes", "0.25", "0.75"])


def test_a_regressors_value_is_compared_as_a_number() -> None:
    assert answers_agree(["152340.125"], ["152340.12500000003"])
    assert answers_agree(["1e3"], ["1000.0"])
    assert not answers_agree(["152340.2"], ["152340.125"])
    assert not answers_agree(["nan-ish"], ["152340.125"])


def test_a_difference_names_the_row_and_both_labels_or_both_values() -> None:
    assert describe_difference(17, ["b", "0.9", "0.1"], ["a", "0.1", "0.9"]) == (
        "row 17: endpoint said 'b', evaluation 'a'"
    )
    assert describe_difference(4, ["a", "0.6", "0.4"], ["a", "0.1", "0.9"]) == (
        "row 4: endpoint said 'a,0.6,0.4', evaluation 'a,0.1,0.9'"
    )
    assert describe_difference(2, ["12.5"], ["13.0"]) == "row 2: endpoint said '12.5', evaluation '13.0'"


def test_rows_are_written_as_a_client_sends_them_and_answers_read_back_with_quoted_labels() -> None:
    assert csv_line(["1.5", "", "dark red"]) == "1.5,,dark red"
    assert csv_line(["a,b", "1"]) == '"a,b",1'
    assert csv_line([""]) == '""'  # a lone missing value; a blank line would be no row at all

    assert answer_rows('"a,b",0.5,0.5\nc,0.1,0.9\n') == [["a,b", "0.5", "0.5"], ["c", "0.1", "0.9"]]


def test_batches_hold_a_few_hundred_rows_and_stay_under_the_payload_limit() -> None:
    small = held_out(450)
    assert [len(batch) for batch in batches(small, SMOKE_BATCH_ROWS, SMOKE_BATCH_BYTES)] == [200, 200, 50]

    wide = [HeldOutRow(n, "x" * (2 * 1024 * 1024), ("a",)) for n in range(1, 6)]
    wide_batches = list(batches(wide, SMOKE_BATCH_ROWS, SMOKE_BATCH_BYTES))
    assert [len(batch) for batch in wide_batches] == [2, 2, 1]
    assert all(len(request_body(batch).encode()) <= SMOKE_BATCH_BYTES < 6 * 1024 * 1024 for batch in wide_batches)
    assert [row.number for batch in wide_batches for row in batch] == [1, 2, 3, 4, 5]

    oversized = [HeldOutRow(1, "x" * (SMOKE_BATCH_BYTES + 1), ("a",)), HeldOutRow(2, "1", ("a",))]
    assert [len(batch) for batch in batches(oversized, SMOKE_BATCH_ROWS, SMOKE_BATCH_BYTES)] == [1, 1]


# The smoke test -----------------------------------------------------------------------------------------------


def test_an_endpoint_answering_every_row_as_evaluated_passes_in_few_requests() -> None:
    rows = held_out(450)
    bodies: list[str] = []
    endpoint = endpoint_like(rows)

    def send(body: str) -> str:
        bodies.append(body)
        return endpoint(body)

    outcome = run_smoke_test(rows, send, deadline=time.monotonic() + 30)

    assert (outcome.rows, outcome.mismatches, outcome.unanswered, outcome.passed) == (450, 0, 0, True)
    assert [len(body.splitlines()) for body in bodies] == [200, 200, 50]
    assert bodies[0].startswith("1,red\n2,red\n") and bodies[-1].endswith("450,red\n")


def test_rows_answered_differently_are_counted_and_named() -> None:
    rows = held_out(300)
    send = endpoint_like(rows, differs={17: "no,0.9,0.1", 251: "yes,0.5,0.5", 299: "no,0.2,0.8"})

    outcome = run_smoke_test(rows, send, deadline=time.monotonic() + 30)

    assert (outcome.mismatches, outcome.unanswered, outcome.passed) == (3, 0, False)
    assert outcome.examples == [
        "row 17: endpoint said 'no', evaluation 'yes'",
        "row 251: endpoint said 'yes,0.5,0.5', evaluation 'yes,0.25,0.75'",
        "row 299: endpoint said 'no', evaluation 'yes'",
    ]
    assert outcome.details[0] == {"row": 17, "endpoint": "no,0.9,0.1", "evaluation": "yes,0.25,0.75"}


def test_a_failed_request_counts_every_row_it_carried_and_says_why() -> None:
    rows = held_out(450)
    endpoint = endpoint_like(rows)

    def send(body: str) -> str:
        if body.startswith("201,"):
            raise RequestFailed('ModelError: Received server error (500) from primary with message "boom"')
        if body.startswith("401,"):
            return "yes,0.25,0.75\n"
        return endpoint(body)

    outcome = run_smoke_test(rows, send, deadline=time.monotonic() + 30)

    assert (outcome.mismatches, outcome.unanswered, outcome.passed) == (250, 250, False)
    assert outcome.examples == [
        'rows 201-400 got no answer (ModelError: Received server error (500) from primary with message "boom")',
        "rows 401-450 got 1 answer lines for 50 rows",
    ]


def test_rows_left_when_the_smoke_tests_time_runs_out_count_as_unanswered_and_nothing_more_is_sent() -> None:
    rows = held_out(450)
    sent: list[str] = []
    endpoint = endpoint_like(rows)
    now = [0.0]

    def send(body: str) -> str:
        sent.append(body)
        now[0] += 6.0  # each request takes 6 s of a 10 s budget
        return endpoint(body)

    outcome = run_smoke_test(rows, send, deadline=10.0, clock=lambda: now[0])

    assert len(sent) == 2
    assert (outcome.mismatches, outcome.unanswered) == (50, 50)
    assert outcome.examples[0].startswith("rows 401-450 got no answer before the smoke test's time ran out")


def test_a_request_that_outlasts_the_smoke_tests_time_is_not_waited_for() -> None:
    rows = held_out(10)
    release = threading.Event()

    def hangs(body: str) -> str:
        release.wait(5)
        return ""

    started = time.monotonic()
    outcome = run_smoke_test(rows, hangs, deadline=started + 0.3)
    release.set()

    assert time.monotonic() - started < 2
    assert (outcome.unanswered, outcome.passed) == (10, False)


# The load test ------------------------------------------------------------------------------------------------


def test_the_load_test_sends_at_the_rate_for_the_time_and_measures_each_answer() -> None:
    sent: list[str] = []

    def answer(body: str) -> str:
        sent.append(body)
        time.sleep(0.01)
        return "yes\n"

    outcome = run_load_test(
        ["1,red", "2,blue", "3,green"],
        answer,
        requests_per_second=40,
        seconds=1,
        workers=load_test_workers(40, 1000),
        drain_seconds=2,
    )

    assert 38 <= outcome.requests <= 40 and outcome.errors == 0  # a busy machine may end the schedule a little late
    assert sent[:4] == ["1,red", "2,blue", "3,green", "1,red"]  # the rows in turn, over again
    assert outcome.sending_seconds <= 1.0
    assert len(outcome.latencies_ms) == outcome.requests
    assert 10 <= percentile(outcome.latencies_ms, 50) <= percentile(outcome.latencies_ms, 99) < 500


def test_slow_answers_do_not_lower_the_rate_and_their_latency_counts() -> None:
    def slow(body: str) -> str:
        time.sleep(0.3)
        return "yes\n"

    started = time.monotonic()
    outcome = run_load_test(
        ["1,red"], slow, requests_per_second=20, seconds=1, workers=load_test_workers(20, 1000), drain_seconds=2
    )

    # A closed loop of one client would have sent 4 requests in that second.
    assert 19 <= outcome.requests <= 20 and outcome.sending_seconds <= 1.0
    assert percentile(outcome.latencies_ms, 50) >= 300
    assert time.monotonic() - started < 2.0  # the last answers are waited for, no longer


def test_failed_requests_and_answers_not_back_in_time_are_errors() -> None:
    calls = iter(range(1000))
    release = threading.Event()

    def flaky(body: str) -> str:
        call = next(calls)
        if call % 5 == 0:
            raise RequestFailed("ModelError: Received client error (400) from primary")
        if call == 9:
            release.wait(5)
        return "yes\n"

    outcome = run_load_test(["1,red"], flaky, requests_per_second=10, seconds=1, workers=4, drain_seconds=0.3)
    release.set()

    assert outcome.requests == 10
    assert outcome.errors == 3  # calls 0 and 5 failed, call 9 did not answer in time
    assert outcome.examples == [
        "ModelError: Received client error (400) from primary",
        "ModelError: Received client error (400) from primary",
        "no answer within 0.3 s after the load test ended",
    ]
    assert len(outcome.latencies_ms) == 7


def test_the_thread_pool_covers_the_requests_in_flight_at_the_limit_and_stays_small() -> None:
    assert load_test_workers(5, 1000) == 6
    assert load_test_workers(1, 100) == 2
    assert load_test_workers(100, 5000) == 64


def test_a_models_refusal_is_told_in_the_models_words_and_other_errors_in_sagemakers() -> None:
    def model_error(original: str) -> ClientError:
        response: dict[str, object] = {
            "Error": {"Code": "ModelError", "Message": "Received client error (400) from primary with message ..."},
            "OriginalStatusCode": 400,
            "OriginalMessage": original,
        }
        return ClientError(response, "InvokeEndpoint")  # type: ignore[arg-type]

    refused = model_error('{"error": "InvalidRequest", "status": 400, "message": "row 1: feature \'x1\' is numeric"}')
    assert describe_client_error(refused) == "ModelError: the model answered 400: row 1: feature 'x1' is numeric"
    assert describe_client_error(model_error("upstream timed out")) == (
        "ModelError: the model answered 400: upstream timed out"
    )
    missing = ClientError({"Error": {"Code": "ValidationError", "Message": "Endpoint x not found."}}, "InvokeEndpoint")
    assert describe_client_error(missing) == "ValidationError: Endpoint x not found."


# The verdict --------------------------------------------------------------------------------------------------


def result(smoke: SmokeTestResult, load: LoadTestResult) -> StagingTestResult:
    return StagingTestResult(endpoint_name=ENDPOINT, smoke=smoke, load=load, report_uri=REPORT)


GOOD_SMOKE = SmokeTestResult(rows=200, mismatches=0, passed=True)
GOOD_LOAD = LoadTestResult(
    requests_per_second=5,
    seconds=30,
    requests=150,
    errors=0,
    p50_milliseconds=12.5,
    p99_milliseconds=48.0,
    max_p99_milliseconds=1000,
    passed=True,
)


def test_both_tests_passing_raise_nothing() -> None:
    assert failure_message(result(GOOD_SMOKE, GOOD_LOAD)) is None
    raise_if_failed(result(GOOD_SMOKE, GOOD_LOAD))


def test_a_smoke_test_failure_says_how_many_rows_differed_and_shows_them() -> None:
    smoke = SmokeTestResult(
        rows=200, mismatches=3, passed=False, examples=["row 17: endpoint said 'b', evaluation 'a'"]
    )

    with pytest.raises(StagingTestFailed) as raised:
        raise_if_failed(result(smoke, GOOD_LOAD))

    assert str(raised.value) == (
        f"Smoke test on endpoint {ENDPOINT}: 3 of 200 held-out rows answered differently from the evaluation "
        "(row 17: endpoint said 'b', evaluation 'a'); the candidate was not put up for approval. Every figure is "
        f"in {REPORT}."
    )


def test_unanswered_rows_are_told_apart_from_different_answers() -> None:
    smoke = SmokeTestResult(
        rows=450,
        mismatches=201,
        unanswered=200,
        passed=False,
        examples=["row 3: endpoint said 'b', evaluation 'a'", "rows 201-400 got no answer (ModelError: boom)"],
    )

    message = failure_message(result(smoke, GOOD_LOAD))

    assert message is not None and message.startswith(
        f"Smoke test on endpoint {ENDPOINT}: 1 of 450 held-out rows answered differently from the evaluation and "
        "200 of 450 held-out rows got no answer (row 3: endpoint said 'b', evaluation 'a'; rows 201-400 got no "
        "answer (ModelError: boom)); the candidate"
    )


def test_a_slow_load_test_gives_its_p99_the_limit_and_the_rate() -> None:
    load = GOOD_LOAD.model_copy(update={"p99_milliseconds": 1520.0, "passed": False})

    message = failure_message(result(GOOD_SMOKE, load))

    assert message == (
        f"Load test on endpoint {ENDPOINT}: p99 latency 1520 ms at 5 requests/s for 30 s is over the 1000 ms limit "
        "(p50 12.5 ms, p99 1520 ms, 150 requests, 0 errors); the candidate was not put up for approval. Every "
        f"figure is in {REPORT}."
    )


def test_load_errors_and_a_failed_smoke_test_are_both_reported() -> None:
    smoke = SmokeTestResult(
        rows=200, mismatches=200, unanswered=200, passed=False, examples=["rows 1-200 got no answer (x)"]
    )
    load = GOOD_LOAD.model_copy(update={"errors": 4, "passed": False, "examples": ["ValidationError: not found"]})

    message = failure_message(result(smoke, load))

    assert message is not None
    assert message.startswith(f"Smoke test on endpoint {ENDPOINT}: 200 of 200 held-out rows got no answer")
    assert (
        f". Load test on endpoint {ENDPOINT}: 4 of 150 requests at 5 requests/s for 30 s failed "
        "(ValidationError: not found) (p50 12.5 ms, p99 48 ms, 150 requests, 4 errors); the candidate" in message
    )


# Time -------------------------------------------------------------------------------------------------------


def test_a_function_timeout_too_short_for_the_load_test_is_refused_before_anything_is_sent() -> None:
    step = StagingTestInput.model_validate(load_event("test_staging"))
    staging = StagingSettings(staging_load_test_seconds=30)

    with pytest.raises(ValueError, match="Give the TestStaging function a longer Timeout") as raised:
        run_staging_tests(step, Settings(artifact_bucket="artifacts"), staging, seconds_left=60)

    assert "its load test runs 30 s" in str(raised.value)
