"""Where a function's code and layers live locally: directories as they are, zips unpacked.

A `.zip` CodeUri or ContentUri is unpacked once per content (file modes kept, as Lambda keeps
them) into a cache only this user can write (`$TMPDIR/lambda-emulator-<uid>/`, mode 0700), so
nobody else can plant code there; a function's layers are merged, in order, into one directory
that stands for /opt and is removed when the emulator exits.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class NotLocal(ValueError):
    """The code is not on this machine (S3) or not where the template says."""


def directory(base: Path, code: Any) -> str:
    """The directory holding `code` (a path relative to the template), unpacking a zip."""
    if not isinstance(code, str):
        raise NotLocal("code in S3 is not supported locally; point it at a local directory or zip")
    path = (base / code).resolve()
    if path.is_dir():
        return str(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return unpacked(path)
    raise NotLocal(f"{code!r} is neither a directory nor a zip file (relative to {base})")


def merged(directories: Sequence[str]) -> str:
    """One directory with every layer's files, later layers over earlier ones (as in /opt)."""
    target = Path(tempfile.mkdtemp(prefix="opt-", dir=private_cache()))
    atexit.register(shutil.rmtree, target, True)
    for source in directories:
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
    return str(target)


def private_cache() -> Path:
    """This user's directory for unpacked code; refused if anyone else could write to it."""
    cache = Path(tempfile.gettempdir()) / f"lambda-emulator-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        cache.mkdir(mode=0o700)
    status = cache.lstat()
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid() or status.st_mode & 0o077:
        raise NotLocal(f"{cache} is not a directory only this user owns and can write; remove it")
    return cache


def unpacked(archive: Path) -> str:
    """A zip CodeUri unpacked once per content into a temporary directory (as Lambda unpacks it)."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    cache = private_cache()
    target = cache / f"code-{digest}"
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=cache))
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                extracted = Path(zipped.extract(member, staging))
                mode = (member.external_attr >> 16) & 0o777
                if mode:
                    extracted.chmod(mode)
        try:
            staging.rename(target)
        except OSError:  # another emulator unpacked the same zip meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return str(target)
