"""`python -m client send FILE` / `python -m client receive LINK`: the command line.

`send` prints the share link as the last line of standard output; progress, hints and errors go
to standard error. The exit status says what happened (see client.errors).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from client.api import DEFAULT_API_URL
from client.errors import ClientError
from client.receive import ReceiveOptions, receive_link
from client.send import DEFAULT_PARALLEL, SendOptions, send_file


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m client", description="Send and receive end-to-end encrypted files.")
    commands = root.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="encrypt and upload a file; prints the share link")
    send.add_argument("file", type=Path)
    send.add_argument(
        "--api", default=os.environ.get("TRANSFER_API_URL", DEFAULT_API_URL), help="service URL (default: %(default)s)"
    )
    send.add_argument("--expires-in", type=positive, metavar="SECONDS", help="lifetime (service default: 7 days)")
    send.add_argument("--max-downloads", type=positive, metavar="N", help="download limit (service default: 10)")
    send.add_argument("--resume", action="store_true", help="continue an interrupted upload of FILE")
    send.add_argument("--parallel", type=positive, default=DEFAULT_PARALLEL, help="parts uploaded at once")
    send.add_argument(
        "--creation-key",
        default=os.environ.get("TRANSFER_CREATE_KEY"),
        help="the key a service that restricts uploads asks for (default: $TRANSFER_CREATE_KEY)",
    )
    receive = commands.add_parser("receive", help="download, decrypt and verify a file from a share link")
    receive.add_argument("link")
    receive.add_argument("-o", "--output", type=Path, metavar="PATH", help="file or directory to write")
    receive.add_argument("--force", action="store_true", help="overwrite an existing file")
    receive.add_argument("--no-wait", dest="wait", action="store_false", help="fail if the upload is still running")
    for command in (send, receive):
        shown = command.add_mutually_exclusive_group()
        shown.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show bars")
        shown.add_argument("--no-progress", dest="progress", action="store_false", help="never show bars")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "send":
            options = SendOptions(
                args.api,
                args.expires_in,
                args.max_downloads,
                args.resume,
                args.parallel,
                args.progress,
                creation_key=args.creation_key,
            )
            link = send_file(args.file, options)
            print(link, flush=True)
        else:
            options_in = ReceiveOptions(args.output, args.force, args.wait, args.progress)
            path = receive_link(args.link, options_in)
            print(f"Saved {path}", file=sys.stderr)
    except ClientError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # outside the client's own errors: the disk (permission, space), a closed pipe
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
