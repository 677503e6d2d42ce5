"""Mutation test of `mpcgen verify`: every small change to a shipped function must fail it.

For each example, in double and in float, each generated function of the folder (the
model's F, dF_dx, dF_du, dF_dp, F_and_jacobians, the OCP's y, h, h_N and the EKF's
measurement function h) is changed in
turn, in a copy of the folder:

- an output assignment ``out[i] = e;`` gets an additive offset (R times the entry's
  scale at the nominal point: the state's magnitude for x_next, |J_ij| + s_i/w_j for
  a Jacobian entry), a relative change (times 1 + R) or a swapped sign;
- a floating constant gets a relative change (times 1 + R) or a swapped sign;

with R = 1e-6 in double and 1e-3 in float. Sites are drawn at random (seeded) among
the function's non-zero assignments and its constants. Every mutant must fail
verification with the mutated function among the failures; the unchanged copy must
pass. Mutant schemata keep it fast: all mutants of a folder are compiled into one copy,
each behind ``MPCGEN_MUTANT == k`` (read with getenv when a function starts), and the
copy is checked once per k against one CasADi reference, with the nominal point and
``POINTS`` random ones (the first points of verify's default 100: a mutant killed here
fails ``mpcgen verify`` too).
"""

from __future__ import annotations

import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mpcgen.checks.verification import (
    check,
    range_widths,
    reference_for,
    sample_points,
    typical_magnitudes,
)
from mpcgen.compiled.model_binding import CompiledModel
from mpcgen.problem.examples import EXAMPLES

R = {"double": 1e-6, "float": 1e-3}
#: Sites drawn per function: output assignments and constants.
STORES, CONSTANTS = 2, 2
POINTS = 3
SEED = 20261202

_FUNCTION = re.compile(r"^(?:int|static inline void) (\w+)\((.*)\)\n\{\n", re.M)
_STORE = re.compile(r"^(\s+)(x_next|A|B|P|A_nz|B_nz|value|Jx|Ju)\[(\d+)\] = (.+);$")
_LET = re.compile(r"^(\s+const \w+ w\d+ = )(.+);$")
_LITERAL = re.compile(r"(?<![\w.])(\d+\.\d*(?:e[+-]?\d+)?|\d+e[+-]?\d+)(f?)(?![\w.])")


@dataclass(frozen=True)
class Mutant:
    index: int
    function: str      # the C function changed
    kind: str          # offset, relative or sign
    site: str          # what was changed, for the report
    line: int          # 0-based line in its file
    file: str


def _literal(value: float, precision: str) -> str:
    if precision == "float":
        return f"{float(np.float32(value))!r}f"
    return repr(float(value))


def _functions(lines: list[str], text: str) -> list[tuple[str, int, int]]:
    """(public name, first body line, last body line) of every function of a generated file
    (an OCP function's body, NAME_eval in its header, under the checked function's name)."""
    out = []
    for m in _FUNCTION.finditer(text):
        start = text[:m.end()].count("\n")
        end = next(i for i in range(start, len(lines)) if lines[i] == "}")
        out.append((m.group(1).removesuffix("_eval"), start, end))
    return out


def _entries(reference) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(function family, output) -> (largest |value| / scale over the checked points, the scale at
    the nominal point) of every entry; the family is "model" or the OCP function's name."""
    man = reference.manifest
    nx, nu, _ = reference.sizes
    widths, typical = range_widths(man), typical_magnitudes(man)
    cut = {"x": slice(0, nx), "u": slice(nx, nx + nu), "p": slice(nx + nu, None)}
    points = sample_points(man, POINTS, 0)
    ratios: dict[tuple[str, str], list[np.ndarray]] = {}
    for z in points:
        ref = [np.array(v) for v in reference.model(z[cut["x"]], z[cut["u"]], z[cut["p"]])]
        s = np.maximum(typical[:nx], np.abs(ref[0].ravel()))
        ratios.setdefault(("model", "x_next"), []).append((ref[0].ravel(), s))
        for k, (q, v) in enumerate((("A", "x"), ("B", "u"), ("P", "p")), start=1):
            J = ref[k].reshape(nx, -1)
            ratios.setdefault(("model", q), []).append((J.ravel(), (np.abs(J) + s[:, None] / widths[None, cut[v]]).ravel()))
    families = [(f.name, f) for f in reference.ocp] + [(f"ekf:{f.name}", f) for f in reference.measurement]
    for family, f in families:   # OCP (and EKF) outputs: their largest magnitude over the points, as verify takes it
        values = [np.array(f.value(*[z[cut[i]] for i in f.inputs])).ravel() for z in points]
        s = np.max(np.abs(values), axis=0)
        for z in points:
            outs = f.function(*[z[cut[i]] for i in f.inputs])
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            for q, v in zip(f.outputs, outs):
                v = np.array(v).reshape(f.rows, -1)
                scale = np.maximum(s, np.abs(v.ravel())) if q == "value" else np.abs(v) + s[:, None] / widths[None, cut[q[1:]]]
                ratios.setdefault((family, q), []).append((v.ravel(), np.asarray(scale).ravel()))
    return {key: (np.max([np.abs(v) / sc for v, sc in pairs], axis=0), pairs[0][1]) for key, pairs in ratios.items()}


#: An assignment is drawn only where its value reaches at least this part of its scale at
#: one of the checked points: a relative change of 1e-6 of a smaller entry moves the output
#: by less than double's rounding (at 1e-5 it still moves it 45 times the tolerance), which
#: is no change.
SIGNIFICANT = 1e-5


def build_schema(folder: Path, copy: Path, reference, compiled: CompiledModel, precision: str,
                 seed: int = SEED) -> list[Mutant]:
    """Write ``copy``: ``folder`` with every mutant behind MPCGEN_MUTANT; return the mutants."""
    shutil.copytree(folder, copy)
    rng = random.Random(seed)
    r = R[precision]
    one_plus = _literal(1 + r, precision)
    mutants: list[Mutant] = []
    entries = _entries(reference)
    packed = {f"{compiled.prefix}_{f.name}": dict(f.packed) for f in compiled._shipped.interface.functions}
    # the OCP functions' bodies and the EKF's h are inline in their headers
    for name in (f"{compiled.prefix}.c", f"{compiled.prefix}_ocp.h", f"{compiled.prefix}_ekf.h"):
        path = copy / name
        if not path.is_file():
            continue
        text = path.read_text()
        lines = text.split("\n")
        stores: dict[int, list[tuple[int, str]]] = {}                  # line -> [(mutant, new right-hand side)]
        consts: dict[tuple[int, int, int], list[tuple[int, str]]] = {}  # (line, start, end) -> [(mutant, new literal)]

        def add(function: str, kind: str, site: str, line: int) -> int:
            mutants.append(Mutant(len(mutants), function, kind, site, line, name))
            return mutants[-1].index

        def entry(function: str, line: str) -> tuple[float, float]:
            _, out, index, _ = _STORE.match(line).groups()
            family = (function.rsplit("_ocp_", 1)[1] if "_ocp_" in function else
                      f"ekf:{function.rsplit('_ekf_', 1)[1]}" if "_ekf_" in function else "model")
            n = int(index)
            if out.endswith("_nz"):  # a packed output: its entry n is a dense position
                n = packed[function][out][n]
                out = out[0]
            ratio, scale = entries[family, out]
            return float(ratio[n]), float(scale[n])

        for function, start, end in _functions(lines, text):
            store_lines = [i for i in range(start, end) if (m := _STORE.match(lines[i])) and m.group(4) != "0"
                           and entry(function, lines[i])[0] >= SIGNIFICANT]
            literals = [(i, m) for i in range(start, end) if _LET.match(lines[i])
                        for m in _LITERAL.finditer(lines[i]) if float(m.group(1)) != 0.0]
            for i in sorted(rng.sample(store_lines, min(STORES, len(store_lines)))):
                _, out, index, expr = _STORE.match(lines[i]).groups()
                d = r * entry(function, lines[i])[1]
                for kind, new in (("offset", f"({expr}) + {_literal(d, precision)}"),
                                  ("relative", f"({expr}) * {one_plus}"), ("sign", f"-({expr})")):
                    k = add(function, kind, f"{out}[{index}] = {expr}", i)
                    stores.setdefault(i, []).append((k, new))
            for i, m in sorted(rng.sample(literals, min(CONSTANTS, len(literals))), key=lambda s: (s[0], s[1].start())):
                value = float(m.group(1))
                for kind, new in (("relative", _literal(value * (1 + r), precision)), ("sign", f"(-{m.group(0)})")):
                    k = add(function, kind, f"constant {m.group(0)}", i)
                    consts.setdefault((i, m.start(), m.end()), []).append((k, new))
        for (i, a, b), changes in sorted(consts.items(), key=lambda c: (c[0][0], -c[0][1])):
            line = lines[i]
            lines[i] = line[:a] + _guarded(changes, line[a:b]) + line[b:]
        for i, changes in stores.items():
            head, _, rhs = lines[i].partition(" = ")
            lines[i] = f"{head} = {_guarded(changes, rhs[:-1])};"
        for function, start, _ in reversed(_functions(lines, "\n".join(lines))):
            lines.insert(start, "    const int mpcgen_mutant = mpcgen_mutant_id();  /* which mutant runs */")
        head = ('#include <stdlib.h>\nstatic inline int mpcgen_mutant_id(void)\n{\n'
                '    const char *s = getenv("MPCGEN_MUTANT");\n    return s ? atoi(s) : -1;\n}\n')
        anchor = "#include <math.h>\n"
        path.write_text("\n".join(lines).replace(anchor, anchor + head, 1))
    return mutants


def _guarded(changes: list[tuple[int, str]], original: str) -> str:
    """``original``, or the change of the mutant that runs."""
    out = f"({original})"
    for k, new in reversed(changes):
        out = f"((mpcgen_mutant == {k}) ? ({new}) : {out})"
    return out


def mutation_run(folder: Path, work: Path) -> tuple[list[Mutant], list[tuple[Mutant, float]], object]:
    """Build the schema of ``folder`` in ``work`` and check every mutant.

    Returns the mutants, the survivors with their largest error/tolerance ratio, and the
    report of the unchanged copy."""
    original = CompiledModel(folder)
    reference = reference_for(folder)
    copy = work / folder.name
    mutants = build_schema(folder, copy, reference, original, reference.manifest["options"]["precision"])
    compiled = CompiledModel(copy)
    promoted = CompiledModel(copy, "promoted") if compiled.dtype == np.float32 else None
    os.environ.pop("MPCGEN_MUTANT", None)
    clean = check(compiled, reference, POINTS, promoted=promoted)
    survivors = []
    try:
        for m in mutants:
            os.environ["MPCGEN_MUTANT"] = str(m.index)
            report = check(compiled, reference, POINTS, promoted=promoted)
            failed = {r.function for r in report.failures()}
            if m.function not in failed:
                ratio = max((r.max_scaled / r.tolerance for r in report.rows if r.function == m.function), default=0)
                survivors.append((m, ratio))
    finally:
        os.environ.pop("MPCGEN_MUTANT", None)
    return mutants, survivors, clean


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["double", "float"])
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_mutant_fails_verification(tmp_path: Path, name: str, precision: str) -> None:
    import mpcgen

    folder = mpcgen.generate(name, tmp_path / name, precision=precision)
    mutants, survivors, clean = mutation_run(folder, tmp_path / "mutants")
    assert clean.passed, clean.table()
    functions = {m.function for m in mutants}
    assert functions == set(clean.functions), "every shipped function is mutated"
    kills = len(mutants) - len(survivors)
    print(f"\nmutation score {name} {precision}: {kills}/{len(mutants)} killed over {len(functions)} functions")
    assert not survivors, "\n".join(f"survived: {m.function} {m.kind} {m.site} (largest error {ratio:.2g} x tolerance)"
                                    for m, ratio in survivors)
