"""DynamoDB: a conditional write is one atomic step, as on DynamoDB.

DynamoDB checks a ``ConditionExpression`` and applies the write as one operation, so two conditional updates of
one item cannot both pass their condition; the approval record relies on it to keep one decision per model
version. moto checks and then writes, and local mode's threaded server handles requests at once, so two writes
could interleave between check and write. Here every item read and write runs under one lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

from driftline.local import seams

ITEM_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "transact_write_items")
_lock = threading.RLock()


def install() -> None:
    if not seams.claim("dynamodb"):
        return
    for name in ITEM_OPERATIONS:
        seams.replace(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)

    return atomic
