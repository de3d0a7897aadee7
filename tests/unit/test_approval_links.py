"""Approval links: only a link Driftline signed, unchanged and unexpired, names a decision."""

from __future__ import annotations

import pytest

from driftline_core.approval.links import verify_link
from driftline_core.approval.signatures import approval_id_for, sign_link
from driftline_core.errors import LinkExpired, LinkInvalid

KEY = b"k" * 64
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"


def test_a_signed_link_verifies_to_its_approval_decision_and_expiry() -> None:
    approval_id = approval_id_for(PACKAGE)
    link = sign_link(approval_id, "reject", 2_000_000_000, KEY)

    signed = verify_link(link, KEY, now=1_999_999_999)

    assert (signed.approval_id, signed.decision, signed.expires_at) == (approval_id, "reject", 2_000_000_000)
    assert all(ch.isalnum() or ch in "-_." for ch in link), "links are URL-safe without escaping"


def test_one_package_has_one_approval_id_and_another_package_another() -> None:
    assert approval_id_for(PACKAGE) == approval_id_for(PACKAGE)
    assert approval_id_for(PACKAGE) != approval_id_for(PACKAGE.replace("/3", "/4"))


@pytest.mark.parametrize("part", [0, 1, 2])
def test_changing_any_field_of_a_link_breaks_its_signature(part: int) -> None:
    fields = sign_link(approval_id_for(PACKAGE), "reject", 2_000_000_000, KEY).split(".")
    fields[part] = {0: "0" * 32, 1: "approve", 2: "2000086400"}[part]

    with pytest.raises(LinkInvalid):
        verify_link(".".join(fields), KEY, now=0)


def test_a_link_signed_with_another_key_is_refused() -> None:
    link = sign_link(approval_id_for(PACKAGE), "approve", 2_000_000_000, b"another key")

    with pytest.raises(LinkInvalid, match="signature does not match"):
        verify_link(link, KEY, now=0)


@pytest.mark.parametrize("link", ["", "abc", "a.b.c", "a.b.c.d.e", "../../etc/passwd"])
def test_malformed_links_are_refused(link: str) -> None:
    with pytest.raises(LinkInvalid):
        verify_link(link, KEY, now=0)


def test_a_link_stops_working_at_its_expiry_with_status_410() -> None:
    link = sign_link(approval_id_for(PACKAGE), "approve", 2_000_000_000, KEY)

    verify_link(link, KEY, now=1_999_999_999.9)
    with pytest.raises(LinkExpired) as refused:
        verify_link(link, KEY, now=2_000_000_000)
    assert refused.value.status == 410
    assert "2033-05-18T03:33:20Z" in str(refused.value)


def test_a_packages_promotion_has_its_own_approval_id_so_the_models_links_never_decide_it() -> None:
    from driftline_core.approval.signatures import promotion_approval_id

    assert promotion_approval_id(PACKAGE) != approval_id_for(PACKAGE)
    assert promotion_approval_id(PACKAGE) == promotion_approval_id(PACKAGE)
    assert len(promotion_approval_id(PACKAGE)) == len(approval_id_for(PACKAGE)) == 32
