"""Where the on-disk copy of S3 keeps a key: one file per key, always inside its bucket's folder."""

from __future__ import annotations

from pathlib import Path

from driftline.local.s3_mirror import encode_segment, mirror_path

BUCKET = "driftline-data"


def test_segment_encoding_is_one_to_one_and_never_leaves_the_folder(tmp_path: Path) -> None:
    keys = [
        "x", "x/", "x//", "/x", "//x", ".", "..", "./x", "../x", "%", "%25", "%2E", "%2E%2E", "a%b",
        "tab\there", "new\nline", "x%object", "x%25object", "\x7f", "%7F",
    ]  # fmt: skip
    paths = [mirror_path(tmp_path, BUCKET, key) for key in keys]

    assert len(set(paths)) == len(keys)
    assert all((tmp_path / BUCKET) in path.parents for path in paths)
    assert all(part not in ("", ".", "..") for key in keys for part in (encode_segment(s) for s in key.split("/")))
