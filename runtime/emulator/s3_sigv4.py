"""Presigned-URL checks as S3 makes them: SigV4 query authentication, expiry and signed headers.

A pure function of the request (method, raw path, query, headers) and a clock: no sockets, no
moto. The signature is recomputed with botocore's own SigV4 signer (`S3SigV4QueryAuth`: canonical
request, string to sign, signing key), so the local S3 and the SDK that presigns can never
disagree about the algorithm. The rules and error codes follow
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html and
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.

botocore is imported lazily, as moto is: the emulator itself stays standard-library only.
"""

from __future__ import annotations

import calendar
import hmac
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # S3's limit for SigV4 presigned URLs
CLOCK_SKEW_SECONDS = 15 * 60  # S3 refuses requests dated further in the future than this
QUERY_AUTH_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")
UNSIGNED_AMZ_HEADERS_ALLOWED = ("x-amz-content-sha256",)  # S3 needs every other x-amz-* header signed


@dataclass(frozen=True)
class S3Error(Exception):
    """One of S3's error answers: HTTP status, `<Code>`, `<Message>` and extra elements."""

    status: int
    code: str
    message: str
    details: tuple[tuple[str, str], ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def is_presigned(query: Sequence[tuple[str, str]]) -> bool:
    """True when the query carries SigV4 authentication (any X-Amz-Signature/-Credential/-Algorithm)."""
    return any(name in ("X-Amz-Signature", "X-Amz-Credential", "X-Amz-Algorithm") for name, _ in query)


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs in order; `+` stays a plus, as S3 reads SigV4 queries."""
    pairs = []
    for item in raw_query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((urllib.parse.unquote(name), urllib.parse.unquote(value)))
    return pairs


@dataclass(frozen=True)
class PresignedRequest:
    method: str
    raw_path: str  # as sent, still percent-encoded: S3 signs the path without normalising it
    query: Sequence[tuple[str, str]]
    headers: Mapping[str, str]  # lower-case names


def verify_presigned(request: PresignedRequest, secrets: Mapping[str, str], now: float) -> None:
    """Raise S3Error unless the request is a valid, unexpired presigned request for one of `secrets`."""
    params = _auth_params(request.query)
    access_key, region = _credential(params["X-Amz-Credential"], params["X-Amz-Date"])
    signed_names = params["X-Amz-SignedHeaders"].split(";")
    _require_signed_headers(request.headers, signed_names)
    _require_fresh(params["X-Amz-Date"], params["X-Amz-Expires"], now)
    secret = secrets.get(access_key)
    if secret is None:
        raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    expected = _signature(request, signed_names, access_key, secret, region, params["X-Amz-Date"])
    if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
        raise S3Error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            (("AWSAccessKeyId", access_key),),
        )


def _auth_params(query: Sequence[tuple[str, str]]) -> dict[str, str]:
    params = dict(query)
    missing = [name for name in (*QUERY_AUTH_PARAMS, "X-Amz-Signature") if not params.get(name)]
    if missing:
        raise _query_error(f"Query-string authentication requires the {missing[0]} parameter")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _query_error(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    expires = params["X-Amz-Expires"]
    if not expires.isdigit() or len(expires) > 7:
        raise _query_error("X-Amz-Expires should be a number")
    if int(expires) > MAX_EXPIRES_SECONDS:
        raise _query_error("X-Amz-Expires must be less than a week (in seconds) that is 604800")
    return params


def _credential(credential: str, date: str) -> tuple[str, str]:
    """(access key id, region) from `AKID/yyyymmdd/region/s3/aws4_request`."""
    fields = credential.split("/")
    if len(fields) != 5 or fields[3] != "s3" or fields[4] != "aws4_request" or not fields[0]:
        raise _query_error(f"Error parsing the X-Amz-Credential parameter; the Credential is mal-formed: {credential}")
    if fields[1] != date[:8]:
        raise _query_error(f"Error parsing the X-Amz-Credential parameter; incorrect date. This should be {date[:8]}")
    return fields[0], fields[2]


def _require_signed_headers(headers: Mapping[str, str], signed_names: Sequence[str]) -> None:
    if "host" not in signed_names:
        raise _query_error("Query-string authentication version 4 requires the host header to be signed")
    unsigned = sorted(
        name
        for name in headers
        if name.startswith("x-amz-") and name not in signed_names and name not in UNSIGNED_AMZ_HEADERS_ALLOWED
    )
    if unsigned:
        raise S3Error(
            403,
            "AccessDenied",
            "There were headers present in the request which were not signed",
            (("HeadersNotSigned", ", ".join(unsigned)),),
        )


def _require_fresh(date: str, expires: str, now: float) -> None:
    try:
        signed_at = calendar.timegm(time.strptime(date, TIMESTAMP_FORMAT))
    except ValueError:
        raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"") from None
    if signed_at - CLOCK_SKEW_SECONDS > now:
        raise S3Error(403, "AccessDenied", "Request is not valid yet")
    if now > signed_at + int(expires):
        raise S3Error(
            403,
            "AccessDenied",
            "Request has expired",
            (("X-Amz-Expires", expires), ("Expires", _iso(signed_at + int(expires))), ("ServerTime", _iso(now))),
        )


def _signature(
    request: PresignedRequest, signed_names: Sequence[str], access_key: str, secret: str, region: str, date: str
) -> str:
    """The signature botocore computes for this request: canonical request, string to sign, HMAC chain."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host = request.headers.get("host", "")
    headers = {name: request.headers[name] for name in signed_names if name in request.headers}
    params = [(name, value) for name, value in request.query if name != "X-Amz-Signature"]
    aws_request = AWSRequest(method=request.method, url=f"http://{host}{request.raw_path}", headers=headers)
    aws_request.params = params
    aws_request.context["timestamp"] = date
    signer = S3SigV4QueryAuth(Credentials(access_key, secret), "s3", region)
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def _query_error(message: str) -> S3Error:
    return S3Error(400, "AuthorizationQueryParametersError", message)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
