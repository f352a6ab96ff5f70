"""The client's errors: one root, each with the exit status the CLI returns for it.

0 success · 1 network or service failure · 2 bad usage or a malformed link · 3 the transfer is
gone, expired, exhausted or the link's token is wrong · 4 integrity: wrong secret, tampered or
damaged ciphertext · 130 interrupted (Ctrl-C), resumable.
"""

from __future__ import annotations


class ClientError(Exception):
    exit_status = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(ClientError):
    exit_status = 2


class UnavailableError(ClientError):
    exit_status = 3


class IntegrityError(ClientError):
    exit_status = 4


class NetworkError(ClientError):
    """The service could not be reached, or kept failing, after every retry."""


class ServiceError(ClientError):
    """The API answered with its JSON error: `status`, `code` and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"the service refused the request ({status} {code}): {message}")
        self.status = status
        self.code = code


class Interrupted(ClientError):
    exit_status = 130
