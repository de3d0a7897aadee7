"""What every job script shares: readable failure reasons, JSON files and locating its input files.

SageMaker shows the first kilobyte of ``/opt/ml/output/failure`` (training) or ``/opt/ml/output/message``
(processing) as the job's failure reason, and the pipeline forwards it to the person who uploaded the data,
so errors the user can fix are raised as ``JobInputError`` with a message that says what to do.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT_DIR = "/opt/ml/output"
MAX_REASON_CHARS = 1000
"""SageMaker keeps 1 KB of a failure reason; longer text is cut so the sentence that matters survives."""


class JobInputError(Exception):
    """A problem with the job's inputs (data, config, hyperparameters) that the user can fix."""


def output_dir() -> Path:
    """SageMaker's output folder, where failure reasons go; ``SM_OUTPUT_DIR`` moves it."""
    return Path(os.environ.get("SM_OUTPUT_DIR", DEFAULT_OUTPUT_DIR))


def processing_dir() -> Path:
    """``/opt/ml/processing``, where processing jobs find their inputs and leave their outputs.

    It sits beside the output folder, so a runner that relocates ``/opt/ml`` (and says so through
    ``SM_OUTPUT_DIR``) relocates it too; the scripts' path arguments override it folder by folder.
    """
    return output_dir().parent / "processing"


def run_job(job: Callable[[], None], *, what: str, reason_file: Path) -> int:
    """Run ``job`` and turn any exception into one readable paragraph in ``reason_file`` and exit code 1."""
    try:
        job()
    except JobInputError as error:
        reason = f"{what} failed: {error}"
    except Exception as error:
        traceback.print_exc()
        reason = (
            f"{what} failed with an unexpected {type(error).__name__}: {error}. The job's log holds the full traceback."
        )
    else:
        return 0
    reason = " ".join(reason.split())[:MAX_REASON_CHARS]
    print(reason, file=sys.stderr)
    write_reason(reason_file, reason)
    return 1


def write_reason(path: Path, reason: str) -> None:
    """Write the reason where SageMaker looks for it.

    The folder is created only inside an existing parent (``/opt/ml`` in a container), so a run outside a
    container that forgot to point the path elsewhere never writes into the host's ``/opt``.
    """
    folder = path.parent
    if not folder.is_dir() and folder.parent.is_dir():
        folder.mkdir(exist_ok=True)
    if folder.is_dir():
        path.write_text(reason + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise JobInputError(f"{path.name} is not valid JSON ({error})") from error


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def find_input_files(folder: Path, suffix: str | tuple[str, ...], description: str) -> list[Path]:
    """Every file a job input holds whose name ends in ``suffix`` (or one of several; any letter case), sorted
    by their paths inside the folder, so every run reads them in the same order; a folder holding exactly one
    file of any name gives that file."""
    if not folder.is_dir():
        raise JobInputError(f"the {description} input folder {folder} does not exist; check the job's inputs")
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    matching = [p for p in files if p.name.lower().endswith(suffix)]
    if not matching and len(files) == 1:
        return files  # one file of any name, as find_input_file accepts it
    if not matching:
        found = f"holds no file ending in {suffix}" if files else "is empty"
        raise JobInputError(f"the {description} input folder {folder} {found}; check the job's inputs")
    return matching


def find_input_file(folder: Path, suffix: str | tuple[str, ...], description: str) -> Path:
    """The one file a job input holds (SageMaker names it after the S3 object, so the name is not fixed).

    Files ending in ``suffix`` (or one of several; any letter case) win; otherwise a folder holding exactly one
    file of any name is accepted.
    """
    if not folder.is_dir():
        raise JobInputError(f"the {description} input folder {folder} does not exist; check the job's inputs")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    matching = [p for p in files if p.name.lower().endswith(suffix)] or files
    if not matching:
        raise JobInputError(f"the {description} input folder {folder} is empty; check the job's inputs")
    if len(matching) > 1:
        names = ", ".join(p.name for p in matching[:5])
        raise JobInputError(f"the {description} input folder holds {len(matching)} files ({names}); expected one")
    return matching[0]


def hosts(path: Path) -> tuple[str, list[str]]:
    """This instance's name and all instances' names (``resourceconfig.json``); one host outside a cluster."""
    if not path.is_file():
        return "algo-1", ["algo-1"]
    config = read_json(path)
    current = str(config.get("current_host") or "algo-1")
    return current, [str(h) for h in config.get("hosts") or [current]]


def read_run_config(folder: Path) -> dict[str, Any]:
    """The run's resolved config (``config.json``) when the job is given one; an empty config otherwise."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return {}
    config = read_json(find_input_file(folder, ".json", "config"))
    if not isinstance(config, dict):
        raise JobInputError("the run config must be a JSON object")
    return config
