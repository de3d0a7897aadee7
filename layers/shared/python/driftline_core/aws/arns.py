"""Amazon Resource Names: ``arn:<partition>:<service>:<region>:<account>:<resource>``, as AWS writes them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str
    """Everything after the account: ``monitoring-schedule/<name>``, ``function:<name>``, ..."""

    def same_place(self, other: Arn) -> bool:
        """Whether both resources live in one partition, region and account."""
        return (self.partition, self.region, self.account) == (other.partition, other.region, other.account)


def parse_arn(text: str) -> Arn | None:
    """The parts of an ARN, or None for a text that is not one (a regional resource's ARN has every part)."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not all(parts[1:3]) or not parts[5]:
        return None
    _, partition, service, region, account, resource = parts
    return Arn(partition=partition, service=service, region=region, account=account, resource=resource)
