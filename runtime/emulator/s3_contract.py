"""The S3 contract the transfer API relies on, enforced in front of moto as WSGI middleware.

moto stores and lists objects well but checks nothing a client sends: any signature, an expired
URL, a body that is not the signed length or digest. It also loses bodies labelled as forms
(`urllib` and `curl --data-binary` send `application/x-www-form-urlencoded`) and can then wait for
bytes that never come. `S3Contract` answers every request the way S3 does before moto sees it:

- the body of a PUT or POST is read whole first (spooled to disk past 8 MiB), hashed as it
  arrives, and handed to moto byte for byte whatever its `Content-Type`; `Transfer-Encoding:
  chunked` gets S3's 501, a missing length 411, a short body 400 `IncompleteBody`, a stalled one
  400 `RequestTimeout`;
- presigned requests are verified with botocore's own SigV4 signer (`s3_sigv4`): signature over
  method, path, query and every signed header, expiry, and unsigned `x-amz-*` headers;
- a `Content-MD5`, `x-amz-checksum-sha256` or hex `x-amz-content-sha256` must match the body
  (400 `BadDigest`, `InvalidRequest`, `XAmzContentSHA256Mismatch`);
- requests with no authentication at all are refused (403), as a private bucket does;
- conditional writes (`If-Match`, `If-None-Match`) are serialised, because S3 makes them atomic
  and moto checks the condition and writes in two steps.

Requests signed in the `Authorization` header (the function's own SDK calls) keep moto's lenient
signature handling; their bodies are still checked. Errors are S3's XML documents
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). moto, werkzeug and
botocore are imported lazily so the emulator itself stays standard-library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

from runtime.emulator.s3_sigv4 import PresignedRequest, S3Error, is_presigned, parse_query, verify_presigned

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_SINGLE_PUT_BYTES = 5 * 1024**3  # S3's largest PUT (object or part)
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
READ_BLOCK_BYTES = 1024 * 1024
BODY_METHODS = ("PUT", "POST")
CONDITIONAL_HEADERS = ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH")


class ReceivedBody:
    """A request body read whole, with the digests S3 may be asked to check."""

    def __init__(self, spool: BinaryIO, length: int, sha256: bytes, md5: bytes) -> None:
        self.spool = spool
        self.length = length
        self.sha256 = sha256
        self.md5 = md5


class S3Contract:
    """WSGI middleware: S3's checks in front of a lenient S3 (moto)."""

    def __init__(self, app: WSGIApp, secrets: Mapping[str, str], clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.secrets = dict(secrets)  # access key id -> secret access key
        self.clock = clock
        self.conditional_writes = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        body: ReceivedBody | None = None
        try:
            if method in BODY_METHODS:
                body = read_body(environ)  # whole, first: every answer below leaves a clean connection
                environ["wsgi.input"] = body.spool
                environ.pop("wsgi.input_terminated", None)
            self._authenticate(environ)
            if body is not None:
                check_body_digests(environ, body)
        except S3Error as error:
            if body is not None:
                body.spool.close()
            return error_response(error, environ, start_response)
        _record_checksum_for_moto(environ)
        if method in BODY_METHODS and any(environ.get(name) for name in CONDITIONAL_HEADERS):
            with self.conditional_writes:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)

    def _authenticate(self, environ: Mapping[str, Any]) -> None:
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            return  # a browser's CORS preflight: S3 answers it from the bucket's CORS rules, unsigned
        query = parse_query(environ.get("QUERY_STRING", ""))
        presigned = is_presigned(query)
        if presigned and environ.get("HTTP_AUTHORIZATION"):
            raise S3Error(400, "InvalidArgument", "Only one auth mechanism allowed")
        if presigned:
            request = PresignedRequest(environ.get("REQUEST_METHOD", "GET"), raw_path(environ), query, headers(environ))
            verify_presigned(request, self.secrets, self.clock())
        elif not environ.get("HTTP_AUTHORIZATION") and environ.get("REQUEST_METHOD") != "OPTIONS":
            raise S3Error(403, "AccessDenied", "Access Denied")


def read_body(environ: dict[str, Any]) -> ReceivedBody:
    """Read the whole body as S3 does: exactly Content-Length bytes, never chunked, never forever."""
    encodings = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if "chunked" in encodings or environ.get("wsgi.input_terminated"):
        raise S3Error(
            501,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
            (("Header", "Transfer-Encoding"),),
        )
    declared = environ.get("CONTENT_LENGTH", "").strip()
    if not declared:
        if environ.get("REQUEST_METHOD") == "PUT":
            raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        declared = "0"
    if not declared.isdigit() or len(declared) > 13:
        raise S3Error(400, "InvalidArgument", "Content-Length must be a non-negative integer")
    length = int(declared)
    if length > MAX_SINGLE_PUT_BYTES:
        raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    return _spool(environ["wsgi.input"], length)


def _spool(stream: BinaryIO, length: int) -> ReceivedBody:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 - handed to moto
    sha256, md5 = hashlib.sha256(), hashlib.md5()  # noqa: S324 - S3's Content-MD5, not security
    remaining = length
    try:
        while remaining:
            block = stream.read(min(READ_BLOCK_BYTES, remaining))
            if not block:
                raise S3Error(
                    400,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                )
            spool.write(block)
            sha256.update(block)
            md5.update(block)
            remaining -= len(block)
    except OSError:
        spool.close()
        raise S3Error(
            400,
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period.",
        ) from None
    except S3Error:
        spool.close()
        raise
    spool.seek(0)
    return ReceivedBody(spool, length, sha256.digest(), md5.digest())


# Each base64 digest header: its WSGI key, digest length, the ReceivedBody field it must equal,
# and S3's answers when it is malformed or does not match.
_BASE64_DIGEST_HEADERS: tuple[tuple[str, int, str, tuple[str, str], str], ...] = (
    (
        "HTTP_CONTENT_MD5",
        16,
        "md5",
        ("InvalidDigest", "The Content-MD5 you specified was invalid."),
        "The Content-MD5 you specified did not match what we received.",
    ),
    (
        "HTTP_X_AMZ_CHECKSUM_SHA256",
        32,
        "sha256",
        ("InvalidRequest", "Value for x-amz-checksum-sha256 header is invalid."),
        "The SHA256 you specified did not match the calculated checksum.",
    ),
)


def check_body_digests(environ: Mapping[str, Any], body: ReceivedBody) -> None:
    """Content-MD5, x-amz-checksum-sha256 and a hex x-amz-content-sha256 must describe the body."""
    if _aws_chunked(environ):
        return  # the digests travel in the chunk trailer; moto decodes that framing itself
    for key, size, field, (invalid_code, invalid_message), mismatch_message in _BASE64_DIGEST_HEADERS:
        sent = environ.get(key)
        if sent is None:
            continue
        digest = _b64_digest(sent, size)
        if digest is None:
            raise S3Error(400, invalid_code, invalid_message)
        if digest != getattr(body, field):
            raise S3Error(400, "BadDigest", mismatch_message)
    content_sha = environ.get("HTTP_X_AMZ_CONTENT_SHA256", "")
    if len(content_sha) == 64 and content_sha.lower() != body.sha256.hex():
        raise S3Error(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )


def _aws_chunked(environ: Mapping[str, Any]) -> bool:
    return "aws-chunked" in environ.get("HTTP_CONTENT_ENCODING", "") or environ.get(
        "HTTP_X_AMZ_CONTENT_SHA256", ""
    ).startswith("STREAMING-")


def _b64_digest(value: str, size: int) -> bytes | None:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def _record_checksum_for_moto(environ: dict[str, Any]) -> None:
    """S3 keeps the checksum any PUT carried; moto only does when the SDK's algorithm header says so."""
    if environ.get("HTTP_X_AMZ_CHECKSUM_SHA256") and not environ.get("HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM"):
        environ["HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM"] = "SHA256"


def raw_path(environ: Mapping[str, Any]) -> str:
    """The path as the client sent it (percent-encoding intact), without the query."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw).split("?", 1)[0]
    import urllib.parse

    return urllib.parse.quote(environ.get("PATH_INFO", "/"), safe="/~")


def headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """Request headers with lower-case names, as SigV4 canonicalises them."""
    found = {
        name[5:].replace("_", "-").lower(): str(value) for name, value in environ.items() if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            found[name.replace("_", "-").lower()] = str(environ[name])
    return found


def error_document(error: S3Error, resource: str, request_id: str) -> bytes:
    """S3's XML error body."""
    elements = [("Code", error.code), ("Message", error.message), *error.details]
    elements += [("Resource", resource), ("RequestId", request_id)]
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in elements)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()


def error_response(error: S3Error, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    request_id = uuid.uuid4().hex[:16].upper()
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else error_document(error, raw_path(environ), request_id)
    response_headers = [
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
        ("x-amz-request-id", request_id),
    ]
    if environ.get("HTTP_ORIGIN"):
        response_headers.append(("Access-Control-Allow-Origin", "*"))  # a page can read why it was refused
    reason = {400: "Bad Request", 403: "Forbidden", 411: "Length Required", 501: "Not Implemented"}
    start_response(f"{error.status} {reason.get(error.status, 'Error')}", response_headers)
    return [body]


def moto_s3_app() -> WSGIApp:
    """moto's S3 as a WSGI app that takes PUT bodies as bytes, never as a parsed form."""
    from moto.moto_server.werkzeug_app import create_backend_app

    app = create_backend_app("s3")

    class RawBodyRequest(app.request_class):  # type: ignore[name-defined,misc]
        @property
        def want_form_data_parsed(self) -> bool:
            return self.method != "PUT" and super().want_form_data_parsed

    app.request_class = RawBodyRequest
    return app


def enforcing_s3_app(secrets: Mapping[str, str], clock: Callable[[], float] = time.time) -> S3Contract:
    """moto's S3 behind the contract checks: what the embedded S3 serves."""
    return S3Contract(moto_s3_app(), secrets, clock)
