"""The ``mpcgen`` command line: parses arguments and calls the library, nothing more.

Exit codes: 0 success, 1 verification failed, 2 user error (one line on stderr).

Longer than 400 lines because every command's arguments are declared here, one block
per command, with its help text; each command's work is one library call.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import NoReturn

from .errors import MpcgenError, NonSmoothWarning, OptionsError
from .problem.options import INTEGRATORS, PRECISIONS, SUBSTEP_FORMS
from .problem.scenario import DISTRIBUTIONS
from .version import __version__


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line, like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"mpcgen: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mpcgen",
        description="Generate flat, static C for a plant's discrete dynamics and Jacobians, and verify it.",
    )
    parser.add_argument("--version", action="version", version=f"mpcgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="generate C for a model (and its MPC controller) into a folder",
                       description="Generate C for MODEL (an example name, e.g. pendulum or chain:12, "
                                   "or path/to/file.py:function returning an mpcgen.Model). When the model comes "
                                   "with an OCP (every example; in a model file, FUNCTION_ocp(model) or "
                                   "ocp(model)), the MPC controller and its QP solver are generated too.")
    g.add_argument("model", metavar="MODEL")
    g.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="output folder (replaced atomically)")
    g.add_argument("--precision", choices=PRECISIONS, default="double", help="scalar type of the shipped C (default double)")
    g.add_argument("--integrator", choices=INTEGRATORS, default="rk4", help="explicit Runge-Kutta scheme (default rk4)")
    g.add_argument("--substeps", type=int, default=1, metavar="M", help="integrator steps per sample (default 1)")
    g.add_argument("--substep-form", choices=SUBSTEP_FORMS, default="auto",
                   help="unroll all substeps or loop one in C (default auto: loop from 4 substeps)")
    g.add_argument("--ts", type=float, default=None, metavar="TS", help="sample time in seconds (default: the example's)")
    g.add_argument("--no-controller", action="store_true", help="generate the model's C only, even if it has an OCP")
    g.add_argument("--horizon", type=int, default=None, metavar="N", help="the controller's horizon (default: the OCP's)")

    v = sub.add_parser("verify", help="check the compiled Jacobians of a generated folder",
                       description="Compile DIR and compare its Jacobians with CasADi, central and complex-step "
                                   "differences at the nominal point and random points.")
    v.add_argument("folder", type=Path, metavar="DIR")
    v.add_argument("-k", "--points", type=int, default=100, help="random points besides the nominal one (default 100)")
    v.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    e = sub.add_parser("examples", help="list the example plants, or generate them all",
                       description="List the example plants; with --generate DIR write DIR/NAME for every example.")
    e.add_argument("--generate", type=Path, metavar="DIR", default=None)

    b = sub.add_parser("bench", help="time the compiled code against CasADi's own generated C",
                       description="Per example: median evaluation time of F_and_jacobians against CasADi's "
                                   "Function.generate C, compiled with the same compiler and flags; "
                                   "generation and compile times; chain scaling.")
    b.add_argument("--examples", nargs="*", default=None, metavar="NAME")
    b.add_argument("--repeats", type=int, default=2000, help="timed calls per sample (default 2000)")
    b.add_argument("--no-scaling", action="store_true", help="skip the chain-of-masses scaling sweep")

    s = sub.add_parser("simulate", help="run a generated controller in closed loop against its plant",
                       description="Closed loop of DIR's controller (one real-time iteration per sample) against the "
                                   "model integrated accurately (RK4, fine substeps); defaults from the example's "
                                   "scenario. Prints a summary; --plot writes states, inputs, bounds and step times.")
    s.add_argument("folder", type=Path, metavar="DIR")
    s.add_argument("--steps", type=int, default=None, help="samples to simulate (default: the scenario's, else 100)")
    s.add_argument("--x0", default=None, metavar="X", help="initial state, comma-separated (default: the scenario's)")
    s.add_argument("--noise", default=None, metavar="STD",
                   help="measurement noise std: one for all states, or one per state comma-separated")
    s.add_argument("--plant-p", default=None, metavar="P",
                   help="plant parameters, comma-separated (model mismatch; default: nominal or the scenario's)")
    s.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    s.add_argument("--plot", type=Path, default=None, metavar="FILE",
                   help="write a plot, .png, .pdf or .svg (needs mpcgen[plot])")
    s.add_argument("--save", type=Path, default=None, metavar="FILE",
                   help="write the time series (t, x, u, references, statuses, QP iterations, step time) as "
                        ".csv or .parquet")

    s.add_argument("--estimator", choices=("none", "ekf"), default="none",
                   help="ekf: the controller acts on the folder's EKF estimate from the declared sensors, with the "
                        "declared process and measurement noise (default none: the state is measured)")

    c = sub.add_parser("campaign", help="run thousands of closed loops under drawn plants on a Dask cluster",
                       description="Monte-Carlo robustness campaign of DIR's controller: each sample draws the plant "
                                   "parameters over their ranges (uniform or normal), a start perturbation and "
                                   "sensor noise from (seed, index), runs the scenario's closed loop, and records "
                                   "success, violations, cost, statuses, QP iterations and step time in a Parquet "
                                   "folder, resumed when run again with the same arguments. Runs on a local Dask "
                                   "cluster (one worker per core) or on --scheduler's. Prints a summary.")
    c.add_argument("folder", type=Path, metavar="DIR")
    c.add_argument("--samples", type=int, default=100, metavar="N", help="closed loops to run (default 100)")
    c.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    c.add_argument("--distribution", choices=DISTRIBUTIONS, default=None,
                   help="how parameters are drawn (default: the model file's, else uniform)")
    c.add_argument("--range", action="append", default=None, metavar="NAME=LO:HI", dest="ranges",
                   help="draw parameter NAME over [LO, HI] instead of its declared range (repeatable)")
    c.add_argument("--vary", default=None, metavar="A,B",
                   help="draw only these parameters, the others stay nominal (default: all)")
    c.add_argument("--x0-std", default=None, metavar="STD", help="initial-state perturbation std, one or per state")
    c.add_argument("--noise", default=None, metavar="STD", help="measurement noise std, one or per state")
    c.add_argument("--steps", type=int, default=None, help="samples per closed loop (default: the scenario's)")
    c.add_argument("--estimator", choices=("auto", "ekf", "none"), default="auto",
                   help="auto (default): each sample's controller acts on the folder's EKF from noisy sensors where "
                        "it has one, else on the state measured with noise")
    c.add_argument("--settle-tol", type=float, default=1.0, metavar="TOL",
                   help="settled: |x - x_ref|_Q <= TOL over the last 10%% of the run (default 1)")
    c.add_argument("-o", "--output", type=Path, default=None, metavar="OUT",
                   help="Parquet folder of the results (default ./campaign-NAME-seedSEED)")
    c.add_argument("--workers", type=int, default=None, metavar="K", help="local worker processes (default: one per core)")
    c.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="run on this existing Dask cluster")
    c.add_argument("--batch", type=int, default=None, metavar="B", help="samples per task (default: automatic)")
    c.add_argument("--replay", type=int, default=None, metavar="INDEX", help="rerun sample INDEX alone, here")
    c.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                   help="histograms and success over a parameter plane (with --replay: the closed loop)")
    c.add_argument("--plane", default=None, metavar="A,B", help="the two parameters of the success plot")
    a = sub.add_parser("analyze", help="singular values, weak directions, singularities and uncertainty of a model",
                       description="The discrete model's Jacobians of DIR read through their singular values: A, B, "
                                   "the horizon's controllability and (with outputs) observability matrices at the "
                                   "nominal point, the OCP reference, the scenario start, random points and along "
                                   "the closed loop; the weakest directions in the model's names; singular "
                                   "configurations; the QP's KKT condition number with the scaling from the declared "
                                   "ranges; first-order covariance propagation against Monte-Carlo.")
    a.add_argument("folder", type=Path, metavar="DIR")
    a.add_argument("--samples", type=int, default=5, help="random points of the ranges to analyse (default 5)")
    a.add_argument("--spread", type=float, default=0.02,
                   help="initial standard deviation for the propagation, as a fraction of each state's half range")
    a.add_argument("--mc", type=int, default=1000, help="Monte-Carlo runs of the propagation (default 1000)")
    a.add_argument("--no-closed-loop", action="store_true", help="skip the closed-loop trajectory (no compile)")
    a.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    a.add_argument("--json", action="store_true", help="print the analysis as JSON instead of the table")
    a.add_argument("--plot", type=Path, default=None, metavar="FILE.png", help="write a plot (needs mpcgen[plot])")

    q = sub.add_parser("quality", help="score the real-time controller's closed loop against the converged one",
                       description="Per folder, on its model's scenario: the closed-loop cost of the shipped "
                                   "real-time step against SQP solved to convergence at every sample (and with "
                                   "--ideal against IPOPT), input and soft-state violations, the final distance to "
                                   "the reference. Exits 1 when the real-time controller fails the acceptance rules "
                                   "(cost within 3 %, no input outside its bounds, soft violations within the "
                                   "converged controller's + 1 % of the range, the reference reached).")
    q.add_argument("folders", nargs="+", type=Path, metavar="DIR")
    q.add_argument("--ideal", action="store_true", help="also run the ideal NMPC (IPOPT at every sample; slow)")
    q.add_argument("--perturbed", action="store_true",
                   help="also score both controllers from perturbed starts (states drawn over --scale of the "
                        "declared ranges; the same acceptance rules, the cost pooled over the starts, "
                        "the violations per start)")
    q.add_argument("--scale", type=float, default=0.3, help="perturbed starts: part of each declared state range "
                                                            "around the nominal state (default 0.3)")
    q.add_argument("--starts", type=int, default=10, help="perturbed starts per folder (default 10)")
    q.add_argument("--steps", type=int, default=150, help="samples per perturbed start (default 150)")

    bm = sub.add_parser("bench-mpc", help="time the generated controllers in closed loop against CasADi's solvers",
                        description="Per example: replay >= STEPS closed-loop states through the compiled "
                                    "controller in C, timing feedback and prepare (median, p99, max) with -O2 and "
                                    "with the build files' -O3 -ffp-contract=fast plus -march=native; in the same "
                                    "run, CasADi's IPOPT and sqpmethod on the same OCP.")
    bm.add_argument("--examples", nargs="*", default=None, metavar="NAME")
    bm.add_argument("--steps", type=int, default=2000, help="closed-loop steps per example (default 2000)")
    bm.add_argument("--no-casadi", action="store_true", help="skip the IPOPT and sqpmethod timings")

    f = sub.add_parser("firmware", help="prove generated folders on an emulated Cortex-M and print their budget",
                       description="Per folder: strict gcc/clang builds, libm-only symbols, no recursion, "
                                   "call-graph stack; cross-compile (float: Cortex-M4F, double: Cortex-M7), "
                                   "run under QEMU counting instructions per step, compare with the host build.")
    f.add_argument("folders", nargs="+", type=Path, metavar="DIR")
    f.add_argument("--steps", type=int, default=200,
                   help="points the model's F_and_jacobians is measured at (default 200; a controller is measured "
                        "on its scenario, back, perturbed starts and disturbances)")
    f.add_argument("--keep", type=Path, default=None, metavar="WORK",
                   help="keep the build products (objects, ELF, map, call graphs) in WORK/NAME")
    f.add_argument("--model", action="store_true",
                   help="measure the model's F_and_jacobians even in folders that hold the controller")
    f.add_argument("--ekf", action="store_true",
                   help="measure the folder's EKF instead: update and predict per sample along the output-feedback "
                        "closed loop (mpcgen simulate --estimator ekf), against the host build")

    z = sub.add_parser("fuzz", help="fuzz a generated controller under AddressSanitizer and UBSan",
                       description="Feed DIR's controller random, extreme, NaN and Inf states, references, "
                                   "parameters, weights and settings (libFuzzer, clang -fsanitize=address,undefined) "
                                   "and check after every call: no sanitizer report, a finite control within its "
                                   "bounds, a status that says what happened; a folder's EKF is fuzzed as well "
                                   "(its calls with extreme values, for the same time). Exits 1 on a failure.")
    z.add_argument("folder", type=Path, metavar="DIR")
    z.add_argument("--seconds", type=float, default=10.0, help="fuzzing time (default 10)")
    z.add_argument("--runs", type=int, default=None, help="stop after this many inputs instead")
    z.add_argument("--seed", type=int, default=1, help="libFuzzer seed (default 1)")
    z.add_argument("--corpus", type=Path, default=None, metavar="CORPUS",
                   help="corpus folder kept across runs (default: a temporary one)")
    z.add_argument("--valgrind", action="store_true",
                   help="also run valgrind memcheck over a closed loop and (up to 200 inputs of) the corpus, "
                        "and over the EKF's stress driver if the folder has an EKF; example folders")
    z.add_argument("--replay", nargs="+", type=Path, default=None, metavar="FILE",
                   help="instead of fuzzing, replay input files and print every API call")
    return parser


def _written(what: str, path: Path, created: bool) -> str:
    """The line saying where output went, and that its folder was created if it was."""
    return f"{'created folder ' + str(path.parent) + '; ' if created else ''}{what} written to {path}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NonSmoothWarning)
        try:
            code = _run(args)
        except MpcgenError as exc:
            code = 2
            caught.clear()  # the error is the one line: no model warnings around it
            print(f"mpcgen: error: {' '.join(str(exc).split())}", file=sys.stderr)  # always one line
        except KeyboardInterrupt:
            print("mpcgen: interrupted", file=sys.stderr)
            code = 130
        finally:
            for w in caught:
                if issubclass(w.category, NonSmoothWarning):
                    print(f"mpcgen: warning: {w.message}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> int:
    if args.command == "generate":
        from .codegen.generate import generate

        t0 = time.perf_counter()
        out = generate(args.model, args.output, ts=args.ts, precision=args.precision, integrator=args.integrator,
                       substeps=args.substeps, substep_form=args.substep_form, controller=not args.no_controller,
                       horizon=args.horizon)
        files = sorted(p.name for p in out.iterdir())
        print(f"generated {args.model} -> {out}/ ({', '.join(files)}) in {time.perf_counter() - t0:.2f} s")
        return 0
    if args.command == "verify":
        from .checks.verification import verify

        print(f"compiling and verifying {args.folder} ...", flush=True)
        report = verify(args.folder, points=args.points, seed=args.seed)
        print(report.table())
        return 0 if report.passed else 1
    if args.command == "examples":
        from .problem.examples import EXAMPLES

        if args.generate is None:
            for ex in EXAMPLES.values():
                sized = f" (sized: {ex.name}:{ex.size_name.upper()})" if ex.size_name else ""
                print(f"{ex.name:<10} {ex.summary}{sized}")
            return 0
        from .codegen.generate import generate

        for name in EXAMPLES:
            out = generate(name, args.generate / name)
            print(f"generated {name} -> {out}/", flush=True)
        return 0
    if args.command == "bench":
        from .runs.model_bench import run_bench

        run_bench(args.examples, repeats=args.repeats, scaling=not args.no_scaling)
        return 0
    if args.command == "simulate":
        from .runs.closed_loop import run_closed_loop

        from .runs.plot import check_plot_path
        from .runs.records import check_table_path

        for check, path in ((check_plot_path, args.plot), (check_table_path, args.save)):
            if path is not None:
                check(path)   # a wrong extension fails before the simulation, not after
        print(f"compiling {args.folder} and simulating ...", flush=True)
        if args.estimator == "ekf":
            from .runs.estimated_loop import plot_estimated_loop, run_estimated_loop

            loop = run_estimated_loop(args.folder, steps=args.steps, x0=args.x0, seed=args.seed)
            print(loop.summary())
            if args.plot is not None:
                print(f"plot written to {plot_estimated_loop(loop, args.plot)}")
            return 0
        run = run_closed_loop(args.folder, steps=args.steps, x0=args.x0, noise_std=args.noise, p_true=args.plant_p,
                              seed=args.seed)
        print(run.summary())
        if args.save is not None:
            from .runs.records import save_closed_loop

            path, created = save_closed_loop(run, args.save)
            print(_written("time series", path, created))
        if args.plot is not None:
            from .runs.plot import plot_closed_loop

            path, created = plot_closed_loop(run.result, run.model, run.ocp, args.plot,
                                             title=f"{run.model.name}: closed loop", x_ref=run.x_ref)
            print(_written("plot", path, created))
        return 0
    if args.command == "campaign":
        return _campaign(args)
    if args.command == "analyze":
        import json

        from .runs.analyze import analyze, plot_analysis

        result = analyze(args.folder, samples=args.samples, closed_loop=not args.no_closed_loop, spread=args.spread,
                         mc_samples=args.mc, seed=args.seed)
        print(json.dumps(result.to_json(), indent=1, allow_nan=True) if args.json else result.table())
        if args.plot is not None:
            print(f"plot written to {plot_analysis(result, args.plot)}", file=sys.stderr if args.json else sys.stdout)
        return 0
    if args.command == "quality":
        from .runs.quality import HEADER, NOTES, closed_loop_quality

        if args.perturbed:
            from .runs.perturbed import check_options

            check_options(args.scale, args.starts, args.steps)  # before the slow scenario runs
        scores = []
        for folder in args.folders:
            print(f"compiling {folder} and simulating ...", file=sys.stderr, flush=True)
            scores.append(closed_loop_quality(folder, ideal=args.ideal))
        print(HEADER)
        print("-" * len(HEADER))
        for s in scores:
            print(s.row())
        print("\n".join(NOTES))
        if args.perturbed:
            from .runs import perturbed

            for folder in args.folders:
                print(f"{folder}: {args.starts} perturbed starts of {args.steps} steps, both controllers ...",
                      file=sys.stderr, flush=True)
                scores.append(perturbed.perturbed_quality(folder, args.scale, args.starts, args.steps))
            print()
            print(perturbed.HEADER)
            print("-" * len(perturbed.HEADER))
            for s in scores[len(args.folders):]:
                print(s.row())
            print("\n".join(perturbed.NOTES))
        for s in scores:
            for problem in s.problems():
                print(f"mpcgen: {s.model} ({s.precision}): {problem}", file=sys.stderr)
        return 0 if all(not s.problems() for s in scores) else 1
    if args.command == "bench-mpc":
        from .runs.controller_bench import run_controller_bench

        run_controller_bench(args.examples, steps=args.steps, casadi=not args.no_casadi)
        return 0
    if args.command == "firmware":
        if args.ekf:
            from .checks.firmware.ekf_budget import ekf_check, ekf_table

            checked = []
            for folder in args.folders:
                print(f"checking the EKF of {folder} ...", file=sys.stderr, flush=True)
                checked.append(ekf_check(folder, work=args.keep / folder.resolve().name if args.keep else None))
            print(ekf_table(checked))
            return 0 if all(b.passed for b in checked) else 1
        from .checks.firmware.budget import budget_table, firmware_check, segment_table

        budgets = []
        for folder in args.folders:
            print(f"checking {folder} ...", file=sys.stderr, flush=True)
            work = args.keep / folder.resolve().name if args.keep else None
            budgets.append(firmware_check(folder, steps=args.steps, work=work, model_only=args.model))
        print(budget_table(budgets))
        segments = segment_table(budgets)
        if segments:
            print("\ninstructions per step by the kind of segment of the run:\n" + segments)
        for b in budgets:
            for note in b.notes():
                print(f"mpcgen: note: {b.model} ({b.precision}): {note}", file=sys.stderr)
            for problem in b.problems():
                print(f"mpcgen: {b.model} ({b.precision}): {problem}", file=sys.stderr)
        return 0 if all(b.passed for b in budgets) else 1
    if args.command == "fuzz":
        from .checks.fuzz import fuzz, memcheck, replay

        if args.replay:
            code, trace = replay(args.folder, args.replay)
            print(trace, end="")
            return 0 if code == 0 else 1
        print(f"building and fuzzing {args.folder} ...", file=sys.stderr, flush=True)
        result = fuzz(args.folder, seconds=None if args.runs else args.seconds, runs=args.runs, seed=args.seed,
                      corpus=args.corpus)
        print(result.line())
        if not result.passed:
            print(result.report, file=sys.stderr)
            print(f"reproducer: {result.crash} (mpcgen fuzz {args.folder} --replay {result.crash})", file=sys.stderr)
        ok = result.passed
        from .codegen.manifest import read_manifest

        has_ekf = "ekf" in read_manifest(args.folder)["interfaces"]
        if has_ekf:
            from .checks.ekf_stress import stress

            print(f"fuzzing the EKF of {args.folder} ...", file=sys.stderr, flush=True)
            ekf_fuzz = stress(args.folder, "libfuzzer", seconds=args.seconds, seed=args.seed)
            print(ekf_fuzz.line())
            if not ekf_fuzz.passed:
                print(ekf_fuzz.log, file=sys.stderr)
            ok = ok and ekf_fuzz.passed
        if args.valgrind:
            inputs = sorted(p for p in args.corpus.iterdir() if p.is_file())[:200] if args.corpus else []
            check = memcheck(args.folder, inputs=inputs)
            print(check.line())
            ok = ok and check.passed
            if has_ekf:
                ekf_memcheck = stress(args.folder, "memcheck")
                print(ekf_memcheck.line())
                ok = ok and ekf_memcheck.passed
        return 0 if ok else 1
    raise AssertionError(args.command)


def _numbers(text: str | None, label: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise OptionsError(f"{label}: expected numbers separated by commas, got {text!r}") from None


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(n.strip() for n in text.split(",") if n.strip())


def _ranges(given: list[str] | None) -> tuple[tuple[str, float, float], ...] | None:
    if given is None:
        return None
    out = []
    for text in given:
        name, _, span = text.partition("=")
        lo, _, hi = span.partition(":")
        try:
            out.append((name.strip(), float(lo), float(hi)))
        except ValueError:
            raise OptionsError(f"--range: expected NAME=LO:HI, got {text!r}") from None
    return tuple(out)


def _campaign(args: argparse.Namespace) -> int:
    from .runs.campaign import campaign, replay

    draws = dict(seed=args.seed, distribution=args.distribution, ranges=_ranges(args.ranges),
                 x0_std=_numbers(args.x0_std, "--x0-std"), noise_std=_numbers(args.noise, "--noise"),
                 vary=_names(args.vary), steps=args.steps, settle_tol=args.settle_tol, estimator=args.estimator)
    if args.replay is not None:
        row, loop = replay(args.folder, args.replay, **draws)
        print(f"sample {args.replay}: " + ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                                                   for k, v in row.items() if k != "index"))
        if loop is not None:
            print(loop.summary())
            if args.plot is not None:
                from .runs.plot import plot_closed_loop

                path, _ = plot_closed_loop(loop.result, loop.model, loop.ocp, args.plot,
                                           title=f"{loop.model.name}: campaign sample {args.replay}",
                                           x_ref=loop.x_ref)
                print(f"plot written to {path}")
        return 0
    output = args.output or Path(f"campaign-{args.folder.resolve().name}-seed{args.seed}")
    result = campaign(args.folder, args.samples, **draws, output=output, workers=args.workers,
                      scheduler=args.scheduler, batch=args.batch, progress=True)
    print(result.summary())
    print(f"results: {output}/ (a Parquet dataset, one part per batch; run again to resume)")
    if args.plot is not None:
        from .runs.campaign_report import plot_campaign

        plane = _names(args.plane)
        if plane is not None and len(plane) != 2:
            raise OptionsError(f"--plane: name two parameters as A,B, got {args.plane!r}")
        print(f"plot written to {plot_campaign(result, args.plot, plane)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
