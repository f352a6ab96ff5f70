"""The API's one error type and the JSON body every failure has: `{"error": {code, message}}`.

Handlers raise `ApiError`; the dispatcher turns it into the response. Anything else that escapes
is a bug: the client gets a 500 with the request id only, never a trace or a secret.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(400, "invalid_request", f"{field}: {reason}")


def not_found() -> ApiError:
    """One answer for an unknown transfer and a wrong token, so neither can be enumerated."""
    return ApiError(404, "not_found", "no such transfer, or the token does not grant access to it")


def missing_token() -> ApiError:
    return ApiError(
        401,
        "missing_token",
        "send the transfer's token as 'Authorization: Bearer <token>'",
        {"www-authenticate": "Bearer"},
    )


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def gone(code: str, message: str) -> ApiError:
    return ApiError(410, code, message)


def too_large(message: str) -> ApiError:
    return ApiError(413, "too_large", message)
