"""Resolving `_HANDLER` (`package.module.function`, relative to LAMBDA_TASK_ROOT) to a callable,
and the init-phase work a handler asks for before the first poll.

Every failure becomes a `HandlerLoadError` carrying the `Runtime.<Reason>` payload that is posted
to `/runtime/init/error` before the process exits, instead of a traceback
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-initerror).
"""

from __future__ import annotations

import os
import sys

from runtime.api import ErrorPayload
from runtime.errors import payload_from_exception

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


INIT_ATTRIBUTE = "__lambda_init__"  # a no-argument callable run once, in the init phase
CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect (~10 ms)
CO_ASYNC_GENERATOR = 0x200  # inspect.CO_ASYNC_GENERATOR


class HandlerLoadError(Exception):
    """The handler could not be loaded; `payload` is what goes to `/runtime/init/error`."""

    def __init__(self, payload: ErrorPayload) -> None:
        super().__init__(f"{payload.error_type}: {payload.message}")
        self.payload = payload


LAYERS_ROOT = "/opt"


def load_handler(spec: str | None, task_root: str, layers_root: str = LAYERS_ROOT) -> Callable[..., Any]:
    module_name, function_name = _split(spec)
    _set_path(task_root, layers_root)
    module = _import(module_name)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    if not callable(handler):
        raise _error("Runtime.HandlerNotFound", f"Handler '{spec}' is not callable")
    framework = _unwrapped_app(handler)
    if framework is not None:
        wrapper = "asgi_handler" if framework == "ASGI" else "wsgi_handler"
        raise _error(
            "Runtime.HandlerNotFound",
            f"Handler '{spec}' is an {framework} application, which Lambda cannot call as handler(event, "
            f"context): add `handler = runtime.{wrapper}({function_name})` to '{module_name}' and name "
            f"'{module_name}.handler' as the handler",
        )
    return handler


def _unwrapped_app(handler: object) -> str | None:
    """ "ASGI" or "WSGI" when `handler` is an application object rather than a Lambda handler, judged
    from the names of its `__call__`'s parameters (FastAPI, Starlette, Flask, Django...)."""
    if hasattr(handler, "__code__"):
        return None  # a function: a handler (or a mistake its call will name)
    code = getattr(type(handler).__call__, "__code__", None)  # load_handler checked it is callable
    if code is None:
        return None
    names = code.co_varnames[1 : code.co_argcount]
    if names == ("scope", "receive", "send"):
        return "ASGI"
    if names == ("environ", "start_response"):
        return "WSGI"
    return None


def _set_path(task_root: str, layers_root: str) -> None:
    """The handler's `sys.path` as on AWS's Python runtime: the task root first, then the layer
    directories (https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html), which AWS's own
    bootstrap adds and which this runtime, replacing it, must add too."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    layer_paths = [f"{layers_root}/python/lib/{version}/site-packages", f"{layers_root}/python"]
    position = 0
    for path in [task_root, *layer_paths]:
        if not path or path in sys.path:
            continue
        if path is not task_root and not os.path.isdir(path):
            continue
        sys.path.insert(position, path)
        position += 1


def initialize_handler(handler: Callable[..., Any]) -> None:
    """Init-phase work, before the first poll: create the event loop for an async handler (so
    its first invocation does not pay for it) and run the handler's init hook, if it has one
    (`asgi_handler` runs the app's lifespan startup there). A failing hook is an init error."""
    if is_async_function(handler):
        from runtime import aio

        aio.environment_loop()
    hook = getattr(handler, INIT_ATTRIBUTE, None)
    if hook is None:
        return
    try:
        hook()
    except HandlerLoadError:
        raise
    except Exception as exc:
        raise HandlerLoadError(payload_from_exception(exc, error_type="Runtime.InitError")) from exc


def is_async_function(function: object) -> bool:
    """True for `async def` functions and async generator functions (and objects whose class
    defines `__call__` as one), judged from the code flags so that `inspect` is not imported."""
    code = getattr(function, "__code__", None)
    if code is None:
        code = getattr(type(function).__dict__.get("__call__"), "__code__", None)
    return code is not None and bool(code.co_flags & (CO_COROUTINE | CO_ASYNC_GENERATOR))


def _split(spec: str | None) -> tuple[str, str]:
    module_name, _, function_name = (spec or "").strip().rpartition(".")
    if not module_name or not function_name or "/" in module_name:
        raise _error("Runtime.MalformedHandlerName", f"Bad handler '{spec}': expected 'module.function'")
    return module_name, function_name


def _import(module_name: str) -> Any:
    try:
        __import__(module_name)  # importlib.import_module would import importlib: start-up time
        return sys.modules[module_name]
    except SyntaxError as exc:
        raise HandlerLoadError(payload_from_exception(exc, error_type="Runtime.UserCodeSyntaxError")) from exc
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise _error("Runtime.ImportModuleError", message) from exc
    except Exception as exc:  # the module raised while running its top level
        payload = payload_from_exception(exc, error_type="Runtime.ImportModuleError")
        message = f"Unable to import module '{module_name}': {type(exc).__name__}: {exc}"
        raise HandlerLoadError(ErrorPayload(payload.error_type, message, payload.stack_trace)) from exc


def _error(error_type: str, message: str) -> HandlerLoadError:
    return HandlerLoadError(ErrorPayload(error_type, message))
