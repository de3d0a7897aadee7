"""Validate a Lambda event into the handler's typed input model before the handler runs.

The handlers' own small decorator in place of Powertools' ``event_parser``: importing Powertools' parser
package also builds the pydantic models of every AWS event it knows, which a cold start pays for though
each handler reads one shape. Behaviour is the same: a dict (or a JSON string) is validated into the
model, and an event that does not fit raises pydantic's ``ValidationError``, naming each field that is
wrong, for the caller to see (the state machine's Catch, or the invoker).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)
ResultT = TypeVar("ResultT")


def validate_event(event: dict[str, Any] | str, model: type[ModelT]) -> ModelT:
    """The event as ``model``; raises ``pydantic.ValidationError`` when it does not fit."""
    if isinstance(event, str):
        return model.model_validate_json(event)
    return model.model_validate(event)


def validated_event(
    model: type[ModelT],
) -> Callable[[Callable[[ModelT, Any], ResultT]], Callable[[dict[str, Any] | str, Any], ResultT]]:
    """Decorator: the handler receives its event validated into ``model``.

    The model's validator is built here, while the function initialises, so the first invocation does not
    pay for it; models the handler does not use are never built (they defer their build until first use).
    """
    model.model_rebuild()

    def decorate(handler: Callable[[ModelT, Any], ResultT]) -> Callable[[dict[str, Any] | str, Any], ResultT]:
        @functools.wraps(handler)
        def handle(event: dict[str, Any] | str, context: Any) -> ResultT:
            return handler(validate_event(event, model), context)

        return handle

    return decorate
