"""A training script's ``requirements.txt``, read as pip reads it, so a line pip would stop at is refused at
validation, naming the line, instead of failing the training job minutes later.

Each line is blank, a comment, a requirement in PEP 508's form (``name[extras] <specifiers> ; <marker>``, or
``name @ <url>``), or one of pip's options for where packages come from (``--index-url``, ``--extra-index-url``,
``--find-links``, ``--trusted-host``, ``--pre``, ``--prefer-binary``, ``--only-binary``, ``--no-binary``). Options that
name other files or an editable checkout (``-r``, ``-c``, ``-e``) are refused: the training job installs from this
one file, on SageMaker's machine.

Validate also refuses a requirement naming a library the image already holds (``IMAGE_PACKAGES``): the installed
packages come first on the import path, so a second numpy would replace the one the image's scikit-learn was built
against, and the script, evaluation and serving would fail in ways far from the line that caused it.
"""

from __future__ import annotations

import re

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = rf"(?:\s*\[\s*(?:{_NAME}(?:\s*,\s*{_NAME})*)?\s*\])?"
_VERSION = r"[A-Za-z0-9.*+!_-]+"
_SPECIFIER = rf"(?:===|==|!=|~=|>=|<=|>|<)\s*{_VERSION}"
_SPECIFIERS = rf"(?:\s*\(?\s*{_SPECIFIER}(?:\s*,\s*{_SPECIFIER})*\s*,?\s*\)?)?"
_URL = r"\s*@\s*\S+"
_MARKER = r"(?:\s*;\s*\S.*)?"
REQUIREMENT = re.compile(rf"^{_NAME}{_EXTRAS}(?:{_URL}|{_SPECIFIERS}){_MARKER}$")
SOURCE_OPTIONS = (
    "--index-url",
    "-i",
    "--extra-index-url",
    "--find-links",
    "-f",
    "--trusted-host",
    "--pre",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
)
FILE_OPTIONS = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")
IMAGE_PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "joblib", "threadpoolctl")
"""SageMaker's scikit-learn image's own libraries (its scikit-learn and what that is built and run with)."""
IMAGE_NAMES = {"scikit-learn": "scikit-learn", "xgboost": "XGBoost", "pytorch": "PyTorch"}
TORCH_PACKAGES = ("torch", "torchvision", "torchaudio", "torchtext", "torchdata")
"""The PyTorch images' own builds of PyTorch and its libraries (aws/deep-learning-containers, pytorch 2.6)."""
FRAMEWORK_PACKAGES = {
    "scikit-learn": IMAGE_PACKAGES,
    "xgboost": ("xgboost", *IMAGE_PACKAGES),
    "pytorch": (*TORCH_PACKAGES, *IMAGE_PACKAGES),
}
"""Each framework image's own libraries: the XGBoost and PyTorch images hold theirs beside the same scientific
stack (the PyTorch serving image installs scikit-learn and pandas too)."""


def requirements_problems(
    text: str, shown_as: str, *, image_packages: tuple[str, ...] = (), image: str = "scikit-learn"
) -> list[str]:
    """One sentence per line pip would not read as this file's own requirement or package source, or that names
    one of ``image_packages``, which the image already holds."""
    held = {_normalized(name): name for name in image_packages}
    problems = []
    for number, raw in enumerate(_logical_lines(text), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        option = line.split("=", 1)[0].split(None, 1)[0] if line.startswith("-") else ""
        if option in FILE_OPTIONS:
            problems.append(
                f"{shown_as} line {number} ({line!r}) names another file or an editable checkout; list the packages "
                "themselves"
            )
        elif line.startswith("-"):
            if option not in SOURCE_OPTIONS:
                problems.append(
                    f"{shown_as} line {number} ({line!r}) is a pip option the training job does not take; use "
                    f"requirements and the package source options ({', '.join(SOURCE_OPTIONS[::2])})"
                )
        elif not REQUIREMENT.fullmatch(line):
            problems.append(
                f"{shown_as} line {number} ({line!r}) is not a requirement pip can read; write name, optional "
                "[extras] and version specifiers such as 'lightgbm==4.3.0' or 'catboost>=1.2,<1.3'"
            )
        elif (distribution := _normalized(_leading_name(line))) in held:
            problems.append(
                f"{shown_as} line {number} ({line!r}) names {held[distribution]}, which the {IMAGE_NAMES[image]} "
                "image already holds; a second copy would come first on the import path and replace the image's "
                f"own, which its {IMAGE_NAMES[image]} is built against. Remove the line: the script uses the image's"
            )
    return problems


def _leading_name(line: str) -> str:
    match = re.match(_NAME, line)
    return match.group(0) if match else ""


def _normalized(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): case-insensitive, runs of ``-``, ``_`` and ``.`` alike."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _logical_lines(text: str) -> list[str]:
    """The file's lines, a line ending in a backslash joined with the next, as pip joins them."""
    lines: list[str] = []
    pending = ""
    for line in text.splitlines():
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return lines
