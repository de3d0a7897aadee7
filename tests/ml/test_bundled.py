"""The drift jobs get datasketches in the SageMaker scikit-learn container from the wheel shipped with their code."""

from __future__ import annotations

import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from code_publisher import code_files

from driftline_ml.bundled import VENDOR_DIR, import_bundled, interpreter_tag

ML_DIR = Path(__file__).resolve().parents[2] / "ml"


def test_the_published_code_carries_a_datasketches_wheel_for_the_containers_python_with_its_license() -> None:
    [wheel] = sorted(VENDOR_DIR.glob("datasketches-*.whl"))
    _, wheel_version, python, abi, platform = wheel.stem.split("-")
    assert (python, abi) == ("cp39", "cp39")  # the scikit-learn 1.2-1 container's Python 3.9
    assert "manylinux" in platform and platform.endswith("x86_64")
    assert wheel_version == version("datasketches")  # the sketches the tests exercise here
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert f"datasketches-{wheel_version}.dist-info/LICENSE" in names
    assert f"datasketches-{wheel_version}.dist-info/NOTICE" in names
    assert wheel in code_files(ML_DIR)


def _wheel(folder: Path, tag: str, value: int) -> Path:
    path = folder / f"fakesketch-1.0-{tag}-{tag}-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fakesketch/__init__.py", f"VALUE = {value}\n")
    return path


def test_a_module_missing_from_the_interpreter_is_imported_from_the_wheel_for_its_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "vendor"
    wheels.mkdir()
    _wheel(wheels, "cp30", 1)
    _wheel(wheels, interpreter_tag(), 42)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "fakesketch", raising=False)

    module = import_bundled("fakesketch", wheels, extract_root=tmp_path / "unpacked")

    assert module.VALUE == 42
    assert Path(module.__file__ or "").is_relative_to(tmp_path / "unpacked")
    sys.modules.pop("fakesketch", None)


def test_without_a_wheel_for_the_interpreter_the_error_says_which_python_and_where_to_put_one(tmp_path: Path) -> None:
    _wheel(tmp_path, "cp30", 1)

    with pytest.raises(
        ImportError, match=rf"no fakesketch wheel for this interpreter \({interpreter_tag()}\).*ml/vendor"
    ):
        import_bundled("fakesketch", tmp_path, extract_root=tmp_path / "unpacked")


def test_an_installed_module_is_used_as_it_is() -> None:
    import datasketches

    assert import_bundled("datasketches", Path("/nonexistent")) is datasketches
