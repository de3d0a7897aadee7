"""Reading data capture files into a window's summary: SageMaker's own record layout read fast, every other
line read by the JSON decoder, and a window cut into pieces read in parallel giving the one-process summary."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from driftline_ml import capture, parallel
from driftline_ml.capture import (
    DATA_TOO_DEEP,
    NESTED_VALUE,
    NOT_UNICODE,
    NOT_UTF8,
    TOO_DEEP,
    UNDECOMPRESSABLE,
    UNPLACED,
    CaptureReader,
    TimeWindow,
    capture_files,
    summarise_capture,
    too_long_reason,
    whole_lines,
)
from driftline_ml.drift import MAX_KEYS, OTHER_KEYS
from tests.ml.summary_checks import assert_same_summary

SPECS = [("income", "numeric"), ("age", "numeric"), ("plan", "categorical")]
PLANS = ["basic", "plus", "pro"]


def sagemaker_record(data: str, *, event: int = 0, time: str = "2026-11-20T10:15:00Z") -> str:
    """A record as SageMaker writes it: compact JSON, its keys in SageMaker's order."""
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": data, "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.1", "encoding": "CSV"},
        },
        "eventMetadata": {"eventId": f"3f1e2d4c-0000-4000-8000-{event:012d}", "inferenceTime": time},
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


def rows(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    incomes, ages, plans = rng.normal(50, 10, count), rng.integers(18, 80, count), rng.choice(3, count)
    return [f"{i:.4f},{a},{PLANS[p]}" for i, a, p in zip(incomes, ages, plans, strict=True)]


def window_lines(count: int, seed: int = 1) -> list[str]:
    """Mostly SageMaker's layout, with every other shape a window may hold sprinkled in."""
    lines = [sagemaker_record(row, event=i) for i, row in enumerate(rows(count, seed))]
    odd = {
        7: "not json at all\n",
        101: sagemaker_record("income,age,plan"),  # a header row, which the endpoint skips too
        202: sagemaker_record("51.5,40"),  # a value short
        303: sagemaker_record("51.5,40,pro,extra"),  # a value over
        404: sagemaker_record("51.5,40,pro").rstrip("\n") + sagemaker_record("60.0,41,plus"),  # two on one line
        505: sagemaker_record('51.5,40,"pro"'),  # a quoted value
        606: json.dumps({"captureData": {"endpointInput": {"data": "52.0,33,basic"}}}) + "\n",  # other layout
        707: "\n",
        808: sagemaker_record("").replace('"data":""', '"data":"50.0,30,basic\\n51.0,31,plus"'),  # two rows
        909: sagemaker_record("NA,30, plus "),  # a missing income; a category with blanks around it
    }
    for index, line in odd.items():
        if index < len(lines):
            lines[index] = line
    return lines


def write_window(folder: Path, lines: list[str], files: int) -> list[Path]:
    hour = folder / "endpoint" / "AllTraffic" / "2026" / "11" / "20" / "10"
    hour.mkdir(parents=True)
    for index, part in enumerate(np.array_split(np.array(lines, dtype=object), files)):
        (hour / f"capture-{index}.jsonl").write_text("".join(part))
    return capture_files(folder)


def test_every_kind_of_line_is_read_as_the_json_decoder_reads_it(tmp_path: Path) -> None:
    paths = write_window(tmp_path, window_lines(1000), files=1)
    summary = summarise_capture(paths, SPECS, workers=1)

    assert summary.records == 999  # line 708 is blank; line 405 holds two records, which is one malformed line
    assert summary.malformed == {"not a JSON object": 2}
    assert sorted(summary.malformed_examples) == sorted(
        ["capture-0.jsonl line 8: not a JSON object", "capture-0.jsonl line 405: not a JSON object"]
    )
    assert summary.missing_columns == {"plan": 1}
    assert summary.extra_columns == {"column 4": 1}
    assert summary.rows_left_out == 2
    # 1000 lines - blank - 2 malformed - 2 of the wrong width - the header + 1 for the record with two rows
    assert summary.rows == 1000 - 1 - 2 - 2 - 1 + 1
    income, _, plan = summary.features
    assert income.missing == 1
    assert "plus" in plan.counts and " plus " not in plan.counts
    assert "income" not in plan.counts and '"pro"' not in plan.counts


def test_a_line_holding_two_records_is_malformed_not_read_as_its_first(tmp_path: Path) -> None:
    reader = CaptureReader(SPECS)
    reader.read_lines([sagemaker_record("51.5,40,pro").rstrip("\n") + sagemaker_record("60.0,41,plus")], "glued.jsonl")
    summary = reader.finish()

    assert summary.rows == 0
    assert summary.malformed == {"not a JSON object": 1}


@pytest.mark.parametrize("files", [1, 3])
def test_a_window_read_in_parallel_pieces_gives_the_one_process_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: int
) -> None:
    paths = write_window(tmp_path, window_lines(6000, seed=3), files=files)
    monkeypatch.setattr(parallel, "PIECE_BYTES", 64 * 1024)  # many pieces, cut inside files
    assert len(parallel.spans(paths)) > 4

    one = summarise_capture(paths, SPECS, workers=1)
    pieces = summarise_capture(paths, SPECS, workers=2)

    assert_same_summary(pieces, one)
    assert one.malformed_examples  # numbered as lines of their file, whichever piece read them
    assert all(" line " in example for example in one.malformed_examples)


def test_malformed_lines_are_numbered_as_lines_of_their_file_in_a_later_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [sagemaker_record(row) for row in rows(3000, seed=4)]
    lines[2500] = "{truncated\n"
    paths = write_window(tmp_path, lines, files=1)
    monkeypatch.setattr(parallel, "PIECE_BYTES", 32 * 1024)

    summary = summarise_capture(paths, SPECS, workers=2)

    assert summary.malformed_examples == ["capture-0.jsonl line 2501: not a JSON object"]


def test_compressed_capture_files_are_read_whole_beside_plain_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = write_window(tmp_path, window_lines(3000, seed=5), files=2)
    compressed = paths[0].with_name(paths[0].name + ".gz")
    compressed.write_bytes(gzip.compress(paths[0].read_bytes()))
    paths[0].unlink()
    paths = capture_files(tmp_path)
    monkeypatch.setattr(parallel, "PIECE_BYTES", 16 * 1024)

    pieces = parallel.spans(paths, splittable=lambda path: not path.name.endswith(".gz"))
    assert len(pieces) > 3
    assert [(s.start, s.end) for piece in pieces for s in piece if s.path == compressed] == [(0, None)]
    assert_same_summary(summarise_capture(paths, SPECS, workers=2), summarise_capture(paths, SPECS, workers=1))


def test_a_block_of_rows_all_of_another_width_is_counted_not_parsed(tmp_path: Path) -> None:
    short, long = sagemaker_record("51.5,40"), sagemaker_record("51.5,40,pro,extra")
    paths = write_window(tmp_path, [short, long, short], files=1)

    summary = summarise_capture(paths, SPECS, workers=1)

    assert (summary.records, summary.rows, summary.rows_left_out) == (3, 0, 3)
    assert summary.missing_columns == {"plan": 2} and summary.extra_columns == {"column 4": 1}


def test_a_row_too_long_and_one_too_short_in_the_same_block_are_both_counted(tmp_path: Path) -> None:
    """Their commas add up to a block of the right widths: the parser still finds the long one."""
    lines = [sagemaker_record(row) for row in rows(50, seed=6)]
    lines[10], lines[20] = sagemaker_record("51.5,40"), sagemaker_record("51.5,40,pro,extra")
    paths = write_window(tmp_path, lines, files=1)

    summary = summarise_capture(paths, SPECS, workers=1)

    assert (summary.rows, summary.rows_left_out) == (48, 2)
    assert summary.missing_columns == {"plan": 1} and summary.extra_columns == {"column 4": 1}


def _deeply_nested(depth: int) -> str:
    """A JSON request body with valid features beside ``depth`` levels of padding, as a client may send."""
    return '{"instances": [[51.5, 40, "pro"]], "pad": ' + "[" * depth + "]" * depth + "}"


def test_a_record_nested_too_deep_to_decode_is_counted_and_the_window_read(tmp_path: Path) -> None:
    """One accepted request must not blind the monitor: the record is malformed, every other row still counts."""
    padded = json.loads(sagemaker_record("51.5,40,pro"))
    padded["captureData"]["endpointInput"].update(observedContentType="application/json", data=_deeply_nested(5000))
    lines = [*window_lines(200), json.dumps(padded) + "\n", "[" * 100_000 + "]" * 100_000 + "\n"]
    paths = write_window(tmp_path, lines, files=1)

    summary = summarise_capture(paths, SPECS, workers=1)

    assert summary.records == 202
    assert sum(summary.malformed.values()) >= 2
    assert any("nested" in reason for reason in summary.malformed)
    assert summary.rows >= 190


def test_a_compressed_file_that_is_not_gzip_is_named_and_the_others_are_read(tmp_path: Path) -> None:
    paths = write_window(tmp_path, window_lines(300, seed=3), files=2)
    corrupt = paths[0].with_name("corrupt.jsonl.gz")
    corrupt.write_bytes(b"this is not gzip data\n" * 10)
    truncated = paths[0].with_name("truncated.jsonl.gz")
    truncated.write_bytes(gzip.compress(paths[0].read_bytes())[:-40])
    alone = summarise_capture([paths[1]], SPECS, workers=1)

    summary = summarise_capture([*paths[1:], corrupt, truncated], SPECS, workers=1)

    assert summary.rows >= alone.rows > 0
    assert sum(count for reason, count in summary.malformed.items() if "compressed" in reason) == 2
    assert any(example.startswith("corrupt.jsonl.gz") for example in summary.malformed_examples)


# Whatever a client sent -------------------------------------------------------------------------------


def _json_request(body: str) -> bytes:
    """A captured application/json request, as SageMaker records its body (escaped text)."""
    record = json.loads(sagemaker_record(""))
    record["captureData"]["endpointInput"].update(observedContentType="application/json", data=body)
    return (json.dumps(record) + "\n").encode()


LIMIT = 64 * 1024
"""The record length limit these tests read with (the job's is 64 MiB)."""


def _unreadable_lines() -> dict[str, bytes]:
    """One line of each kind a window may hold that cannot be read, by the reason it is reported with."""
    return {
        # valid features beside 980 levels of padding: answered 200 by an endpoint that read it on a shallow stack
        DATA_TOO_DEEP: _json_request(_deeply_nested(980)),
        TOO_DEEP: ("[" * 1000 + "]" * 1000 + "\n").encode(),
        too_long_reason(): sagemaker_record("51.5,40," + "p" * (3 * LIMIT)).encode(),
        NOT_UTF8: sagemaker_record("51.5,40,cafe").replace("cafe", "caf\u00e9").encode("latin-1"),
        NOT_UNICODE: sagemaker_record("51.5,40,\ud800").encode(),  # a lone surrogate, escaped as JSON writes it
        NESTED_VALUE: _json_request('{"instances": [[51.5, 40, ["pro"]]]}'),
    }


def _hostile_window(folder: Path) -> tuple[list[Path], list[str], dict[str, int]]:
    """Good records in two files with every unreadable kind among them, a .jsonl.gz that is not gzip and one cut
    short: the paths, the good lines (those of the file cut short that can be decompressed included), and where
    each unreadable line is (file index, line number)."""
    good = [sagemaker_record(row, event=i) for i, row in enumerate(rows(3000, seed=11))]
    cut_short = gzip.compress("".join(sagemaker_record(row) for row in rows(400, seed=12)).encode())[:-40]
    readable = zlib.decompressobj(wbits=31).decompress(cut_short)
    readable = readable[: readable.rfind(b"\n") + 1]
    hour = folder / "endpoint" / "AllTraffic" / "2026" / "11" / "20" / "10"
    hour.mkdir(parents=True)
    files: list[list[bytes]] = [[line.encode() for line in good[:1500]], [line.encode() for line in good[1500:]]]
    placed: dict[str, int] = {}
    for number, (reason, line) in enumerate(_unreadable_lines().items()):
        lines = files[number % 2]
        position = 100 + 200 * number
        lines.insert(position, line)
        placed[reason] = position + 1
    paths = []
    for index, lines in enumerate(files):
        paths.append(hour / f"capture-{index}.jsonl")
        paths[-1].write_bytes(b"".join(lines))
    (hour / "not-gzip.jsonl.gz").write_bytes(b"this is not gzip data\n" * 10)
    (hour / "cut-short.jsonl.gz").write_bytes(cut_short)
    return capture_files(folder), [*good, *readable.decode().splitlines(keepends=True)], placed


@pytest.mark.parametrize("workers", [1, 2])
def test_a_window_completes_whatever_its_records_hold_and_names_what_it_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(capture, "MAX_RECORD_BYTES", LIMIT)
    monkeypatch.setattr(capture, "CHUNK_BYTES", 16 * 1024)  # the long line spans chunks, and pieces below
    monkeypatch.setattr(parallel, "PIECE_BYTES", 96 * 1024)
    paths, good, placed = _hostile_window(tmp_path / "window")
    alone = summarise_capture(write_window(tmp_path / "good", good, files=1), SPECS, workers=1)

    summary = summarise_capture(paths, SPECS, workers=workers)

    assert summary.malformed == {**dict.fromkeys(placed, 1), UNDECOMPRESSABLE: 2}
    assert summary.records == len(good) + len(placed)
    for number, (reason, line) in enumerate(placed.items()):
        assert f"capture-{number % 2}.jsonl line {line}: {reason}" in summary.malformed_examples
    assert "not-gzip.jsonl.gz line 1: " + UNDECOMPRESSABLE in summary.malformed_examples
    assert f"cut-short.jsonl.gz line {len(good) - 3000 + 1}: {UNDECOMPRESSABLE}" in summary.malformed_examples
    assert 0 < len(good) - 3000 < 400
    # the statistics are those of the good records alone
    summary.records, summary.malformed, summary.malformed_examples = alone.records, {}, []
    assert_same_summary(summary, alone)


def test_a_line_longer_than_the_limit_is_read_through_without_being_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capture, "MAX_RECORD_BYTES", LIMIT)
    monkeypatch.setattr(capture, "CHUNK_BYTES", 4096)
    before, after = b"first\n" * 2000, b"last\n" * 2000
    long_line = b"x" * (50 * LIMIT) + b"\n"

    pieces = list(whole_lines(io.BytesIO(before + long_line + after), None))

    assert max(len(chunk) for chunk, _ in pieces) <= 4096 + LIMIT
    assert [skipped for _, skipped in pieces if skipped] == [len(long_line)]
    assert b"".join(chunk for chunk, _ in pieces) == before + after
    assert all(chunk.endswith(b"\n") for chunk, skipped in pieces if not skipped)


def test_reasons_and_column_names_a_client_chooses_are_counted_within_a_bound() -> None:
    reader = CaptureReader(SPECS)
    lines = [sagemaker_record("51.5,40,pro").replace("text/csv", f"text/x-{n}", 1) for n in range(2 * MAX_KEYS)]
    lines += [_json_request(json.dumps({"instances": [{f"key{n}": 1}]})).decode() for n in range(2 * MAX_KEYS)]
    lines += [sagemaker_record("51.5,40,pro" + ",9" * 5000)]

    reader.read_lines(lines, "capture.jsonl")
    summary = reader.finish()

    assert len(summary.malformed) == MAX_KEYS + 1 and summary.malformed[OTHER_KEYS] == MAX_KEYS
    assert len(summary.extra_columns) == MAX_KEYS + 1
    assert sum(summary.extra_columns.values()) == 2 * MAX_KEYS + capture.MAX_NAMED_EXTRA_COLUMNS + 1
    assert all(len(reason) < 120 for reason in summary.malformed)


# Windows -----------------------------------------------------------------------------------------------

BOUNDARY = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)


def _timed_line(row: str, moment: datetime, index: int) -> str:
    """A record sent at ``moment`` in one of the shapes a window's records come in."""
    utc = f"{moment:%Y-%m-%dT%H:%M:%S}"
    shape = index % 6
    if shape == 0:  # SageMaker's own
        return sagemaker_record(row, event=index, time=utc + "Z")
    if shape == 1:  # a fraction of a second
        return sagemaker_record(row, event=index, time=utc + ".250Z")
    if shape == 2:  # an offset, read by the JSON decoder: the same instant in Paris
        return sagemaker_record(row, event=index, time=f"{moment + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}+01:00")
    if shape == 3:  # spaced JSON, read by the JSON decoder
        return json.dumps(json.loads(sagemaker_record(row, event=index, time=utc + "Z"))) + "\n"
    if shape == 4:  # the inference id after the time, as local mode's endpoints write it
        record = json.loads(sagemaker_record(row, event=index, time=utc + "Z"))
        record["eventMetadata"]["inferenceId"] = f"request-{index}"
        record["eventVersion"] = record.pop("eventVersion")
        return json.dumps(record, separators=(",", ":")) + "\n"
    return sagemaker_record(row + "\n", event=index, time=utc + "Z")  # an escape in the data: the JSON decoder


def _traffic(count: int, seed: int) -> tuple[list[str], list[datetime]]:
    """``count`` requests spread over 10:58 to 11:02, each in one of ``_timed_line``'s shapes."""
    rng = np.random.default_rng(seed)
    moments = [BOUNDARY + timedelta(seconds=int(s)) for s in rng.integers(-120, 120, count)]
    return [
        _timed_line(row, moment, i) for i, (row, moment) in enumerate(zip(rows(count, seed), moments, strict=True))
    ], moments


def test_consecutive_windows_read_each_record_once_whatever_its_shape(tmp_path: Path) -> None:
    lines, moments = _traffic(600, seed=7)
    paths = write_window(tmp_path, lines, files=2)
    minutes = [BOUNDARY + timedelta(minutes=m) for m in range(-2, 3)]

    summaries = [
        summarise_capture(
            paths,
            SPECS,
            workers=1,
            window=TimeWindow.between(f"{start:%Y-%m-%dT%H:%M:%SZ}", f"{end:%Y-%m-%dT%H:%M:%SZ}"),
        )
        for start, end in pairwise(minutes)
    ]

    sent = [sum(1 for moment in moments if start <= moment < end) for start, end in pairwise(minutes)]
    assert [summary.rows for summary in summaries] == sent
    assert sum(sent) == 600
    assert all(summary.records == 600 and summary.outside_window == 600 - summary.rows for summary in summaries)
    assert all(summary.malformed == {} for summary in summaries)


def test_a_windows_statistics_are_those_of_its_records_alone(tmp_path: Path) -> None:
    lines, moments = _traffic(900, seed=8)
    inside = [
        line
        for line, moment in zip(lines, moments, strict=True)
        if BOUNDARY - timedelta(seconds=30) <= moment < BOUNDARY + timedelta(seconds=30)
    ]
    window = TimeWindow.between("2026-11-20T10:59:30Z", "2026-11-20T11:00:30Z")

    windowed = summarise_capture(write_window(tmp_path / "all", lines, files=1), SPECS, workers=1, window=window)
    alone = summarise_capture(write_window(tmp_path / "inside", inside, files=1), SPECS, workers=1)

    assert (windowed.rows, windowed.outside_window) == (len(inside), 900 - len(inside))
    windowed.records, windowed.outside_window = alone.records, alone.outside_window
    assert_same_summary(windowed, alone)


def test_a_window_read_in_parallel_pieces_places_records_as_one_process_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, _ = _traffic(6000, seed=9)
    paths = write_window(tmp_path, lines, files=3)
    monkeypatch.setattr(parallel, "PIECE_BYTES", 64 * 1024)
    window = TimeWindow.between("2026-11-20T10:59:00Z", "2026-11-20T11:01:00Z")

    one = summarise_capture(paths, SPECS, workers=1, window=window)

    assert_same_summary(summarise_capture(paths, SPECS, workers=2, window=window), one)
    assert 0 < one.rows < 6000 and one.outside_window == 6000 - one.rows


def test_a_record_that_cannot_be_placed_in_the_window_is_unreadable_not_analysed() -> None:
    record = json.loads(sagemaker_record("51.5,40,pro"))
    without = json.dumps({**record, "eventMetadata": {"eventId": "x"}})
    garbled = sagemaker_record("52.5,41,plus", time="half past ten")
    numeric = json.dumps({**record, "eventMetadata": {"inferenceTime": 1795435200}})
    reader = CaptureReader(SPECS, TimeWindow.between("2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z"))

    reader.read_lines([sagemaker_record("50.0,30,basic"), without, garbled, numeric], "capture.jsonl")
    summary = reader.finish()

    assert (summary.records, summary.rows, summary.outside_window) == (4, 1, 0)
    assert summary.malformed == {UNPLACED: 3}
    assert summary.malformed_examples == [f"capture.jsonl line {n}: {UNPLACED}" for n in (2, 3, 4)]


def test_without_a_window_every_record_is_read_whatever_its_time() -> None:
    reader = CaptureReader(SPECS)

    reader.read_lines(
        [sagemaker_record("50.0,30,basic", time="1999-01-01T00:00:00Z"), sagemaker_record("51.0,31,plus", time="soon")],
        "c.jsonl",
    )

    assert (reader.finish().rows, reader.summary.outside_window) == (2, 0)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", ("2026-11-20T10:00:00", "2026-11-20T11:00:00")),
        ("2026-11-20T12:00:00+02:00", "", ("2026-11-20T10:00:00", "~")),
        ("", "2026-11-20 11:00:00", ("", "2026-11-20T11:00:00")),
        ("2026-11-20T10:00:00.2Z", "2026-11-20T11:00:00.9Z", ("2026-11-20T10:00:01", "2026-11-20T11:00:01")),
    ],
)
def test_a_windows_bounds_are_read_as_utc_whole_seconds(start: str, end: str, expected: tuple[str, str]) -> None:
    window = TimeWindow.between(start, end)

    assert window is not None and (window.start, window.end) == expected


def test_no_bounds_is_no_window_and_a_bound_that_is_not_a_time_is_refused() -> None:
    assert TimeWindow.between(None, "") is None
    with pytest.raises(ValueError, match="end_time 'noon' is not an ISO 8601 time"):
        TimeWindow.between("2026-11-20T10:00:00Z", "noon")
