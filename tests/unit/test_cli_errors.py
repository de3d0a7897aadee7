"""What the ``driftline`` command says when it cannot go on: one or two lines that say what to do, never a traceback
for a condition a user can fix."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    UnauthorizedSSOTokenError,
)

from driftline.cli import main, run_reported
from driftline.cli_errors import CommandError, explain


def _client_error(code: str, message: str, operation: str = "DescribeStacks") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def _reported(error: BaseException, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    def command(_: argparse.Namespace) -> int:
        raise error

    code = run_reported(command, argparse.Namespace())
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            NoRegionError(),
            "driftline: no AWS region is set: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region; "
            "for local mode pass --local\n",
        ),
        (
            NoCredentialsError(),
            "driftline: no AWS credentials were found: run `aws configure` or `aws sso login`, or set AWS_PROFILE; "
            "for local mode pass --local\n",
        ),
        (
            _client_error("ExpiredToken", "The security token included in the request is expired"),
            "driftline: your AWS credentials have expired (ExpiredToken): refresh them (`aws sso login`, or new "
            "keys) and try again\n",
        ),
        (
            _client_error("InvalidClientTokenId", "The security token included in the request is invalid."),
            "driftline: AWS did not accept your credentials (InvalidClientTokenId: The security token included in "
            "the request is invalid.): check AWS_PROFILE or the access keys; for local mode pass --local\n",
        ),
        (
            _client_error("AccessDenied", "User: arn:aws:iam::1:user/sam is not authorized", "ListExecutions"),
            "driftline: AWS refused ListExecutions (AccessDenied): User: arn:aws:iam::1:user/sam is not authorized\n"
            "driftline: your credentials need that permission to do this\n",
        ),
        (
            _client_error("ThrottlingException", "Rate exceeded", "GetExecutionHistory"),
            "driftline: AWS answered GetExecutionHistory with ThrottlingException: Rate exceeded\n",
        ),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:4777/"),
            "driftline: cannot reach local mode at http://127.0.0.1:4777/: is it still running? "
            "(`driftline local up` starts it)\n",
        ),
        (
            EndpointConnectionError(endpoint_url="https://states.eu-west-1.amazonaws.com/"),
            'driftline: Could not connect to the endpoint URL: "https://states.eu-west-1.amazonaws.com/"; '
            "check your network connection and the region\n",
        ),
        (
            ProfileNotFound(profile="work"),
            "driftline: The config profile (work) could not be found: check AWS_PROFILE against the profiles in "
            "~/.aws/config\n",
        ),
        (CommandError("no run named 'x' or starting so"), "driftline: no run named 'x' or starting so\n"),
    ],
)
def test_an_expected_condition_is_told_in_a_line_or_two_that_say_what_to_do(
    error: BaseException, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _reported(error, capsys)

    assert code == 1
    assert err == said


def test_an_expired_sign_in_says_to_sign_in_again(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _reported(UnauthorizedSSOTokenError(), capsys)

    assert code == 1
    assert err.startswith("driftline: your AWS sign-in has expired or is missing (")
    assert err.endswith("run `aws sso login` and try again\n")


def test_an_unexpected_error_keeps_its_traceback() -> None:
    def command(_: argparse.Namespace) -> int:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_reported(command, argparse.Namespace())
    assert explain(KeyError("bug")) is None


def test_ctrl_c_ends_the_command_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _reported(KeyboardInterrupt(), capsys)

    assert code == 130
    assert err == ""


def _fresh_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, region: str | None) -> None:
    """No AWS configuration at all, and no local mode in the current folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if region:
        monkeypatch.setenv("AWS_REGION", region)


def test_approve_in_a_fresh_terminal_without_a_region_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fresh_terminal(monkeypatch, tmp_path, region=None)

    assert main(["approve", "credit-0123456789ab", "--stack-name", "driftline"]) == 1

    assert capsys.readouterr().err == (
        "driftline: no AWS region is set: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region; "
        "for local mode pass --local\n"
    )


def test_runs_without_credentials_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fresh_terminal(monkeypatch, tmp_path, region="eu-west-1")

    assert main(["runs", "--stack-name", "driftline"]) == 1

    assert capsys.readouterr().err.startswith("driftline: no AWS credentials were found: ")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["runs", "--limit", "0"], "argument --limit: must be 1 or more"),
        (["runs", "--local", "--stack-name", "x"], "pass either --local or --stack-name, not both"),
        (["logs", "credit-1", "Train", "--step", "Evaluate"], "two steps named: Train and --step Evaluate; give one"),
        (["destroy", "--local", "--stack-name", "x"], "pass either --local or --stack-name, not both"),
    ],
)
def test_options_that_contradict_each_other_are_refused_before_anything_is_asked(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exited:
        code = int(exited.code or 0)
        assert code == 2
    else:
        assert code == 1
    assert said in capsys.readouterr().err
