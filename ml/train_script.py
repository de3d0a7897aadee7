"""Training job for a dataset's own training script: ``ml/models/<name>/train.py``, chosen in dataset.json
(``"model": {"script": "<name>"}``) and published with the rest of ``ml/``.

SageMaker's scikit-learn container runs this file in script mode (``python train_script.py --model_script <name>
--<hyperparameter> <value> ...``); it runs the model's script as ``__main__`` with the rest of the arguments and with
this folder first on the import path, so the script imports ``driftline_ml.model_script`` for its data and its model
folder. A ``requirements.txt`` beside the script is installed first (``driftline_ml.model_packages``); pip's error
fails the job, as does an import of a module the image lacks, naming it. Only a script under ``models/`` beside this
file can be named. With ``"framework": "xgboost"`` SageMaker's XGBoost container runs it the same way, and with
``"framework": "pytorch"`` SageMaker's PyTorch training container.
"""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

from driftline_ml.jobs import JobInputError, output_dir, run_job
from driftline_ml.model_packages import REQUIREMENTS_FILE, install_requirements
from driftline_ml.model_script import RUNNING

CODE_DIR = Path(__file__).resolve().parent
MODELS_DIR = CODE_DIR / "models"
FRAMEWORK_CONTAINERS = {"xgboost": ("XGBoost", "xgboost"), "torch": ("PyTorch", "pytorch")}
"""Libraries a framework container of their own holds: (its name, its ``"framework"`` in dataset.json)."""
SCRIPT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""A model script's folder name: what dataset.json may name (Validate checks the same pattern)."""


def script_path(name: str) -> Path:
    """``models/<name>/train.py``; ``JobInputError`` for a name that is not a model folder's."""
    if not SCRIPT_NAME.fullmatch(name):
        raise JobInputError(f"model_script {name!r} is not a model folder's name (lowercase letters, digits and _)")
    path = MODELS_DIR / name / "train.py"
    if not path.is_file():
        raise JobInputError(f"there is no training script models/{name}/train.py in the published code")
    return path


def prepare(name: str) -> Path:
    """The script to run, its requirements installed and put first on the import path."""
    path = script_path(name)
    requirements = path.parent / REQUIREMENTS_FILE
    packages = (
        install_requirements(requirements, f"models/{name}/{REQUIREMENTS_FILE}") if requirements.is_file() else None
    )
    if packages is not None:
        sys.path.insert(0, str(packages))
    RUNNING.name, RUNNING.packages = name, packages
    return path


def split_arguments(argv: list[str]) -> tuple[str, list[str]]:
    """The ``--model_script`` value (either spelling), and every other argument for the model's script."""
    name, rest = "", []
    arguments = iter(argv)
    for argument in arguments:
        if argument in ("--model_script", "--model-script"):
            name = next(arguments, "")
        else:
            rest.append(argument)
    return name, rest


def main(argv: list[str] | None = None) -> int:
    name, rest = split_arguments(sys.argv[1:] if argv is None else argv)
    prepared: list[Path] = []
    failed = run_job(lambda: prepared.append(prepare(name)), what="Training", reason_file=output_dir() / "failure")
    if failed:
        return failed
    sys.argv = [str(prepared[0]), *rest]
    sys.path.insert(0, str(CODE_DIR))
    ended: list[int] = []

    def execute() -> None:
        try:
            runpy.run_path(str(prepared[0]), run_name="__main__")
        except SystemExit as exit_:
            ended.append(exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1))
        except ModuleNotFoundError as error:
            raise JobInputError(missing_module_reason(name, error)) from error

    failed = run_job(execute, what="Training", reason_file=output_dir() / "failure")
    return failed or (ended[0] if ended else 0)


def missing_module_reason(name: str, error: ModuleNotFoundError) -> str:
    """Why a script that imports what the image lacks cannot run, and the two ways to give it the library."""
    module = (error.name or "").split(".")[0] or "a module"
    container = FRAMEWORK_CONTAINERS.get(module)
    advice = (
        f'run the script on {container[0]}\'s framework container ("framework": "{container[1]}" in dataset.json\'s '
        "model) or "
        if container
        else ""
    )
    return (
        f"ml/models/{name}/train.py imports {module}, which the training image does not hold ({error}); "
        f"{advice}name its package in ml/models/{name}/{REQUIREMENTS_FILE}"
    )


if __name__ == "__main__":
    sys.exit(main())
