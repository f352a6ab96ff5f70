"""An invocation as the Runtime API hands it over, and the context object handlers receive.

`Invocation.from_next` reads the `/next` answer's headers
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-next); `LambdaContext` has the
attributes of AWS's Python context, so handlers written for the managed runtime run unchanged.
"""

from __future__ import annotations

import os
import time

from runtime import json_codec
from runtime.records import record

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

MAX_DEADLINE_DIGITS = 16  # epoch milliseconds have 13 digits until the year 2286

_INVOCATION_FIELDS = (
    "request_id deadline_ms invoked_function_arn trace_id client_context cognito_identity tenant_id content_type event"
)


class Invocation(record("Invocation", _INVOCATION_FIELDS)):
    """One event to handle, with the metadata the `/next` headers carry."""

    __slots__ = ()
    request_id: str
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str | None
    client_context: str | None
    cognito_identity: str | None
    tenant_id: str | None
    content_type: str
    event: bytes

    @classmethod
    def from_next(cls, headers: Mapping[str, str], body: bytes) -> Invocation:
        """Raises ValueError when a header every invocation must carry is missing or malformed."""
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        if not request_id:
            raise ValueError("the /next answer has no Lambda-Runtime-Aws-Request-Id")
        deadline = headers.get("lambda-runtime-deadline-ms", "")
        if not (deadline.isascii() and deadline.isdigit() and len(deadline) <= MAX_DEADLINE_DIGITS):
            raise ValueError(f"the /next answer has a missing or malformed Lambda-Runtime-Deadline-Ms {deadline!r}")
        return cls(
            request_id=request_id,
            deadline_ms=int(deadline),
            invoked_function_arn=headers.get("lambda-runtime-invoked-function-arn", ""),
            trace_id=headers.get("lambda-runtime-trace-id") or None,
            client_context=headers.get("lambda-runtime-client-context") or None,
            cognito_identity=headers.get("lambda-runtime-cognito-identity") or None,
            tenant_id=headers.get("lambda-runtime-aws-tenant-id") or None,
            content_type=headers.get("content-type", "application/json"),
            event=body,
        )


class FunctionEnvironment(
    record("FunctionEnvironment", "function_name function_version memory_limit_in_mb log_group_name log_stream_name")
):
    """The function-wide values Lambda puts in the environment, read once at start-up."""

    __slots__ = ()
    function_name: str
    function_version: str
    memory_limit_in_mb: str
    log_group_name: str
    log_stream_name: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> FunctionEnvironment:
        return cls(
            function_name=environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            function_version=environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            memory_limit_in_mb=environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""),
            log_group_name=environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
            log_stream_name=environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
        )


class CognitoIdentity:
    """`context.identity`: the Amazon Cognito identity of a mobile-SDK caller, else None fields."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.cognito_identity_id = document.get("cognitoIdentityId")
        self.cognito_identity_pool_id = document.get("cognitoIdentityPoolId")


class Client:
    """`context.client_context.client`: the calling mobile application."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.installation_id = document.get("installation_id")
        self.app_title = document.get("app_title")
        self.app_version_name = document.get("app_version_name")
        self.app_version_code = document.get("app_version_code")
        self.app_package_name = document.get("app_package_name")


class ClientContext:
    """`context.client_context`: set only when a mobile SDK passes one."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        client = document.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = document.get("custom")
        self.env = document.get("env")


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json_codec.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class LambdaContext:
    """The second (buffered) or third (streaming) handler argument, as in AWS's Python runtime."""

    def __init__(self, invocation: Invocation, function: FunctionEnvironment) -> None:
        self.aws_request_id = invocation.request_id
        self.invoked_function_arn = invocation.invoked_function_arn
        self.function_name = function.function_name
        self.function_version = function.function_version
        self.memory_limit_in_mb = function.memory_limit_in_mb
        self.log_group_name = function.log_group_name
        self.log_stream_name = function.log_stream_name
        self.tenant_id = invocation.tenant_id
        self.xray_trace_id = invocation.trace_id
        self.identity = CognitoIdentity(_json_object(invocation.cognito_identity) or {})
        client_context = _json_object(invocation.client_context)
        self.client_context = ClientContext(client_context) if client_context is not None else None
        self._deadline_ms = invocation.deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(aws_request_id={self.aws_request_id!r}, "
            f"function_name={self.function_name!r}, function_version={self.function_version!r})"
        )
