"""generated/ is a golden folder: regenerating every example reproduces it byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from mpcgen import generate
from mpcgen.problem.examples import EXAMPLES

GOLDEN = ROOT / "generated"


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_generated_folder_is_in_sync(tmp_path: Path, name: str) -> None:
    fresh = generate(name, tmp_path / name)
    golden = GOLDEN / name
    assert golden.is_dir(), f"generated/{name} missing: run `make generated`"
    fresh_files = sorted(p.name for p in fresh.iterdir())
    assert fresh_files == sorted(p.name for p in golden.iterdir()), "file lists differ: run `make generated`"
    for f in fresh_files:
        assert (fresh / f).read_bytes() == (golden / f).read_bytes(), f"generated/{name}/{f} drifted: run `make generated`"


def test_no_stray_folders() -> None:
    assert sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) == sorted(EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_committed_examples_compile_strictly(tmp_path: Path, name: str) -> None:
    """The C a firmware engineer reads on GitHub compiles warning-free under gcc and clang."""
    import subprocess

    from conftest import compilers

    flags = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O1", "-c"]
    for cc in compilers():
        for src in (GOLDEN / name).glob("*.c"):
            r = subprocess.run([cc, *flags, str(src), "-o", str(tmp_path / "x.o")], capture_output=True, text=True)
            assert r.returncode == 0, f"{cc} {src.name}:\n{r.stderr}"
