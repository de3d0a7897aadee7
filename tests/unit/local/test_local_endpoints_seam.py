"""Local endpoints' seam into moto: the actions local mode adds to SageMaker's API are gone once it stops."""

from __future__ import annotations

from pathlib import Path

from driftline.local import endpoints, seams
from driftline.local.console import Console

REGION = "us-east-1"


def test_the_update_endpoint_action_local_mode_adds_is_gone_once_local_mode_stops() -> None:
    # No emulator runs in this module, so restoring every seam touches nothing else.
    from moto.sagemaker.responses import SageMakerResponse

    endpoints.install(
        endpoints.EndpointRunner(endpoints_dir=Path("unused"), endpoint_url="", region=REGION, console=Console())
    )
    assert callable(getattr(SageMakerResponse, "update_endpoint", None))

    seams.restore()

    assert not hasattr(SageMakerResponse, "update_endpoint")
