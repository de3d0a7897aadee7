"""What the ``driftline`` command says when it cannot go on: one or two lines naming what is wrong and what to do.

Expected conditions (no region, no or expired credentials, no such stack, local mode not running, an unknown run,
an endpoint that cannot be reached) are explained here; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

LOCAL_HINT = "for local mode pass --local"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Local mode listens on the loopback address only."""

EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
REFUSED_CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "AuthFailure",
        "InvalidAccessKeyId",
    }
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


class CommandError(Exception):
    """An expected condition the user can act on; the command prints its text and exits non-zero."""


def explain(error: BaseException) -> str | None:
    """The one or two lines that explain an AWS SDK error the user can act on; None for anything else."""
    if isinstance(error, NoRegionError):
        return f"no AWS region is set: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region; {LOCAL_HINT}"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            f"no AWS credentials were found: run `aws configure` or `aws sso login`, or set AWS_PROFILE; {LOCAL_HINT}"
        )
    if isinstance(error, ProfileNotFound):
        return f"{error}: check AWS_PROFILE against the profiles in ~/.aws/config"
    if isinstance(error, TokenRetrievalError | SSOTokenLoadError | UnauthorizedSSOTokenError):
        return f"your AWS sign-in has expired or is missing ({error}): run `aws sso login` and try again"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError | ReadTimeoutError):
        endpoint = str(getattr(error, "kwargs", {}).get("endpoint_url") or "")
        if urlsplit(endpoint).hostname in LOOPBACK_HOSTS:
            return f"cannot reach local mode at {endpoint}: is it still running? (`driftline local up` starts it)"
        return f"{error}; check your network connection and the region"
    if isinstance(error, ClientError):
        return _explain_client_error(error)
    return None


def _explain_client_error(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message") or "").strip()
    operation = error.operation_name
    if code in EXPIRED_CODES:
        return f"your AWS credentials have expired ({code}): refresh them (`aws sso login`, or new keys) and try again"
    if code in REFUSED_CREDENTIAL_CODES:
        return (
            f"AWS did not accept your credentials ({code}: {message}): check AWS_PROFILE or the access keys; "
            f"{LOCAL_HINT}"
        )
    if code in ACCESS_DENIED_CODES:
        return f"AWS refused {operation} ({code}): {message}\nyour credentials need that permission to do this"
    return f"AWS answered {operation} with {code}: {message}"
