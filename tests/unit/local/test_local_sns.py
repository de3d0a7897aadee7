"""SNS email in local mode: each message is an ``.eml`` file any mail client, or a pager, can read."""

from __future__ import annotations

import email
import email.policy
import io
from pathlib import Path

from driftline.local.console import Console
from driftline.local.sns import Outbox

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:driftline-notifications"
BODY = (
    "Model registered for dataset credit — AUC 0.93 ≥ threshold 0.90.\n"
    "Package: arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1\n"
    "Approve it in SageMaker Studio to deploy."
)


def _deliver(folder: Path, subject: str | None = "Driftline: model registered (credit)") -> tuple[Path, str]:
    stream = io.StringIO()
    path = Outbox(folder, Console(stream)).deliver(
        to="ml-team@example.com", topic_arn=TOPIC_ARN, subject=subject, body=BODY, message_id="5a1c9e0b-7d2f-4e88"
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


def test_the_terminal_shows_recipient_subject_body_and_where_the_file_is(tmp_path: Path) -> None:
    path, printed = _deliver(tmp_path)

    assert "[email] to ml-team@example.com: Driftline: model registered (credit)" in printed
    assert "[email]   Approve it in SageMaker Studio to deploy." in printed
    assert f"(saved to {path})" in printed
