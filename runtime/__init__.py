"""A Python runtime for AWS Lambda that streams responses.

Handlers import only this package's public surface: `streaming`, `ResponseStream`,
`LambdaContext`, and the adapters `asgi_handler` and `wsgi_handler`. Everything else is the
runtime's own machinery. The adapters are imported on first use, so a plain handler's cold start
never pays for them.
"""

from runtime.context import LambdaContext
from runtime.response import ResponseStream, ResponseStreamClosed, ResponseStreamError, streaming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runtime.asgi import asgi_handler
    from runtime.wsgi import wsgi_handler

__all__ = [
    "LambdaContext",
    "ResponseStream",
    "ResponseStreamClosed",
    "ResponseStreamError",
    "asgi_handler",
    "streaming",
    "wsgi_handler",
]


def __getattr__(name: str) -> object:
    if name == "asgi_handler":
        from runtime.asgi import asgi_handler

        return asgi_handler
    if name == "wsgi_handler":
        from runtime.wsgi import wsgi_handler

        return wsgi_handler
    raise AttributeError(f"module 'runtime' has no attribute {name!r}")
