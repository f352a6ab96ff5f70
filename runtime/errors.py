"""Turning a handler's exception into the error document the Runtime API expects.

Leading stack frames that belong to the machinery (this package, `asyncio`, which runs async handlers,
and the frozen import system) are dropped, so the trace starts in user
code, in the same `File "...", line N, in f` form as AWS's Python runtime
(https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html).
"""

from __future__ import annotations

import os
import sys

from runtime.api import ErrorPayload

RUNTIME_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep


def payload_from_exception(exc: BaseException, *, error_type: str | None = None) -> ErrorPayload:
    """The `{errorMessage, errorType, stackTrace}` payload for `exc`, its trace starting in user code."""
    import traceback  # only on the error path: it costs start-up time

    frames = traceback.extract_tb(exc.__traceback__)
    machinery = _machinery_directories()
    first_user_frame = 0
    while first_user_frame < len(frames) and _is_machinery(frames[first_user_frame].filename, machinery):
        first_user_frame += 1
    stack = tuple(line.rstrip("\n") for line in traceback.format_list(frames[first_user_frame:]))
    return ErrorPayload(error_type or type(exc).__name__, str(exc), stack)


def _machinery_directories() -> tuple[str, ...]:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or not getattr(asyncio, "__file__", None):
        return (RUNTIME_DIRECTORY,)
    return (RUNTIME_DIRECTORY, os.path.dirname(os.path.abspath(asyncio.__file__)) + os.sep)


def _is_machinery(filename: str, directories: tuple[str, ...]) -> bool:
    if filename.startswith("<frozen "):
        return True
    return os.path.abspath(filename).startswith(directories)
