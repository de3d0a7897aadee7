"""The driftline command: template parameters for local mode, given as sam deploy takes them."""

from __future__ import annotations

import pytest

from driftline.cli import main, parameter_overrides


def test_parameter_overrides_take_key_value_pairs_and_sams_long_form() -> None:
    assert parameter_overrides(["DriftMonitor=ModelMonitor", "ParameterKey=MonitorMaxInstances,ParameterValue=2"]) == {
        "DriftMonitor": "ModelMonitor",
        "MonitorMaxInstances": "2",
    }
    assert parameter_overrides(["VpcSubnetIds=subnet-1,subnet-2"]) == {"VpcSubnetIds": "subnet-1,subnet-2"}


def test_a_malformed_override_is_refused_before_local_mode_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["local", "up", "--parameter-overrides", "DriftMonitor"])

    assert exited.value.code == 2
    assert "--parameter-overrides takes KEY=VALUE pairs, not 'DriftMonitor'" in capsys.readouterr().err
