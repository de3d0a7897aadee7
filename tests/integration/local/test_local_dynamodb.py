"""DynamoDB in local mode, under moto: a conditional write is atomic, as on DynamoDB, even when many requests
meet on one item."""

from __future__ import annotations

import threading

import boto3
from botocore.exceptions import ClientError


def test_of_many_conditional_updates_of_one_item_at_once_exactly_one_wins(aws: None) -> None:
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="decisions",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for round_number in range(20):
        key = {"id": {"S": f"item-{round_number}"}}
        dynamodb.put_item(TableName="decisions", Item={**key, "status": {"S": "pending"}})
        winners: list[str] = []
        start = threading.Barrier(8)

        def decide(
            name: str,
            key: dict[str, dict[str, str]] = key,
            winners: list[str] = winners,
            start: threading.Barrier = start,
        ) -> None:
            start.wait()
            try:
                dynamodb.update_item(
                    TableName="decisions",
                    Key=key,
                    UpdateExpression="SET #status = :decided, decided_by = :by",
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":decided": {"S": "decided"},
                        ":pending": {"S": "pending"},
                        ":by": {"S": name},
                    },
                )
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
            else:
                winners.append(name)

        threads = [threading.Thread(target=decide, args=(f"decider-{n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(winners) == 1, winners
        item = dynamodb.get_item(TableName="decisions", Key=key, ConsistentRead=True)["Item"]
        assert item["decided_by"]["S"] == winners[0]
