"""A plant model as named CasADi SX symbols and an ODE.

A :class:`Model` is a frozen value. It is validated when it is built, so every
later stage may assume: valid C names, scalar SX symbols, an ODE of the right
shape that depends only on declared symbols, finite constants, and an ODE and ODE
Jacobian that are finite at the nominal point.
"""

from __future__ import annotations

import keyword
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import casadi as ca

from ..errors import ModelError, NonSmoothWarning
from .measurement import Output, check_measurement

_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_RESERVED = frozenset(
    "auto break case char const continue default do double else enum extern float for goto "
    "if inline int long register restrict return short signed sizeof static struct switch "
    "typedef union unsigned void volatile while _Bool _Complex _Imaginary".split()
)

#: CasADi operations that have no derivative everywhere; reported as warnings.
NONSMOOTH_OPS: dict[int, str] = {
    ca.OP_FABS: "fabs",
    ca.OP_FMIN: "fmin",
    ca.OP_FMAX: "fmax",
    ca.OP_SIGN: "sign",
    ca.OP_FLOOR: "floor",
    ca.OP_CEIL: "ceil",
    ca.OP_IF_ELSE_ZERO: "if_else",
    ca.OP_FMOD: "fmod",
    ca.OP_REMAINDER: "remainder",
    ca.OP_COPYSIGN: "copysign",
    ca.OP_LT: "comparison",
    ca.OP_LE: "comparison",
    ca.OP_EQ: "comparison",
    ca.OP_NE: "comparison",
}


def check_c_name(name: str, what: str) -> None:
    """Raise ModelError unless ``name`` is usable as a C identifier (prefix or variable)."""
    if not _C_IDENT.match(name) or name in _C_RESERVED or keyword.iskeyword(name):
        raise ModelError(
            f"{what} {name!r} is not a valid C identifier: use letters, digits and "
            "underscores, not starting with a digit, and not a C keyword"
        )


@dataclass(frozen=True)
class Var:
    """A named scalar of the model: a state, an input or a parameter.

    ``lo``/``hi`` is the nominal operating range: verification samples points in it.
    ``nominal`` is the nominal operating point (default: the middle of the range).
    """

    symbol: ca.SX
    lo: float
    hi: float
    nominal: float | None = None
    unit: str = ""

    @property
    def name(self) -> str:
        return self.symbol.name()

    @property
    def nominal_value(self) -> float:
        return 0.5 * (self.lo + self.hi) if self.nominal is None else float(self.nominal)


def var(name: str, lo: float, hi: float, nominal: float | None = None, unit: str = "") -> Var:
    """Create a fresh scalar SX symbol called ``name`` with its operating range."""
    return Var(ca.SX.sym(name), float(lo), float(hi), nominal, unit)


@dataclass(frozen=True)
class Model:
    """A continuous-time plant ``xdot = f(x, u, p)``.

    ``ode`` is one SX expression per state (a list, or an SX column of length nx),
    in the order of ``states``. Optionally, the measurement model
    (:mod:`mpcgen.problem.measurement`): ``outputs`` y = h(x, u, p), ``process_noise``
    and ``measurement_noise`` (standard deviations per entry, or covariances; stored
    as covariances).
    """

    name: str
    states: tuple[Var, ...]
    inputs: tuple[Var, ...]
    ode: ca.SX
    parameters: tuple[Var, ...] = ()
    description: str = ""
    #: Where the equations and parameter values come from (cited in generated files).
    reference: str = ""
    outputs: tuple[Output, ...] = ()
    process_noise: object = field(default=None, compare=False)
    measurement_noise: object = field(default=None, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        check_c_name(self.name, "model name")
        set_(self, "states", tuple(self.states))
        set_(self, "inputs", tuple(self.inputs))
        set_(self, "parameters", tuple(self.parameters))
        if not self.states:
            raise ModelError(f"model {self.name!r} has no states: declare at least one")
        seen: dict[str, str] = {}
        for kind, group in (("state", self.states), ("input", self.inputs), ("parameter", self.parameters)):
            for v in group:
                _check_var(self.name, kind, v, seen)
        set_(self, "ode", _as_ode(self.name, self.ode, self.states))
        set_(self, "warnings", tuple(_check_expressions(self)))
        _check_nominal(self)
        outputs, process, measured = check_measurement(self)
        set_(self, "outputs", outputs)
        set_(self, "process_noise", process)
        set_(self, "measurement_noise", measured)
        for message in self.warnings:
            warnings.warn(message, NonSmoothWarning, stacklevel=3)

    # Sizes and symbol vectors -------------------------------------------------
    @property
    def nx(self) -> int:
        return len(self.states)

    @property
    def nu(self) -> int:
        return len(self.inputs)

    @property
    def np(self) -> int:
        return len(self.parameters)

    @property
    def ny(self) -> int:
        return len(self.outputs)

    @property
    def y(self) -> ca.SX:
        """The outputs h(x, u, p) as an SX column (ny x 1)."""
        return ca.vertcat(*[o.expr for o in self.outputs]) if self.outputs else ca.SX(0, 1)

    @property
    def x(self) -> ca.SX:
        return _column(self.states)

    @property
    def u(self) -> ca.SX:
        return _column(self.inputs)

    @property
    def p(self) -> ca.SX:
        return _column(self.parameters)


def _column(group: Sequence[Var]) -> ca.SX:
    return ca.vertcat(*[v.symbol for v in group]) if group else ca.SX(0, 1)


def _check_var(model: str, kind: str, v: Var, seen: dict[str, str]) -> None:
    if not isinstance(v, Var):
        raise ModelError(
            f"model {model!r}: every {kind} must be an mpcgen.Var (use mpcgen.var(name, lo, hi)), "
            f"got {type(v).__name__}"
        )
    sym = v.symbol
    if isinstance(sym, ca.MX):
        raise ModelError(
            f"model {model!r}: {kind} {sym.name()!r} is a CasADi MX symbol; declare it with "
            "casadi.SX.sym (mpcgen walks SX expression graphs)"
        )
    if not isinstance(sym, ca.SX) or not sym.is_symbolic() or sym.numel() != 1:
        raise ModelError(
            f"model {model!r}: {kind} symbol must be one scalar casadi.SX.sym, got "
            f"{getattr(sym, 'shape', type(sym).__name__)}"
        )
    check_c_name(v.name, f"model {model!r}: {kind} name")
    if v.name in seen:
        raise ModelError(
            f"model {model!r}: name {v.name!r} is used by a {seen[v.name]} and a {kind}; names must be unique"
        )
    seen[v.name] = kind
    for label, value in (("lo", v.lo), ("hi", v.hi), ("nominal", v.nominal)):
        if value is not None and not math.isfinite(float(value)):
            raise ModelError(f"model {model!r}: {kind} {v.name!r} has non-finite {label} = {value}")
    if not v.lo < v.hi:
        raise ModelError(
            f"model {model!r}: {kind} {v.name!r} has range lo={v.lo} >= hi={v.hi}; give lo < hi"
        )
    if not v.lo <= v.nominal_value <= v.hi:
        raise ModelError(
            f"model {model!r}: {kind} {v.name!r} nominal {v.nominal_value} lies outside [{v.lo}, {v.hi}]"
        )


def _as_ode(model: str, ode: object, states: Sequence[Var]) -> ca.SX:
    if isinstance(ode, ca.MX):
        raise ModelError(
            f"model {model!r}: the ODE is a CasADi MX expression; build it from SX symbols "
            "(mpcgen.var creates SX)"
        )
    if isinstance(ode, (list, tuple)):
        expr = ca.vertcat(*[
            _as_sx(model, e, f"ODE entry {i}" + (f" (state {states[i].name!r})" if i < len(states) else ""))
            for i, e in enumerate(ode)
        ])
    else:
        expr = _as_sx(model, ode, "the ODE")
    if expr.shape == (1, len(states)) and len(states) > 1:
        expr = expr.T
    if expr.shape != (len(states), 1):
        raise ModelError(
            f"model {model!r}: the ODE has shape {expr.shape[0]}x{expr.shape[1]} but the model "
            f"has {len(states)} states; give one right-hand side per state, in state order"
        )
    return ca.densify(expr)


def _as_sx(model: str, e: object, what: str) -> ca.SX:
    """``e`` as an SX expression; a one-line ModelError naming ``what`` if it is not one."""
    if isinstance(e, ca.MX):
        raise ModelError(
            f"model {model!r}: {what} is a CasADi MX expression; build it from SX symbols (mpcgen.var creates SX)"
        )
    try:
        return ca.SX(e)
    except Exception:  # CasADi raises NotImplementedError/TypeError with a multi-line list of overloads
        raise ModelError(
            f"model {model!r}: {what} is a {type(e).__name__}, not a CasADi SX expression or a number; "
            "build it from the declared symbols (the .symbol of each mpcgen.var)"
        ) from None


def _check_expressions(model: Model) -> Iterable[str]:
    """Check free symbols and constants of the ODE; yield warnings for non-smooth ops."""
    declared = ca.vertcat(model.x, model.u, model.p)
    names = [model.states[i].name for i in range(model.nx)]
    for i in range(model.nx):
        e = model.ode[i]
        try:
            f = ca.Function("ode_row", [declared], [e])
        except RuntimeError:
            free = sorted({s.name() for s in ca.symvar(e) if not ca.depends_on(declared, s)})
            known = {v.name for v in (*model.states, *model.inputs, *model.parameters)}
            twins = [n for n in free if n in known]
            how = (
                f"{', '.join(twins)} {'is' if len(twins) == 1 else 'are'} declared, but the ODE uses another "
                f"symbol of the same name: use the declared Var's .symbol, not a new casadi.SX.sym"
                if twins else "declare them as states, inputs or parameters"
            )
            raise ModelError(
                f"model {model.name!r}: the ODE of state {names[i]!r} uses undeclared symbol(s) "
                f"{', '.join(free)}; {how}"
            ) from None
        seen_ops: set[str] = set()
        for k in range(f.n_instructions()):
            op = f.instruction_id(k)
            if op == ca.OP_CONST:
                value = f.instruction_constant(k)
                if not math.isfinite(value):
                    raise ModelError(
                        f"model {model.name!r}: the ODE of state {names[i]!r} contains the constant "
                        f"{value}; replace it with a finite number"
                    )
            elif op in NONSMOOTH_OPS:
                seen_ops.add(NONSMOOTH_OPS[op])
            elif op == ca.OP_CALL:
                raise ModelError(
                    f"model {model.name!r}: the ODE of state {names[i]!r} calls a CasADi Function; "
                    "inline it (call it on SX symbols, or expand an MX function with .expand())"
                )
        if seen_ops:
            yield (
                f"model {model.name!r}: the ODE of state {names[i]!r} uses non-smooth "
                f"{', '.join(sorted(seen_ops))}: derivatives do not exist at the kink, and "
                "finite/complex-step checks near it are unreliable"
            )


def _check_nominal(model: Model) -> None:
    """Reject an ODE or ODE Jacobian that is NaN or Inf at the nominal point.

    A division by zero or a log/sqrt outside its domain at the nominal point would
    generate C that returns NONFINITE_OUTPUT at the point every check starts from.
    """
    group = (*model.states, *model.inputs, *model.parameters)
    z = ca.vertcat(model.x, model.u, model.p)
    f = ca.Function("ode_at_nominal", [z], [model.ode, ca.jacobian(model.ode, z)])
    value, jac = (m.full() for m in f([v.nominal_value for v in group]))
    fix = (
        "a division by zero or a function outside its domain? Change the expression, or the ranges or "
        "nominal values (var(name, lo, hi, nominal=...)), so that it is finite there"
    )

    def at(i: int) -> str:
        used = ", ".join(f"{v.name}={v.nominal_value:g}" for v in group if ca.depends_on(model.ode[i], v.symbol))
        return f"at the nominal point ({used})" if used else "at the nominal point"

    for i, state in enumerate(model.states):
        if not math.isfinite(value[i, 0]):
            raise ModelError(f"model {model.name!r}: the ODE of state {state.name!r} is {value[i, 0]} {at(i)}; {fix}")
        for j, v in enumerate(group):
            if not math.isfinite(jac[i, j]):
                raise ModelError(
                    f"model {model.name!r}: the derivative of the ODE of state {state.name!r} with respect to "
                    f"{v.name!r} is {jac[i, j]} {at(i)}; {fix}"
                )
