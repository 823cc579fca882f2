"""Files that hold the user's own commands (their examples, accepted picks, history): private to
the user, 0600 in a folder made 0700, as `cf serve`'s socket folder is (cfcli/serve.py)."""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE, DIR_MODE = 0o600, 0o700


def private_dir(path: Path) -> Path:
    """Make the folder ``path`` 0700 if it is missing (its missing parents as usual). One that
    already exists keeps its mode: it may be one the user chose ($CODEFUSION_HOME) and shares."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by another cf
            pass
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 in a private folder, or make an existing one 0600 (stores
    made before this was so were 0644 under the usual umask)."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
