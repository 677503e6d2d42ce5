"""Writing a run's output file atomically: to a temporary name in the same folder, then a
rename, so an interrupted write never leaves a truncated file in place of the old one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from ..errors import OutputError


def write_atomically(path: Path, write: Callable[[str], None]) -> bool:
    """Call ``write(temporary_path)``, then rename it to ``path``. Creates the folder if
    missing; returns whether it did (callers say so)."""
    created = not path.parent.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return created
