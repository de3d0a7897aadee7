"""Step Functions: moto's ASL interpreter runs the state machine; two gaps are closed here.

``SendTaskFailure`` drops its ``cause`` in moto's request handler, which would lose the readable
reason a failed SageMaker job reports, and state machines created by CloudFormation land in the
backend that does not execute them. Both are fixed so local runs behave as on AWS.
"""

from __future__ import annotations

from typing import Any

from moto.core.config import default_user_config
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse

from driftline.local import seams


def enable_execution() -> None:
    """Make moto's interpreter execute the ASL instead of returning canned results."""
    seams.replace_item(default_user_config, "stepfunctions", {"execute_state_machine": True})  # type: ignore[arg-type]


def install() -> None:
    enable_execution()
    if not seams.claim("stepfunctions"):
        return

    def send_task_failure(self: StepFunctionResponse) -> Any:
        from moto.core.responses import EmptyResult

        self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    seams.replace(StepFunctionResponse, "send_task_failure", send_task_failure)

    def create_from_cloudformation_json(
        cls: type,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        definition = properties.get("DefinitionString", "")
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        backend = stepfunctions_parser_backends[account_id][region_name]
        return backend.create_state_machine(
            name=properties.get("StateMachineName", resource_name),
            definition=definition,
            roleArn=properties.get("RoleArn", ""),
            tags=[{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])],
        )

    seams.replace(StateMachine, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
