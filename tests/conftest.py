"""Shared fixtures: a private cffi cache per test session (never the source tree)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("mpcgen-cache")
    old = os.environ.get("MPCGEN_CACHE")
    os.environ["MPCGEN_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("MPCGEN_CACHE", None)
    else:
        os.environ["MPCGEN_CACHE"] = old


def compilers() -> list[str]:
    return [cc for cc in ("gcc", "clang") if shutil.which(cc)]
