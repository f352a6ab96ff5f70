"""`python -m runtime.emulator`: serve a handler behind a local Function URL.

With no arguments it serves the transfer API (`handlers.app.handler`) in stream mode on port 9000
with an embedded S3. When ready it prints `Function URL: http://HOST:PORT/` (tools wait for that
line), then one line per request: method, path, status, bytes sent, duration, and any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence

from runtime.emulator.config import DEFAULT_BOOTSTRAP, PROJECT_ROOT, EmulatorConfig
from runtime.emulator.server import make_server

DEFAULT_HANDLER = "handlers.app.handler"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runtime.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task-root", default=str(PROJECT_ROOT), help="function code directory (LAMBDA_TASK_ROOT)")
    parser.add_argument("--handler", default=DEFAULT_HANDLER, help="MODULE.FUNCTION (_HANDLER)")
    parser.add_argument("--mode", choices=("stream", "buffered"), default="stream", help="Function URL invoke mode")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--timeout", type=float, default=30.0, help="function timeout in seconds")
    parser.add_argument("--concurrency", type=int, default=10, help="environments at most; beyond: 429")
    parser.add_argument("--aws-throttle", action="store_true", help="shape streams: 6 MB burst, then 2 MB/s")
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP, help="runtime executable to start")
    parser.add_argument("--memory", type=int, default=1024, help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra function variable")
    parser.add_argument(
        "--s3",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start an embedded S3 (moto) for the function; default: only for the transfer API",
    )
    parser.add_argument("--bucket", default="local-transfers", help="bucket created in the embedded S3")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.timeout <= 0:
        parser.error("--concurrency must be at least 1 and --timeout positive")
    return args


def _extra_environment(pairs: Sequence[str]) -> dict[str, str]:
    environment = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env expects NAME=VALUE, got {pair!r}")
        environment[name] = value
    return environment


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    environment = _extra_environment(args.env)
    use_s3 = args.s3 if args.s3 is not None else args.handler == DEFAULT_HANDLER
    with contextlib.ExitStack() as stack:
        if use_s3:
            from runtime.emulator.embedded_s3 import embedded_s3

            environment = {**stack.enter_context(embedded_s3(args.bucket, "us-east-1", args.host)), **environment}
            print(f"Embedded S3: {environment['AWS_ENDPOINT_URL_S3']} (bucket {args.bucket})", flush=True)
        config = EmulatorConfig(
            task_root=args.task_root,
            handler=args.handler,
            mode=args.mode,
            host=args.host,
            port=args.port,
            timeout=args.timeout,
            concurrency=args.concurrency,
            aws_throttle=args.aws_throttle,
            bootstrap=args.bootstrap,
            memory_mb=args.memory,
            environment=environment,
        )
        try:
            server = stack.enter_context(make_server(config))
        except OSError as exc:
            print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        print(f"Function URL: {server.url}", flush=True)
        _wait_for_signal()
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    sys.exit(main())
