"""Local mode's own knobs: where it listens, where it keeps files, and how fast time runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ACCOUNT_ID = "123456789012"
"""moto's default account: every emulated ARN uses it."""

DEFAULT_PORT = 4777
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK = "driftline"
REPO_ROOT = Path(__file__).resolve().parents[2]

LOCAL_PARAMETERS = {
    "NotificationEmail": "ml-team@example.com",
    "RetryIntervalSeconds": "1",
    "JobWaitTimeoutSeconds": "900",
    "MaxJobRuntimeSeconds": "900",
    "ApprovalTimeoutSeconds": "900",
    "DeployTimeoutSeconds": "6000",
    "DeploymentBakeSeconds": "0",
    "DriftRetrainCooldownMinutes": "1",
    # An hourly drift monitor fires every local minute and analyses the minute before (scaled like schedules).
    "MonitoringWindowMinutes": "1",
    # The approval email's driftline commands reach local mode from the folder it runs in.
    "DriftlineCommandNote": (
        "from the project folder where local mode runs (as .venv/bin/driftline there; elsewhere add --local "
        "--state-dir <its .driftline folder>)"
    ),
}
"""Template parameters local mode overrides: no real inbox, and retries and waits scaled to a laptop."""

SCHEDULE_SECONDS_PER_MINUTE = 1.0
"""Scheduled rules fire one local second per minute of their rate: the reconciler's rate(5 minutes) every 5 s."""
ALARM_PERIOD_SCALE = SCHEDULE_SECONDS_PER_MINUTE / 60
"""CloudWatch alarm periods run at the schedules' pace: a one-hour period (an hourly monitor) lasts 60 s."""

CONSOLE_PATH = "/_console"
"""Local mode's own pages live under /_<name> paths, which no bucket name and no AWS API path can take."""


@dataclass
class LocalSettings:
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    region: str = DEFAULT_REGION
    stack_name: str = DEFAULT_STACK
    state_dir: Path = field(default_factory=lambda: Path.cwd() / ".driftline")
    template: Path = REPO_ROOT / "template.yaml"
    parameters: dict[str, str] = field(default_factory=lambda: dict(LOCAL_PARAMETERS))
    schedule_seconds_per_minute: float = SCHEDULE_SECONDS_PER_MINUTE
    alarm_period_scale: float = ALARM_PERIOD_SCALE
    fresh: bool = False
    """Start empty: discard the state a previous local mode saved in ``state_dir`` instead of restoring it."""

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def console_url(self) -> str:
        """Where the web console answers while local mode runs: under ``CONSOLE_PATH`` on its own port."""
        return f"{self.endpoint_url}{CONSOLE_PATH}/"

    @property
    def outbox(self) -> Path:
        return self.state_dir / "outbox"

    @property
    def jobs_dir(self) -> Path:
        return self.state_dir / "jobs"

    @property
    def s3_dir(self) -> Path:
        return self.state_dir / "s3"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"
