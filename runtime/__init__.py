"""A Python runtime for AWS Lambda that streams responses.

Handlers import only this package's public surface: `streaming`, `ResponseStream` and
`LambdaContext`. Everything else is the runtime's own machinery.
"""

from runtime.context import LambdaContext
from runtime.response import ResponseStream, ResponseStreamClosed, ResponseStreamError, streaming

__all__ = ["LambdaContext", "ResponseStream", "ResponseStreamClosed", "ResponseStreamError", "streaming"]
