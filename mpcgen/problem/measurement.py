"""The measurement model of a plant: outputs y = h(x, u, p) and the noise levels.

An :class:`Output` is one named sensor reading with its unit and operating range,
given as an SX expression of the model's declared symbols. A model may also state

- ``process_noise``: the per-sample disturbance w_k of x_{k+1} = F(x_k, u_k, p) + w_k,
  as one standard deviation per state or as an nx x nx covariance;
- ``measurement_noise``: the noise v_k of y_k = h(x_k, u_k, p) + v_k, as one standard
  deviation per output or as an ny x ny covariance.

A random-walk state (an input disturbance, a sensor bias for offset-free control) is a
state whose ODE is 0 and whose process noise is not: declare it like any other state.

:func:`check_measurement` validates all of it when the Model is built, with one line
per mistake: undeclared symbols, wrong shapes, non-finite values, negative variances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import casadi as ca
import numpy as np

from ..errors import ModelError

if TYPE_CHECKING:  # the model module imports this one when a Model is built
    from .model import Model


@dataclass(frozen=True)
class Output:
    """One measured output y_i = h_i(x, u, p): name, expression, operating range, unit."""

    name: str
    expr: ca.SX
    lo: float
    hi: float
    unit: str = ""


def output(name: str, expr: object, lo: float, hi: float, unit: str = "") -> Output:
    """A measured output called ``name``: ``expr`` of the model's symbols (a Var stands for its symbol)."""
    expr = getattr(expr, "symbol", expr)
    return Output(name, expr, float(lo), float(hi), unit)


def check_measurement(model: "Model") -> tuple[tuple[Output, ...], tuple | None, tuple | None]:
    """Validated (outputs, process covariance, measurement covariance) of ``model``.

    The covariances come back as tuples of row tuples (hashable, frozen), or None when
    the model gives no such noise.
    """
    from .model import _as_sx, check_c_name

    name = model.name
    outputs = tuple(model.outputs)
    names = {v.name for v in (*model.states, *model.inputs, *model.parameters)}
    declared = ca.vertcat(model.x, model.u, model.p)
    group = (*model.states, *model.inputs, *model.parameters)
    nominal = [v.nominal_value for v in group]
    checked = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Output):
            raise ModelError(
                f"model {name!r}: every output must be an mpcgen.Output (use mpcgen.output(name, expr, lo, hi)), "
                f"got {type(out).__name__} at index {i}"
            )
        check_c_name(out.name, f"model {name!r}: output name")
        if out.name in names:
            raise ModelError(f"model {name!r}: output name {out.name!r} is already used; names must be unique")
        names.add(out.name)
        what = f"output {out.name!r}"
        expr = _as_sx(name, out.expr, what)
        if expr.shape != (1, 1):
            raise ModelError(
                f"model {name!r}: {what} has shape {expr.shape[0]}x{expr.shape[1]}; give one scalar expression "
                "per output"
            )
        for label, value in (("lo", out.lo), ("hi", out.hi)):
            if not math.isfinite(value):
                raise ModelError(f"model {name!r}: {what} has non-finite {label} = {value}")
        if not out.lo < out.hi:
            raise ModelError(f"model {name!r}: {what} has range lo={out.lo} >= hi={out.hi}; give lo < hi")
        try:
            f = ca.Function("h_row", [declared], [expr, ca.jacobian(expr, declared)])
        except RuntimeError:
            free = sorted({s.name() for s in ca.symvar(expr) if not ca.depends_on(declared, s)})
            twins = [n for n in free if n in names]
            how = ("use the declared Var's .symbol, not a new casadi.SX.sym of the same name" if twins
                   else "declare them as states, inputs or parameters")
            raise ModelError(f"model {name!r}: {what} uses undeclared symbol(s) {', '.join(free)}; {how}") from None
        for k in range(f.n_instructions()):
            if f.instruction_id(k) == ca.OP_CONST and not math.isfinite(f.instruction_constant(k)):
                raise ModelError(
                    f"model {name!r}: {what} contains the constant {f.instruction_constant(k)}; "
                    "replace it with a finite number"
                )
            if f.instruction_id(k) == ca.OP_CALL:
                raise ModelError(f"model {name!r}: {what} calls a CasADi Function; inline it")
        value, jac = (m.full() for m in f(nominal))
        if not (np.all(np.isfinite(value)) and np.all(np.isfinite(jac))):
            raise ModelError(
                f"model {name!r}: {what} or its derivative is not finite at the nominal point; change the "
                "expression or the nominal values so that it is finite there"
            )
        checked.append(Output(out.name, expr, out.lo, out.hi, out.unit))
    process = _covariance(name, "process_noise", model.process_noise, [v.name for v in model.states], "state",
                          allow_zero=True)
    if model.measurement_noise is not None and not checked:
        raise ModelError(f"model {name!r}: measurement_noise is given but the model declares no outputs")
    measured = _covariance(name, "measurement_noise", model.measurement_noise, [o.name for o in checked],
                           "output", allow_zero=False)
    return tuple(checked), process, measured


def _covariance(model: str, label: str, value: object, names: list[str], kind: str,
                allow_zero: bool) -> tuple | None:
    """A covariance from one standard deviation per entry or a full matrix, validated."""
    if value is None:
        return None
    n = len(names)
    try:
        a = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(
            f"model {model!r}: {label} must be numbers (one standard deviation per {kind}, or a covariance "
            f"matrix), got {type(value).__name__}"
        ) from None
    how = f"give {n} standard deviations (one per {kind}) or a {n}x{n} covariance"
    if a.ndim == 1:
        if a.shape[0] != n:
            raise ModelError(f"model {model!r}: {label} has {a.shape[0]} entries but the model has {n} {kind}s; {how}")
        for i, s in enumerate(a):
            if not math.isfinite(s):
                raise ModelError(f"model {model!r}: {label} of {kind} {names[i]!r} is {s}; give a finite number")
            if s < 0 or (s == 0 and not allow_zero):
                need = "positive" if not allow_zero else ">= 0"
                raise ModelError(
                    f"model {model!r}: {label} of {kind} {names[i]!r} is {s}; a standard deviation must be {need}"
                )
        cov = np.diag(a**2)
    elif a.ndim == 2:
        if a.shape != (n, n):
            raise ModelError(
                f"model {model!r}: {label} is {a.shape[0]}x{a.shape[1]} but the model has {n} {kind}s; {how}"
            )
        if not np.all(np.isfinite(a)):
            raise ModelError(f"model {model!r}: {label} has non-finite entries; give finite numbers")
        if not np.allclose(a, a.T, rtol=1e-12, atol=0.0):
            raise ModelError(f"model {model!r}: {label} covariance is not symmetric; give a symmetric matrix")
        low = float(np.linalg.eigvalsh(a).min())
        if low < 0 or (low <= 0 and not allow_zero):
            need = "positive definite" if not allow_zero else "positive semidefinite"
            raise ModelError(
                f"model {model!r}: {label} covariance is not {need} (smallest eigenvalue {low:g}); "
                "variances cannot be negative"
            )
        cov = a
    else:
        raise ModelError(f"model {model!r}: {label} has {a.ndim} dimensions; {how}")
    return tuple(tuple(float(c) for c in row) for row in cov)
