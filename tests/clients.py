"""The AWS SDK clients tests point at the emulator and its embedded S3 (any credentials work)."""

from __future__ import annotations

import boto3
from botocore.config import Config

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def local_lambda(url: str):
    """boto3's Lambda client for the emulator's Invoke API at `url`: no retries, as a test wants."""
    return boto3.client(
        "lambda",
        endpoint_url=url.rstrip("/"),
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
        **LOCAL_CREDENTIALS,
    )


def local_s3(endpoint: str):
    """boto3's S3 client for the embedded S3 at `endpoint`, signing with SigV4 as the function does."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
        **LOCAL_CREDENTIALS,
    )
