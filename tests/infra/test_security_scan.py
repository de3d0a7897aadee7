"""The policy scan `make test` runs (checkov, pinned in .venv-scan): every finding is fixed or waived with a reason.

Security reviewers read the scanner's report; these tests keep it clean, prove the scan still catches a
finding, and keep each waiver explained on its resource and in the README.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.transformed_template import REPO_ROOT, TEMPLATE, load_template, sam_transform

CHECKOV = REPO_ROOT / ".venv-scan" / "bin" / "checkov"
CONFIG = REPO_ROOT / ".checkov.yaml"
README = REPO_ROOT / "README.md"
CHECK_ID = re.compile(r"^CKV2?_AWS_\d+$")
ASYNC_EVENT_TYPES = {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2", "S3", "SNS"}
"""SAM event sources that invoke a function asynchronously."""


@pytest.fixture(scope="module")
def checkov() -> Path:
    if not CHECKOV.exists():
        pytest.skip("checkov not installed: `make scanner` creates .venv-scan with the pinned checkov (make test does)")
    return CHECKOV


def _scan(checkov: Path, *files: Path, config: Path = CONFIG) -> tuple[int, list[dict[str, Any]]]:
    """Run checkov as `make scan` does, with JSON output; return its exit code and its reports."""
    arguments = [str(checkov), "--config-file", str(config), "--output", "json"]
    for path in files:
        arguments += ["-f", str(path)]
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    result = subprocess.run(
        arguments, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.stdout.strip(), f"checkov printed no report:\n{result.stderr[-3000:]}"
    reports = json.loads(result.stdout)
    return result.returncode, reports if isinstance(reports, list) else [reports]


def _failed(reports: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (check["check_id"], check["resource"]) for report in reports for check in report["results"]["failed_checks"]
    ]


def _waivers(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(resource, check id, reason) of every inline waiver."""
    found = []
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found.append((name, skip.get("id", ""), skip.get("comment", "")))
    return found


def test_template_and_its_sam_transform_scan_clean(checkov: Path, tmp_path: Path) -> None:
    transformed = tmp_path / "transformed-template.json"
    transformed.write_text(json.dumps(sam_transform(load_template())))
    # The project's settings, but listing passed and waived checks too (quiet output lists failures only).
    settings = yaml.safe_load(CONFIG.read_text())
    settings["quiet"] = False
    verbose = tmp_path / "checkov.yaml"
    verbose.write_text(yaml.safe_dump(settings))
    code, reports = _scan(checkov, TEMPLATE, transformed, config=verbose)
    assert _failed(reports) == []
    assert code == 0
    summary = reports[0]["summary"]
    assert summary["passed"] > 0 and summary["parsing_errors"] == 0
    # Both files were read: the generated functions carry their waivers and are checked, not only the SAM source.
    waived_in = {check["file_path"] for report in reports for check in report["results"]["skipped_checks"]}
    assert any(path.endswith("template.yaml") for path in waived_in)
    assert any(path.endswith("transformed-template.json") for path in waived_in)


def test_a_new_bucket_without_logging_or_encryption_fails_the_scan_with_those_checks(
    checkov: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "template.yaml"
    copy.write_text(
        TEMPLATE.read_text()
        .rstrip("\n")
        .replace("\nResources:\n", "\nResources:\n  ScratchBucket:\n    Type: AWS::S3::Bucket\n\n", 1)
        + "\n"
    )
    code, reports = _scan(checkov, copy)
    failed = _failed(reports)
    assert code != 0
    assert ("CKV_AWS_18", "AWS::S3::Bucket.ScratchBucket") in failed
    assert {resource for _, resource in failed} == {"AWS::S3::Bucket.ScratchBucket"}


def test_every_waiver_names_a_check_and_gives_a_one_line_reason() -> None:
    waivers = _waivers(load_template())
    assert waivers
    for resource, check_id, reason in waivers:
        assert CHECK_ID.match(check_id), f"{resource}: {check_id!r} is not a checkov AWS check id"
        assert reason.strip() and "\n" not in reason, f"{resource} waives {check_id} without a one-line reason"
        assert len(reason) <= 130, f"{resource}'s reason for {check_id} is longer than one line"


def test_no_resource_waives_the_same_check_twice() -> None:
    waivers = _waivers(load_template())
    assert len({(resource, check_id) for resource, check_id, _ in waivers}) == len(waivers)


def test_only_functions_with_an_on_failure_destination_waive_the_dead_letter_queue_as_asynchronous() -> None:
    template = load_template()
    for resource, check_id, reason in _waivers(template):
        if check_id == "CKV_AWS_116" and "asynchronous invocations go to" in reason:
            config = template["Resources"][resource]["Properties"].get("EventInvokeConfig", {})
            assert config.get("DestinationConfig", {}).get("OnFailure"), resource
    waived_async = {r for r, c, why in _waivers(template) if c == "CKV_AWS_116" and "on-failure" in why}
    asynchronous = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and any(event["Type"] in ASYNC_EVENT_TYPES for event in resource["Properties"].get("Events", {}).values())
    }
    assert waived_async == asynchronous


def test_the_upload_storm_functions_have_a_concurrency_limit_instead_of_a_waiver() -> None:
    template = load_template()
    waived = {resource for resource, check_id, _ in _waivers(template) if check_id == "CKV_AWS_115"}
    for name, parameter in (
        ("StartRunFunction", "StartRunReservedConcurrency"),
        ("JobEventsFunction", "JobEventsReservedConcurrency"),
    ):
        assert name not in waived
        limit = template["Resources"][name]["Properties"]["ReservedConcurrentExecutions"]
        assert limit["Fn::If"][1] == {"Ref": parameter}
        assert template["Parameters"][parameter]["Default"] >= 5


def test_the_readme_lists_every_waiver() -> None:
    template = load_template()
    functions = [name for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    readme = README.read_text()
    section = readme[readme.index("### Security scan") :]
    listed = set()
    for row in (line for line in section.splitlines() if line.startswith("| CKV")):
        check_id, resources = (cell.strip() for cell in row.split("|")[1:3])
        names = functions if resources == "every function" else re.findall(r"`(\w+)`", resources)
        listed |= {(check_id, name) for name in names}
    waived = [(check_id, resource) for resource, check_id, _ in _waivers(template)]
    missing = [item for item in waived if item not in listed]
    assert not missing, f"waivers missing from the README's security scan table: {missing}"
