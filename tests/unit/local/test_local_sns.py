"""SNS email in local mode: each message is an ``.eml`` file any mail client, or a pager, can read."""

from __future__ import annotations

import email
import email.policy
import io
from pathlib import Path

from driftline.local.console import Console
from driftline.local.sns import Outbox, attribute_values

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:driftline-notifications"
BODY = (
    "Model registered for dataset credit — AUC 0.93 ≥ threshold 0.90.\n"
    "Package: arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1\n"
    "Approve it in SageMaker Studio to deploy."
)


def _deliver(
    folder: Path, subject: str | None = "Driftline: model registered (credit)", attributes: dict[str, str] | None = None
) -> tuple[Path, str]:
    stream = io.StringIO()
    path = Outbox(folder, Console(stream)).deliver(
        to="ml-team@example.com",
        topic_arn=TOPIC_ARN,
        subject=subject,
        body=BODY,
        message_id="5a1c9e0b-7d2f-4e88",
        attributes=attributes,
    )
    return path, stream.getvalue()


def test_a_message_becomes_an_email_with_the_subscriber_subject_and_body(tmp_path: Path) -> None:
    path, _ = _deliver(tmp_path / "outbox")

    assert path.parent == tmp_path / "outbox"
    assert path.suffix == ".eml"
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ml-team@example.com"
    assert message["Subject"] == "Driftline: model registered (credit)"
    assert message["X-SNS-Topic-Arn"] == TOPIC_ARN
    body = message.get_body()
    assert body is not None
    assert body.get_content().rstrip("\n") == BODY


def test_the_file_is_plain_utf8_text_without_quoted_printable(tmp_path: Path) -> None:
    path, _ = _deliver(tmp_path)

    text = path.read_bytes().decode("utf-8")
    assert BODY in text
    assert "Content-Transfer-Encoding: 8bit" in text
    assert "=E2=80=94" not in text


def test_the_file_name_says_what_the_message_is_about(tmp_path: Path) -> None:
    path, _ = _deliver(tmp_path)

    assert "driftline-model-registered-credit" in path.name


def test_a_message_without_subject_gets_sns_s_default_subject(tmp_path: Path) -> None:
    path, _ = _deliver(tmp_path, subject=None)

    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "AWS Notification Message"


def test_the_terminal_shows_one_line_with_recipient_subject_and_where_the_file_is(tmp_path: Path) -> None:
    path, printed = _deliver(tmp_path, attributes={"outcome": "registered", "dataset": "credit", "run": "credit-1"})

    assert printed.splitlines() == [
        f"{printed[:8]} [email] to ml-team@example.com: Driftline: model registered (credit) ({path})"
    ]
    assert "Approve it in SageMaker Studio" not in printed


def test_an_approval_request_says_which_run_waits_and_which_file_has_its_links(tmp_path: Path) -> None:
    attributes = {"outcome": "approval-requested", "dataset": "credit", "run": "credit-5e4f54c7bade"}
    path, printed = _deliver(tmp_path, "Driftline: credit model version 3 waits for your approval", attributes)

    assert f"[run] credit-5e4f54c7bade: waiting for approval: links in {path}" in printed


def test_string_attributes_are_read_as_the_emulator_holds_them_or_as_they_were_published() -> None:
    held = {"run": {"Type": "String", "Value": "credit-1"}, "outcome": {"DataType": "String", "StringValue": "failed"}}

    assert attribute_values(held) == {"run": "credit-1", "outcome": "failed"}
    assert attribute_values(None) == {}
