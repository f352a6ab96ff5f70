"""An S3 for local work: moto's server, started in-process on a free loopback port.

Only the emulator's default command (serving the transfer API) uses it; moto and boto3 are
imported here lazily so the emulator itself stays standard-library only.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def embedded_s3(bucket: str, region: str, host: str = "127.0.0.1") -> Iterator[dict[str, str]]:
    """Run moto's S3 with `bucket` created; yields the environment a function needs to reach it."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise SystemExit(f"the embedded S3 needs moto[server] and boto3 ({exc}); run ./dev serve") from exc
    port = _free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    endpoint = f"http://{host}:{port}"
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
        )
        options = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        client.create_bucket(Bucket=bucket, **options)
        yield {"AWS_ENDPOINT_URL_S3": endpoint, "TRANSFER_BUCKET": bucket, **LOCAL_CREDENTIALS}
    finally:
        server.stop()
