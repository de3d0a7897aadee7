"""Local mode's patches to moto come off exactly: after ``restore`` moto behaves as if never touched."""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest

from driftline.local import seams


class Backend:
    greeting = "hello"

    def describe(self) -> str:
        return "moto"

    @classmethod
    def create(cls) -> str:
        return f"created by {cls.__name__}"


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    yield
    seams.restore()


def test_a_replaced_method_is_used_until_restore_puts_the_original_back() -> None:
    original = Backend.__dict__["describe"]

    seams.replace(Backend, "describe", lambda self: "local mode")
    assert Backend().describe() == "local mode"

    seams.restore()
    assert Backend().describe() == "moto"
    assert Backend.__dict__["describe"] is original


def test_a_classmethod_comes_back_as_the_same_classmethod() -> None:
    original = Backend.__dict__["create"]

    seams.replace(Backend, "create", classmethod(lambda cls: "patched"))
    assert Backend.create() == "patched"

    seams.restore()
    assert Backend.__dict__["create"] is original
    assert Backend.create() == "created by Backend"


def test_replacing_twice_still_restores_the_very_first_value() -> None:
    seams.replace(Backend, "greeting", "first patch")
    seams.replace(Backend, "greeting", "second patch")
    assert Backend.greeting == "second patch"

    seams.restore()
    assert Backend.greeting == "hello"


def test_an_attribute_of_a_module_is_restored() -> None:
    module = types.SimpleNamespace(endpoint="https://aws.amazon.com")

    seams.replace(module, "endpoint", "http://127.0.0.1:4777")
    assert module.endpoint == "http://127.0.0.1:4777"

    seams.restore()
    assert module.endpoint == "https://aws.amazon.com"


def test_dictionary_entries_are_put_back_and_added_ones_removed() -> None:
    config = {"Timeout": 3, "MemorySize": 128}

    seams.replace_item(config, "Timeout", 900)
    seams.replace_item(config, "Timeout", 901)
    seams.replace_item(config, "Endpoint", "http://127.0.0.1:4777")
    assert config == {"Timeout": 901, "MemorySize": 128, "Endpoint": "http://127.0.0.1:4777"}

    seams.restore()
    assert config == {"Timeout": 3, "MemorySize": 128}


def test_an_entry_that_was_none_comes_back_as_none_not_missing() -> None:
    config = {"Endpoint": None}

    seams.replace_item(config, "Endpoint", "http://127.0.0.1:4777")
    seams.restore()

    assert config == {"Endpoint": None}


def test_a_group_of_patches_is_claimed_once_until_restore() -> None:
    assert seams.claim("test-group") is True
    assert seams.claim("test-group") is False
    assert seams.claim("another-group") is True

    seams.restore()
    assert seams.claim("test-group") is True


class Response(Backend):
    """A subclass that inherits ``describe``: ``add`` gives it one of its own."""


def test_undo_takes_off_one_group_of_patches_and_an_added_override_with_it() -> None:
    assert seams.claim("locked")
    seams.add(Response, "describe", lambda self: "under a lock")
    seams.replace(Backend, "greeting", "patched by another group")
    assert Response().describe() == "under a lock"

    seams.undo("locked", [(Response, "describe")])
    assert "describe" not in Response.__dict__ and Response().describe() == "moto"
    assert Backend.greeting == "patched by another group"
    assert seams.claim("locked"), "the group may be installed again"
