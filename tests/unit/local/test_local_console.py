"""The local-mode terminal: one tagged line per message, handler logs shown as level and message."""

from __future__ import annotations

import io
import json
import re
import threading

from driftline.local.console import Console, handler_error_line, readable_log_line

TAGGED_LINE = re.compile(r"^\d{2}:\d{2}:\d{2} \[(?P<source>[^\]]+)\] (?P<text>.*)$")


def _powertools(level: str, message: object) -> str:
    return json.dumps(
        {
            "level": level,
            "location": "lambda_handler:42",
            "message": message,
            "timestamp": "2026-11-23 12:00:00,000+0000",
            "service": "driftline",
            "execution_id": "arn:aws:states:us-east-1:123456789012:execution:pipeline:credit-1",
        }
    )


def test_a_powertools_record_reads_as_its_level_and_message() -> None:
    assert readable_log_line(_powertools("INFO", "Validated 400 rows") + "\n") == "INFO    Validated 400 rows"


def test_messages_of_every_level_start_in_the_same_column() -> None:
    info = readable_log_line(_powertools("INFO", "started"))
    warning = readable_log_line(_powertools("WARNING", "slow"))

    assert info is not None and warning is not None
    assert info.index("started") == warning.index("slow") == 8


def test_a_structured_message_is_shown_as_json() -> None:
    assert readable_log_line(_powertools("INFO", {"rows": 400})) == 'INFO    {"rows": 400}'


def test_embedded_metric_records_are_kept_out_of_the_terminal() -> None:
    record = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "RowsValidated": 400}

    assert readable_log_line(json.dumps(record)) is None


def test_plain_text_and_json_that_is_not_a_log_record_are_shown_as_printed() -> None:
    assert readable_log_line("  Traceback (most recent call last):\n") == "Traceback (most recent call last):"
    assert readable_log_line('{"rows": 400}') == '{"rows": 400}'
    assert readable_log_line("{not json") == "{not json"


def test_each_line_is_tagged_with_its_source_and_time() -> None:
    stream = io.StringIO()
    Console(stream).line("Validate", "INFO    Validated 400 rows")

    match = TAGGED_LINE.match(stream.getvalue().rstrip("\n"))
    assert match is not None
    assert match["source"] == "Validate"
    assert match["text"] == "INFO    Validated 400 rows"


def test_a_quiet_console_prints_nothing() -> None:
    stream = io.StringIO()
    console = Console(stream)
    console.quiet = True
    console.line("Validate", "hello")

    assert stream.getvalue() == ""


def test_quiet_sources_are_silenced_and_the_others_still_print() -> None:
    stream = io.StringIO()
    console = Console(stream, quiet_sources=("email",))
    console.line("email", "to ml-team@example.com: Model registered")
    console.line("Train", "epoch 1")

    printed = stream.getvalue()
    assert "[email]" not in printed
    assert "[Train] epoch 1" in printed


def test_lines_from_many_threads_never_interleave() -> None:
    stream = io.StringIO()
    console = Console(stream)

    def chatter(source: str) -> None:
        for number in range(200):
            console.line(source, f"line {number} " + "x" * 50)

    threads = [threading.Thread(target=chatter, args=(f"job-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = stream.getvalue().splitlines()
    assert len(lines) == 8 * 200
    assert all(TAGGED_LINE.match(line) and line.endswith("x" * 50) for line in lines)


def test_a_named_handler_error_is_one_line_with_its_name_and_message() -> None:
    line = handler_error_line(
        "ValidationFailed", "data/credit/x.csv: 2 problems\n- too few rows\n- 'age' is text", named=True, log_group="g"
    )

    assert line == "ERROR   ValidationFailed: data/credit/x.csv: 2 problems - too few rows - 'age' is text"


def test_an_unexpected_handler_error_says_where_its_traceback_is() -> None:
    line = handler_error_line("KeyError", "'model'", named=False, log_group="/aws/lambda/driftline-Deploy-1A2B")

    assert line == (
        "ERROR   KeyError: 'model' (unexpected: its traceback is in the CloudWatch Logs group "
        "/aws/lambda/driftline-Deploy-1A2B; driftline logs <run> shows it)"
    )


def test_a_long_error_message_is_cut_in_the_terminal() -> None:
    line = handler_error_line("ValidationFailed", "x" * 5000, named=True, log_group="g")

    assert len(line) < 450 and line.endswith("...")


def test_a_console_showing_only_some_sources_still_shows_every_sources_errors_and_warnings() -> None:
    stream = io.StringIO()
    console = Console(stream)
    console.only({"pipeline", "run"})
    console.line("pipeline", "-> Validate")
    console.line("Validate", "INFO    Upload accepted")
    console.line("credit-1-train", "validation:auc=0.99")
    console.line("Validate", "ERROR   ValidationFailed: data/credit/x.csv: too few rows")
    console.line("Deploy", "WARNING The endpoint is busy")
    console.line("run", "credit-1: FAILED at Validate")

    shown = [TAGGED_LINE.match(line)["source"] for line in stream.getvalue().splitlines()]  # type: ignore[index]
    assert shown == ["pipeline", "Validate", "Deploy", "run"]
