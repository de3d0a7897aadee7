"""JSON text read with a fixed nesting limit, the same on a shallow stack as on a deep one.

Python's decoder recurses once per nested array or object and stops at the interpreter's recursion limit, which
counts the caller's own frames too: the same request body decodes on a shallow stack and fails on a deep one.
The endpoint and the drift monitor must agree on what a request holds, so both refuse JSON nested deeper than
``MAX_JSON_DEPTH`` before decoding it. A request row is at most three levels deep (``{"instances": [[...]]}``).

Standard library only: ``serve.py`` runs it in SageMaker's scikit-learn container (Python 3.9).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 100
"""Nesting levels read; far beyond any request's, and few enough that any caller with a tenth of the interpreter's
recursion limit left decodes them."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET_RUN = re.compile(r"[\[{]+|[\]}]+")


class JsonTooDeep(ValueError):
    """JSON text nested deeper than ``MAX_JSON_DEPTH``."""

    def __init__(self, depth: int) -> None:
        super().__init__(f"nested {depth} levels deep, where at most {MAX_JSON_DEPTH} are read")
        self.depth = depth


def depth_beyond_limit(text: str) -> int | None:
    """How deeply arrays and objects nest in ``text`` outside its strings when that is deeper than
    ``MAX_JSON_DEPTH``, else None. Text with no more opening brackets than the limit is not scanned."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None
    structure = _STRING.sub("", text) if '"' in text else text
    depth = deepest = 0
    for run in _BRACKET_RUN.findall(structure):
        if run[0] in "[{":
            depth += len(run)
            deepest = max(deepest, depth)
        else:
            depth -= len(run)
    return deepest if deepest > MAX_JSON_DEPTH else None


def loads_bounded(text: str) -> Any:
    """``json.loads`` of text nested at most ``MAX_JSON_DEPTH`` deep: ``JsonTooDeep`` for deeper text, which is
    never decoded, and ``ValueError`` (``json.JSONDecodeError``) for text that is not JSON."""
    depth = depth_beyond_limit(text)
    if depth is not None:
        raise JsonTooDeep(depth)
    return json.loads(text)
