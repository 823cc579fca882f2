"""Writes that a killed process cannot leave half done: a temporary file beside the target,
renamed over it (a rename within one folder is atomic)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def usual_mode(mode: int) -> int:
    """``mode`` under the process's umask: what a plain open() or mkdir() would have given."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename over ``path`` (same directory, so rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, usual_mode(0o666))  # mkstemp makes the file 0600
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, lambda p: p.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8"))
