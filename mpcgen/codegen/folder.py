"""Write a generated folder atomically.

The new folder is written beside the old one and renamed into place; the old one is
removed only after the new one exists, so a failed or interrupted generation never
destroys the user's previous output.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import OutputError
from .manifest import MANIFEST


def write_folder(files: dict[str, str], out: Path) -> Path:
    """Write ``files`` as the folder ``out``, replacing it atomically.

    The new folder is written next to ``out`` (``.NAME.new-PID-*``) and renamed into
    place; the old one is moved aside (``.NAME.old-PID``) and removed only after the new
    one exists, and moved back if that fails. What a killed process left behind is
    cleaned up by the next write to ``out`` (see :func:`_recover`).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another -o")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out.parent}: cannot create the folder ({exc.strerror}); choose another -o") from None
    _recover(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))
    old = None
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        if out.exists():
            if not (out / MANIFEST).is_file() and any(out.iterdir()):
                raise OutputError(
                    f"{out}: exists and is not an mpcgen output folder (no {MANIFEST}); choose another -o"
                )
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(staging, out)
    except BaseException:
        if old is not None and not out.exists():
            os.replace(old, out)  # the new folder never arrived: put the previous one back
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def _recover(out: Path) -> None:
    """Clean up after writes to ``out`` by processes that were killed.

    A previous folder moved aside and never replaced is moved back; staging folders and
    moved-aside folders of processes that no longer run are removed.
    """
    pattern = re.compile(re.escape(f".{out.name}.") + r"(new|old)-([0-9]+)(-.*)?")
    for leftover in sorted(out.parent.iterdir()):
        match = pattern.fullmatch(leftover.name)
        if match is None or _running(int(match[2])):
            continue
        try:
            if match[1] == "old" and not out.exists():
                os.replace(leftover, out)
            else:
                shutil.rmtree(leftover)
        except OSError:
            pass  # another process is recovering the same folder


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
