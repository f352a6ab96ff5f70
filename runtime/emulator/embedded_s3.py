"""An S3 for local work: moto's server, started in-process on a free loopback port.

The emulator starts it when a template declares buckets (or with `--s3`); moto, werkzeug and
boto3 are imported here lazily so the emulator itself stays standard-library only.

One difference from moto's own threaded server: conditional writes (`If-Match`, `If-None-Match`)
are serialised. S3 makes a conditional PUT atomic; moto checks the condition and then writes,
so two racing requests could both pass. The transfer API's compare-and-swap relies on S3's
guarantee, so the local S3 must give it too. Everything else runs concurrently.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
CONDITIONAL_HEADERS = ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH")


class AtomicConditionalWrites:
    """WSGI middleware: one conditional write at a time, as S3 guarantees atomically."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        conditional = environ.get("REQUEST_METHOD") in ("PUT", "POST") and any(
            environ.get(name) for name in CONDITIONAL_HEADERS
        )
        if not conditional:
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


@contextlib.contextmanager
def embedded_s3(
    buckets: Sequence[str], region: str, host: str = "127.0.0.1", port: int = 0
) -> Iterator[dict[str, str]]:
    """Run moto's S3 with `buckets` created; yields the environment a function needs to reach it."""
    try:
        import boto3
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server
    except ImportError as exc:
        raise SystemExit(
            f"the embedded S3 needs moto[server] and boto3 ({exc}): pip install 'moto[server]' boto3"
        ) from exc

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass  # the emulator logs its own requests; S3's would drown them

    app = AtomicConditionalWrites(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, name="embedded-s3", daemon=True).start()
    endpoint = f"http://{host}:{server.server_address[1]}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name=region, **_credentials())
        options = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        for bucket in buckets:
            client.create_bucket(Bucket=bucket, **options)
        yield {"AWS_ENDPOINT_URL_S3": endpoint, **LOCAL_CREDENTIALS}
    finally:
        server.shutdown()
        server.server_close()


def _credentials() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
