"""What a CSV value means: missing, a number, or a class label (the rules Validate applies before any job runs).

Validate's copy of these rules lives in the Lambda layer (``driftline_core/ingest/values.py``), which job scripts cannot
import; a test holds both to one table of cases, so the jobs read every value the way Validate judged it.
"""

from __future__ import annotations

import math
from typing import Any

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
"""pandas' default missing-value markers, listed here so every pandas version reads them the same way."""


def is_missing(value: Any) -> bool:
    """A value pandas read as missing (NaN, None) or a missing marker pandas kept as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    text = str(value)
    return text in MISSING_VALUES or not text.strip()


def is_number(text: str) -> bool:
    """A finite decimal number written in ASCII digits, without digit separators."""
    try:
        number = float(text)
    except ValueError:
        return False
    return math.isfinite(number) and text.isascii() and "_" not in text


def class_label(value: Any) -> str | None:
    """The class a target value names, None when missing: a number names its value (``1``, ``1.0`` and ``01``
    are class ``1``), other text names itself without surrounding spaces."""
    if is_missing(value):
        return None
    text = str(value).strip()
    if not is_number(text):
        return text
    number = float(text)
    return str(int(number)) if number.is_integer() else repr(number)


def label_sort_key(label: str) -> tuple[float, str]:
    """Numeric labels sort by value ("2" before "10"), others alphabetically: "1" and "yes" are positive."""
    try:
        return (float(label), label)
    except ValueError:
        return (float("inf"), label)
