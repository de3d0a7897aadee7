"""A stack target for the console's tests that never reaches AWS: its endpoint is a port nothing listens on."""

from __future__ import annotations

from pathlib import Path

import boto3

from driftline.stack_target import StackTarget

MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:driftline-pipeline"


def offline_target(state_dir: Path) -> StackTarget:
    return StackTarget(
        stack_name="driftline",
        region="us-east-1",
        outputs={"PipelineStateMachineArn": MACHINE_ARN},
        session=boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"),
        endpoint_url="http://127.0.0.1:1",  # nothing listens: no test here reaches AWS
        state_dir=state_dir,
    )
