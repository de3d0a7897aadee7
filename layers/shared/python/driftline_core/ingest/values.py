"""What a CSV value means: missing, a number, or a class label.

Validate reads values with these rules and the preprocessing job (``ml/driftline_ml/values.py``, which cannot
import this layer) with the same rules written again; a test holds both to one table of cases, so a file that
passes Validate is read the same way by the jobs.
"""

from __future__ import annotations

import math

MISSING_VALUES = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)
"""Values that mean "no value": the markers pandas reads as missing, so the jobs see what this check saw."""


def is_missing(value: str) -> bool:
    return value in MISSING_VALUES or not value.strip()


def is_number(value: str) -> bool:
    """A finite decimal number as pandas reads one (no digit separators, no non-ASCII digits, no inf)."""
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number) and value.isascii() and "_" not in value


def class_label(value: str) -> str | None:
    """The class a target value names; None for a missing value.

    A number names its value, so ``1``, ``1.0``, ``01`` and `` 1`` are one class, written ``1``; any other
    text names itself, without surrounding spaces.
    """
    if is_missing(value):
        return None
    text = value.strip()
    if not is_number(text):
        return text
    number = float(text)
    return str(int(number)) if number.is_integer() else repr(number)
