"""Output and cache under failure and concurrency: a failed, interrupted or killed
generation leaves the previous folder byte-identical; two processes building the same
folder into one fresh cache both succeed and load the same extension."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from mpcgen import generate, write_folder
from mpcgen.cli import main

M = f"{ROOT / 'tests' / 'data' / 'bad_models' / 'models.py'}"
PLANT = f"{M}:plant"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture()
def previous(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A folder from an earlier, successful generation, and its bytes."""
    out = generate(PLANT, tmp_path / "out")
    return out, _snapshot(out)


@pytest.mark.parametrize(
    "args",
    [[f"{M}:division_by_zero"], [f"{M}:raises"], [PLANT, "--ts", "-0.1"], [PLANT, "--substeps", "0"]],
    ids=["model", "model-file", "ts", "substeps"],
)
def test_failed_generation_leaves_previous_folder(previous, capsys: pytest.CaptureFixture, args) -> None:
    out, before = previous
    assert main(["generate", *args, "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith("mpcgen: error: ")
    assert _snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["out"], "no staging folders"


def test_failure_after_staging_restores_previous_folder(previous, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old folder is already moved aside when renaming the new one into place fails."""
    out, before = previous
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(src).name.startswith(".out.new-"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr("mpcgen.codegen.folder.os.replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        generate(PLANT, out, substeps=2)
    assert _snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["out"], "no staging or moved-aside folders"


_KILLED = """
import os, pathlib, signal, sys
from mpcgen.cli import main

where = sys.argv[1]
real_write, real_replace = pathlib.Path.write_text, os.replace

def write_then_die(self, *args, **kw):
    n = real_write(self, *args, **kw)
    if where == "staging" and self.parent.name.startswith(".out.new-"):
        os.kill(os.getpid(), signal.SIGKILL)  # one file staged, the rest never written
    return n

def die_before_rename(src, dst):
    if where == "rename" and pathlib.Path(src).name.startswith(".out.new-"):
        os.kill(os.getpid(), signal.SIGKILL)  # the old folder is moved aside, the new one staged
    return real_replace(src, dst)

pathlib.Path.write_text = write_then_die
os.replace = die_before_rename
main(["generate", sys.argv[2], "-o", sys.argv[3], "--substeps", "2"])
"""


@pytest.mark.parametrize("where", ["staging", "rename"])
def test_killed_generation_leaves_previous_folder(previous, where: str) -> None:
    """SIGKILL mid-way: the previous folder survives (put back by the next write, if it was
    moved aside), and the next write removes what the killed process left."""
    out, before = previous
    r = subprocess.run([sys.executable, "-c", _KILLED, where, PLANT, str(out)], capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    leftovers = sorted(p.name for p in out.parent.iterdir() if p.name != "out")
    assert leftovers and all(n.startswith((".out.new-", ".out.old-")) for n in leftovers), leftovers
    if where == "staging":
        assert _snapshot(out) == before
    # the next write to the folder recovers, even when it fails itself
    broken = {"sub/file.c": "cannot be written: no such folder"}
    with pytest.raises(OSError):
        write_folder(broken, out)
    assert _snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["out"]


_BUILDER = """
import json, sys, time
from pathlib import Path
from mpcgen import load_model
from mpcgen.compiled.build import build

folder, ready, go = sys.argv[1:4]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
shipped, complex_step = build(folder, "shipped"), build(folder, "complex_step")
model = load_model(folder)
x_next = model.F([0.1, -0.2], [0.3], [1.0])
x_cs = model.F_complex([0.1, -0.2], [0.3], [1.0])
print(json.dumps({"shipped": str(shipped.path), "complex": str(complex_step.path),
                  "x_next": x_next.tolist(), "x_cs": x_cs.real.tolist()}))
"""


def test_concurrent_builds_share_one_fresh_cache(tmp_path: Path) -> None:
    out = generate(PLANT, tmp_path / "gen")
    cache = tmp_path / "cache"
    env = dict(os.environ, MPCGEN_CACHE=str(cache))
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", _BUILDER, str(out), str(tmp_path / f"ready{i}"), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(2)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline, "builders did not start"
        time.sleep(0.01)
    go.touch()  # both start building at once
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        results.append(json.loads(stdout))
    first, second = results
    assert first == second, "both processes load the same extension and compute the same"
    for key in ("shipped", "complex"):
        assert Path(first[key]).is_file() and cache in Path(first[key]).parents
    # one finished build per extension; no temporary build folders left behind
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == sorted(
        Path(first[k]).parent.name for k in ("shipped", "complex"))
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]
