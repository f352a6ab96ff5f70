"""Turning a handler's exception into the error document the Runtime API expects.

Stack frames belonging to the runtime itself are dropped, so the trace starts in user code, in the
same `File "...", line N, in f` form as AWS's Python runtime (Part B §1.3).
"""

from __future__ import annotations

from runtime.api import ErrorPayload


def payload_from_exception(exc: BaseException, *, skip_frames: int = 1, error_type: str | None = None) -> ErrorPayload:
    """The `{errorMessage, errorType, stackTrace}` payload for `exc`.

    `skip_frames` drops the outermost frames (the runtime's own call into the handler).
    """
    import traceback  # only on the error path: it costs start-up time

    frames = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    stack = tuple(line.rstrip("\n") for line in traceback.format_list(frames))
    return ErrorPayload(error_type or type(exc).__name__, str(exc), stack)
