"""`bench.fastapi_app` on this runtime: `_HANDLER=bench.fastapi_ours.handler`."""

from bench.fastapi_app import app
from runtime import asgi_handler

handler = asgi_handler(app)
