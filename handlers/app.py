"""The transfer API's only entry point: `handlers.app.handler`, a streaming Lambda handler.

It turns the Function URL event into a `Request`, answers CORS preflights, routes with the pure
router, runs the route handler, and writes its response through the runtime's response stream.
Every failure becomes a JSON error body with the right status; an unexpected exception is logged
with its trace and answered 500 with the request id only. Every response, errors and streams
included, carries `Cache-Control: no-store` (tokens and ciphertext must not sit in caches) and
`X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import Mapping
from typing import Any

from handlers import downloads, events, pages, parts, relay, transfers, upload
from handlers.config import ConfigError, Settings, load_settings
from handlers.errors import ApiError
from handlers.http import JsonResponse, Request, StreamResponse, request_from_event
from handlers.router import Route, match
from handlers.s3 import data_client, presign_client
from handlers.service import Service
from handlers.store import ManifestStore
from runtime import ResponseStream, streaming

log = logging.getLogger("transfer-api")

CORS_ALLOW_HEADERS = "authorization, content-type, last-event-id, range"
CORS_EXPOSE_HEADERS = "content-range, etag, location, x-ciphertext-size, x-download-bytes-remaining"
CORS_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
SECURITY_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


def health(request: Request, service: Service) -> JsonResponse:
    return JsonResponse(200, {"status": "ok"})


ROUTES = [
    Route.compile("GET", "/", pages.send_page),
    Route.compile("HEAD", "/", pages.send_page),  # safe to answer HEAD: no state changes, no charge
    Route.compile("GET", "/t/{id}", pages.receive_page),
    Route.compile("HEAD", "/t/{id}", pages.receive_page),
    Route.compile("GET", "/health", health),
    Route.compile("HEAD", "/health", health),
    Route.compile("POST", "/transfers", transfers.create_transfer),
    Route.compile("GET", "/transfers/{id}", transfers.get_transfer),
    Route.compile("DELETE", "/transfers/{id}", transfers.delete_transfer),
    Route.compile("POST", "/transfers/{id}/parts", parts.sign_parts),
    Route.compile("GET", "/transfers/{id}/parts", parts.list_parts),
    Route.compile("POST", "/transfers/{id}/complete", transfers.complete_transfer),
    Route.compile("GET", "/transfers/{id}/download-url", downloads.download_url),
    Route.compile("GET", "/transfers/{id}/ciphertext", relay.ciphertext),
    Route.compile("PUT", "/transfers/{id}/ciphertext", upload.upload_ciphertext),
    Route.compile("GET", "/transfers/{id}/download", relay.download),
    Route.compile("GET", "/transfers/{id}/events", events.events),
]


@functools.lru_cache(maxsize=1)
def service() -> Service:
    """Built once and kept for the environment's life (clients and settings are reused)."""
    settings = load_settings()
    s3 = data_client(settings)
    return Service(settings, ManifestStore(s3, settings.bucket, settings.prefix), s3, presign_client(settings))


def _build_during_init() -> None:
    """Build the S3 clients while the function initialises, not in its first request.

    Measured with `./dev bench cold_start` (README): a cold request costs the same either way on
    an on-demand function (init and the first request are both on its path), but work done in
    the init phase is free with SnapStart, provisioned concurrency and Lambda's proactive
    initialisation. A bad setting is not an init failure (which Lambda would retry at every
    request, each paying a cold start): every request answers 500 `misconfigured` with its request
    id instead, and the log says which setting.
    """
    with contextlib.suppress(ConfigError):
        service()


_build_during_init()


def cors_headers(origin: str | None, settings: Settings | None) -> dict[str, str]:
    allowed = settings.allowed_origins if settings else ("*",)
    if "*" in allowed:
        return {"access-control-allow-origin": "*", "access-control-expose-headers": CORS_EXPOSE_HEADERS}
    if origin and origin in allowed:
        return {
            "access-control-allow-origin": origin,
            "access-control-expose-headers": CORS_EXPOSE_HEADERS,
            "vary": "origin",
        }
    return {"vary": "origin"}


def preflight(request: Request, settings: Settings | None) -> JsonResponse:
    headers = cors_headers(request.headers.get("origin"), settings)
    headers.update(
        {
            "access-control-allow-methods": CORS_METHODS,
            "access-control-allow-headers": CORS_ALLOW_HEADERS,
            "access-control-max-age": "600",
        }
    )
    return JsonResponse(204, None, headers)


def dispatch(request: Request) -> JsonResponse | StreamResponse:
    """Route and run one request; ApiError escapes for the caller to render."""
    if request.method == "OPTIONS":
        return preflight(request, _settings_or_none())
    route, params = match(ROUTES, request.method, request.path)
    try:
        current = service()
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        raise ApiError(500, "misconfigured", f"the service is misconfigured (request {request.request_id})") from exc
    return route.endpoint(dataclasses.replace(request, path_params=params), current)


def _settings_or_none() -> Settings | None:
    try:
        return service().settings
    except ConfigError:
        return None


def error_response(error: ApiError) -> JsonResponse:
    return JsonResponse(error.status, error.body(), dict(error.headers))


def write_response(
    response_stream: ResponseStream, answer: JsonResponse | StreamResponse, cors: dict[str, str]
) -> None:
    headers = {"content-type": "application/json", **cors, **answer.headers, **SECURITY_HEADERS}
    if isinstance(answer, StreamResponse):
        chunks = iter(answer.chunks)
        try:
            response_stream.start(answer.status, headers)
            for chunk in chunks:
                response_stream.write(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # a generator that did not finish runs its cleanup now (the relay gives back bytes)
        return
    body = answer.encoded()
    if not body:
        headers.pop("content-type", None)
    response_stream.start(answer.status, headers)
    response_stream.write(body)


@streaming
def handler(event: Mapping[str, Any], response: ResponseStream, context: Any) -> None:
    request_id = getattr(context, "aws_request_id", "")
    try:
        request = request_from_event(event)
        if hasattr(context, "get_remaining_time_in_millis"):
            request = dataclasses.replace(request, remaining_ms=context.get_remaining_time_in_millis)
    except ApiError as exc:
        write_response(response, error_response(exc), cors_headers(None, None))
        return
    cors = cors_headers(request.headers.get("origin"), _settings_or_none())
    try:
        answer: JsonResponse | StreamResponse = dispatch(request)
    except ApiError as exc:
        answer = error_response(exc)
    except Exception:
        log.exception("unhandled error in %s %s (request %s)", request.method, request.path, request_id)
        answer = error_response(ApiError(500, "internal", f"internal error; request id {request_id}"))
    write_response(response, answer, cors)
