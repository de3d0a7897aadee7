"""SageMaker endpoints: each endpoint is a local inference server running the model's ``ml/`` serving code.

- ``seam``: moto's endpoint actions and InvokeEndpoint, answered through the runner (``install``).
- ``runner``: starts, swaps and stops each endpoint's servers (one per production or shadow variant) as
  SageMaker's API asks, with its status and state-change events (``EndpointRunner``).
- ``variants``: how requests are routed among the variants (weights, ``TargetVariant``, the shadow's copies) and
  what DescribeEndpoint says of each variant.
- ``server_process``: local mode's side of one server process: launching it, its health check, a request.
- ``server``: the server process itself (``python -m driftline.local.endpoints.server``), SageMaker's
  inference contract (``GET /ping``, ``POST /invocations``) over the model's serving program.
- ``capture``: data capture, sampled invocations written to S3 in SageMaker's capture format, under each variant.
- ``metrics``: the invocation metrics SageMaker publishes to CloudWatch for each variant.

The server process imports this package too, so nothing here imports moto, boto3 or the job runner when
it is imported; they are imported where they are used.
"""

from driftline.local.endpoints.runner import EndpointRunner
from driftline.local.endpoints.seam import install

__all__ = ["EndpointRunner", "install"]
