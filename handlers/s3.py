"""S3 clients for the transfer API, built once per environment and reused across invocations.

Two clients: one for the function's own calls (AWS_ENDPOINT_URL_S3 is honoured by botocore
itself), and one for presigning, pointed at the endpoint *clients* can reach when that differs
(TRANSFER_PUBLIC_S3_ENDPOINT). Presigning is always SigV4, so the signed headers (the exact
Content-Length and the checksum) bind what may be uploaded.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

from handlers.config import Settings

CLIENT_CONFIG = Config(
    signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=20
)


@functools.lru_cache(maxsize=4)
def s3_client(endpoint: str | None = None) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, config=CLIENT_CONFIG)


def data_client(settings: Settings) -> Any:
    return s3_client(None)


def presign_client(settings: Settings) -> Any:
    return s3_client(settings.public_s3_endpoint)
