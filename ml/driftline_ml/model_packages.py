"""The packages a dataset's own training script requires, installed once and carried inside its model.

A script's ``requirements.txt`` (beside it, in ``ml/models/<name>/``) is installed by the training job with pip into
a folder of its own, kept by the hash of the requirements and the interpreter (``DRIFTLINE_PACKAGE_CACHE``, else a
temporary folder), and put first on the import path for the script. The same folder is copied into the model folder
(``packages/``), so evaluation and serving, which may not reach a package index (processing jobs run without
network access), load the model with the very packages it was trained with: ``add_model_packages`` puts them on the
path before the model is unpickled.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from driftline_ml.jobs import JobInputError

REQUIREMENTS_FILE = "requirements.txt"
MODEL_PACKAGES_DIR = "packages"
"""In the model folder: the packages the model's training script required."""
COMPLETE_MARK = ".complete"
PIP_OUTPUT_TAIL = 700
"""How much of pip's output a failure reason quotes (its last lines say what went wrong)."""


def cache_root() -> Path:
    return Path(os.environ.get("DRIFTLINE_PACKAGE_CACHE") or Path(tempfile.gettempdir()) / "driftline-packages")


def requirements_key(requirements: str) -> str:
    """The requirements and the interpreter they are installed for: packages built for one do not serve another."""
    identity = f"{requirements}\n{sys.version}\n{platform.machine()}\n{platform.system()}"
    return hashlib.sha256(identity.encode()).hexdigest()[:20]


def install_requirements(requirements_path: Path, shown_as: str) -> Path:
    """The folder holding the installed requirements (installed now unless already kept); ``JobInputError`` with
    pip's own words when pip cannot install them."""
    requirements = requirements_path.read_text(encoding="utf-8")
    target = cache_root() / requirements_key(requirements)
    if (target / COMPLETE_MARK).is_file():
        print(f"Using the packages {shown_as} requires, installed before: {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-warn-script-location",
        "--target",
        str(staging),
        "--requirement",
        str(requirements_path),
    ]
    print(f"Installing the packages {shown_as} requires")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        output = " ".join((done.stderr or done.stdout).split())
        raise JobInputError(
            f"pip could not install {shown_as} (exit code {done.returncode}): ...{output[-PIP_OUTPUT_TAIL:]}"
        )
    (staging / COMPLETE_MARK).write_text(requirements, encoding="utf-8")
    try:
        staging.rename(target)
    except OSError:  # another job installed the same requirements meanwhile: theirs is kept
        shutil.rmtree(staging, ignore_errors=True)
    return target


def carry_into_model(packages: Path, model_dir: Path) -> None:
    """Copy the installed packages into the model folder, where evaluation and serving find them."""
    shutil.copytree(packages, model_dir / MODEL_PACKAGES_DIR, dirs_exist_ok=True)


def add_model_packages(model_dir: Path) -> None:
    """Put a model's own packages (if it carries any) first on the import path, before it is unpickled."""
    packages = model_dir / MODEL_PACKAGES_DIR
    if packages.is_dir() and str(packages) not in sys.path:
        sys.path.insert(0, str(packages))
