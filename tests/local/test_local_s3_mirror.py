"""The on-disk copy of S3: one file per key, inside its folder, and never the reason an S3 call fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.moto_api._internal.models import moto_api_backend

from driftline.local import s3_mirror, seams
from driftline.local.s3_mirror import mirror_path

BUCKET = "driftline-data"


@dataclass
class Mirrored:
    s3: Any
    folder: Path

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def versions(self, key: str) -> int:
        listed = self.s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
        return sum(1 for version in listed if version["Key"] == key)

    def files(self) -> dict[str, bytes]:
        """Every file under the mirror's folder, by its path relative to the folder."""
        return {
            path.relative_to(self.folder).as_posix(): path.read_bytes()
            for path in sorted(self.folder.rglob("*"))
            if path.is_file()
        }


@pytest.fixture
def mirrored(tmp_path: Path, endpoint_url: str) -> Iterator[Mirrored]:
    moto_api_backend.reset()
    folder = tmp_path / "state" / "s3"
    s3_mirror.install(folder)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    try:
        yield Mirrored(s3, folder)
    finally:
        seams.restore()
        moto_api_backend.reset()


def test_ordinary_keys_are_copied_to_the_same_path(mirrored: Mirrored) -> None:
    mirrored.put("data/credit/jan.csv", b"a,b\n1,2\n")

    assert mirrored.files() == {f"{BUCKET}/data/credit/jan.csv": b"a,b\n1,2\n"}
    assert (
        mirror_path(mirrored.folder, BUCKET, "data/credit/jan.csv") == mirrored.folder / BUCKET / "data/credit/jan.csv"
    )


@pytest.mark.parametrize("order", [("data/x", "data/x/y.csv"), ("data/x/y.csv", "data/x")])
def test_a_key_that_is_also_a_folder_is_stored_once_and_both_copies_are_kept(
    mirrored: Mirrored, order: tuple[str, str]
) -> None:
    """One upload is one version (one run, one model): the mirror must not turn it into a 500 and a retry."""
    contents = {"data/x": b"object x", "data/x/y.csv": b"object y"}
    for key in order:
        mirrored.put(key, contents[key])

    assert [mirrored.versions(key) for key in contents] == [1, 1]
    assert mirrored.files() == {f"{BUCKET}/data/x%object": b"object x", f"{BUCKET}/data/x/y.csv": b"object y"}
    assert mirror_path(mirrored.folder, BUCKET, "data/x").read_bytes() == b"object x"


def test_keys_with_empty_and_dot_segments_get_their_own_files(mirrored: Mirrored) -> None:
    keys = ["data/x.csv", "data//x.csv", "data/./x.csv", "data/", "data/%2E/x.csv"]
    for number, key in enumerate(keys):
        mirrored.put(key, f"object {number}".encode())

    assert mirrored.files() == {
        f"{BUCKET}/data/x.csv": b"object 0",
        f"{BUCKET}/data/%/x.csv": b"object 1",
        f"{BUCKET}/data/%2E/x.csv": b"object 2",
        f"{BUCKET}/data/%%object": b"object 3",  # "data/" is an object and, for "data//x.csv", a folder
        f"{BUCKET}/data/%252E/x.csv": b"object 4",
    }


def test_dot_dot_segments_stay_inside_the_mirror_folder(mirrored: Mirrored, tmp_path: Path) -> None:
    mirrored.put("runs/../../../../escaped.csv", b"climber")
    mirrored.put("a/../b.csv", b"not b")
    mirrored.put("b.csv", b"b")

    assert mirrored.files() == {
        f"{BUCKET}/runs/%2E%2E/%2E%2E/%2E%2E/%2E%2E/escaped.csv": b"climber",
        f"{BUCKET}/a/%2E%2E/b.csv": b"not b",
        f"{BUCKET}/b.csv": b"b",
    }
    assert [path for path in tmp_path.rglob("escaped.csv") if mirrored.folder not in path.parents] == []


def test_a_copy_the_mirror_cannot_write_never_fails_the_upload(
    mirrored: Mirrored, caplog: pytest.LogCaptureFixture
) -> None:
    key = "data/" + "n" * 300 + ".csv"  # a valid S3 key; no file system takes a 304-byte file name

    with caplog.at_level(logging.WARNING, logger="driftline.local.s3_mirror"):
        mirrored.put(key, b"stored anyway")

    assert mirrored.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"stored anyway"
    assert mirrored.versions(key) == 1
    assert f"S3 object s3://{BUCKET}/{key} is stored, but its copy under" in caplog.text


def test_multipart_uploads_and_copies_are_mirrored(mirrored: Mirrored) -> None:
    part_size = 5 * 1024 * 1024
    upload = mirrored.s3.create_multipart_upload(Bucket=BUCKET, Key="data/big.csv")
    parts = []
    for number, filler in ((1, b"a"), (2, b"b")):
        answer = mirrored.s3.upload_part(
            Bucket=BUCKET,
            Key="data/big.csv",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=filler * (part_size if number == 1 else 10),
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    mirrored.s3.complete_multipart_upload(
        Bucket=BUCKET, Key="data/big.csv", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    mirrored.s3.copy_object(
        Bucket=BUCKET, Key="runs/r1/input/big.csv", CopySource={"Bucket": BUCKET, "Key": "data/big.csv"}
    )

    files = mirrored.files()
    assert files[f"{BUCKET}/data/big.csv"] == b"a" * part_size + b"b" * 10
    assert files[f"{BUCKET}/runs/r1/input/big.csv"] == files[f"{BUCKET}/data/big.csv"]
