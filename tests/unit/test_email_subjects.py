"""Every email's subject follows SNS's rule: ASCII, one line, under 100 characters, whichever stage writes it."""

from __future__ import annotations

import pytest

from driftline_core.drift.job_events import job_failed_notification
from driftline_core.drift.model_monitor import execution_failed_notification
from driftline_core.drift.retrain import fresh_data_needed
from driftline_core.notifications.publish import SUBJECT_LIMIT, Notification, email_subject
from driftline_core.training.job_requests import DATASET_VARIABLE, ENDPOINT_VARIABLE

LONG_DATASET = "d" * 40 + "-" + "x" * 200
ODD_DATASET = "crédit\nscoring ✓"


def _sns_accepts(subject: str) -> bool:
    return len(subject) < 100 and subject.isascii() and "\n" not in subject and subject.isprintable()


def _drift_emails(dataset: str) -> dict[str, Notification]:
    description = {
        "ProcessingJobName": "stack-credit-monitor-202612061200",
        "ProcessingJobStatus": "Failed",
        "FailureReason": "AlgorithmError: boom",
        "Environment": {DATASET_VARIABLE: dataset, ENDPOINT_VARIABLE: "e"},
    }
    return {
        "monitor failed": job_failed_notification(description, "monitor"),
        "baseline failed": job_failed_notification(description, "baseline"),
        "model monitor failed": execution_failed_notification("job", "Failed", "boom", dataset, "e", "s"),
        "fresh data needed": fresh_data_needed(dataset, "stack-drift-x", [], None, None, None),
    }


@pytest.mark.parametrize("dataset", ["credit", LONG_DATASET, ODD_DATASET])
def test_drift_emails_have_subjects_sns_accepts(dataset: str) -> None:
    for what, email in _drift_emails(dataset).items():
        assert _sns_accepts(email.subject), (what, email.subject)


def test_a_drift_subject_names_the_dataset_and_what_happened() -> None:
    emails = _drift_emails("credit")

    assert emails["monitor failed"].subject == "Driftline: credit drift monitoring failed"
    assert emails["baseline failed"].subject == "Driftline: credit drift baseline failed"
    assert emails["model monitor failed"].subject == "Driftline: credit drift monitoring failed"
    assert emails["fresh data needed"].subject == "Driftline: drift in credit, fresh labelled data needed"


def test_a_long_dataset_name_is_shortened_not_the_subject_cut_mid_word() -> None:
    subject = email_subject(LONG_DATASET, "drift monitoring failed")

    assert subject.endswith("... drift monitoring failed")
    assert len(subject) <= SUBJECT_LIMIT


def test_characters_sns_refuses_become_question_marks() -> None:
    assert email_subject(ODD_DATASET, "model deployed") == "Driftline: cr?dit?scoring ? model deployed"
