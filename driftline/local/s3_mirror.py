"""Keeps a copy of every object written to the emulated S3 on disk.

The emulator lives in memory; the mirror is what lets a user open a run's model artifact, evaluation
report or uploaded data after local mode stops (``.driftline/s3/<bucket>/<key>``). Every way an object
is written goes through moto's ``S3Backend.put_object``: PutObject, POST uploads, CompleteMultipartUpload
and CopyObject alike, so that is where the copy is made.

S3 keys are strings, not paths, so each key maps to its own file, always inside the mirror's folder:
the key is split at ``/`` and each segment becomes one path segment.

- Ordinary segments are unchanged: ``data/credit/jan.csv`` is ``<bucket>/data/credit/jan.csv``.
- ``%`` is written ``%25`` and control characters ``%XX``, so on disk ``%`` always starts an escape.
- An empty segment (``data//x.csv``, or a key ending in ``/``) is written ``%``; ``.`` is ``%2E`` and
  ``..`` is ``%2E%2E``, so no key collapses onto another or climbs out of the folder.
- An object whose name is also a folder of other keys (``data/x`` beside ``data/x/y.csv``) is stored as
  ``data/x%object``, whichever of the two was written first: the folder keeps the plain name.

The mirror never makes an S3 call fail: a copy it cannot write (a segment longer than the file system
allows, a full disk) is logged and skipped; the object itself is stored as usual. It copies writes only:
deleting an object leaves its copy. On a case-insensitive file system (macOS's default) keys that differ
only in case share one file.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from moto.s3.models import S3Backend

from driftline.local import seams

LOGGER = logging.getLogger(__name__)

EMPTY_SEGMENT = "%"
OBJECT_SUFFIX = "%object"
"""Added to an object's file name when the plain name is the folder of other keys."""

_active: list[Path] = []
_lock = threading.Lock()
"""Requests are served on many threads; moving a file aside for a folder must not race another write."""


def encode_segment(segment: str) -> str:
    """One key segment as one file name: injective, never empty, ``.``, ``..`` or containing ``/``."""
    if segment == "":
        return EMPTY_SEGMENT
    if segment in (".", ".."):
        return "%2E" * len(segment)
    return "".join(
        f"%{ord(char):02X}" if char == "%" or ord(char) < 0x20 or ord(char) == 0x7F else char for char in segment
    )


def mirror_path(folder: Path, bucket: str, key: str) -> Path:
    """Where the copy of ``s3://<bucket>/<key>`` is on disk (or would be, if it were written now)."""
    *folders, name = [encode_segment(bucket), *(encode_segment(segment) for segment in key.split("/"))]
    return _object_path(folder.joinpath(*folders), name)


def write_copy(folder: Path, bucket: str, key: str, content: bytes) -> Path:
    """Write the copy of one object, making its folders (and moving an object that holds a folder's name aside)."""
    *folders, name = [encode_segment(bucket), *(encode_segment(segment) for segment in key.split("/"))]
    with _lock:
        parent = folder
        parent.mkdir(parents=True, exist_ok=True)
        for segment in folders:
            parent = parent / segment
            if parent.is_file():
                parent.replace(parent.with_name(segment + OBJECT_SUFFIX))
            parent.mkdir(exist_ok=True)
        target = _object_path(parent, name)
        target.write_bytes(content)
    return target


def _object_path(parent: Path, name: str) -> Path:
    aside = parent / (name + OBJECT_SUFFIX)
    return aside if aside.exists() or (parent / name).is_dir() else parent / name


def install(folder: Path) -> None:
    """Copy S3 writes into ``folder`` while the local cloud runs."""
    _active[:] = [folder]
    if seams.claim("s3_mirror"):
        _patch()


def _patch() -> None:
    original = S3Backend.put_object

    def put_object(self: S3Backend, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
        stored = original(self, bucket_name, key_name, value, *args, **kwargs)
        folder = _active[-1]
        try:
            write_copy(folder, bucket_name, key_name, bytes(stored.value))
        except Exception as error:  # the object is stored; only its copy on disk is missing
            LOGGER.warning(
                "S3 object s3://%s/%s is stored, but its copy under %s could not be written (%s)",
                bucket_name,
                key_name,
                folder,
                error,
            )
        return stored

    seams.replace(S3Backend, "put_object", put_object)
