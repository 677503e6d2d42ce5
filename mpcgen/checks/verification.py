"""Prove, on the compiled C itself, that every function a folder ships is right.

Every generated function is checked on its own, at the nominal point and at K random
points of the declared operating ranges: the model's ``F``, ``dF_dx``, ``dF_du``,
``dF_dp`` and ``F_and_jacobians``, and the OCP's outputs ``y`` and constraints ``h``,
``h_N`` (``PREFIX_ocp.c``) when the folder has them. For each function,

- every value output (x_next of F, the OCP function's value) is compared with CasADi's
  own numeric evaluation of the same expression;
- every Jacobian output with three independent references:

casadi   CasADi's own evaluation of the Jacobian (for the model always of the fully
         unrolled step by ``jacobian``, so it also checks the looped substep propagation
         and the stage-wise formulation).
central  central differences of the compiled value function (the shipped ``F``, or the
         OCP function's value), step h_j = eps^(1/3) w_j.
complex  complex-step differences of its compiled complex twin, h_j = 1e-20 w_j.

w_j = hi_j - lo_j is the width of the declared operating range of entry j of
z = (x, u, p): the scale on which F varies with z_j. The textbook step
eps^(1/3) max(1, |z_j|) assumes unit-scaled variables centred near zero; it fails
both ways on real models: for an inertia of 0.01 kg m^2 it steps 0.06 % of the value,
and for a chain of masses hanging 60 m deep with masses centimetres apart it steps
a large fraction of the spacing. In both cases truncation error dominates.

Errors are measured entry by entry against the scale of a difference quotient of
output i with respect to input j (s_i is the typical magnitude of output i: for a
state, max(|lo_i|, |hi_i|); for an OCP output, its largest magnitude over the points;
rounding errors of output i are about eps max(s_i, |F_i|)):

    scale_ij = |J_ij| + max(s_i, |F_i|) / w_j
    error_ij = |J_ij(compiled) - J_ij(reference)| / scale_ij

and values against max(s_i, |F_i|). With h = eps^(1/3) w, the rounding error of
central differences (eps F / h) is eps^(2/3) F / w, and the truncation error (h^2
times the third derivative) is of the same order when F varies on the scale w. Each
method has a tolerance from its error theory, in units of the machine epsilon of the
shipped scalar type:

    casadi   TOL_REF * eps               (rounding of two evaluation orders)
    complex  TOL_REF * eps               (complex step has no cancellation)
    central  TOL_CENTRAL * eps^(2/3)     (truncation h^2 + rounding eps/h, balanced)

A float folder is checked once more, far below float's rounding:

promoted the shipped float source compiled with double arithmetic (its float literals
         keep their float values, see :func:`~mpcgen.compiled.build.promoted_sources`)
         against CasADi's evaluation, in double, of the very expressions the C was
         lowered from with every constant rounded to float
         (:mod:`mpcgen.derivatives.rounding`): TOL_REF * eps of double. Any change to an
         expression or a constant of the float program larger than that shows, where the
         float build itself could hide it in its own rounding (about 1e-7).

``verify`` builds CasADi's side (:class:`Reference`) and the compiled side
(:class:`~mpcgen.compiled.model_binding.CompiledModel`) of a folder and compares them
(:func:`check`); the mutation test reuses one reference for many compiled variants.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import casadi as ca
import numpy as np

from ..codegen.manifest import options_of, read_manifest
from ..compiled.model_binding import CompiledModel
from ..derivatives.discretize import discrete_model
from ..derivatives.jacobians import QUANTITIES, derive, reference_function
from ..derivatives.measurement_functions import MEANING as H_MEANING
from ..derivatives.measurement_functions import measurement_function
from ..derivatives.ocp_functions import MEANING, OcpFunction, ocp_functions
from ..derivatives.rounding import with_constants_rounded
from ..errors import EvaluationError, OptionsError
from ..problem.ocp import check_ocp
from ..problem.source import load_source
from .verification_report import Report, Row

TOL_REF = 1e3
TOL_CENTRAL = 1e3
CS_STEP = 1e-20

_EPS = {"double": float(np.finfo(np.float64).eps), "float": float(np.finfo(np.float32).eps)}
#: What the model's functions compute, for the report.
_MODEL_MEANING = {"F": "discrete dynamics x_next = F(x, u, p)", "dF_dx": "state Jacobian A = dF/dx",
                  "dF_du": "input Jacobian B = dF/du", "dF_dp": "parameter Jacobian P = dF/dp",
                  "F_and_jacobians": "x_next, A and B in one pass",
                  "F_and_jacobians_nz": "x_next and the nonzeros of A and B, packed: the controller's hot path"}
#: Which entries of z = (x, u, p) each model Jacobian differentiates by.
_MODEL_JACOBIANS = {"A": "x", "B": "u", "P": "p"}


def _variables(manifest: dict) -> list[dict]:
    return [v for g in ("states", "inputs", "parameters") for v in manifest["model"][g]]


def typical_magnitudes(manifest: dict) -> np.ndarray:
    """s_j = max(|lo_j|, |hi_j|) for every entry of z = [x; u; p]."""
    return np.array([max(abs(v["lo"]), abs(v["hi"])) for v in _variables(manifest)])


def range_widths(manifest: dict) -> np.ndarray:
    """w_j = hi_j - lo_j for every entry of z = [x; u; p]."""
    return np.array([v["hi"] - v["lo"] for v in _variables(manifest)])


def sample_points(manifest: dict, count: int, seed: int) -> list[np.ndarray]:
    """The nominal point, then ``count`` uniform random points of the ranges (z = [x; u; p]).

    The first k random points are the same for every count >= k (one generator, drawn in order)."""
    variables = _variables(manifest)
    lo = np.array([v["lo"] for v in variables])
    hi = np.array([v["hi"] for v in variables])
    nominal = np.array([v["nominal"] for v in variables])
    rng = np.random.default_rng(seed)
    return [nominal] + [lo + (hi - lo) * rng.random(len(variables)) for _ in range(count)]


@dataclass(frozen=True)
class Reference:
    """CasADi's side of a folder: the functions the compiled C must agree with."""

    manifest: dict
    model: ca.Function                   # (x, u, p) -> x_next, A, B, P over the full sample
    ocp: tuple[OcpFunction, ...]         # the OCP's y, h, h_N (empty without them)
    #: float folders: the lowered block (x, u, p) -> x_next, A, B, P with constants rounded to
    #: float, applied ``repeats`` times per sample, and the OCP functions rounded the same way
    rounded_block: ca.Function | None = None
    repeats: int = 1
    rounded_ocp: tuple[ca.Function, ...] = ()
    #: the EKF's measurement function h (empty without an EKF), and rounded like the OCP's
    measurement: tuple[OcpFunction, ...] = ()
    rounded_measurement: tuple[ca.Function, ...] = ()

    def groups(self, rounded: bool = False) -> tuple[tuple[str, OcpFunction, ca.Function | None], ...]:
        """(group, function, its rounded twin) of the OCP's functions, then the EKF's h."""
        pairs = [("ocp", self.ocp, self.rounded_ocp), ("ekf", self.measurement, self.rounded_measurement)]
        return tuple((g, f, (r[i] if rounded else None)) for g, fs, r in pairs for i, f in enumerate(fs))

    def rounded_model(self, x, u, p) -> tuple[np.ndarray, ...]:
        """x_next, A, B, P of the float program in exact arithmetic (the looped form composed)."""
        nx = len(x)
        xk, A, B, P = np.asarray(x, float), np.eye(nx), np.zeros((nx, len(u))), np.zeros((nx, len(p)))
        for _ in range(self.repeats):
            xn, As, Bs, Ps = (np.array(v).reshape(nx, -1) for v in self.rounded_block(xk, u, p))
            A, B, P, xk = As @ A, As @ B + Bs, As @ P + Ps, xn.ravel()
        return xk, A, B, P

    @property
    def sizes(self) -> tuple[int, int, int]:
        m = self.manifest["model"]
        return len(m["states"]), len(m["inputs"]), len(m["parameters"])


def reference_for(folder: str | Path) -> Reference:
    """CasADi's reference functions of a generated folder, from the model source it names."""
    manifest = read_manifest(Path(folder))
    source = load_source(manifest["source"])
    options = options_of(manifest)
    ocp: tuple[OcpFunction, ...] = ()
    if "ocp" in manifest["interfaces"] and source.ocp is not None:
        checked = check_ocp(source.model, source.ocp(source.model), discrete_model(source.model, options))
        ocp = ocp_functions(checked)
    h = measurement_function(source.model) if "ekf" in manifest["interfaces"] else None
    reference = Reference(manifest, reference_function(source.model, options), ocp, measurement=(h,) if h else ())
    if options.precision != "float":
        return reference
    d = derive(source.model, options)
    block = d.block_function("block", QUANTITIES)
    return dataclasses.replace(reference, rounded_block=with_constants_rounded(block), repeats=d.repeats,
                               rounded_ocp=tuple(with_constants_rounded(f.function) for f in ocp),
                               rounded_measurement=tuple(with_constants_rounded(f.function)
                                                         for f in reference.measurement))


class _Worst:
    """The running worst absolute and scaled error of each (function, output, method)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], list[float]] = {}

    def record(self, key: tuple[str, str, str], compiled: np.ndarray, ref: np.ndarray, scale: np.ndarray) -> None:
        if compiled.size == 0:
            return  # e.g. P of a model without parameters: nothing to compare
        entry = self.rows.setdefault(key, [0.0, 0.0])
        diff = np.abs(np.asarray(compiled, dtype=np.float64) - ref)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(diff == 0, 0.0, diff / scale)
        entry[0] = max(entry[0], float(np.max(diff)))
        entry[1] = max(entry[1], float(np.max(scaled)))

    def status(self, function: str) -> None:
        """``function`` returned a non-OK status where CasADi evaluates finitely: count the point."""
        entry = self.rows.setdefault((function, "status", "ok"), [0.0, 0.0])
        entry[0] += 1
        entry[1] += 1


@dataclass(frozen=True)
class _Point:
    """One sample point with CasADi's model values there and the scales of the outputs."""

    z: np.ndarray
    x: np.ndarray
    u: np.ndarray
    p: np.ndarray
    F_ref: np.ndarray
    J_ref: np.ndarray        # [A | B | P]
    F_scale: np.ndarray
    J_scale: np.ndarray


def check(compiled: CompiledModel, reference: Reference, points: int = 100, seed: int = 0,
          promoted: CompiledModel | None = None) -> Report:
    """Compare every function of ``compiled`` with ``reference`` (see the module docstring);
    ``promoted``: the float folder's promoted build, compared with the rounded reference."""
    _check_points(points)
    man = reference.manifest
    precision = man["options"]["precision"]
    eps = _EPS[precision]
    nx, nu, np_ = reference.sizes
    cut = {"x": slice(0, nx), "u": slice(nx, nx + nu), "p": slice(nx + nu, nx + nu + np_)}
    samples = [z.astype(compiled.dtype).astype(np.float64) for z in sample_points(man, points, seed)]
    typical, widths = typical_magnitudes(man), range_widths(man)
    worst = _Worst()
    # The OCP functions' typical output magnitudes: their largest over the points.
    groups = reference.groups()
    ocp_refs = [[_ocp_reference(f, z, cut) for z in samples] for _, f, _ in groups]
    ocp_typical = [np.max(np.abs([r["value"] for r in refs]), axis=0) for refs in ocp_refs]
    for n, z in enumerate(samples):
        x, u, p = z[cut["x"]], z[cut["u"]], z[cut["p"]]
        ref = reference.model(x, u, p)
        F_ref = np.array(ref[0]).ravel()
        J_ref = np.hstack([np.array(ref[i]).reshape(nx, -1) for i in (1, 2, 3)])
        F_scale = np.maximum(typical[:nx], np.abs(F_ref))
        point = _Point(z, x, u, p, F_ref, J_ref, F_scale, np.abs(J_ref) + F_scale[:, None] / widths[None, :])
        _check_model(compiled, point, cut, widths, eps, worst)
        for (group, f, _), refs, s in zip(groups, ocp_refs, ocp_typical):
            _check_ocp_function(compiled, f, refs[n], s, z, cut, widths, eps, worst, group)
        if promoted is not None:
            _check_promoted(promoted, reference, point, [(refs[n], s) for refs, s in zip(ocp_refs, ocp_typical)],
                            cut, widths, worst)
    tol = {"casadi": TOL_REF * eps, "central": TOL_CENTRAL * eps ** (2 / 3), "complex": TOL_REF * eps,
           "promoted": TOL_REF * _EPS["double"], "ok": 0.0}
    first = {}   # functions and outputs in the order they were checked; methods in the order of tol
    for fn, q, _ in worst.rows:
        first.setdefault(fn, len(first))
        first.setdefault((fn, q), len(first))
    order = sorted(worst.rows, key=lambda k: (first[k[0]], first[k[0], k[1]], list(tol).index(k[2])))
    rows = tuple(Row(fn, q, method, *worst.rows[fn, q, method], tol[method]) for fn, q, method in order)
    pre = compiled.prefix
    meanings = {f"{pre}_{n}": _MODEL_MEANING.get(n, "") for n in compiled.functions}
    meanings |= {f"{pre}_ocp_{f.name}": MEANING[f.name] for f in reference.ocp}
    meanings |= {f"{pre}_ekf_{f.name}": H_MEANING for f in reference.measurement}
    return Report(man["model"]["name"], precision, len(samples), rows, meanings)


def verify(folder: str | Path, points: int = 100, seed: int = 0) -> Report:
    """Verify every compiled function of a generated folder; see the module docstring."""
    _check_points(points)
    compiled = CompiledModel(folder)
    promoted = CompiledModel(folder, "promoted") if compiled.dtype == np.float32 else None
    return check(compiled, reference_for(folder), points, seed, promoted)


def _check_points(points: object) -> None:
    if not isinstance(points, int) or isinstance(points, bool) or points < 0:
        raise OptionsError(f"points must be a whole number >= 0 (random points besides the nominal one), "
                           f"got {points!r}")


def _check_model(compiled: CompiledModel, pt: _Point, cut: dict[str, slice], widths: np.ndarray, eps: float,
                 worst: _Worst) -> None:
    """Every model function at one point: x_next with CasADi, each Jacobian with all three."""
    pre = compiled.prefix
    try:
        J_cd = _central(lambda zz: compiled.F(zz[cut["x"]], zz[cut["u"]], zz[cut["p"]]), pt.z, widths,
                        range(pt.z.size), compiled.dtype, eps)
        J_cs = _complex_step(lambda zz: compiled.F_complex(zz[cut["x"]], zz[cut["u"]], zz[cut["p"]]), pt.z, widths,
                             range(pt.z.size))
        references = (("casadi", pt.J_ref), ("central", J_cd), ("complex", J_cs))
    except EvaluationError:
        worst.status(f"{pre}_F")   # F fails near a point where CasADi evaluates it
        references = (("casadi", pt.J_ref),)
    for name in compiled.functions:
        fn = f"{pre}_{name}"
        try:
            outputs = compiled.call(name, pt.x, pt.u, pt.p)
        except EvaluationError:
            worst.status(fn)
            continue
        for q, value in outputs.items():
            if q == "x_next":
                worst.record((fn, q, "casadi"), value, pt.F_ref, pt.F_scale)
                continue
            sl = cut[_MODEL_JACOBIANS[q]]
            for method, against in references:
                worst.record((fn, q, method), value, against[:, sl], pt.J_scale[:, sl])


def _ocp_reference(f: OcpFunction, z: np.ndarray, cut: dict[str, slice],
                   function: ca.Function | None = None) -> dict[str, np.ndarray]:
    """The outputs of OCP function ``f`` (or of ``function``, its rounded twin) at z."""
    values = (function or f.function)(*[z[cut[i]] for i in f.inputs])
    values = values if isinstance(values, (list, tuple)) else [values]
    return {q: np.array(v).reshape(f.rows, -1) if q != "value" else np.array(v).ravel()
            for q, v in zip(f.outputs, values)}


def _ocp_scales(f: OcpFunction, ref: dict[str, np.ndarray], typical: np.ndarray, cut: dict[str, slice],
                widths: np.ndarray) -> dict[str, np.ndarray]:
    """Scales of an OCP function's outputs at a point: max(s_i, |value_i|), and |J_ij| + that / w_j."""
    scale = np.maximum(typical, np.abs(ref["value"]))
    return {"value": scale, **{q: np.abs(ref[q]) + scale[:, None] / widths[None, cut[q[1:]]] for q in f.outputs[1:]}}


def _check_ocp_function(compiled: CompiledModel, f: OcpFunction, ref: dict[str, np.ndarray], typical: np.ndarray,
                        z: np.ndarray, cut: dict[str, slice], widths: np.ndarray, eps: float, worst: _Worst,
                        group: str = "ocp") -> None:
    """One OCP function (or, group "ekf", the EKF's h) at one point: its value with CasADi, each
    Jacobian with all three."""
    x, u, p = z[cut["x"]], z[cut["u"]], z[cut["p"]]
    fn = f"{compiled.prefix}_{group}_{f.name}"
    call, call_complex = (compiled.ocp, compiled.ocp_complex) if group == "ocp" else (compiled.ekf, compiled.ekf_complex)
    scales = _ocp_scales(f, ref, typical, cut, widths)
    entries = [j for i in f.inputs if i != "p" for j in range(cut[i].start, cut[i].stop)]
    try:
        outputs = call(f.name, x, u, p)
        J_cd = _central(lambda zz: call(f.name, zz[cut["x"]], zz[cut["u"]], zz[cut["p"]])["value"], z,
                        widths, entries, compiled.dtype, eps)
        J_cs = _complex_step(lambda zz: call_complex(f.name, zz[cut["x"]], zz[cut["u"]], zz[cut["p"]]), z,
                             widths, entries)
    except EvaluationError:
        worst.status(fn)
        return
    worst.record((fn, "value", "casadi"), outputs["value"], ref["value"], scales["value"])
    column = 0
    for q in f.outputs[1:]:
        k = cut[q[1:]].stop - cut[q[1:]].start   # Jx: the x entries, Ju: the u entries
        for method, against in (("casadi", ref[q]), ("central", J_cd[:, column:column + k]),
                                ("complex", J_cs[:, column:column + k])):
            worst.record((fn, q, method), outputs[q], against, scales[q])
        column += k


def _check_promoted(promoted: CompiledModel, reference: Reference, pt: _Point, ocp: list, cut: dict[str, slice],
                    widths: np.ndarray, worst: _Worst) -> None:
    """The float program in double at one point, against the rounded reference."""
    pre = promoted.prefix
    exact = dict(zip(("x_next", "A", "B", "P"), reference.rounded_model(pt.x, pt.u, pt.p)))
    scales = {"x_next": pt.F_scale, **{q: pt.J_scale[:, cut[v]] for q, v in _MODEL_JACOBIANS.items()}}
    for name in promoted.functions:
        try:
            outputs = promoted.call(name, pt.x, pt.u, pt.p)
        except EvaluationError:
            worst.status(f"{pre}_{name}")
            continue
        for q, value in outputs.items():
            worst.record((f"{pre}_{name}", q, "promoted"), value, exact[q], scales[q])
    for (group, f, rounded), (ref, typical) in zip(reference.groups(rounded=True), ocp):
        fn = f"{pre}_{group}_{f.name}"
        try:
            outputs = (promoted.ocp if group == "ocp" else promoted.ekf)(f.name, pt.x, pt.u, pt.p)
        except EvaluationError:
            worst.status(fn)
            continue
        exact = _ocp_reference(f, pt.z, cut, rounded)
        scales = _ocp_scales(f, ref, typical, cut, widths)
        for q, value in outputs.items():
            worst.record((fn, q, "promoted"), value, exact[q], scales[q])


def _central(value, z: np.ndarray, widths: np.ndarray, entries, dtype, eps: float) -> np.ndarray:
    """Central differences of ``value(z)`` along the given entries of z (columns in that order)."""
    cols = []
    for j in entries:
        h = eps ** (1 / 3) * widths[j]
        zp, zm = z.copy(), z.copy()
        zp[j] += h
        zm[j] -= h
        zp, zm = zp.astype(dtype), zm.astype(dtype)
        step = float(zp[j]) - float(zm[j])  # the step actually taken, after rounding
        cols.append((np.asarray(value(zp), np.float64) - np.asarray(value(zm), np.float64)) / step)
    return np.array(cols).T if cols else np.zeros((0, 0))


def _complex_step(value, z: np.ndarray, widths: np.ndarray, entries) -> np.ndarray:
    """Complex-step differences of the complex ``value(z)`` along the given entries of z."""
    cols = []
    for j in entries:
        h = CS_STEP * widths[j]
        zc = z.astype(np.complex128)
        zc[j] += 1j * h
        cols.append(np.imag(value(zc)) / h)
    return np.array(cols).T if cols else np.zeros((0, 0))
