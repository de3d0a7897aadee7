"""Cutting a job's input into pieces: every line read exactly once, whichever piece reads it."""

from __future__ import annotations

from pathlib import Path

from driftline_ml import parallel


def numbered_lines(path: Path, count: int, width: int = 1) -> list[bytes]:
    lines = [f"line {i} {'x' * (i % 50) * width}\n".encode() for i in range(count)]
    path.write_bytes(b"".join(lines))
    return lines


def test_a_large_file_is_cut_only_after_line_ends_and_every_line_lands_in_one_piece(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    lines = numbered_lines(path, 5000)

    pieces = parallel.spans([path], piece_bytes=10_000)

    assert len(pieces) > 10 and all(len(piece) == 1 for piece in pieces)
    read = b"".join(parallel.read_span(piece[0]) for piece in pieces)
    assert read == b"".join(lines)
    for piece in pieces:
        text = parallel.read_span(piece[0])
        assert text.endswith(b"\n") and text.startswith(b"line ")
        assert parallel.lines_before(piece[0]) == int(text.split()[1])


def test_small_files_are_grouped_and_a_file_that_cannot_be_cut_stays_whole(tmp_path: Path) -> None:
    small = [tmp_path / f"small-{i}.jsonl" for i in range(6)]
    for path in small:
        numbered_lines(path, 20)
    packed = tmp_path / "packed.jsonl.gz"
    numbered_lines(packed, 2000)

    pieces = parallel.spans([*small, packed], piece_bytes=2_000, splittable=lambda p: not p.name.endswith(".gz"))

    assert [span.path for piece in pieces for span in piece] == [*small, packed]
    assert any(len(piece) > 1 for piece in pieces)
    assert pieces[-1] == [parallel.Span(packed)]


def test_small_inputs_and_one_cpu_are_read_in_the_jobs_own_process() -> None:
    assert parallel.workers_for(parallel.PARALLEL_MIN_BYTES - 1, pieces=8, cpus=8) == 1
    assert parallel.workers_for(parallel.PARALLEL_MIN_BYTES, pieces=8, cpus=1) == 1
    assert parallel.workers_for(parallel.PARALLEL_MIN_BYTES, pieces=3, cpus=8) == 3
    assert parallel.workers_for(10 * parallel.PARALLEL_MIN_BYTES, pieces=30, cpus=4) == 4
