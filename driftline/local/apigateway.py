"""API Gateway HTTP APIs: each API in the template is served on 127.0.0.1 and invokes its Lambda routes.

moto stores HTTP APIs (routes and integrations, imported from the API's OpenAPI ``Body``) but serves
nothing, and its CloudFormation has no ``AWS::ApiGatewayV2::Api``. Here a stack's HTTP API is created in
moto's API Gateway and served by a small server behind the loopback guard, on a port of its own. A
request that matches a route is turned into the payload format 2.0 event AWS documents and sent to the
route's Lambda integration through the Lambda API (so the function's real handler runs in the local
Lambda runtime); its response becomes the HTTP response. ``!GetAtt <Api>.ApiEndpoint`` is that
server's URL, so a function or output that names the API's endpoint names the local server.

A request the integration cannot take is answered as an HTTP API answers it: a body over the API's 10 MB
quota is refused before anything else, an event over Lambda's 6 MB invocation quota (a form body is
base64-encoded into it, a third larger) is refused by Lambda and answered ``413 {"message":"Request Entity Too
Large"}``, and any other failed invocation is ``500 {"message":"Internal Server Error"}``: the function does not run.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from moto.apigatewayv2.models import apigatewayv2_backends
from moto.cloudformation.parsing import get_model_map

from driftline.local import seams
from driftline.local.clients import emulator_client
from driftline.local.http_guard import LoopbackGuard

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_MAX_BODY = 10 * 1024 * 1024
"""HTTP APIs accept payloads up to 10 MB."""
_PAYLOAD_TOO_LARGE = "RequestEntityTooLargeException"
"""Lambda's error code for an Invoke payload over its quota."""


def route_pattern(route_key: str) -> tuple[str, re.Pattern[str]]:
    """``("GET", regex)`` for a route key like ``GET /approvals/{link}`` (``{name+}`` is greedy)."""
    method, _, path = route_key.partition(" ")
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            regex += f"(?P<{name[:-1]}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    return method.upper(), re.compile(f"^{regex}$")


def function_arn_of(integration_uri: str) -> str:
    """The function ARN inside a Lambda proxy integration's URI (or the URI itself when it is one)."""
    match = re.search(r"/functions/(arn:[^/]+)/invocations", integration_uri)
    return match.group(1) if match else integration_uri


def build_event(
    *,
    api_id: str,
    account_id: str,
    route_key: str,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    path_parameters: dict[str, str],
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends a Lambda integration (AWS's documented shape)."""
    combined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        combined[lowered] = f"{combined[lowered]},{value}" if lowered in combined else value
    now = time.time()
    host = combined.get("host", "")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": combined,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": combined.get("user-agent", ""),
            },
            "requestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "routeKey": route_key,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        parameters: dict[str, str] = {}
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
        event["queryStringParameters"] = parameters
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        content_type = combined.get("content-type", "")
        if content_type.startswith(_TEXT_TYPES):
            event["body"] = body.decode("utf-8", "replace")
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


class HttpApiServer:
    """One HTTP API served on ``host`` (an ephemeral port), behind the loopback guard."""

    def __init__(
        self, *, api_id: str, account_id: str, region: str, host: str, endpoint_url: str, port: int = 0
    ) -> None:
        from werkzeug.serving import make_server

        self.api_id = api_id
        self.account_id = account_id
        self.region = region
        self.endpoint_url = endpoint_url
        self._server = make_server(host, port, self._app, threaded=True)
        self.port = int(self._server.server_port)
        self._server.app = LoopbackGuard(self._app, self.port)
        self.url = f"http://{host}:{self.port}"
        self._lambda: Any = None
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"http-api-{api_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "/")) or "/"
        api = apigatewayv2_backends[self.account_id][self.region].get_api(self.api_id)
        for route in api.get_routes():
            route_method, pattern = route_pattern(route.route_key)
            match = pattern.match(path)
            if match and route_method in (method, "ANY"):
                integration = api.integrations[str(route.target).removeprefix("integrations/")]
                return self._invoke(environ, start_response, route.route_key, match.groupdict(), integration)
        return _respond(start_response, 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')

    def _invoke(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        route_key: str,
        path_parameters: dict[str, str],
        integration: Any,
    ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > _MAX_BODY:
            return _respond(
                start_response, 413, {"Content-Type": "application/json"}, b'{"message":"Request too large"}'
            )
        body = environ["wsgi.input"].read(length) if length else b""
        headers = [(key[5:].replace("_", "-"), str(value)) for key, value in environ.items() if key.startswith("HTTP_")]
        if environ.get("CONTENT_TYPE"):
            headers.append(("content-type", str(environ["CONTENT_TYPE"])))
        if length:
            headers.append(("content-length", str(length)))
        event = build_event(
            api_id=self.api_id,
            account_id=self.account_id,
            route_key=route_key,
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=str(environ.get("PATH_INFO", "/")),
            query=str(environ.get("QUERY_STRING", "")),
            headers=headers,
            body=body,
            source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")),
            path_parameters=path_parameters,
        )
        try:
            answer = self._lambda_client().invoke(
                FunctionName=function_arn_of(str(integration.integration_uri)), Payload=json.dumps(event).encode()
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == _PAYLOAD_TOO_LARGE:
                return _respond(
                    start_response, 413, {"Content-Type": "application/json"}, b'{"message":"Request Entity Too Large"}'
                )
            return _respond(
                start_response, 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
            )
        payload = answer["Payload"].read()
        if answer.get("FunctionError"):
            return _respond(
                start_response, 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
            )
        return _lambda_response(start_response, json.loads(payload or b"null"))

    def _lambda_client(self) -> Any:
        if self._lambda is None:
            self._lambda = emulator_client("lambda", self.endpoint_url, self.region)
        return self._lambda


def _lambda_response(start_response: Callable[..., Any], result: Any) -> Iterable[bytes]:
    """Payload format 2.0's response rules: a ``statusCode`` object is the response, anything else a JSON body."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return _respond(start_response, 200, {"Content-Type": "application/json"}, json.dumps(result).encode())
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    cookies = [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    return _respond(start_response, int(result["statusCode"]), headers, raw, cookies)


def _respond(
    start_response: Callable[..., Any],
    status: int,
    headers: dict[str, str],
    body: bytes,
    extra: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    from werkzeug.http import HTTP_STATUS_CODES

    listed = [(k, v) for k, v in headers.items() if k.lower() != "content-length"] + (extra or [])
    listed.append(("Content-Length", str(len(body))))
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", listed)
    return [body]


_config: dict[str, str] = {}
_servers: list[HttpApiServer] = []


class LocalHttpApi:
    """The stack's view of an HTTP API: ``Ref`` is its id, ``ApiEndpoint`` the local server's URL."""

    def __init__(self, api_id: str, url: str) -> None:
        self.physical_resource_id = api_id
        self.api_id = api_id
        self.url = url

    def is_created(self) -> bool:
        """Created as soon as it exists, as moto's own resources report."""
        return True

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return attribute in {"ApiEndpoint", "ApiId"}

    def get_cfn_attribute(self, attribute: str) -> str:
        return self.url if attribute == "ApiEndpoint" else self.api_id

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> LocalHttpApi:
        properties = cloudformation_json.get("Properties", {})
        body = properties.get("Body") or {}
        api = apigatewayv2_backends[account_id][region_name].create_api(
            api_key_selection_expression=None,  # type: ignore[arg-type]
            cors_configuration=None,  # type: ignore[arg-type]
            description=properties.get("Description"),
            disable_schema_validation=None,  # type: ignore[arg-type]
            disable_execute_api_endpoint=None,  # type: ignore[arg-type]
            name=properties.get("Name") or body.get("info", {}).get("title") or resource_name,
            protocol_type=properties.get("ProtocolType", "HTTP"),
            route_selection_expression=None,  # type: ignore[arg-type]
            tags={},
            version=None,  # type: ignore[arg-type]
        )
        if body:
            api.import_api(json.dumps(body), fail_on_warnings=False)
        server = HttpApiServer(
            api_id=api.api_id,
            account_id=account_id,
            region=region_name,
            host=_config["host"],
            endpoint_url=_config["endpoint_url"],
        )
        _servers.append(server)
        return cls(api_id=api.api_id, url=server.url)


class LocalStage:
    """An HTTP API stage: the local server serves the ``$default`` stage at its root."""

    def __init__(self, name: str) -> None:
        self.physical_resource_id = name

    def is_created(self) -> bool:
        """Created as soon as it exists, as moto's own resources report."""
        return True

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> LocalStage:
        return cls(str(cloudformation_json.get("Properties", {}).get("StageName", "$default")))


def install(*, host: str, endpoint_url: str) -> None:
    """Let the emulator's CloudFormation create HTTP APIs, each served on ``host``."""
    _config.update(host=host, endpoint_url=endpoint_url)
    if seams.claim("apigateway"):
        seams.replace_item(get_model_map(), "AWS::ApiGatewayV2::Api", LocalHttpApi)
        seams.replace_item(get_model_map(), "AWS::ApiGatewayV2::Stage", LocalStage)


class ApiPortInUse(OSError):
    pass


def serve_restored(account_id: str, region: str) -> list[str]:
    """Serve the HTTP APIs of a restored stack again, each on the port of its URL (the URL its functions, outputs
    and emailed links name); returns the URLs."""
    from urllib.parse import urlsplit

    from moto.cloudformation.models import cloudformation_backends

    urls: list[str] = []
    for stack in list(cloudformation_backends[account_id][region].stacks.values()):
        for resource in list(stack.stack_resources):
            if not isinstance(resource, LocalHttpApi):
                continue
            port = urlsplit(resource.url).port or 0
            try:
                server = HttpApiServer(
                    api_id=resource.api_id,
                    account_id=account_id,
                    region=region,
                    host=_config["host"],
                    endpoint_url=_config["endpoint_url"],
                    port=port,
                )
            except OSError as error:
                raise ApiPortInUse(
                    f"the HTTP API {resource.api_id} was served at {resource.url} before the restart (its URL is in "
                    f"the stack's outputs and in the links already emailed), and port {port} cannot be served again "
                    f"({error}); stop what uses it, or start with --fresh"
                ) from error
            _servers.append(server)
            urls.append(server.url)
    return urls


def stop_servers() -> None:
    while _servers:
        _servers.pop().stop()
