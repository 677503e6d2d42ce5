"""Controller benchmark (reported, never asserted): closed-loop step times in C.

Per example: the scenario's closed loop is run from Python (plant integrated
accurately) until at least ``steps`` samples are recorded (repeating the scenario);
the recorded measured states are then replayed through the generated controller in a
C harness compiled with fixed flags, timing ``feedback`` and ``prepare`` with
``clock_gettime`` around each call. In the same run CasADi's IPOPT and ``sqpmethod``
(qpOASES) solve the same OCP from states of the same run, warm-started from their
previous solution, and are timed too.
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

import numpy as np

from ..codegen.build_files import OPTIMIZE_FLAGS
from ..codegen.generate import generate
from ..codegen.manifest import read_manifest
from ..codegen.mpc_program import ControllerInterface
from ..codegen.render import environment
from ..compiled.controller_binding import load
from ..errors import BuildError
from ..problem.examples import get_example
from .model_bench import Timing
from .simulate import simulate_scenario

CC = os.environ.get("CC", "gcc")
#: portable build (what a desktop user gets without tuning), and the generated build
#: files' flags (codegen.build_files.OPTIMIZE_FLAGS: -O3, fused multiply-adds) for this CPU
FLAG_SETS = {
    "O2": ("-std=c99", "-O2", "-fno-math-errno"),
    "O3-native": ("-std=c99", *OPTIMIZE_FLAGS, "-march=native"),
}


@dataclass(frozen=True)
class MpcBench:
    spec: str
    N: int
    nx: int
    nu: int
    steps: int
    flags: str
    feedback: Timing       # microseconds
    prepare: Timing
    step: Timing
    qp_iterations: Timing
    ok_fraction: float
    max_u_difference: float  # harness controls vs the Python run (same code, other flags)
    ipopt: Timing | None = None
    sqpmethod: Timing | None = None


def record_states(folder: Path, spec: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Measured states (episodes x steps x nx) and controls of repeated scenario runs."""
    example, model = get_example(spec)
    scenario = example.scenario(model)
    ctrl = load(folder)
    episodes = max(1, -(-steps // scenario.steps))
    X, U = [], []
    for e in range(episodes):
        ctrl.start(scenario.x0)
        run = simulate_scenario(model, ctrl.step, scenario, example.ts, seed=e)
        X.append(run.X[:-1])
        U.append(run.U)
    return np.array(X), np.array(U)


def compile_harness(folder: Path, flags: tuple[str, ...], work: Path) -> Path:
    manifest = read_manifest(folder)
    c = ControllerInterface.from_json(manifest["interfaces"]["controller"])
    main = work / "mpc_bench_main.c"
    main.write_text(environment().get_template("mpc_bench_main.c.j2").render(prefix=c.prefix, nx=c.nx, nu=c.nu))
    sources = [str(main)] + [str(folder / n) for n in c.c_sources]
    exe = work / f"{c.prefix}_mpc_bench"
    run = subprocess.run([CC, *flags, "-I", str(folder), *sources, "-o", str(exe), "-lm"], capture_output=True, text=True)
    if run.returncode != 0:
        raise BuildError(f"compiling the controller benchmark failed:\n{run.stderr}")
    return exe


def replay(exe: Path, states: np.ndarray, work: Path) -> np.ndarray:
    """Per-step rows: feedback_ns, prepare_ns, qp_iterations, status, u..."""
    data = work / "states.bin"
    episodes, steps, _ = states.shape
    np.concatenate([[episodes, steps], states.reshape(-1)]).astype(np.float64).tofile(data)
    out = subprocess.run([str(exe), str(data)], capture_output=True, text=True, check=True).stdout
    return np.loadtxt(out.splitlines(), ndmin=2)


def time_casadi(spec: str, states: np.ndarray, N: int, samples: int = 40) -> tuple[Timing, Timing]:
    """IPOPT and sqpmethod (us) on the OCP (horizon N) from ``samples`` recorded states, warm-started."""
    import dataclasses

    from ..derivatives.discretize import discrete_model
    from ..problem.ocp import check_ocp
    from ..problem.options import CodegenOptions
    from .reference import reference_solver

    example, model = get_example(spec)
    options = CodegenOptions(ts=example.ts)
    ocp = check_ocp(model, dataclasses.replace(example.ocp(model), N=N), discrete_model(model, options))
    flat = states.reshape(-1, states.shape[-1])
    pick = flat[np.linspace(0, len(flat) - 1, samples).astype(int)]
    result = []
    for method in ("ipopt", "sqpmethod"):
        solve = reference_solver(ocp, options, method)
        times = []
        warm = None
        for x0 in pick:
            t0 = time.perf_counter()
            warm = solve(x0, warm)
            times.append(1e6 * (time.perf_counter() - t0))
        result.append(Timing.of(times))
    return result[0], result[1]


def bench_controller(spec: str, work: Path, steps: int = 2000, flag_sets=("O2", "O3-native"),
                     casadi: bool = True) -> list[MpcBench]:
    folder = generate(spec, work / spec.replace(":", "_"))
    states, U = record_states(folder, spec, steps)
    c = ControllerInterface.from_json(read_manifest(folder)["interfaces"]["controller"])
    ipopt = sqp = None
    if casadi:
        ipopt, sqp = time_casadi(spec, states, c.N)
    results = []
    for name in flag_sets:
        exe = compile_harness(folder, FLAG_SETS[name], work)
        rows = replay(exe, states, work)
        fb, pr = rows[:, 0] / 1e3, rows[:, 1] / 1e3
        results.append(MpcBench(
            spec, c.N, c.nx, c.nu, len(rows), name, Timing.of(list(fb)), Timing.of(list(pr)),
            Timing.of(list(fb + pr)), Timing.of(list(rows[:, 2])), float(np.mean(rows[:, 3] == 0)),
            float(np.abs(rows[:, 4:] - U.reshape(-1, c.nu)).max()), ipopt, sqp))
    return results


def table(results: list[MpcBench]) -> str:
    head = (f"{'example':<10} {'N':>3} {'nx':>3} {'flags':<9} {'step med':>9} {'p99':>8} {'max':>8} "
            f"{'feedback':>9} {'prepare':>8} {'fb/step':>7} {'QP it':>6} {'ok':>5} "
            f"{'IPOPT med':>10} {'sqpmethod':>10}")
    lines = [head, "-" * len(head)]
    for r in results:
        cas = (f"{r.ipopt.median:>8.0f}us {r.sqpmethod.median:>8.0f}us" if r.ipopt and r.sqpmethod else "")
        lines.append(
            f"{r.spec:<10} {r.N:>3} {r.nx:>3} {r.flags:<9} {r.step.median:>7.1f}us {r.step.p99:>6.1f}us "
            f"{r.step.max:>6.1f}us {r.feedback.median:>7.1f}us {r.prepare.median:>6.1f}us "
            f"{r.feedback.median / r.step.median:>7.2f} {r.qp_iterations.median:>6.1f} {r.ok_fraction:>5.2f} {cas}")
    return "\n".join(lines)


def run_controller_bench(specs: list[str] | None = None, steps: int = 2000, casadi: bool = True) -> list[MpcBench]:
    from ..problem.examples import EXAMPLES

    specs = specs or [n for n, e in EXAMPLES.items() if e.ocp is not None]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {_cpu_name()}; compiler: {_cc_version()}")
    print(f"closed-loop replay of >= {steps} steps per example; times per call (median, p99, max)", flush=True)
    results = []
    work = Path(tempfile.mkdtemp(prefix="mpcgen-bench-mpc-"))
    try:
        for spec in specs:
            print(f"  {spec} ...", flush=True)
            results += bench_controller(spec, work, steps, casadi=casadi)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    return results


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cc_version() -> str:
    try:
        return subprocess.run([CC, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return CC
