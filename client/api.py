"""The transfer API over HTTP, with retries: one method per route the client uses.

The HTTP session is injected (tests pass a recording or failing one). Connection failures and
429/502/503/504 answers are retried with exponential backoff and full jitter; every other error
answer becomes a ServiceError carrying the API's `{"error": {code, message}}`, or a friendlier
UnavailableError for the answers a person acts on (unknown transfer or token, expired, exhausted).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from client.errors import NetworkError, ServiceError, UnavailableError, UsageError

DEFAULT_API_URL = "http://127.0.0.1:9000"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 120.0
FRIENDLY = {
    "not_found": "no such transfer, or the link's token is wrong (was the link copied whole?)",
    "expired": "this transfer has expired",
    "download_limit_reached": "this transfer has reached its download limit",
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_seconds: float = 0.5
    cap_seconds: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def pause(self, attempt: int) -> None:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        self.sleep(random.uniform(0, min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))))  # noqa: S311


def raise_for_answer(response: requests.Response) -> None:
    """Translate an error answer (status ≥ 400) into the client's exceptions."""
    if response.status_code < 400:
        return
    code, message = "http_error", response.reason or "error"
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass
    if code in FRIENDLY:
        raise UnavailableError(FRIENDLY[code])
    raise ServiceError(response.status_code, code, message)


def with_retries(policy: RetryPolicy, what: str, attempt_once: Callable[[], requests.Response]) -> requests.Response:
    """Run one HTTP exchange, retrying transient failures; the last failure becomes NetworkError."""
    for attempt in range(1, policy.attempts + 1):
        try:
            response = attempt_once()
        except TRANSIENT_ERRORS as exc:
            if attempt == policy.attempts:
                raise NetworkError(f"{what} failed after {attempt} attempts: {exc}") from None
        else:
            if response.status_code not in RETRY_STATUSES or attempt == policy.attempts:
                return response
            response.close()
        policy.pause(attempt)
    raise AssertionError("unreachable")


class TransferApi:
    def __init__(self, base_url: str, session: requests.Session | None = None, retry: RetryPolicy | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.retry = retry or RetryPolicy()

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One API request with retries; error answers raise (the caller gets only successes)."""
        all_headers = dict(headers or {})
        if token:
            all_headers["authorization"] = f"Bearer {token}"

        def once() -> requests.Response:
            return self.session.request(
                method,
                self.base_url + path,
                json=json,
                data=data,
                headers=all_headers,
                stream=stream,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            )

        response = with_retries(self.retry, f"{method} {path}", once)
        raise_for_answer(response)
        return response

    # -- routes -------------------------------------------------------------------------------------

    def create(self, creation_key: str | None = None, **fields: Any) -> dict[str, Any]:
        """POST /transfers; `creation_key` is sent as the bearer token when the service requires one."""
        body = {name: value for name, value in fields.items() if value is not None}
        try:
            return self.call("POST", "/transfers", creation_key, json=body).json()
        except ServiceError as exc:
            if exc.code == "forbidden":
                raise UsageError(
                    "this service requires a creation key: pass --creation-key or set TRANSFER_CREATE_KEY"
                ) from None
            raise

    def view(self, transfer_id: str, token: str) -> dict[str, Any]:
        return self.call("GET", f"/transfers/{transfer_id}", token).json()

    def sign_parts(self, transfer_id: str, owner_token: str, parts: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        answer = self.call("POST", f"/transfers/{transfer_id}/parts", owner_token, json={"parts": parts}).json()
        return {part["number"]: part for part in answer["parts"]}

    def missing_parts(self, transfer_id: str, owner_token: str) -> list[int]:
        return list(self.call("GET", f"/transfers/{transfer_id}/parts", owner_token).json()["missing"])

    def complete(self, transfer_id: str, owner_token: str) -> None:
        try:
            self.call("POST", f"/transfers/{transfer_id}/complete", owner_token)
        except ServiceError as exc:
            if exc.code != "already_complete":  # a retried complete whose first answer was lost
                raise

    def upload_fast(self, transfer_id: str, owner_token: str, ciphertext: bytes) -> None:
        headers = {"content-type": "application/octet-stream"}
        self.call("PUT", f"/transfers/{transfer_id}/ciphertext", owner_token, data=ciphertext, headers=headers)

    def delete(self, transfer_id: str, owner_token: str) -> None:
        self.call("DELETE", f"/transfers/{transfer_id}", owner_token)
