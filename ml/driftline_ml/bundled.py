"""Libraries the SageMaker scikit-learn container lacks, shipped with the job code as wheels in ``ml/vendor/``.

The drift jobs need ``datasketches`` (Apache-2.0, redistributed with its LICENSE and NOTICE inside the wheel),
which the scikit-learn image does not have. Installing it when a job starts would need a package index, which
network-isolated jobs cannot reach, and would run unpinned code; the container's ``requirements.txt`` support
is the training toolkit's, not processing jobs'. So the published code carries the wheel built for the
container's interpreter (CPython 3.9, manylinux x86_64), and ``import_bundled`` unpacks it into a temporary
folder on ``sys.path`` when the module is not installed (locally it is, and the installed one is used).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

VENDOR_DIR = Path(__file__).resolve().parent.parent / "vendor"


def interpreter_tag() -> str:
    """This interpreter's wheel tag, ``cp39`` in the SageMaker scikit-learn 1.2-1 container."""
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def import_bundled(name: str, wheels_dir: Path = VENDOR_DIR, extract_root: Path | None = None) -> ModuleType:
    """Import ``name``: the installed module when there is one, else the bundled wheel for this interpreter."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    tag = interpreter_tag()
    wheels = sorted(wheels_dir.glob(f"{name}-*-{tag}-*.whl")) if wheels_dir.is_dir() else []
    if not wheels:
        raise ImportError(
            f"{name} is not installed and {wheels_dir} holds no {name} wheel for this interpreter ({tag}); "
            f"run the job in the container the template names, or add the {name} wheel for {tag} to ml/vendor/ "
            "and deploy again"
        )
    wheel = wheels[-1]
    target = (extract_root or Path(tempfile.gettempdir()) / "driftline-bundled") / wheel.stem
    if not target.is_dir():
        partial = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(partial)
        partial.rename(target)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    return importlib.import_module(name)
