"""An upload's bytes as text lines for the CSV reader: gzip undone, lines split, UTF-8 checked, all in bounded memory.

The bytes arrive in chunks of any size (S3 streams them in large reads). Lines are cut from each chunk at once and
the pieces of a line that spans chunks are joined once, so reading takes time linear in the file's size; a line
that grows past :data:`MAX_ROW_BYTES` is refused as soon as it does, so no upload can make a line fill the memory.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Generator, Iterable, Iterator

from driftline_core.errors import ValidationFailed

READ_CHUNK_BYTES = 1024 * 1024
"""Bytes read from S3 (and produced by gzip) at a time."""
MAX_ROW_BYTES = 8 * 1024 * 1024
"""The longest line accepted; a value may hold at most ``csv.field_size_limit()`` characters anyway."""
GZIP_SUFFIX = ".csv.gz"
"""Uploads whose key ends with this (in any case) are gzip-compressed CSV."""

_GZIP_MAGIC = b"\x1f\x8b"
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (_GZIP_MAGIC, "a gzip-compressed file"),
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ", "an xz-compressed file"),
    (b"Obj\x01", "an Avro file"),
    (b"ORC", "an ORC file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\xff\xfe", "a UTF-16 text file"),
    (b"\xfe\xff", "a UTF-16 text file"),
)


def is_gzip_key(key: str) -> bool:
    """Whether an object key names a gzip-compressed CSV (``.csv.gz``, any case)."""
    return key.lower().endswith(GZIP_SUFFIX)


def text_lines(chunks: Iterable[bytes], source: str, *, gzipped: bool = False) -> Iterator[str]:
    """The upload's lines as text (line endings kept), for ``csv.reader``; raises ValidationFailed on bad bytes."""
    raw = gunzip(chunks, source) if gzipped else chunks
    return _decoded(split_lines(_checked_start(raw, source, gzipped=gzipped), source), source)


def gunzip(chunks: Iterable[bytes], source: str) -> Iterator[bytes]:
    """Decompress a gzip stream (several members, as ``cat a.gz b.gz`` makes, included) in bounded pieces.

    Output is produced at most :data:`READ_CHUNK_BYTES` at a time, so a small file that expands enormously is
    read as slowly and as safely as a large one.
    """
    decompressor: zlib._Decompress | None = None
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if decompressor is None or decompressor.eof:
                    if decompressor is not None and not data.strip(b"\x00"):
                        break  # zero padding after the last member, as some tools write
                    if not data.startswith(_GZIP_MAGIC[: len(data)]):
                        where = (
                            "it does not start"
                            if decompressor is None
                            else "what follows the compressed data does not start"
                        )
                        raise _not_gzip(source, f"{where} like gzip data")
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = yield from _inflate(decompressor, data)
    except zlib.error as error:
        raise _not_gzip(source, f"its compressed data is damaged: {error}") from None
    if decompressor is None:
        raise ValidationFailed(
            f"{source}: is empty; upload a gzip-compressed CSV with a header row naming the columns "
            "and at least one data row."
        )
    if not decompressor.eof:
        raise _not_gzip(source, "it ends before its compressed data does, so the upload was cut short")


def _inflate(decompressor: zlib._Decompress, data: bytes) -> Generator[bytes, None, bytes]:
    """Decompress ``data`` in bounded pieces; returns what follows the member's end (empty while it goes on)."""
    while True:
        output = decompressor.decompress(data, READ_CHUNK_BYTES)
        if output:
            yield output
        if decompressor.eof:
            return decompressor.unused_data
        data = decompressor.unconsumed_tail
        if not data and len(output) < READ_CHUNK_BYTES:
            return b""


def _not_gzip(source: str, reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"{source}: is named .csv.gz but is not a valid gzip file ({reason}); compress the CSV again "
        "with gzip and upload it, or upload it uncompressed with a name ending .csv."
    )


def _checked_start(chunks: Iterable[bytes], source: str, *, gzipped: bool) -> Iterator[bytes]:
    """The chunks, after checking that the first bytes are not a binary format's signature."""
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        head += chunk
        if len(head) >= 16:
            break
    described = _binary_kind(head)
    if described:
        advice = (
            "upload the data as a UTF-8 encoded CSV with a header row, named .csv (or gzip-compressed, named .csv.gz)"
        )
        if described == "a gzip-compressed file" and not gzipped:
            advice = "name gzip-compressed uploads .csv.gz, or upload the CSV uncompressed"
        inside = " inside the gzip file" if gzipped else ""
        raise ValidationFailed(f"{source}: is not a UTF-8 CSV file{inside} (it looks like {described}); {advice}.")
    if head:
        yield head
    yield from iterator


def _binary_kind(first_bytes: bytes) -> str | None:
    for signature, described in _BINARY_SIGNATURES:
        if first_bytes.startswith(signature):
            return described
    return None


def split_lines(chunks: Iterable[bytes], source: str, *, max_row_bytes: int = MAX_ROW_BYTES) -> Iterator[bytes]:
    """Lines ending in ``\\n``, ``\\r\\n`` or ``\\r`` (kept), in time linear in the bytes read.

    The unfinished line's pieces are kept in a list and joined once, when its end arrives.
    """
    pieces: list[bytes] = []
    held = 0  # bytes in pieces
    line_number = 1
    for chunk in chunks:
        if not chunk:
            continue
        if pieces and pieces[-1].endswith(b"\r"):
            # A line that ended with "\r" at the end of the last chunk: "\r\n" if this chunk starts with "\n".
            if chunk.startswith(b"\n"):
                pieces.append(b"\n")
                chunk = chunk[1:]
            yield b"".join(pieces)
            pieces, held = [], 0
            line_number += 1
            if not chunk:
                continue
        lines = chunk.splitlines(keepends=True)
        last = lines.pop()
        if lines:
            first = lines[0]
            if pieces:
                pieces.append(first)
                first = b"".join(pieces)
                pieces, held = [], 0
                _check_length(len(first), line_number, source, max_row_bytes)
            yield first
            if len(chunk) > max_row_bytes:  # only a caller's oversized chunk can hold an oversized whole line
                for offset, line in enumerate(lines[1:], start=1):
                    _check_length(len(line), line_number + offset, source, max_row_bytes)
            yield from lines[1:]
            line_number += len(lines)
        if last.endswith(b"\n"):
            if pieces:
                pieces.append(last)
                last = b"".join(pieces)
                pieces, held = [], 0
            _check_length(len(last), line_number, source, max_row_bytes)
            yield last
            line_number += 1
        else:
            pieces.append(last)
            held += len(last)
            _check_length(held, line_number, source, max_row_bytes)
    if pieces:
        yield b"".join(pieces)


def _check_length(length: int, line_number: int, source: str, max_row_bytes: int) -> None:
    if length > max_row_bytes:
        raise ValidationFailed(
            f"{source}: row {line_number} is longer than {_size(max_row_bytes)} without a line break, the most a "
            "row may hold (and a value may hold at most "
            f"{_field_limit():,} characters); check that rows end with line breaks and leave long text, such as "
            "whole documents or encoded files, out of the training data."
        )


def _decoded(lines: Iterable[bytes], source: str) -> Iterator[str]:
    """Text lines; stops at the first sign that the data is not UTF-8 text."""
    for number, raw in enumerate(lines, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # the byte-order mark spreadsheet programs write
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValidationFailed(
                f"{source}: is not a UTF-8 CSV file (row {number} has the byte 0x{raw[error.start]:02x}, "
                "which is not UTF-8); save the file as CSV UTF-8 and upload it again."
            ) from None
        if "\x00" in text:
            raise ValidationFailed(
                f"{source}: is not a UTF-8 CSV file (row {number} contains NUL bytes, so it is binary data); "
                "upload the data as a UTF-8 encoded CSV with a header row."
            )
        yield text


def _field_limit() -> int:
    return csv.field_size_limit()


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count % (1024 * 1024) == 0 else f"{count:,} bytes"
