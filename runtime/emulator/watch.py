"""Noticing that a function's code changed, for `--watch`: a snapshot of file stamps, compared.

Standard library only (no inotify): a walk of the code directory that skips what is never code
(hidden directories, virtual environments, caches, build output). Cheap enough to run before
every invocation, which makes "the next request after a save runs the new code" exact rather
than a race with a polling interval.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules", "site-packages", "dist", "build", ".aws-sam"})
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")

Stamp = tuple[int, int, int]  # mtime_ns, size, inode


def _files(root: str) -> Iterator[tuple[str, os.stat_result]]:
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(".") or entry.name in SKIPPED_DIRECTORIES:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                if not os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                    yield from _files(entry.path)
            elif entry.is_file() and not entry.name.endswith(SKIPPED_SUFFIXES):
                yield entry.path, entry.stat()
        except OSError:
            continue


def snapshot(root: str) -> dict[str, Stamp]:
    return {path: (stat.st_mtime_ns, stat.st_size, stat.st_ino) for path, stat in _files(root)}


class CodeWatcher:
    """Tells whether anything under `root` changed since the last call (thread-safe)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._last = snapshot(root)

    def changes(self) -> list[str]:
        """Paths added, removed or modified since the previous call; empty when none."""
        with self._lock:
            current = snapshot(self.root)
            changed = sorted(
                path for path in current.keys() | self._last.keys() if current.get(path) != self._last.get(path)
            )
            self._last = current
            return changed
