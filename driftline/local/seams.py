"""The one place local mode changes moto's behaviour, and the way to undo it.

Every patch goes through ``replace`` so that ``restore`` puts moto back exactly as it was: tests that
use plain moto after a local cloud stopped in the same process see plain moto again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_originals: dict[tuple[int, str], tuple[Any, str, Any]] = {}
_claimed: set[str] = set()


def claim(name: str) -> bool:
    """True the first time a group of patches is installed since the last ``restore``."""
    if name in _claimed:
        return False
    _claimed.add(name)
    return True


def claimed(name: str) -> bool:
    """Whether a group of patches is installed now."""
    return name in _claimed


def replace(owner: Any, attribute: str, value: Any) -> None:
    key = (id(owner), attribute)
    if key not in _originals:
        _originals[key] = (
            owner,
            attribute,
            owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute),
        )
    setattr(owner, attribute, value)


def add(owner: type, attribute: str, value: Any) -> None:
    """Give ``owner`` an attribute it lacks (an API action moto does not implement); ``restore`` removes it."""
    if attribute in owner.__dict__ and (id(owner), attribute) not in _added:
        raise RuntimeError(f"{owner.__name__}.{attribute} exists already: patch it with replace()")
    _added[(id(owner), attribute)] = owner
    setattr(owner, attribute, value)


_added: dict[tuple[int, str], type] = {}
_MISSING = object()
_original_items: dict[tuple[int, str], tuple[dict[str, Any], str, Any]] = {}


def replace_item(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Like ``replace``, for an entry of a configuration dictionary."""
    marker = (id(mapping), key)
    if marker not in _original_items:
        _original_items[marker] = (mapping, key, mapping.get(key, _MISSING))
    mapping[key] = value


def restore() -> None:
    for owner, attribute, original in _originals.values():
        setattr(owner, attribute, original)
    for mapping, key, original in _original_items.values():
        if original is _MISSING:
            mapping.pop(key, None)
        else:
            mapping[key] = original
    for (_, attribute), owner in _added.items():
        if attribute in owner.__dict__:
            delattr(owner, attribute)
    _originals.clear()
    _original_items.clear()
    _added.clear()
    _claimed.clear()


def undo(name: str, targets: list[tuple[Any, str]]) -> None:
    """Undo one group of patches (its ``claim`` name and the attributes it replaced), keeping the others."""
    _claimed.discard(name)
    for owner, attribute in targets:
        saved = _originals.pop((id(owner), attribute), None)
        if saved is not None:
            setattr(saved[0], saved[1], saved[2])
        elif _added.pop((id(owner), attribute), None) is not None and attribute in owner.__dict__:
            delattr(owner, attribute)


def around_cloudformation_create(
    model: type,
    *,
    before: Callable[[dict[str, Any], str, str], None] | None = None,
    after: Callable[[Any, dict[str, Any], str, str], None] | None = None,
) -> None:
    """Adjust what moto's CloudFormation does when it creates one resource type.

    ``before`` may edit the resource's template JSON; ``after`` may fix the created resource.
    """
    create = model.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def wrapped(
        cls: type,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        if before is not None:
            before(cloudformation_json, account_id, region_name)
        resource = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        if after is not None:
            after(resource, cloudformation_json, account_id, region_name)
        return resource

    replace(model, "create_from_cloudformation_json", classmethod(wrapped))
