"""Files eventqa will write (a run's `--output`, the alert outbox), checked before a run starts."""

from __future__ import annotations

import os
from pathlib import Path


def cannot_write(path: Path, *, create_folders: bool = False) -> str | None:
    """Why `path` could not be written as a file, else None.

    With `create_folders`, missing folders on the way are fine when they can be created.
    """
    if path.is_dir():
        return f"{path} is a directory"
    if path.exists():
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    folder = path.absolute().parent
    if not folder.exists() and not create_folders:
        return f"{path} cannot be created: folder {path.parent} does not exist"
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"{path} cannot be created: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{path} cannot be created: {folder} is not writable"
    return None
