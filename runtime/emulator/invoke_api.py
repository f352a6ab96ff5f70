"""The Lambda Invoke API on the front door's port, for boto3's Lambda client (`endpoint_url=`).

`Invoke` (RequestResponse, Event, DryRun) answers with the whole payload. InvokeWithResponseStream
answers `application/vnd.amazon.eventstream`: one `PayloadChunk` per body chunk as the runtime
produces it, then `InvokeComplete`, which carries the error type and details when the function
failed mid-stream. Requests are not signature-checked: any credentials work locally.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable

from runtime import wire
from runtime.emulator import eventstream
from runtime.emulator import invocation as inv
from runtime.emulator.environment import Environment
from runtime.emulator.front_door import ClientGone, FunctionURLHandler, collect_response

INVOKE_ROUTE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
STREAM_ROUTE = re.compile(r"^/2021-11-15/functions/([^/]+)/response-streaming-invocations$")
EXECUTED_VERSION = ("X-Amz-Executed-Version", "$LATEST")


class InvokeAPIHandler(FunctionURLHandler):
    def do_GET(self) -> None:
        self.handle_function_url()

    do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if INVOKE_ROUTE.match(path):
            self._guarded(self._invoke)
        elif STREAM_ROUTE.match(path):
            self._guarded(self._invoke_with_response_stream)
        else:
            self.handle_function_url()

    def _is_invoke_api(self) -> bool:
        path = self.path.split("?", 1)[0]
        return self.command == "POST" and bool(INVOKE_ROUTE.match(path) or STREAM_ROUTE.match(path))

    def _guarded(self, action: Callable[[], str]) -> None:
        note = ""
        try:
            note = action()
        except ClientGone as exc:
            note = f"client disconnected: {exc}"
            self.close_connection = True
        finally:
            self._access_log(note or "")

    def _client_context(self) -> str | None:
        encoded = self.headers.get("X-Amz-Client-Context")
        if not encoded:
            return None
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None

    def _begin(self) -> tuple[inv.Invocation, Environment] | None:
        payload = self.read_request_body()
        if payload is None:
            return None
        return self.start_invocation(payload or b"{}", self._client_context())

    def send_payload_too_large(self) -> None:
        if not self._is_invoke_api():
            super().send_payload_too_large()
            return
        self._send_api_error(413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")

    def send_throttled(self) -> None:
        if not self._is_invoke_api():
            super().send_throttled()
            return
        self._send_api_error(429, "TooManyRequestsException", "Rate Exceeded.")

    def _send_api_error(self, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"message": message, "Type": "User"}).encode()
        headers = [("content-type", "application/json"), ("x-amzn-ErrorType", error_type)]
        self.send_simple(status, body, headers, close=status == 413)

    def _invoke(self) -> str:
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            self.send_simple(204, b"", [EXECUTED_VERSION])
            return ""
        started = self._begin()
        if started is None:
            return ""
        invocation, environment = started
        if invocation_type == "Event":
            threading.Thread(target=self._finish_in_background, args=started, daemon=True).start()
            self.send_simple(202, b"", [EXECUTED_VERSION])
            return "queued asynchronously"
        limit = self.config.max_buffered_response_bytes
        collected = collect_response(self, invocation, environment, limit)
        invocation.abandoned.set()
        if collected.error_type:
            body = collected.error_body or b"{}"
            headers = [("content-type", "application/json"), ("X-Amz-Function-Error", "Unhandled"), EXECUTED_VERSION]
            self.send_simple(200, body, headers)
            return collected.failure
        body = collected.body
        if collected.prelude is not None:
            body = wire.encode_prelude(collected.prelude) + wire.PRELUDE_DELIMITER + body
        self.send_simple(200, body, [("content-type", "application/json"), EXECUTED_VERSION])
        return ""

    def _finish_in_background(self, invocation: inv.Invocation, environment: Environment) -> None:
        collected = collect_response(self, invocation, environment, self.config.max_buffered_response_bytes)
        invocation.abandoned.set()
        if collected.failure:
            self.server.log(f"asynchronous invocation {invocation.request_id} failed: {collected.failure}")

    def _invoke_with_response_stream(self) -> str:
        started = self._begin()
        if started is None:
            return ""
        invocation, environment = started
        try:
            return self._stream_events(invocation, environment)
        finally:
            invocation.abandoned.set()

    def _stream_events(self, invocation: inv.Invocation, environment: Environment) -> str:
        self.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header(*EXECUTED_VERSION)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            event = self.next_event(invocation, environment)
            if isinstance(event, inv.ResponseStarted):
                continue
            if isinstance(event, inv.PreludeReceived):
                data = wire.encode_prelude(event.prelude) + wire.PRELUDE_DELIMITER
                self.write_chunk(eventstream.payload_chunk(data))
            elif isinstance(event, inv.BodyData):
                self.write_chunk(eventstream.payload_chunk(event.data))
            else:
                return self._complete(invocation, event)

    def _complete(self, invocation: inv.Invocation, event: inv.Event) -> str:
        failure = self.log_failure(invocation, event)
        code, details = None, None
        if isinstance(event, inv.InvocationFailed):
            code, details = event.error_type, event.message
        elif isinstance(event, (inv.FunctionErrored, inv.ResponseEnded)) and event.error_type:
            code = event.error_type
            details = (event.error_body or b"").decode("utf-8", "replace")
        self.write_chunk(eventstream.invoke_complete(code, details))
        self.write_raw(wire.encode_last_chunk())
        return failure
