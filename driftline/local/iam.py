"""IAM in local mode: every call made as one of the stack's roles is allowed or denied by that role's policies.

On AWS a Lambda function, a SageMaker job or endpoint, a schedule and the state machine each call AWS with
temporary credentials of their role, and IAM evaluates each call against the role's policies. Local mode
does the same: ``role_session`` hands out credentials for a role (local mode's executors give them to the
code they run, as Lambda and SageMaker do), and every request signed with them is evaluated against the
role's policies as CloudFormation deployed them (``iam_policies``), for the resources AWS would evaluate
(``iam_requests``). A denied request is answered as AWS answers it, naming the role, the action and the
resource. Requests signed with any other key (the user's own tools, the tests) are served unchecked, as
an administrator's would be.

Resource-based policies (bucket policies, Lambda permissions) are not evaluated: the roles' own policies
are what the template grants and what a missing permission breaks.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import ServiceException
from moto.iam.models import iam_backends
from moto.s3.exceptions import S3ClientError
from moto.s3.models import s3_backends
from moto.s3.responses import S3Response
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from werkzeug.exceptions import HTTPException

from driftline.local import request_constraints, seams
from driftline.local.iam_policies import AuthorizationRequest, Decision, evaluate, policy_documents
from driftline.local.iam_requests import (
    GLOBAL_CONDITION_KEYS,
    RequestFacts,
    authorization_requests,
    condition_keys,
    service_prefix,
)
from driftline.local.settings import ACCOUNT_ID

log = logging.getLogger(__name__)

PATCH_GROUP = "iam"


@dataclass(frozen=True)
class RoleSession:
    """Temporary credentials of one role, as STS issues them to a service acting for it."""

    role_arn: str
    session_name: str
    access_key_id: str
    secret_access_key: str
    session_token: str

    @property
    def principal_arn(self) -> str:
        """The assumed-role ARN IAM names in its messages."""
        _, _, _, _, account, resource = self.role_arn.split(":", 5)
        role_name = resource.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{account}:assumed-role/{role_name}/{self.session_name}"

    def environment(self) -> dict[str, str]:
        """The variables an AWS SDK reads its credentials from, as Lambda and SageMaker containers set them."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


_sessions: dict[str, RoleSession] = {}
_lock = threading.Lock()


def role_session(role_arn: str, session_name: str) -> RoleSession:
    """Credentials for ``role_arn`` (the same for the same role and session, so warm processes keep theirs)."""
    digest = hashlib.sha256(f"{role_arn}\n{session_name}".encode()).hexdigest().upper()
    access_key_id = "ASIA" + re.sub(r"[^A-Z2-7]", "", digest)[:16].ljust(16, "A")
    session = RoleSession(
        role_arn=role_arn,
        session_name=session_name[:64],
        access_key_id=access_key_id,
        secret_access_key=hashlib.sha256(f"secret\n{role_arn}\n{session_name}".encode()).hexdigest()[:40],
        session_token=hashlib.sha256(f"token\n{role_arn}\n{session_name}".encode()).hexdigest(),
    )
    with _lock:
        _sessions[access_key_id] = session
    return session


def session_for_key(access_key_id: str) -> RoleSession | None:
    with _lock:
        return _sessions.get(access_key_id)


_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")


def request_session(headers: Mapping[str, str], query: Mapping[str, Any] | None = None) -> RoleSession | None:
    """The role session that signed a request (SigV4 header or presigned URL), if it is one of local mode's."""
    match = _CREDENTIAL.search(headers.get("Authorization") or headers.get("authorization") or "")
    key = match.group(1) if match else None
    if key is None and query:
        credential = query.get("X-Amz-Credential")
        value = credential[0] if isinstance(credential, list) else credential
        key = unquote(str(value or "")).split("/", 1)[0] or None
    return session_for_key(key) if key else None


# --- evaluation ------------------------------------------------------------------------------------------------


class AccessDenied(Exception):
    """A call IAM refuses, worded as AWS words it."""

    def __init__(self, session: RoleSession, request: AuthorizationRequest, decision: Decision) -> None:
        reason = (
            "with an explicit deny in an identity-based policy"
            if decision.kind == "explicit-deny"
            else f"because no identity-based policy allows the {request.action} action"
        )
        super().__init__(
            f"User: {session.principal_arn} is not authorized to perform: {request.action} "
            f"on resource: {request.resource} {reason}"
        )
        self.session, self.request, self.decision = session, request, decision


def role_policies(role_arn: str) -> list[dict[str, Any]]:
    """The role's inline and attached policies as deployed; none for a role that does not exist."""
    backend = iam_backends[ACCOUNT_ID]["global"]
    try:
        role = backend.get_role_by_arn(role_arn)
    except Exception:
        return []
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        default = next((v for v in policy.versions if v.is_default), None)
        if default is not None:
            documents.append(default.document)
    return policy_documents(
        unquote(document) if isinstance(document, str) and document.startswith("%7B") else document
        for document in documents
    )


def enforced() -> bool:
    """Whether local mode evaluates roles' calls (``install`` was called since moto was last restored)."""
    return seams.claimed(PATCH_GROUP)


def authorize(session: RoleSession, requests: Sequence[AuthorizationRequest]) -> None:
    """Raise ``AccessDenied`` for the first of ``requests`` the session's role may not make (when enforced)."""
    if not enforced():
        return
    documents = role_policies(session.role_arn)
    for request in requests:
        decision = evaluate(documents, request)
        if not decision.allowed:
            raise AccessDenied(session, request, decision)


def authorize_action(session: RoleSession, action: str, resource: str, **context: Sequence[str]) -> None:
    """One action a service takes with the role outside an API request (an image pull, a Lambda invocation)."""
    authorize(session, [AuthorizationRequest(action, resource, {**GLOBAL_CONDITION_KEYS, **context})])


_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+)")


def authorize_image_pull(session: RoleSession, image_uri: str) -> None:
    """What SageMaker checks with the role before it starts a container from an ECR image."""
    match = _IMAGE.match(image_uri)
    if match is None:
        return  # not an ECR image (local mode's own jobs name none): nothing to pull with the role
    repository = f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
    authorize_action(session, "ecr:GetAuthorizationToken", "*")
    for action in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"):
        authorize_action(session, action, repository)


# --- moto seams ------------------------------------------------------------------------------------------------

# Error codes of a denial where they are not AccessDeniedException.
_DENIED_CODE = {"sns": "AuthorizationError", "cloudwatch": "AccessDenied", "iam": "AccessDenied", "sts": "AccessDenied"}


class _Denied(ServiceException):
    pass


def _resolver(region: str) -> Callable[[str, str], str | None]:
    def resolve(placeholder: str, value: str) -> str | None:
        if placeholder == "SecretId" and not value.startswith("arn:"):
            from moto.secretsmanager.models import secretsmanager_backends

            try:
                return str(secretsmanager_backends[ACCOUNT_ID][region].describe_secret(value).arn).rsplit(":", 1)[1]
            except Exception:
                return None
        return None

    return resolve


def _denial(response: Any) -> tuple[int, dict[str, Any], Any] | None:
    session = request_session(response.headers, response.querystring)
    if session is None:
        return None
    request = request_constraints.parsed_request(response)
    if request is None:
        return None
    model = request_constraints.get_service_model(request.service)
    prefix = service_prefix(model.signing_name or model.endpoint_prefix)
    facts = RequestFacts(prefix, request.operation, request.params, response.region, ACCOUNT_ID)
    try:
        if prefix == "states" and request.operation in _CALLBACKS:
            machine = _token_state_machine(str(request.params.get("taskToken") or ""), response.region)
            if machine is None:
                return None  # a token no run waits on: Step Functions answers that, as moto does
            checks = [AuthorizationRequest(f"states:{request.operation}", machine, condition_keys(facts))]
        else:
            checks = authorization_requests(facts, _resolver(response.region))
        authorize(session, checks)
    except AccessDenied as denied:
        log.info("denied: %s", denied)
        code = _DENIED_CODE.get(prefix, "AccessDeniedException")
        with warnings.catch_warnings():  # most service models declare no AccessDenied shape; AWS sends it anyway
            warnings.simplefilter("ignore")
            return request_constraints.serialized_error(response, code, str(denied), _Denied)
    return None


class _DeniedResponse(HTTPException):
    """A denial moto's request handler answers with this status and body (its own authorization hook's way)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(description=body)
        self.code = status


# The Service Authorization Reference lists no resource for the task-token callbacks, but Step Functions
# authorizes a callback for a Task state's token against the state machine whose run issued it: its denial
# reads "... is not authorized to perform: states:SendTaskFailure on resource: arn:aws:states:<region>:
# <account>:stateMachine:<name>", and SAM's StepFunctionsCallbackPolicy grants the callbacks on that ARN.
_CALLBACKS = {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}


def _token_state_machine(token: str, region: str) -> str | None:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[ACCOUNT_ID][region]
    for machine in list(backend.state_machines):
        for execution in list(machine.executions):
            worker = getattr(execution, "exec_worker", None)
            pool = getattr(getattr(worker, "env", None), "callback_pool_manager", None)
            if pool is not None and pool.get(token) is not None:
                return str(execution.state_machine_arn)
    return None


def _authorized_normal_action(original: Callable[..., Any]) -> Callable[..., Any]:
    def authenticate(self: Any, resource: str = "*") -> None:
        denial = _denial(self)
        if denial is not None:
            status, _, body = denial
            raise _DeniedResponse(status, body.decode() if isinstance(body, bytes) else str(body))
        original(self, resource)

    return authenticate


class S3AccessDenied(S3ClientError):
    code = "AccessDenied"

    def __init__(self, message: str) -> None:
        super().__init__("AccessDenied", message)


def _s3_requests(response: Any, bucket: str | None, key: str | None) -> list[AuthorizationRequest]:
    action = "s3:" + str(response.data.get("Action") or "")
    context: dict[str, list[str]] = dict(GLOBAL_CONDITION_KEYS)
    if bucket is None:
        return [AuthorizationRequest(action, "*", context)]
    if key is None:
        prefix = response.querystring.get("prefix")
        context["s3:prefix"] = [str(prefix[0] if isinstance(prefix, list) else prefix or "")]
        return [AuthorizationRequest(action, f"arn:aws:s3:::{bucket}", context)]
    requests = [AuthorizationRequest(action, f"arn:aws:s3:::{bucket}/{key}", context)]
    source = response.headers.get("x-amz-copy-source")
    if source and action == "s3:PutObject":  # CopyObject reads its source as GetObject
        requests.append(AuthorizationRequest("s3:GetObject", "arn:aws:s3:::" + unquote(source).lstrip("/"), context))
    return requests


def _authorized_s3_action(original: Callable[..., Any]) -> Callable[..., Any]:
    def authenticate(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        session = request_session(self.headers, self.querystring) if isinstance(self, S3Response) else None
        if session is None:
            return original(self, bucket_name=bucket_name, key_name=key_name)
        try:
            authorize(session, _s3_requests(self, bucket_name, key_name))
            if key_name is not None and self.data.get("Action") == "GetObject":
                _missing_object_needs_list(session, bucket_name or "", key_name)
        except AccessDenied as denied:
            log.info("denied: %s", denied)
            raise S3AccessDenied(str(denied)) from None
        return None

    return authenticate


def _missing_object_needs_list(session: RoleSession, bucket: str, key: str) -> None:
    """S3 says NoSuchKey only to a caller that may list the bucket; to others a missing object is AccessDenied."""
    try:
        exists = s3_backends[ACCOUNT_ID]["aws"].get_object(bucket, key) is not None
    except Exception:
        exists = False
    if not exists:
        context = {**GLOBAL_CONDITION_KEYS, "s3:prefix": [key]}
        authorize(session, [AuthorizationRequest("s3:ListBucket", f"arn:aws:s3:::{bucket}", context)])


def _state_machine_client(original: Callable[..., Any]) -> Callable[..., Any]:
    """The state machine's tasks call AWS with its execution role, as Step Functions does."""

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region=region, service=service, state_credentials=state_credentials)
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            return client
        session = role_session(role_arn, "StepFunctions")
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            endpoint_url=client.meta.endpoint_url,
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=session.secret_access_key,
            aws_session_token=session.session_token,
            config=client.meta.config,
        )

    return boto_client_for


def install() -> None:
    """Evaluate every request signed with a role session against that role's policies from now on."""
    if not seams.claim(PATCH_GROUP):
        return
    seams.replace(
        ActionAuthenticatorMixin,
        "_authenticate_and_authorize_normal_action",
        _authorized_normal_action(ActionAuthenticatorMixin.__dict__["_authenticate_and_authorize_normal_action"]),
    )
    seams.replace(
        ActionAuthenticatorMixin,
        "_authenticate_and_authorize_s3_action",
        _authorized_s3_action(ActionAuthenticatorMixin.__dict__["_authenticate_and_authorize_s3_action"]),
    )
    seams.replace(lambda_eval_utils, "boto_client_for", _state_machine_client(lambda_eval_utils.boto_client_for))
