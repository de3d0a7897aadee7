"""Keeps a copy of every object written to the emulated S3 on disk.

The emulator lives in memory; the mirror is what lets a user open a run's model artifact, evaluation
report or uploaded data after local mode stops (``.driftline/s3/<bucket>/<key>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moto.s3.models import S3Backend

from driftline.local import seams

_active: list[Path] = []


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
        if not key_name.endswith("/"):
            target = (folder / bucket_name / key_name).resolve()
            if folder.resolve() in target.parents:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(bytes(stored.value))
        return stored

    seams.replace(S3Backend, "put_object", put_object)
