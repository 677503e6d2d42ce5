"""Prove, on the compiled C itself, that its Jacobians are right.

At the nominal point and at K random points of the declared operating ranges the
compiled Jacobians A = dF/dx, B = dF/du, P = dF/dp are compared with three
independent references:

casadi   CasADi's own numeric evaluation of the same discretization (always fully
         unrolled, so it also checks the looped substep propagation).
central  central differences of the compiled F, step h_j = eps^(1/3) w_j.
complex  complex-step differences of the compiled complex F, h_j = 1e-20 w_j.

w_j = hi_j - lo_j is the width of the declared operating range of entry j of
z = (x, u, p): the scale on which F varies with z_j. The textbook step
eps^(1/3) max(1, |z_j|) assumes unit-scaled variables centred near zero; it fails
both ways on real models: for an inertia of 0.01 kg m^2 it steps 0.06 % of the value,
and for a chain of masses hanging 60 m deep with masses centimetres apart it steps
a large fraction of the spacing. In both cases truncation error dominates.

Errors are measured entry by entry against the scale of a difference quotient of
output i with respect to input j (s_i = max(|lo_i|, |hi_i|) is the typical magnitude
of state i, so rounding errors of F_i are about eps max(s_i, |F_i|)):

    scale_ij = |J_ij| + max(s_i, |F_i|) / w_j
    error_ij = |J_ij(compiled) - J_ij(reference)| / scale_ij

With h = eps^(1/3) w, the rounding error of central differences (eps F / h) is
eps^(2/3) F / w, and the truncation error (h^2 times the third derivative) is of the
same order when F varies on the scale w.

and each method has a tolerance from its error theory, in units of the machine
epsilon of the shipped scalar type:

    casadi   TOL_REF * eps               (rounding of two evaluation orders)
    complex  TOL_REF * eps               (complex step has no cancellation)
    central  TOL_CENTRAL * eps^(2/3)     (truncation h^2 + rounding eps/h, balanced)

F itself is compared with CasADi too (row "F"), and the separate dF_dx/dF_du with
the fused F_and_jacobians.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen.manifest import options_of
from ..compiled.model_binding import CompiledModel
from ..derivatives.jacobians import reference_function
from ..problem.source import load_source

TOL_REF = 1e3
TOL_CENTRAL = 1e3
CS_STEP = 1e-20

_EPS = {"double": float(np.finfo(np.float64).eps), "float": float(np.finfo(np.float32).eps)}


@dataclass(frozen=True)
class Row:
    """Worst error of one Jacobian block against one reference over all points."""

    block: str
    method: str
    max_abs: float
    max_scaled: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(self.max_scaled <= self.tolerance)


@dataclass(frozen=True)
class Report:
    model: str
    precision: str
    points: int
    rows: tuple[Row, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def table(self) -> str:
        head = f"{'block':<6} {'method':<8} {'max abs err':>12} {'max scaled':>12} {'tolerance':>10}  result"
        lines = [
            f"verify {self.model} ({self.precision}): nominal point + {self.points - 1} random points",
            head,
            "-" * len(head),
        ]
        for r in self.rows:
            lines.append(
                f"{r.block:<6} {r.method:<8} {r.max_abs:>12.3e} {r.max_scaled:>12.3e} {r.tolerance:>10.1e}  "
                f"{'ok' if r.passed else 'FAIL'}"
            )
        lines.append("PASSED" if self.passed else "FAILED")
        return "\n".join(lines)


def _variables(manifest: dict) -> list[dict]:
    return [v for g in ("states", "inputs", "parameters") for v in manifest["model"][g]]


def typical_magnitudes(manifest: dict) -> np.ndarray:
    """s_j = max(|lo_j|, |hi_j|) for every entry of z = [x; u; p]."""
    return np.array([max(abs(v["lo"]), abs(v["hi"])) for v in _variables(manifest)])


def range_widths(manifest: dict) -> np.ndarray:
    """w_j = hi_j - lo_j for every entry of z = [x; u; p]."""
    return np.array([v["hi"] - v["lo"] for v in _variables(manifest)])


def sample_points(manifest: dict, count: int, seed: int) -> list[np.ndarray]:
    """The nominal point, then ``count`` uniform random points of the ranges (z = [x; u; p])."""
    variables = _variables(manifest)
    lo = np.array([v["lo"] for v in variables])
    hi = np.array([v["hi"] for v in variables])
    nominal = np.array([v["nominal"] for v in variables])
    rng = np.random.default_rng(seed)
    return [nominal] + [lo + (hi - lo) * rng.random(len(variables)) for _ in range(count)]


def verify(folder: str | Path, points: int = 100, seed: int = 0) -> Report:
    """Verify the compiled Jacobians of a generated folder; see the module docstring."""
    cm = CompiledModel(folder)
    man = cm.manifest
    opts = man["options"]
    source = load_source(man["source"])
    options = options_of(man)
    reference = reference_function(source.model, options)
    eps = _EPS[opts["precision"]]
    nx, nu = cm.nx, cm.nu
    blocks = {"A": slice(0, nx), "B": slice(nx, nx + nu), "P": slice(nx + nu, nx + nu + cm.np)}
    worst: dict[tuple[str, str], list[float]] = {}

    def record(block: str, method: str, compiled: np.ndarray, ref: np.ndarray, scale: np.ndarray) -> None:
        if compiled.size == 0:
            return
        diff = np.abs(compiled.astype(np.float64) - ref)
        entry = worst.setdefault((block, method), [0.0, 0.0])
        entry[0] = max(entry[0], float(np.max(diff)))
        entry[1] = max(entry[1], float(np.max(diff / scale)))

    samples = sample_points(man, points, seed)
    typical = typical_magnitudes(man)
    widths = range_widths(man)
    for z in samples:
        z = z.astype(cm.dtype).astype(np.float64)  # evaluate where the C evaluates
        x, u, p = z[:nx], z[nx:nx + nu], z[nx + nu:]
        x_next, A, B = cm.jacobians(x, u, p)
        J = np.hstack([A, B, cm.dF_dp(x, u, p)])
        ref = reference(x, u, p)
        F_ref = np.array(ref[0]).ravel()
        J_ref = np.hstack([np.array(ref[i]).reshape(nx, -1) for i in (1, 2, 3)])
        F_scale = np.maximum(typical[:nx], np.abs(F_ref))
        scale = np.abs(J_ref) + F_scale[:, None] / widths[None, :]
        record("F", "casadi", x_next, F_ref, F_scale)
        separate = np.hstack([cm.dF_dx(x, u, p), cm.dF_du(x, u, p)])
        record("A,B", "fused", separate, J[:, : nx + nu], scale[:, : nx + nu])
        J_cd = _central(cm, z, widths, nx, nu, eps)
        J_cs = _complex_step(cm, z, widths, nx, nu)
        for name, sl in blocks.items():
            record(name, "casadi", J[:, sl], J_ref[:, sl], scale[:, sl])
            record(name, "central", J[:, sl], J_cd[:, sl], scale[:, sl])
            record(name, "complex", J[:, sl], J_cs[:, sl], scale[:, sl])

    tol = {"casadi": TOL_REF * eps, "complex": TOL_REF * eps, "fused": TOL_REF * eps,
           "central": TOL_CENTRAL * eps ** (2 / 3)}
    rows = tuple(
        Row(block, method, vals[0], vals[1], tol[method]) for (block, method), vals in worst.items()
    )
    return Report(source.model.name, opts["precision"], len(samples), rows)


def _central(cm: CompiledModel, z: np.ndarray, widths: np.ndarray, nx: int, nu: int, eps: float) -> np.ndarray:
    cols = []
    for j in range(z.size):
        h = eps ** (1 / 3) * widths[j]
        zp, zm = z.copy(), z.copy()
        zp[j] += h
        zm[j] -= h
        zp, zm = zp.astype(cm.dtype), zm.astype(cm.dtype)
        step = float(zp[j]) - float(zm[j])  # the step actually taken, after rounding
        fp = cm.F(zp[:nx], zp[nx:nx + nu], zp[nx + nu:]).astype(np.float64)
        fm = cm.F(zm[:nx], zm[nx:nx + nu], zm[nx + nu:]).astype(np.float64)
        cols.append((fp - fm) / step)
    return np.array(cols).T


def _complex_step(cm: CompiledModel, z: np.ndarray, widths: np.ndarray, nx: int, nu: int) -> np.ndarray:
    cols = []
    for j in range(z.size):
        h = CS_STEP * widths[j]
        zc = z.astype(np.complex128)
        zc[j] += 1j * h
        cols.append(np.imag(cm.F_complex(zc[:nx], zc[nx:nx + nu], zc[nx + nu:])) / h)
    return np.array(cols).T
