"""The package layout is the pipeline: a lower stage never imports a higher one.

mpcgen's subpackages are the stages in order (problem -> derivatives -> codegen ->
compiled -> runs -> checks); ``errors`` and ``version`` serve all of them, and the CLI
and the package root sit on top. Every import in the package, including the ones inside
functions, must point down or sideways in that order, and no module imports the
package root (which imports every stage). A new subpackage must be placed in
``STAGES`` deliberately, and a module grows past ``MAX_LINES`` only with its reason in
its docstring.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "mpcgen"
#: Shared by every stage: importable from anywhere, importing no stage.
BASE = ("errors", "version")
#: The stages, lowest first: a module may import its own stage and the ones before it.
STAGES = ("problem", "derivatives", "codegen", "compiled", "runs", "checks")
#: On top: the command line (and the package root, which re-exports the public API).
TOP = ("cli",)
MAX_LINES = 400
#: The docstring phrase that gives a long module's reason.
LONG_REASON = "Longer than 400 lines because"


def _rank(parts: list[str]) -> int | None:
    """Rank of the module mpcgen.<parts...>: 0 base, 1.. stages, then top; None if unplaced."""
    if not parts:
        return len(STAGES) + 1  # the package root
    head = parts[0]
    if head in BASE:
        return 0
    if head in STAGES:
        return 1 + STAGES.index(head)
    if head in TOP:
        return len(STAGES) + 1
    return None


def _module_parts(path: Path, package: Path) -> list[str]:
    rel = path.relative_to(package).with_suffix("")
    parts = list(rel.parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(node: ast.AST, parts: list[str], is_package: bool) -> list[list[str]]:
    """The mpcgen modules an import statement names, as parts below ``mpcgen``."""
    if isinstance(node, ast.Import):
        return [a.name.split(".")[1:] for a in node.names if a.name.split(".")[0] == "mpcgen"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level == 0:
        names = (node.module or "").split(".")
        return [names[1:]] if names[0] == "mpcgen" else []
    base = parts if is_package else parts[:-1]  # the package the relative import starts from
    up = node.level - 1
    if up > len(base):
        return [["<beyond the package>"]]
    anchor = base[:len(base) - up] + ((node.module or "").split(".") if node.module else [])
    if node.module:
        return [anchor]
    if not anchor:  # from .. import x at the top: a stage, or a name of the package root
        return [[a.name] if _rank([a.name]) is not None else [] for a in node.names]
    return [anchor + [a.name] for a in node.names]  # from . import x: x may be a module


def layout_violations(package: Path = PACKAGE) -> list[str]:
    """Every import that runs up the pipeline, every module outside the stages."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        parts = _module_parts(path, package)
        name = ".".join(["mpcgen", *parts])
        if path.name == "__init__.py" and not parts:
            continue  # the root re-exports the public API from every stage
        own = _rank(parts)
        if own is None:
            problems.append(f"{name}: not in a stage; place {parts[0]!r} in STAGES (or BASE/TOP)")
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            for target in _imported(node, parts, path.name == "__init__.py"):
                where = f"{path.relative_to(package.parent)}:{getattr(node, 'lineno', '?')}"
                if not target:
                    problems.append(f"{where}: {name} imports the package root; import the module that "
                                    "defines the name (e.g. mpcgen.version)")
                    continue
                rank = _rank(target)
                if rank is None:
                    continue  # a name inside the package root's namespace that is not a stage
                if rank > own:
                    problems.append(f"{where}: {name} imports mpcgen.{'.'.join(target)}, a later stage")
    return problems


def test_no_stage_imports_a_later_one() -> None:
    assert layout_violations() == []


def test_every_stage_exists_and_nothing_else_lies_at_the_top() -> None:
    top = {p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir()
           if (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert top == {"__init__", *BASE, *STAGES, *TOP}


@pytest.mark.parametrize("module, line, expected", [
    ("problem/model.py", "from ..runs.simulate import simulate", "imports mpcgen.runs.simulate, a later stage"),
    ("codegen/lower.py", "from .. import __version__", "imports the package root"),
    ("derivatives/jacobians.py", "    from mpcgen.codegen.lower import lower", "imports mpcgen.codegen.lower"),
    ("problem/examples/pendulum.py", "from ...compiled import build", "imports mpcgen.compiled, a later"),
    ("runs/plot.py", "import mpcgen.checks.verification", "imports mpcgen.checks.verification"),
])
def test_an_upward_import_is_caught(tmp_path: Path, module: str, line: str, expected: str) -> None:
    copy = tmp_path / "mpcgen"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = copy / module
    text = path.read_text()
    if line.startswith("    "):  # inside a function: lazy imports count too
        text += f"\n\ndef _planted():\n{line}\n"
    else:
        text += f"\n{line}\n"
    path.write_text(text)
    found = layout_violations(copy)
    assert len(found) == 1 and expected in found[0] and module in found[0], found


def test_a_module_outside_the_stages_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "mpcgen"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "utils.py").write_text('"""A grab-bag."""\n')
    assert layout_violations(copy) == ["mpcgen.utils: not in a stage; place 'utils' in STAGES (or BASE/TOP)"]


def test_modules_stay_small_or_say_why() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().count("\n")
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and LONG_REASON not in doc:
            long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert long == []
