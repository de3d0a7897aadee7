"""Every function's environment fits Lambda's 4 KB, for the longest values the deploy can give it.

Lambda refuses a function whose environment variables take more than 4 KB together, and CloudFormation then
rolls the whole stack back: a ``sam deploy`` that fails for a long stack name or a long parameter. Each variable is
bounded here from the CloudFormation the SAM transform makes: a parameter by its allowed values, its maximum or
a documented bound where the template sets none; a resource's name or ARN by AWS's own limits and CloudFormation's
generated names (``<stack>-<logical id>-<random>``, cut to the service's limit); the stack name by the longest the
deploy accepts. The variables are counted as the JSON object Lambda stores, quotes and separators included.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from code_publisher import VERSION_LENGTH

from tests.infra.transformed_template import load_template, sam_transform
from tests.resource_names import LONGEST_STACK

LAMBDA_ENVIRONMENT_LIMIT = 4096
PSEUDO_PARAMETERS = {
    "AWS::StackName": len(LONGEST_STACK),
    "AWS::Partition": len("aws-us-gov"),
    "AWS::Region": len("eusc-de-east-1") + 2,  # the longest region names are 14 characters; room for a longer one
    "AWS::AccountId": 12,
    "AWS::URLSuffix": len("amazonaws.com.cn"),
    "AWS::NoValue": 0,
}
UNBOUNDED_NUMBER = 20
"""A Number parameter without a MaxValue: CloudFormation passes what was given; 20 digits is past any count here."""
FREE_PARAMETERS = {
    # Instance types: the longest SageMaker names (ml.trn1n.32xlarge, ml.p5en.48xlarge) are 17 characters.
    "TrainingInstanceType": 24,
    "ProcessingInstanceType": 24,
    "EndpointInstanceType": 24,
    # A KMS key ARN: arn:<partition>:kms:<region>:<account>:key/<mrk- and 32 hex digits, or a 36-character id>.
    "KmsKeyArn": len("arn:aws-us-gov:kms::123456789012:key/mrk-") + 32 + PSEUDO_PARAMETERS["AWS::Region"],
    # EventBridge Scheduler takes a schedule expression of at most 256 characters.
    "MonitoringScheduleExpression": 256,
    # A share written with more digits than anyone types: 0.123456789012.
    "ABTestChallengerShare": 14,
}
LIST_PARAMETERS = {
    # SageMaker's VpcConfig takes at most 16 subnets and 5 security groups (subnet-<17 hex>, sg-<17 hex>).
    "VpcSubnetIds": (16, len("subnet-") + 17),
    "VpcSecurityGroupIds": (5, len("sg-") + 17),
}
NAME_LIMITS = {
    "AWS::S3::Bucket": 63,
    "AWS::DynamoDB::Table": 255,
    "AWS::SNS::Topic": 256,
    "AWS::SecretsManager::Secret": 512,
    "AWS::IAM::Role": 64,
    "AWS::Lambda::Function": 64,
}
"""The longest physical name each service takes, which bounds CloudFormation's generated names."""
RANDOM_SUFFIX = 13


@pytest.fixture(scope="module")
def cloudformation() -> dict[str, Any]:
    return sam_transform(load_template())


class Bound:
    """The longest text each intrinsic can resolve to in this template."""

    def __init__(self, cloudformation: dict[str, Any]) -> None:
        self.parameters = cloudformation["Parameters"]
        self.resources = cloudformation["Resources"]
        self.mappings = cloudformation.get("Mappings", {})

    def of(self, value: Any) -> int:
        if isinstance(value, str):
            return len(value)
        if isinstance(value, bool | int | float):
            return len(json.dumps(value))
        if isinstance(value, list):
            return max((self.of(item) for item in value), default=0)
        [(function, argument)] = value.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::GetAtt":
            return self.attribute(*argument)
        if function == "Fn::Sub":
            return self.sub(argument)
        if function == "Fn::If":
            return max(self.of(argument[1]), self.of(argument[2]))
        if function == "Fn::Join":
            separator, items = argument
            if isinstance(items, dict) and "Ref" in items and items["Ref"] in LIST_PARAMETERS:
                count, each = LIST_PARAMETERS[items["Ref"]]
                return count * each + (count - 1) * len(separator)
            return sum(self.of(item) for item in items) + max(0, len(items) - 1) * len(separator)
        if function == "Fn::FindInMap":
            table, _, key = argument
            return max(len(str(values[key])) for values in self.mappings[table].values() if key in values)
        raise AssertionError(f"no bound for {function}: add one to this test")

    def ref(self, name: str) -> int:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return self.parameter(name)
        resource = self.resources[name]
        kind = resource["Type"]
        arn_head = self.arn_head
        if kind == "AWS::S3::Bucket":
            return self.name(name, kind, "BucketName")
        if kind == "AWS::DynamoDB::Table":
            return self.name(name, kind, "TableName")
        if kind == "AWS::SNS::Topic":
            return arn_head("sns") + self.name(name, kind, "TopicName")
        if kind == "AWS::SecretsManager::Secret":
            return arn_head("secretsmanager") + len("secret:") + self.name(name, kind, "Name") + len("-AbCdEf")
        raise AssertionError(f"no bound for a Ref to a {kind}: add one to this test")

    def attribute(self, name: str, attribute: str) -> int:
        kind = self.resources[name]["Type"]
        if (kind, attribute) == ("AWS::IAM::Role", "Arn"):
            head = len("arn:") + PSEUDO_PARAMETERS["AWS::Partition"] + len(":iam::") + 12 + len(":role/")
            return head + self.name(name, kind, "RoleName")
        if (kind, attribute) == ("AWS::Lambda::Function", "Arn"):
            return self.arn_head("lambda") + len("function:") + self.name(name, kind, "FunctionName")
        if (kind, attribute) == ("AWS::ApiGatewayV2::Api", "ApiEndpoint"):
            return len("https://") + 10 + len(".execute-api.") + PSEUDO_PARAMETERS["AWS::Region"] + 1 + 16
        if kind == "Custom::MlCode":
            code_uri = len("s3://") + NAME_LIMITS["AWS::S3::Bucket"] + len("/code/") + VERSION_LENGTH + 1
            return {"CodeUri": code_uri, "CodeVersion": VERSION_LENGTH}[attribute]
        raise AssertionError(f"no bound for {kind}.{attribute}: add one to this test")

    def sub(self, argument: Any) -> int:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        total = 0
        for literal, reference in re.findall(r"([^$]*)(?:\$\{([^}]+)\})?", text):
            total += len(literal)
            if not reference:
                continue
            if reference in variables:
                total += self.of(variables[reference])
            elif "." in reference:
                total += self.attribute(*reference.split(".", 1))
            else:
                total += self.ref(reference)
        return total

    def parameter(self, name: str) -> int:
        spec = self.parameters[name]
        if "AllowedValues" in spec:
            return max(len(str(value)) for value in spec["AllowedValues"])
        if spec["Type"] == "Number":
            return len(str(spec["MaxValue"])) if "MaxValue" in spec else UNBOUNDED_NUMBER
        if "MaxLength" in spec:
            return int(spec["MaxLength"])
        assert name in FREE_PARAMETERS, f"{name} has no bound: give it a MaxLength or add one to this test"
        return FREE_PARAMETERS[name]

    def name(self, logical_id: str, kind: str, property_name: str) -> int:
        given = self.resources[logical_id].get("Properties", {}).get(property_name)
        if given is not None:
            return self.of(given)
        generated = PSEUDO_PARAMETERS["AWS::StackName"] + 1 + len(logical_id) + 1 + RANDOM_SUFFIX
        return min(NAME_LIMITS[kind], generated)

    def arn_head(self, service: str) -> int:
        """``arn:<partition>:<service>:<region>:<account>:``."""
        return (
            len("arn::::::")
            + PSEUDO_PARAMETERS["AWS::Partition"]
            + len(service)
            + PSEUDO_PARAMETERS["AWS::Region"]
            + PSEUDO_PARAMETERS["AWS::AccountId"]
        ) - 1


def environment_size(variables: dict[str, Any], bound: Bound) -> int:
    """The JSON object ``{"NAME":"value",...}`` at its longest."""
    return 2 + sum(len(name) + bound.of(value) + len('"":"",') for name, value in variables.items()) - 1


def functions(cloudformation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, resource in cloudformation["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def test_every_function_s_environment_fits_lambda_s_limit_at_its_longest(cloudformation: dict[str, Any]) -> None:
    bound = Bound(cloudformation)
    sizes = {name: environment_size(variables, bound) for name, variables in functions(cloudformation).items()}

    too_large = {name: size for name, size in sizes.items() if size > LAMBDA_ENVIRONMENT_LIMIT}
    assert not too_large, f"environments over Lambda's {LAMBDA_ENVIRONMENT_LIMIT} bytes: {too_large}"
    assert len(sizes) >= 20


def test_the_bound_counts_a_variable_as_lambda_stores_it() -> None:
    bound = Bound({"Parameters": {"Mode": {"Type": "String", "AllowedValues": ["Off", "Shadow"]}}, "Resources": {}})
    variables = {"A": "xy", "MODE": {"Ref": "Mode"}, "STACK": {"Fn::Sub": "${AWS::StackName}-pipeline"}}
    longest = {"A": "xy", "MODE": "Shadow", "STACK": LONGEST_STACK + "-pipeline"}

    assert environment_size(variables, bound) == len(json.dumps(longest, separators=(",", ":")))
