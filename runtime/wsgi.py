"""Run any WSGI application (Flask, Django, ...) as a streaming Lambda handler.

    from runtime import wsgi_handler
    handler = wsgi_handler(app)          # _HANDLER=module.handler

Each Function URL event (payload format 2.0) becomes one PEP 3333 call
(https://peps.python.org/pep-3333/): `wsgi.input` holds the request body, and every non-empty
item of the body iterable is one chunk on the wire as soon as the app produces it, so Flask's
streamed responses stream. The status and headers from `start_response` go out with the first
non-empty item (or at the end, for an empty body). The iterable's `close()` is always called.

Failures follow the same rule as the ASGI adapter: before anything was sent, the client gets a 500
with a short plain body and the trace goes to the log; after, the log gets the trace and the
stream ends with the error trailers; a failing `close()` is only logged.
Bodies of HEAD requests and of 1xx, 204 and 304 responses are dropped.
"""

from __future__ import annotations

import io
import sys
import urllib.parse

from runtime.client import RuntimeAPIError
from runtime.http_event import request_from_event
from runtime.log import RuntimeLog
from runtime.response import ResponseStreamClosed, State, streaming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any

    from runtime.context import LambdaContext
    from runtime.http_event import HttpRequest
    from runtime.response import ResponseStream

    StartResponse = Callable[..., Callable[[bytes], None]]
    WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ERROR_BODY = b"Internal Server Error"
ERROR_HEADERS = {"content-type": "text/plain; charset=utf-8"}
NO_BODY_STATUSES = frozenset({204, 304})
FILE_BLOCK_SIZE = 64 * 1024


def wsgi_handler(app: WSGIApp, *, root_path: str = "") -> Callable[..., Any]:
    """A streaming Lambda handler that serves `app`; `root_path` becomes SCRIPT_NAME."""

    @streaming
    def handler(event: Any, response: ResponseStream, context: LambdaContext) -> None:
        request = request_from_event(event)
        environ = build_environ(request, root_path, event, context)
        WSGIResponse(response, request.method == "HEAD").run(app, environ)

    handler.app = app  # type: ignore[attr-defined]
    return handler


def build_environ(request: HttpRequest, root_path: str, event: Any, context: Any) -> dict[str, Any]:
    """The PEP 3333 environ: native strings hold the request's bytes decoded as Latin-1."""
    path = urllib.parse.unquote_to_bytes(request.raw_path).decode("latin-1")
    script_name = root_path.rstrip("/")
    if script_name and (path == script_name or path.startswith(script_name + "/")):
        path = path[len(script_name) :]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": request.query_string.decode("latin-1"),
        "SERVER_NAME": request.server[0],
        "SERVER_PORT": str(request.server[1]),
        "SERVER_PROTOCOL": f"HTTP/{request.http_version}",
        "CONTENT_LENGTH": str(len(request.body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,  # other environments (and slots) run the same app at once
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "aws.event": event,  # the names Mangum uses for ASGI, for apps that want the raw event
        "aws.context": context,
    }
    if request.client is not None:
        environ["REMOTE_ADDR"] = request.client[0]
    for name, value in request.headers:
        key = name.decode("latin-1").upper()
        if "_" in key:
            continue  # would be indistinguishable from its dashed twin (header spoofing)
        key = key.replace("-", "_")
        if key == "CONTENT_LENGTH":
            continue  # the decoded body's real length is already there
        key = key if key == "CONTENT_TYPE" else f"HTTP_{key}"
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ and key.startswith("HTTP_") else text
    return environ


class FileWrapper:
    """`wsgi.file_wrapper`: a file sent in 64 KiB chunks (Flask's `send_file` uses it)."""

    def __init__(self, file: Any, block_size: int = FILE_BLOCK_SIZE) -> None:
        self.file = file
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        while block := self.file.read(self.block_size):
            yield block

    def close(self) -> None:
        close = getattr(self.file, "close", None)
        if close is not None:
            close()


class WSGIResponse:
    """`start_response` and the body of one call, written to its response stream."""

    def __init__(self, response: ResponseStream, head_request: bool) -> None:
        self.response = response
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.headers_sent = False
        self._drop_body = head_request

    def run(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        result: Any = None
        try:
            result = app(environ, self.start_response)
            for chunk in result:
                self.write(chunk)
            self._send_headers()
            self.response.close()
        except (ResponseStreamClosed, RuntimeAPIError):
            _close(result)  # the Runtime API closed the stream, or is gone: the loop handles it
            raise
        except Exception as exc:
            _close(result)
            self._failed(exc)
            return
        _close(result)

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self.headers_sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise RuntimeError("start_response was called a second time without exc_info")
        self.status = _status_code(status)
        self.headers = list(headers)
        if self.status < 200 or self.status in NO_BODY_STATUSES:
            self._drop_body = True
        return self.write

    def write(self, data: bytes) -> None:
        """Send one body item as one chunk (also the legacy `write` callable)."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"a WSGI body item must be bytes, not {type(data).__name__}")
        if not data:
            return
        self._send_headers()
        if not self._drop_body:
            self.response.write(data)

    def _send_headers(self) -> None:
        if self.headers_sent:
            return
        if self.status is None:
            raise RuntimeError("the WSGI app returned a body before calling start_response")
        self.response.start(self.status, self.headers)
        self.headers_sent = True

    def _failed(self, exc: Exception) -> None:
        if self.response.state is not State.NEW:
            raise exc  # bytes are out: the loop logs it and ends the stream with the error trailers
        _log_exception("Exception in WSGI application", exc)
        self.response.start(500, ERROR_HEADERS)
        self.response.close(ERROR_BODY)


def _status_code(status: str) -> int:
    code = status[:3] if isinstance(status, str) else ""
    if not (code.isascii() and code.isdigit()) or status[3:4] not in ("", " "):
        raise ValueError(f"a WSGI status must look like '200 OK', not {status!r}")
    return int(code)


def _close(result: Any) -> None:
    """PEP 3333: the iterable's `close()` is always called; its own failure is only logged."""
    close = getattr(result, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception as exc:
        _log_exception("Exception in the WSGI response's close()", exc)


def _log_exception(message: str, exc: BaseException) -> None:
    import traceback

    trace = "".join(traceback.format_exception(exc)).rstrip()
    RuntimeLog.from_environ().error(f"{message}\n{trace}")
