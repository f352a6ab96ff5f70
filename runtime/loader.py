"""Resolving `_HANDLER` (`package.module.function`, relative to LAMBDA_TASK_ROOT) to a callable.

Every failure becomes a `HandlerLoadError` carrying the `Runtime.<Reason>` payload that the loop
posts to `/runtime/init/error` before exiting (Part A §5), instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys

from runtime.api import ErrorPayload
from runtime.errors import payload_from_exception

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class HandlerLoadError(Exception):
    """The handler could not be loaded; `payload` is what goes to `/runtime/init/error`."""

    def __init__(self, payload: ErrorPayload) -> None:
        super().__init__(f"{payload.error_type}: {payload.message}")
        self.payload = payload


def load_handler(spec: str | None, task_root: str) -> Callable[..., Any]:
    module_name, function_name = _split(spec)
    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
    module = _import(module_name)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    if not callable(handler):
        raise _error("Runtime.HandlerNotFound", f"Handler '{spec}' is not callable")
    return handler


def _split(spec: str | None) -> tuple[str, str]:
    module_name, _, function_name = (spec or "").strip().rpartition(".")
    if not module_name or not function_name or "/" in module_name:
        raise _error("Runtime.MalformedHandlerName", f"Bad handler '{spec}': expected 'module.function'")
    return module_name, function_name


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except SyntaxError as exc:
        raise HandlerLoadError(
            payload_from_exception(exc, skip_frames=0, error_type="Runtime.UserCodeSyntaxError")
        ) from exc
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise _error("Runtime.ImportModuleError", message) from exc
    except Exception as exc:  # the module raised while running its top level
        payload = payload_from_exception(exc, skip_frames=0, error_type="Runtime.ImportModuleError")
        message = f"Unable to import module '{module_name}': {type(exc).__name__}: {exc}"
        raise HandlerLoadError(ErrorPayload(payload.error_type, message, payload.stack_trace)) from exc


def _error(error_type: str, message: str) -> HandlerLoadError:
    return HandlerLoadError(ErrorPayload(error_type, message))
