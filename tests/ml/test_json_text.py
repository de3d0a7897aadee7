"""JSON read with a fixed nesting limit: the endpoint and the drift monitor judge a body alike, on any stack."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import pytest

from driftline_ml.json_text import MAX_JSON_DEPTH, JsonTooDeep, depth_beyond_limit, loads_bounded


def nested(depth: int) -> str:
    return '{"instances": [[1, 2]], "pad": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def on_a_deep_stack(frames: int, call: Callable[[], Any]) -> Any:
    """``call()`` with ``frames`` more frames below it, as a deep web stack would call it."""
    return call() if frames == 0 else on_a_deep_stack(frames - 1, call)


def test_a_body_within_the_limit_is_read_whatever_the_callers_stack() -> None:
    body = nested(MAX_JSON_DEPTH)
    # A caller as deep as the interpreter allows once the limit's levels (and a margin) are left: the frames
    # already below this test (pytest's, and its workers' when tests run in parallel) are counted.
    free = sys.getrecursionlimit() - len(inspect.stack(0)) - MAX_JSON_DEPTH - 50
    assert free > 500

    assert loads_bounded(body)["instances"] == [[1, 2]]
    assert on_a_deep_stack(free, lambda: loads_bounded(body))["instances"] == [[1, 2]]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 980, 100_000])
def test_a_body_past_the_limit_is_refused_on_a_shallow_stack_too(depth: int) -> None:
    with pytest.raises(JsonTooDeep, match=f"nested {depth} levels deep"):
        loads_bounded(nested(depth))


def test_brackets_inside_strings_are_text_not_nesting() -> None:
    brackets = "[" * 500 + '\\"' + "{" * 500
    body = '{"note": "' + brackets + '", "instances": [["a]", "[b"]]}'

    assert depth_beyond_limit(body) is None
    assert loads_bounded(body)["instances"] == [["a]", "[b"]]


def test_text_that_is_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        loads_bounded('{"instances": [[1, 2]')
