"""Secrets Manager: ``AWS::SecretsManager::Secret`` in the template, with ``GenerateSecretString``.

moto's CloudFormation has no Secrets Manager resource, so a template's secret would resolve to nothing.
This module creates it in moto's Secrets Manager, generating its value as CloudFormation does (length,
excluded characters), so ``Ref`` gives the secret's ARN and functions read it with GetSecretValue.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from moto.cloudformation.parsing import get_model_map
from moto.secretsmanager.models import secretsmanager_backends

from driftline.local import seams

RESOURCE_TYPE = "AWS::SecretsManager::Secret"
_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def generate_secret_string(spec: dict[str, Any]) -> str:
    """A random value following GenerateSecretString's length and character options."""
    alphabet = ""
    if not _true(spec.get("ExcludeLowercase")):
        alphabet += string.ascii_lowercase
    if not _true(spec.get("ExcludeUppercase")):
        alphabet += string.ascii_uppercase
    if not _true(spec.get("ExcludeNumbers")):
        alphabet += string.digits
    if not _true(spec.get("ExcludePunctuation")):
        alphabet += _PUNCTUATION
    if _true(spec.get("IncludeSpace")):
        alphabet += " "
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(ch for ch in alphabet if ch not in excluded)
    if not alphabet:
        raise ValueError("GenerateSecretString excludes every character")
    length = int(spec.get("PasswordLength", 32))
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class LocalSecret:
    """The stack's view of a secret: ``Ref`` is its ARN."""

    def __init__(self, arn: str, name: str) -> None:
        self.physical_resource_id = arn
        self.arn = arn
        self.name = name

    def is_created(self) -> bool:
        """Created as soon as it exists, as moto's own resources report."""
        return True

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return attribute == "Id"

    def get_cfn_attribute(self, attribute: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> LocalSecret:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("Name") or f"{resource_name}-{secrets.token_hex(6)}"
        value = properties.get("SecretString")
        if value is None:
            value = generate_secret_string(properties.get("GenerateSecretString") or {})
        backend = secretsmanager_backends[account_id][region_name]
        created = backend.create_secret(
            name=name,
            secret_string=value,
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId") or None,
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        return cls(arn=str(json.loads(created)["ARN"]), name=name)


def install() -> None:
    """Let the emulator's CloudFormation create secrets."""
    if seams.claim("secretsmanager"):
        seams.replace_item(get_model_map(), RESOURCE_TYPE, LocalSecret)
