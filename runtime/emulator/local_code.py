"""Where a function's code and layers live locally: directories as they are, zips unpacked.

A `.zip` CodeUri or ContentUri is unpacked once per content (file modes kept, as Lambda keeps
them) into a temporary directory; a function's layers are merged, in order, into one directory
that stands for /opt.
"""

from __future__ import annotations

import hashlib
import shutil
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
    digest = hashlib.sha256("\0".join(directories).encode()).hexdigest()[:16]
    target = Path(tempfile.mkdtemp(prefix=f"lambda-emulator-opt-{digest}-"))
    for source in directories:
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
    return str(target)


def unpacked(archive: Path) -> str:
    """A zip CodeUri unpacked once per content into a temporary directory (as Lambda unpacks it)."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"lambda-emulator-code-{digest}"
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-"))
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
