"""SageMaker Model Registry: a package's approval status change emits its EventBridge event.

On AWS, setting a model package's ModelApprovalStatus (Studio, ``aws sagemaker update-model-package``,
the API) sends a "SageMaker Model Package State Change" event whose detail resembles the
DescribeModelPackage response. moto sends none, and its UpdateModelPackage clears the description and
custom metadata a request does not name (AWS keeps them). Both are corrected here, so the approval
events rule runs locally as it does on AWS.

A package's ``CreatedBy`` and ``LastModifiedBy`` name the caller, as AWS fills them from the request's
identity: an IAM caller (a function's role, a user's own keys) as ``IamIdentity`` with its ARN, as
GetCallerIdentity gives it. moto answers a made-up Studio user profile for every caller instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.events.models import events_backends
from moto.iam.models import iam_backends
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from driftline.local import iam, seams
from driftline.local.times import times_as_epoch_millis

DETAIL_TYPE = "SageMaker Model Package State Change"


def state_change_event(description: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry SageMaker sends: the package's description, times in epoch milliseconds."""
    return {
        "Source": "aws.sagemaker",
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(times_as_epoch_millis(description), default=str),
        "Resources": [description["ModelPackageArn"]],
    }


_request = threading.local()
"""The identity of the request being answered on this thread, for the backend calls it makes."""


def caller_context(response: Any) -> dict[str, Any]:
    """SageMaker's ``UserContext`` for the caller of a request: its IAM identity, as AWS records an IAM caller's.

    A local role session (a function, a job) is its assumed-role ARN; any other key is what the emulator's
    GetCallerIdentity answers for it.
    """
    session = iam.request_session(response.headers, response.querystring)
    if session is not None:
        account = session.role_arn.split(":")[4]
        try:
            role_id = iam_backends[account]["global"].get_role_by_arn(session.role_arn).id
        except Exception:
            role_id = session.role_arn.rsplit("/", 1)[-1]
        return {"IamIdentity": {"Arn": session.principal_arn, "PrincipalId": f"{role_id}:{session.session_name}"}}
    backend = sts_backends[response.current_account][get_partition(response.region)]
    user_id, arn, _ = backend.get_caller_identity(response.get_access_key(), response.region)
    return {"IamIdentity": {"Arn": arn, "PrincipalId": user_id}}


def _as_caller(action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Answer a request with its caller's identity at hand for the backend."""

    def answer(self: SageMakerResponse) -> Any:
        _request.caller = caller_context(self)
        try:
            return action(self)
        finally:
            _request.caller = None

    return answer


def _caller() -> dict[str, Any] | None:
    return getattr(_request, "caller", None)


def install() -> None:
    if not seams.claim("model_registry"):
        return
    for action in ("create_model_package", "update_model_package"):
        seams.replace(SageMakerResponse, action, _as_caller(getattr(SageMakerResponse, action)))
    create = SageMakerModelBackend.create_model_package

    def create_model_package(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> str:
        arn: str = create(self, *args, **kwargs)
        caller = _caller()
        if caller is not None:
            self.model_packages[arn].created_by = caller
        return arn

    seams.replace(SageMakerModelBackend, "create_model_package", create_model_package)
    original = SageMakerModelBackend.update_model_package

    def update_model_package(
        self: SageMakerModelBackend,
        model_package_arn: str,
        model_approval_status: str | None,
        approval_description: str | None,
        customer_metadata_properties: dict[str, str] | None,
        customer_metadata_properties_to_remove: list[str],
        additional_inference_specifications_to_add: list[Any] | None,
    ) -> str:
        name = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
        package = self.model_packages.get(name)
        before = package.model_approval_status if package is not None else None
        if package is not None:
            # AWS leaves what a request does not name; moto would clear it.
            if model_approval_status is None:
                model_approval_status = package.model_approval_status
            if approval_description is None:
                approval_description = package.approval_description
            if customer_metadata_properties is None:
                customer_metadata_properties = dict(package.customer_metadata_properties or {})
        arn = original(
            self,
            model_package_arn,
            model_approval_status,
            approval_description,
            customer_metadata_properties,
            customer_metadata_properties_to_remove,
            additional_inference_specifications_to_add,
        )
        caller = _caller()
        if package is not None and caller is not None:
            package.last_modified_by = caller
        if package is not None and package.model_approval_status != before:
            events_backends[self.account_id][self.region_name].put_events(
                [state_change_event(package.gen_response_object())]
            )
        return arn

    seams.replace(SageMakerModelBackend, "update_model_package", update_model_package)
