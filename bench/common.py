"""Shared benchmark plumbing: an in-process emulator, a keep-alive client, and table printing."""

from __future__ import annotations

import contextlib
import http.client
import statistics
from collections.abc import Iterator, Sequence
from pathlib import Path

from runtime.emulator import Emulator, EmulatorConfig, FunctionConfig, make_server
from runtime.emulator.config import BUFFERED, PROJECT_ROOT, STREAM

AWSLAMBDARIC_BOOTSTRAP = str(PROJECT_ROOT / "tests" / "foreign" / "awslambdaric_bootstrap")
OUR_BOOTSTRAP = str(PROJECT_ROOT / "bootstrap")


@contextlib.contextmanager
def emulator(handler: str, bootstrap: str = OUR_BOOTSTRAP, mode: str = "stream") -> Iterator[Emulator]:
    """One function served in-process on a free port, with one environment and no access log;
    `mode` is its Function URL's invoke mode, `stream` or `buffered`."""
    function = FunctionConfig(
        name="bench",
        handler=handler,
        code_dir=str(PROJECT_ROOT),
        bootstrap=bootstrap,
        concurrency=1,
        timeout=300,
        invoke_mode=STREAM if mode == "stream" else BUFFERED,
    )
    config = EmulatorConfig(functions=(function,), port=0, access_log=False)
    with make_server(config) as server:
        yield server


def port_of(server: Emulator) -> int:
    return int(server.invoke_api_url.rstrip("/").rsplit(":", 1)[1])


def connect(server: Emulator) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=300)


def invoke(connection: http.client.HTTPConnection, path: str = "/2015-03-31/functions/f/invocations") -> bytes:
    connection.request("POST", path, body=b"{}")
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"invoke failed: {response.status} {body[:200]!r}")
    return body


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |")


def project_path(*parts: str) -> Path:
    return PROJECT_ROOT.joinpath(*parts)
