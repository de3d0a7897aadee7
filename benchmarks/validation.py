"""Benchmark: Validate's streaming check on a 1 GB CSV and on files with one enormous value.

Run: ``.venv/bin/python benchmarks/validation.py``. Prints a Markdown section and, with ``--record``, appends
it to ``benchmarks/RESULTS.md`` with the machine and date.

Each case runs in a fresh interpreter that reads a generated file through botocore's ``StreamingBody`` (the
object S3's GetObject returns) exactly as the Validate handler does, and reports its wall time and its peak
resident memory (``ru_maxrss``) next to the memory it held before reading. Cases:

- a 1 GB CSV of credit-like rows (12 columns: 9 numeric, 2 categorical, a binary target), accepted;
- one row with a 50 MB value, refused;
- one row with a 10 MB value, refused, read both ways: in large chunks (``iter_chunks``, as Validate reads
  now) and as botocore's ``iter_lines`` splits it (1 KiB reads re-joined, as Validate read before), for the
  ratio between the two.

Files are generated into a temporary folder (streamed, never held in memory) and deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import RESULTS, publish

REPO_ROOT = Path(__file__).resolve().parents[1]
LAYER = REPO_ROOT / "layers" / "shared" / "python"
HOMES = [b"own", b"rent", b"mortgage", b"other"]


def write_large_csv(path: Path, size: int) -> int:
    """Credit-like rows until the file holds ``size`` bytes; returns the number of data rows."""
    rows = 0
    with path.open("wb") as out:
        out.write(b"id,age,income,score,balance,ratio,home,region,tenure,rate,utilisation,default\n")
        written = 0
        while written < size:
            block = b"".join(
                b"%d,%d,%d.%02d,%d,%d.5,0.%03d,%s,r%d,%d,%d.%d,%d,%d\n"
                % (i, 18 + i % 70, 20000 + i % 9000, i % 100, 300 + i % 550, i % 77777, i % 1000, HOMES[i % 4],
                   i % 12, i % 40, i % 20, i % 10, i % 100, (i * 7919) % 2)
                for i in range(rows, rows + 10_000)
            )  # fmt: skip
            out.write(block)
            written += len(block)
            rows += 10_000
    return rows


def write_long_value_csv(path: Path, value_bytes: int) -> None:
    """A small valid file whose second row holds one value of ``value_bytes`` bytes, written in pieces."""
    piece = b"x" * (1024 * 1024)
    with path.open("wb") as out:
        out.write(b"age,notes,default\n20,")
        for _ in range(value_bytes // len(piece)):
            out.write(piece)
        out.write(b"x" * (value_bytes % len(piece)) + b",0\n")
        out.write(b"".join(b"%d,short,%d\n" % (20 + i, i % 2) for i in range(40)))


def measure(path: Path, reader: str) -> dict[str, object]:
    """Validate ``path`` in a fresh interpreter; its time, peak memory and outcome."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path), reader],
        env={**os.environ, "PYTHONPATH": str(LAYER)},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def child(path: Path, reader: str) -> None:
    """Read ``path`` as the handler reads an S3 object and validate it; print what it cost."""
    from botocore.response import StreamingBody

    from driftline_core.errors import ValidationFailed
    from driftline_core.ingest.csv_stream import READ_CHUNK_BYTES
    from driftline_core.ingest.csv_validation import validate_csv

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with path.open("rb") as raw:
        body = StreamingBody(raw, path.stat().st_size)
        stream = body.iter_chunks(READ_CHUNK_BYTES) if reader == "chunks" else body.iter_lines(keepends=True)
        try:
            report = validate_csv(stream, source=path.name)
            outcome = f"accepted, {report.rows:,} rows"
        except ValidationFailed as error:
            outcome = "refused: " + str(error).split(": ", 1)[1][:90] + "..."
        read = raw.tell()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"seconds": seconds, "bytes_read": read, "rss_before_kib": before, "peak_rss_kib": peak, "outcome": outcome}
        )
    )


def line(label: str, size: int, result: dict[str, object]) -> str:
    seconds = float(str(result["seconds"]))
    peak, before = int(str(result["peak_rss_kib"])), int(str(result["rss_before_kib"]))
    read = int(str(result["bytes_read"]))
    return (
        f"- {label}: **{seconds:.2f} s**, read {read / 2**20:,.0f} of {size / 2**20:,.0f} MiB "
        f"({read / seconds / 1e6:.1f} MB/s), peak memory {peak / 1024:.0f} MiB "
        f"({(peak - before) / 1024:.0f} MiB above the {before / 1024:.0f} MiB before reading); {result['outcome']}"
    )


def run(size: int, skip_before: bool) -> list[str]:
    lines = [
        "### Validate's streaming check (benchmarks/validation.py)",
    ]
    with tempfile.TemporaryDirectory() as folder:
        large = Path(folder) / "large.csv"
        started = time.perf_counter()
        rows = write_large_csv(large, size)
        actual = large.stat().st_size
        print(f"generated {actual / 1e9:.2f} GB, {rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
        lines.append(line(f"{actual / 1e9:.2f} GB CSV, {rows:,} rows x 12 columns", actual, measure(large, "chunks")))
        large.unlink()
        print(lines[-1], flush=True)

        for megabytes in (50, 10):
            long_value = Path(folder) / f"value-{megabytes}mb.csv"
            write_long_value_csv(long_value, megabytes * 1024 * 1024)
            result = measure(long_value, "chunks")
            lines.append(line(f"one {megabytes} MB value, read in 1 MiB chunks", long_value.stat().st_size, result))
            print(lines[-1], flush=True)
            if megabytes == 10 and not skip_before:
                before = measure(long_value, "lines")
                lines.append(line("one 10 MB value, read by botocore's iter_lines (before)", megabytes << 20, before))
                ratio = float(str(before["seconds"])) / float(str(result["seconds"]))
                lines.append(f"- 10 MB value: chunked reading refuses it {ratio:,.0f}x sooner than iter_lines did")
                print(lines[-2], lines[-1], sep="\n", flush=True)
    return lines


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the large CSV (default 1)")
    parser.add_argument("--skip-before", action="store_true", help="skip the slow iter_lines reading")
    parser.add_argument("--record", action="store_true", help=f"append the results to {RESULTS.name}")
    args = parser.parse_args()
    lines = run(int(args.gigabytes * 1e9), args.skip_before)
    publish(lines, record=args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
