"""The driftline command: template parameters for local mode, given as sam deploy takes them; stopping on Ctrl-C."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from driftline.cli import main, parameter_overrides, wait_for_stop_signal


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


def test_ctrl_c_handed_to_another_thread_still_stops_local_mode() -> None:
    """Linux may deliver a process's SIGINT to any of its threads; a main thread asleep without a timeout never ran
    Python's handler, and ``local up`` went on after Ctrl-C until it was killed."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    main_thread = threading.get_ident()
    before = signal.getsignal(signal.SIGINT)
    returned = threading.Event()

    def interrupt_from_this_thread() -> None:
        time.sleep(0.2)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # handled here, not in the main thread
        if not returned.wait(10):
            signal.pthread_kill(main_thread, signal.SIGTERM)  # ends a wait that missed the first signal

    threading.Thread(target=interrupt_from_this_thread, daemon=True).start()
    started = time.monotonic()

    wait_for_stop_signal()
    returned.set()

    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGINT) is before
