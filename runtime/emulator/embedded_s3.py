"""An S3 for local work: moto's server, started in-process on a free loopback port.

The emulator starts it when a template declares buckets (or with `--s3`); moto, werkzeug and
boto3 are imported here lazily so the emulator itself stays standard-library only.

S3's checks (presigned signatures, expiry, signed lengths and digests, exact bodies, atomic
conditional writes) are enforced in front of moto by `s3_contract`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextlib.contextmanager
def embedded_s3(
    buckets: Sequence[str], region: str, host: str = "127.0.0.1", port: int = 0
) -> Iterator[dict[str, str]]:
    """Run moto's S3 with `buckets` created; yields the environment a function needs to reach it."""
    try:
        import boto3
        import moto.moto_server.werkzeug_app  # noqa: F401 - imported here so a missing moto is named here
        from werkzeug.serving import WSGIRequestHandler, make_server

        from runtime.emulator.s3_contract import enforcing_s3_app
    except ImportError as exc:
        raise SystemExit(
            f"the embedded S3 (for the template's buckets, or --s3) needs moto[server] and boto3 ({exc}): "
            "pip install 'moto[server]' boto3 (or the [s3] extra), or pass --no-s3 to serve without it"
        ) from None

    class QuietHandler(WSGIRequestHandler):
        timeout = 30  # a client that stops sending is dropped, as S3 does, instead of holding a thread

        def log_request(self, *args: object, **kwargs: object) -> None:
            pass  # the emulator logs its own requests; S3's would drown them

    app = enforcing_s3_app({LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]: LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]})
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
