"""SageMaker Model Registry: a package's approval status change emits its EventBridge event.

On AWS, setting a model package's ModelApprovalStatus (Studio, ``aws sagemaker update-model-package``,
the API) sends a "SageMaker Model Package State Change" event whose detail resembles the
DescribeModelPackage response. moto sends none, and its UpdateModelPackage clears the description and
custom metadata a request does not name (AWS keeps them). Both are corrected here, so the approval
events rule runs locally as it does on AWS.
"""

from __future__ import annotations

import json
from typing import Any

from moto.events.models import events_backends
from moto.sagemaker.models import SageMakerModelBackend

from driftline.local import seams
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


def install() -> None:
    if not seams.claim("model_registry"):
        return
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
        if package is not None and package.model_approval_status != before:
            events_backends[self.account_id][self.region_name].put_events(
                [state_change_event(package.gen_response_object())]
            )
        return arn

    seams.replace(SageMakerModelBackend, "update_model_package", update_model_package)
