"""Modules of the shared layer (``driftline_core``) that the CLI and local mode use as the Lambda functions do.

The ``driftline`` package does not include the layer (it ships in ``layers/shared/python``, which Lambda puts on the
functions' path). A layer module that imports nothing else of the layer, such as ``driftline_core.costs.prices``, is
loaded from its file here, under its own name, so the CLI prices an estimate with the very code the Notify function
prices a run's jobs with.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

LAYER_ROOT = Path(__file__).resolve().parents[1] / "layers" / "shared" / "python"


def layer_module(name: str) -> ModuleType:
    """``driftline_core.<...>``: the imported module where the layer is on the path (the tests), else its file."""
    if name in sys.modules:
        return sys.modules[name]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is None or not name.startswith(error.name):
            raise  # the module was found and something it imports is missing: not ours to paper over
    path = LAYER_ROOT.joinpath(*name.split(".")).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no layer module {name} at {path}", name=name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module
