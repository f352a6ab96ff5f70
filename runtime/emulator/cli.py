"""`python -m runtime.emulator`: serve functions locally, from a SAM template or one handler.

With `--template PATH` (default: `template.yaml` in the current directory, when there is one and
no `--handler` is given) every function of the template is served, each with its own Function
URL, and one Invoke API routes by FunctionName; every S3 bucket of the template exists in an
embedded S3. With `--handler MODULE.FUNCTION` one function is served from `--task-root`.

When ready it prints `Function URL: http://HOST:PORT/` (one line per function, with its logical
id, when there are several), then `Invoke API: http://HOST:PORT/`: tools wait for that last line.
Then one line per request: method, path, status, bytes sent, duration, and any failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from runtime.emulator.config import BUFFERED, STREAM, EmulatorConfig, FunctionConfig, UnsupportedFunction
from runtime.emulator.emulator import Emulator

DEFAULT_TEMPLATE = "template.yaml"
MODES = {"stream": STREAM, "buffered": BUFFERED}


class UsageError(Exception):
    """The command line or the template cannot be served; the message says why."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    program = os.path.basename(sys.argv[0])
    program = "python -m runtime.emulator" if program in ("__main__.py", "") else program  # or lambda-emulator
    parser = argparse.ArgumentParser(prog=program, description=__doc__.split("\n\n")[0])
    source = parser.add_argument_group("what to serve")
    source.add_argument("--template", metavar="PATH", help=f"a SAM template (default: ./{DEFAULT_TEMPLATE} if present)")
    source.add_argument(
        "--parameter-overrides", nargs="+", default=[], metavar="NAME=VALUE", help="template parameter values"
    )
    source.add_argument("--stack-name", default="local", help="the stack name (AWS::StackName, generated names)")
    source.add_argument("--function", action="append", default=[], metavar="ID", help="serve only these functions")
    source.add_argument("--handler", help="MODULE.FUNCTION (_HANDLER): serve this one function instead")
    source.add_argument("--task-root", default=".", help="the handler's code directory (LAMBDA_TASK_ROOT)")
    source.add_argument("--runtime", default="python3.13", help="the handler's Lambda runtime")
    function = parser.add_argument_group("function settings (override the template's)")
    function.add_argument("--mode", choices=sorted(MODES), help="Function URL invoke mode (default: stream)")
    function.add_argument("--timeout", type=float, help="function timeout in seconds (default: 30 for --handler)")
    function.add_argument("--memory", type=int, help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default: 1024 for --handler)")
    function.add_argument("--concurrency", type=int, help="environments at most per function (default 10); beyond: 429")
    function.add_argument(
        "--max-concurrency", type=int, help="invocations per environment, as Lambda Managed Instances (default 1)"
    )
    function.add_argument("--bootstrap", help="runtime executable to start instead of the runtime's own")
    function.add_argument(
        "--env", action="append", default=[], metavar="[ID.]NAME=VALUE", help="a function variable (all, or ID's)"
    )
    server = parser.add_argument_group("the emulator")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=9000, help="the first port; 0 picks free ports")
    server.add_argument("--aws-throttle", action="store_true", help="shape streams: 6 MB burst, then 2 MB/s")
    server.add_argument(
        "--idle-timeout", type=float, default=60.0, help="close a client connection idle this long (seconds)"
    )
    server.add_argument(
        "--head-timeout", type=float, default=10.0, help="answer 408 when a request head takes longer (seconds)"
    )
    server.add_argument(
        "--s3", action=argparse.BooleanOptionalAction, default=None, help="start an embedded S3 (moto) for functions"
    )
    server.add_argument("--bucket", action="append", default=[], help="a bucket to create in the embedded S3")
    server.add_argument(
        "--watch", action=argparse.BooleanOptionalAction, default=False, help="reload a function when its code changes"
    )
    args = parser.parse_args(argv)
    for name in ("timeout", "memory", "concurrency", "max_concurrency", "idle_timeout", "head_timeout"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return args


def _pairs(items: Sequence[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{what} expects NAME=VALUE, got {item!r}")
        pairs.append((name, value))
    return pairs


def _environment_for(function: FunctionConfig, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    environment = dict(function.environment)
    for name, value in pairs:
        owner, dot, variable = name.rpartition(".")
        if not dot:
            environment[name] = value
        elif owner in (function.logical_id, function.name):
            environment[variable] = value
    return environment


def _apply_overrides(function: FunctionConfig, args: argparse.Namespace, env: list[tuple[str, str]]) -> FunctionConfig:
    changes: dict[str, object] = {"environment": _environment_for(function, env)}
    for flag, field in (
        ("timeout", "timeout"),
        ("memory", "memory_mb"),
        ("concurrency", "concurrency"),
        ("max_concurrency", "per_environment_concurrency"),
        ("bootstrap", "bootstrap"),
    ):
        if getattr(args, flag) is not None:
            changes[field] = getattr(args, flag)
    if args.mode is not None:
        changes["invoke_mode"] = MODES[args.mode]
    return dataclasses.replace(function, **changes)


def _template_path(args: argparse.Namespace) -> Path | None:
    if args.template and args.handler:
        raise UsageError("--template and --handler are alternatives: serve a template, or one handler")
    if args.template:
        return Path(args.template)
    if args.handler is None and Path(DEFAULT_TEMPLATE).is_file():
        return Path(DEFAULT_TEMPLATE)
    if args.handler is None:
        raise UsageError(
            f"nothing to serve: no ./{DEFAULT_TEMPLATE}; give --template PATH or --handler MODULE.FUNCTION"
        )
    return None


def build_config(args: argparse.Namespace) -> EmulatorConfig:
    env = _pairs(args.env, "--env")
    template_path = _template_path(args)
    buckets = list(args.bucket)
    if template_path is not None:
        from runtime.emulator.sam_template import TemplateError, load_template

        overrides = dict(_pairs(args.parameter_overrides, "--parameter-overrides"))
        try:
            template = load_template(
                template_path, overrides, args.stack_name, only=args.function or None, environment_overrides=env
            )
        except TemplateError as exc:
            raise UsageError(f"{template_path}: {exc}") from None
        for note in template.notes:
            print(f"note: {note}", flush=True)
        functions = list(template.functions)
        buckets = list(template.buckets) + buckets
    else:
        if not Path(args.task_root).is_dir():
            raise UsageError(f"--task-root {args.task_root!r} is not a directory")
        functions = [
            FunctionConfig(
                name="local-function",
                handler=args.handler,
                code_dir=str(Path(args.task_root).resolve()),
                runtime=args.runtime,
            )
        ]
    functions = [_apply_overrides(function, args, env) for function in functions]
    embedded = args.s3 if args.s3 is not None else bool(buckets)
    if args.s3 is False:
        buckets = []
    return EmulatorConfig(
        functions=tuple(functions),
        host=args.host,
        port=args.port,
        buckets=tuple(dict.fromkeys(buckets)),
        embedded_s3=embedded,
        aws_throttle=args.aws_throttle,
        watch=args.watch,
        idle_timeout=args.idle_timeout,
        head_timeout=args.head_timeout,
    )


def ready_lines(emulator: Emulator) -> list[str]:
    lines = []
    if emulator.s3_endpoint:
        buckets = emulator.config.buckets
        named = f"bucket {buckets[0]}" if len(buckets) == 1 else f"buckets {', '.join(buckets) or 'none'}"
        lines.append(f"Embedded S3: {emulator.s3_endpoint} ({named})")
    urls: Mapping[str, str] = emulator.function_urls
    if len(urls) == 1:
        lines.append(f"Function URL: {next(iter(urls.values()))}")
    else:
        lines += [f"Function URL ({label}): {url}" for label, url in urls.items()]
    lines.append(f"Invoke API: {emulator.invoke_api_url}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = build_config(args)
        emulator = Emulator(config)
        emulator.start()
    except (UsageError, UnsupportedFunction, ValueError) as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    with emulator:
        for line in ready_lines(emulator):
            print(line, flush=True)
        _wait_for_signal()
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
