"""Benchmarks (reported, never asserted): compiled F_and_jacobians against CasADi's C.

For each example, the same fused function (x, u, p) -> (x_next, A, B) is emitted
by mpcgen and by CasADi's ``Function.generate``, three ways:

CasADi        the natural CasADi formulation (``jacobian`` of the RK step), default options
CasADi cse    the same with CasADi's ``cse`` option on
CasADi graph  CasADi emitting mpcgen's own expression graph (after mpcgen's choice of
              Jacobian formulation): separates the formulation from the emitter

All are compiled with the same compiler, flags and C dialect (``-std=c99`` keeps FMA
contraction off for all) into one harness that interleaves their timing samples.
Also reported: generation and compile times, and how they grow with the chain of masses.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import casadi as ca
import numpy as np

from ..codegen.generate import generate_files, write_folder
from ..codegen.render import environment
from ..derivatives.discretize import discretize
from ..derivatives.jacobians import derive
from ..problem.examples import EXAMPLES, get_example
from ..problem.options import CodegenOptions

CC = os.environ.get("CC", "gcc")
FLAGS = ("-std=c99", "-O2", "-fno-math-errno")
#: Scalar build: no auto-vectorization, as on a Cortex-M (no SIMD for these types).
SCALAR_FLAGS = (*FLAGS, "-fno-tree-vectorize")


@dataclass(frozen=True)
class Timing:
    median: float
    p99: float
    max: float

    @staticmethod
    def of(samples: list[float]) -> "Timing":
        a = np.array(samples)
        return Timing(float(np.median(a)), float(np.percentile(a, 99)), float(a.max()))


@dataclass(frozen=True)
class BenchResult:
    spec: str
    nx: int
    nu: int
    method: str
    ours: Timing
    casadi: Timing
    casadi_cse: Timing
    casadi_graph: Timing
    scalar_ratio: float          # mpcgen / CasADi median, both built without vectorization
    generate_s: float
    compile_s: float
    casadi_generate_s: float
    casadi_compile_s: float
    lines: int


def bench_example(spec: str, work: Path, samples: int = 51) -> BenchResult:
    """Generate, compile and time one example against CasADi's generated C."""
    example, model = get_example(spec)
    options = CodegenOptions(ts=example.ts)
    t0 = time.perf_counter()
    files = generate_files(model, options, spec)
    gen_s = time.perf_counter() - t0
    folder = write_folder(files, work / model.name)
    prefix = model.name

    d = derive(model, options)
    natural = discretize(model, options)
    natural_outputs = [natural, ca.jacobian(natural, model.x), ca.jacobian(natural, model.u)]
    variants = {
        "casadi_fj": (natural_outputs, False),
        "casadi_fj_cse": (natural_outputs, True),
        "casadi_fj_graph": ([d.x_next, d.A, d.B], False),
    }
    casadi_names = tuple(variants)
    sizes = []
    cas_gen_s = 0.0
    for name, (outputs, cse) in variants.items():
        t0 = time.perf_counter()
        fn = ca.Function(name, [model.x, model.u, model.p], outputs, {"cse": cse})
        fn.generate(f"{name}.c", {"with_header": False})
        if name == "casadi_fj":
            cas_gen_s = time.perf_counter() - t0
        shutil.move(f"{name}.c", folder / f"{name}.c")
        sizes.append((fn.sz_w(), fn.sz_iw()))

    nominal, spread = [], []
    for v in (*model.states, *model.inputs, *model.parameters):
        nominal.append(repr(v.nominal_value))
        spread.append(repr(0.1 * (v.hi - v.lo)))
    harness = environment().get_template("bench_main.c.j2").render(
        prefix=prefix, casadi_names=casadi_names, nx=model.nx, nu=model.nu, np=model.np,
        nominal=nominal, spread=spread, casadi_w=max(w for w, _ in sizes) + 64,
        casadi_iw=max(iw for _, iw in sizes) + 8,
    )
    (folder / "bench_main.c").write_text(harness)

    sources = [f"{prefix}.c", *[f"{n}.c" for n in casadi_names], "bench_main.c"]
    per, seconds = _build_and_run(folder, sources, FLAGS, samples)
    ours_s, cas_s = seconds[f"{prefix}.c"], seconds["casadi_fj.c"]
    scalar, _ = _build_and_run(folder, sources, SCALAR_FLAGS, samples)
    scalar_ratio = float(np.median(scalar["ours"]) / np.median(scalar["casadi_fj"]))
    lines = (folder / f"{prefix}.c").read_text().count("\n")
    return BenchResult(spec, model.nx, model.nu, d.method, Timing.of(per["ours"]), Timing.of(per["casadi_fj"]),
                       Timing.of(per["casadi_fj_cse"]), Timing.of(per["casadi_fj_graph"]), scalar_ratio,
                       gen_s, ours_s, cas_gen_s, cas_s, lines)


def _build_and_run(folder: Path, sources: list[str], flags: tuple[str, ...],
                   samples: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Compile every source with ``flags``, link the harness, run it; per-call ns by name."""
    seconds = {}
    for name in sources:
        t0 = time.perf_counter()
        subprocess.run([CC, *flags, "-I", str(folder), "-c", str(folder / name), "-o", str(folder / f"{name}.o")],
                       check=True)
        seconds[name] = time.perf_counter() - t0
    exe = folder / "bench"
    subprocess.run([CC, *[str(folder / f"{n}.o") for n in sources], "-lm", "-o", str(exe)], check=True)
    out = subprocess.run([str(exe), str(samples)], check=True, capture_output=True, text=True).stdout
    per: dict[str, list[float]] = {}
    for line in out.splitlines():
        name, value = line.split()
        per.setdefault(name, []).append(float(value))
    return per, seconds


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cc = subprocess.run([CC, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return f"{cpu}, {os.cpu_count()} cores; {cc}; flags {' '.join(FLAGS)}"


def run_bench(specs: list[str] | None = None, repeats: int = 51, scaling: bool = True) -> list[BenchResult]:
    """Print the evaluation table (and the chain scaling table); return the results."""
    specs = specs or list(EXAMPLES)
    print(f"machine: {machine()}", flush=True)
    print("scalar = the same ratio with both built with -fno-tree-vectorize (no SIMD, as on a Cortex-M)")
    print("F_and_jacobians per call, ns (median / p99 / max over samples); ratio = mpcgen median / CasADi median")
    head = (f"{'model':<10} {'nx':>3} {'jacobians':>11} {'mpcgen':>20} {'CasADi':>20} {'CasADi cse':>20} "
            f"{'CasADi graph':>20} {'ratio':>6} {'vs best':>7} {'scalar':>6}")
    print(head)
    print("-" * len(head), flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="mpcgen-bench-") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            for spec in specs:
                r = bench_example(spec, Path(tmp), samples=max(11, repeats // 40))
                results.append(r)
                best = min(r.casadi.median, r.casadi_cse.median, r.casadi_graph.median)
                print(f"{spec:<10} {r.nx:>3} {r.method:>11} {_t(r.ours):>20} {_t(r.casadi):>20} "
                      f"{_t(r.casadi_cse):>20} {_t(r.casadi_graph):>20} {r.ours.median / r.casadi.median:>6.2f} "
                      f"{r.ours.median / best:>7.2f} {r.scalar_ratio:>6.2f}", flush=True)
            print()
            print("generation and compile time, s (mpcgen: derive+lower+render; CasADi: Function.generate)")
            print(f"{'model':<10} {'gen':>6} {'compile':>8} {'C lines':>8} {'CasADi gen':>11} {'CasADi compile':>15}")
            for r in results:
                print(f"{r.spec:<10} {r.generate_s:>6.2f} {r.compile_s:>8.2f} {r.lines:>8} "
                      f"{r.casadi_generate_s:>11.2f} {r.casadi_compile_s:>15.2f}")
            if scaling:
                print()
                print("chain of masses: growth with nx")
                print(f"{'masses':>6} {'nx':>4} {'jacobians':>11} {'gen s':>6} {'compile s':>9} {'C lines':>8} "
                      f"{'mpcgen ns':>10} {'CasADi ns':>10} {'ratio':>6} {'scalar':>6}")
                example = EXAMPLES["chain"]
                assert example.size_name is not None
                for size in _chain_sizes():
                    r = bench_example(f"chain:{size}", Path(tmp), samples=11)
                    print(f"{size:>6} {r.nx:>4} {r.method:>11} {r.generate_s:>6.2f} {r.compile_s:>9.2f} {r.lines:>8} "
                          f"{r.ours.median:>10.0f} {r.casadi.median:>10.0f} {r.ours.median / r.casadi.median:>6.2f} "
                          f"{r.scalar_ratio:>6.2f}",
                          flush=True)
        finally:
            os.chdir(cwd)
    return results


def _chain_sizes() -> list[int]:
    """Chain sizes spanning the smallest to the largest nx the example allows."""
    from ..problem.examples import chain

    return list(chain.BENCH_SIZES)


def _t(t: Timing) -> str:
    return f"{t.median:.0f} / {t.p99:.0f} / {t.max:.0f}"
