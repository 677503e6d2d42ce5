"""Lower CasADi SX functions into a C expression program.

This is the only place that turns expressions into C text. It walks the SX
algorithm of a :class:`casadi.Function` instruction by instruction and produces
single-assignment statements (``const T wK = ...``) and stores into dense,
row-major output arrays. Everything around the statements (signatures, loops,
file layout, comments) is decided by the templates.

Three scalar types share one lowering:

* ``double`` and ``float`` map operations to libm (``sinf``-style functions and
  ``f`` literals for float, so ``-Wdouble-promotion`` stays clean);
* ``complex`` (``double _Complex``, for complex-step differentiation) maps every
  non-arithmetic operation to a small helper that evaluates the real function on
  the real part and carries the imaginary part to first order along the branch the
  real part takes. Mapping them to the real C functions would compile silently and
  drop the derivative; the C library's complex functions lose the tiny imaginary
  part near branch cuts (``cpow`` of a negative base). The template
  ``complex_math.j2`` defines each helper, and only the used ones are emitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca
import numpy as np

from ..errors import LoweringError


@dataclass(frozen=True)
class Scalar:
    """A C scalar type the generated code can be emitted for."""

    name: str        # "double" | "float" | "complex"
    c_type: str

    @property
    def is_complex(self) -> bool:
        return self.name == "complex"

    def literal(self, value: float) -> str:
        """A C literal for ``value``: shortest round-trip form, ``f`` suffix for float."""
        if self.name == "float":
            text = str(np.float32(value))  # shortest text that round-trips in float32
            suffix = "f"
        else:
            text = repr(float(value))
            suffix = ""
        if "inf" in text or "nan" in text:
            raise LoweringError(f"cannot emit the non-finite constant {value} as C")
        if "e" not in text and "." not in text:
            text += ".0"
        text += suffix
        return f"({text})" if text.startswith("-") else text


SCALARS = {
    "double": Scalar("double", "double"),
    "float": Scalar("float", "float"),
    "complex": Scalar("complex", "double _Complex"),
}

# Operations with the same C form for every scalar type ({0}, {1}: operands).
_ARITHMETIC = {
    ca.OP_ASSIGN: "{0}",
    ca.OP_ADD: "{0} + {1}",
    ca.OP_SUB: "{0} - {1}",
    ca.OP_MUL: "{0} * {1}",
    ca.OP_DIV: "{0} / {1}",
    ca.OP_NEG: "-{0}",
    ca.OP_SQ: "{0} * {0}",
    ca.OP_TWICE: "{0} + {0}",
}

# Operations that map to a libm function of the same name (float: name + "f").
_LIBM = {
    ca.OP_EXP: "exp", ca.OP_LOG: "log", ca.OP_SQRT: "sqrt",
    ca.OP_SIN: "sin", ca.OP_COS: "cos", ca.OP_TAN: "tan",
    ca.OP_ASIN: "asin", ca.OP_ACOS: "acos", ca.OP_ATAN: "atan",
    ca.OP_SINH: "sinh", ca.OP_COSH: "cosh", ca.OP_TANH: "tanh",
    ca.OP_ASINH: "asinh", ca.OP_ACOSH: "acosh", ca.OP_ATANH: "atanh",
    ca.OP_ERF: "erf", ca.OP_LOG1P: "log1p", ca.OP_EXPM1: "expm1",
    ca.OP_FLOOR: "floor", ca.OP_CEIL: "ceil", ca.OP_FABS: "fabs",
    ca.OP_POW: "pow", ca.OP_CONSTPOW: "pow", ca.OP_FMOD: "fmod",
    ca.OP_REMAINDER: "remainder", ca.OP_FMIN: "fmin", ca.OP_FMAX: "fmax",
    ca.OP_ATAN2: "atan2", ca.OP_HYPOT: "hypot", ca.OP_COPYSIGN: "copysign",
}

#: The libm functions the lowering calls (double names; float adds "f").
LIBM_FUNCTIONS = tuple(sorted(set(_LIBM.values())))

# Logic and comparison operations, as conditions on (real parts of) operands.
_CONDITIONS = {
    ca.OP_LT: "{0} < {1}", ca.OP_LE: "{0} <= {1}", ca.OP_EQ: "{0} == {1}",
    ca.OP_NE: "{0} != {1}", ca.OP_NOT: "{0} == {zero}",
    ca.OP_AND: "{0} != {zero} && {1} != {zero}", ca.OP_OR: "{0} != {zero} || {1} != {zero}",
}

_BINARY = {
    ca.OP_ADD, ca.OP_SUB, ca.OP_MUL, ca.OP_DIV, ca.OP_POW, ca.OP_CONSTPOW, ca.OP_FMOD,
    ca.OP_REMAINDER, ca.OP_FMIN, ca.OP_FMAX, ca.OP_ATAN2, ca.OP_HYPOT, ca.OP_COPYSIGN,
    ca.OP_LT, ca.OP_LE, ca.OP_EQ, ca.OP_NE, ca.OP_AND, ca.OP_OR, ca.OP_IF_ELSE_ZERO,
}

_OP_NAMES = {getattr(ca, n): n[3:].lower() for n in dir(ca) if n.startswith("OP_")}


@dataclass(frozen=True)
class Output:
    """One dense row-major output array of a lowered function."""

    name: str
    rows: int
    cols: int
    #: dense row-major index of each position that is a structural zero
    zeros: tuple[int, ...]

    @property
    def size(self) -> int:
        return self.rows * self.cols


@dataclass(frozen=True)
class Statement:
    """``const T target = expr;`` (kind "let"), ``array[index] = expr;`` (kind "store") or, in
    float, ``const struct mpcgen_sincos target = mpcgen_sincosf(expr);`` (kind "sincos": the
    sine and cosine of one argument, ``target.s`` and ``target.c``, see float_math.j2)."""

    kind: str
    target: str
    expr: str
    index: int = -1


@dataclass(frozen=True)
class Lowered:
    """Straight-line C for one CasADi function: the body of a generated function."""

    name: str
    inputs: tuple[tuple[str, int], ...]      # (name, length) in call order
    outputs: tuple[Output, ...]
    statements: tuple[Statement, ...]
    helpers: frozenset[str]                  # helpers the statements call (complex_math.j2, float_math.j2)
    used_inputs: frozenset[str]              # inputs the statements read
    n_operations: int                        # arithmetic and math operations

    @property
    def n_temporaries(self) -> int:
        return sum(1 for s in self.statements if s.kind == "let")


def lower(fn: ca.Function, scalar: Scalar, what: str = "", packed: frozenset[str] = frozenset()) -> Lowered:
    """Lower the SX algorithm of ``fn`` into statements for ``scalar``.

    ``what`` names the expression in error messages (e.g. "model 'pendulum'"). Outputs
    named in ``packed`` store their structural nonzeros only, in row-major order
    (:func:`packed_positions`), instead of a dense row-major array.
    """
    if not fn.is_a("SXFunction"):
        raise LoweringError(f"{what or fn.name()}: only SX functions can be lowered; expand MX first (Function.expand())")
    inputs = tuple((fn.name_in(i), fn.nnz_in(i)) for i in range(fn.n_in()))
    outputs = tuple(_output(fn, o, fn.name_out(o) in packed) for o in range(fn.n_out()))
    positions = [_packed_order(fn.sparsity_out(o)) if fn.name_out(o) in packed else _dense_positions(fn.sparsity_out(o))
                 for o in range(fn.n_out())]

    work: dict[int, str] = {}          # CasADi work index -> current C operand
    consts: dict[int, float] = {}      # CasADi work index -> value, when constant
    statements: list[Statement] = []
    helpers: set[str] = set()
    sincos: dict[str, str] = {}        # argument -> its sincos statement's target (float)
    used: set[str] = set()
    n_ops = 0
    for k in range(fn.n_instructions()):
        op = fn.instruction_id(k)
        ins = fn.instruction_input(k)
        outs = fn.instruction_output(k)
        if op == ca.OP_INPUT:
            work[outs[0]] = f"{inputs[ins[0]][0]}[{ins[1]}]"
            used.add(inputs[ins[0]][0])
            consts.pop(outs[0], None)
        elif op == ca.OP_CONST:
            value = fn.instruction_constant(k)
            work[outs[0]] = scalar.literal(value)
            consts[outs[0]] = value
        elif op == ca.OP_OUTPUT:
            o, nz = outs
            statements.append(Statement("store", fn.name_out(o), work[ins[0]], positions[o][nz]))
        elif op in (ca.OP_CALL, ca.OP_PARAMETER):
            raise LoweringError(
                f"{what or fn.name()}: the expression contains a CasADi "
                f"{'function call' if op == ca.OP_CALL else 'free parameter'}; expand calls and "
                "declare every symbol as a state, input or parameter"
            )
        elif op in (ca.OP_SIN, ca.OP_COS) and scalar.name == "float":
            # one fixed-work call for the sine and the cosine of an argument (float_math.j2)
            arg = work[ins[0]]
            if arg not in sincos:
                sincos[arg] = f"t{k}"
                statements.append(Statement("sincos", f"t{k}", arg))
                helpers.add("float_trig")
            n_ops += 1
            statements.append(Statement("let", f"w{k}", f"{sincos[arg]}.{'s' if op == ca.OP_SIN else 'c'}"))
            work[outs[0]] = f"w{k}"
            consts.pop(outs[0], None)
        else:
            args = [work[i] for i in ins]
            if op == ca.OP_CONSTPOW and ins[1] not in consts:
                op = ca.OP_POW
            expr, helper = _expression(op, args, scalar, consts.get(ins[1]) if len(ins) > 1 else None, what or fn.name())
            if helper:
                helpers.add(helper)
            n_ops += 1
            target = f"w{k}"
            statements.append(Statement("let", target, expr))
            work[outs[0]] = target
            consts.pop(outs[0], None)
    statements, reciprocals = _shared_reciprocals(statements, scalar)
    return Lowered(fn.name(), inputs, outputs, tuple(statements), frozenset(helpers), frozenset(used),
                   n_ops + reciprocals)


def _shared_reciprocals(statements: list[Statement], scalar: Scalar) -> tuple[list[Statement], int]:
    """Divisions by one operand (a parameter such as a mass, cos(theta) of one Runge-Kutta
    stage) that occurs as the divisor of several divisions: its reciprocal is formed once,
    before the first of them, and each division becomes a multiplication by it. A division
    takes 14 cycles on a Cortex-M4F against 1 for a multiplication (and on an x86 core
    several times a multiplication's latency); x * (1 / d) differs from x / d by about an
    ulp. A literal divisor stays a division (its reciprocal is not exact). Returns the
    statements and the number of reciprocals added."""
    def division(st: Statement) -> tuple[str, str] | None:
        parts = st.expr.split(" / ") if st.kind == "let" else []
        if len(parts) != 2 or parts[1].lstrip("(-").rstrip(")")[:1].isdigit():
            return None
        return parts[0], parts[1]

    uses: dict[str, int] = {}
    for st in statements:
        if (d := division(st)) is not None:
            uses[d[1]] = uses.get(d[1], 0) + 1
    names: dict[str, str] = {}
    out: list[Statement] = []
    one = scalar.literal(1.0)
    for st in statements:
        d = division(st)
        if d is None or uses[d[1]] < 2:
            out.append(st)
            continue
        numerator, divisor = d
        if divisor not in names:
            names[divisor] = f"inv{len(names)}"
            out.append(Statement("let", names[divisor], f"{one} / {divisor}"))
        r = names[divisor]
        out.append(Statement("let", st.target, r if numerator == one else f"{numerator} * {r}"))
    return out, len(names)


def _output(fn: ca.Function, o: int, packed: bool = False) -> Output:
    sp = fn.sparsity_out(o)
    if packed:
        return Output(fn.name_out(o), sp.nnz(), 1, ())
    present = set(_dense_positions(sp))
    zeros = tuple(i for i in range(sp.size1() * sp.size2()) if i not in present)
    return Output(fn.name_out(o), sp.size1(), sp.size2(), zeros)


def packed_positions(sp: ca.Sparsity) -> list[int]:
    """Row-major dense index of each entry of a packed output: the structural nonzeros,
    sorted row by row (the order the QP's patterns use)."""
    return sorted(_dense_positions(sp))


def _packed_order(sp: ca.Sparsity) -> list[int]:
    """For each CasADi nonzero (column-major), its position in the packed (row-major) order."""
    dense = _dense_positions(sp)
    rank = {pos: n for n, pos in enumerate(sorted(dense))}
    return [rank[pos] for pos in dense]


def _dense_positions(sp: ca.Sparsity) -> list[int]:
    """Row-major dense index of each structural nonzero, in CasADi's nonzero order."""
    rows = sp.row()
    cols = sp.get_col()
    return [r * sp.size2() + c for r, c in zip(rows, cols)]


def _expression(op: int, args: list[str], scalar: Scalar, const_arg: float | None, what: str) -> tuple[str, str | None]:
    """C text of one operation; also the helper it needs, if any."""
    if op in _ARITHMETIC:
        return _ARITHMETIC[op].format(*args), None
    one, zero = scalar.literal(1.0), scalar.literal(0.0)
    if op == ca.OP_INV:
        return f"{one} / {args[0]}", None
    if scalar.is_complex:
        return _complex_expression(op, args, const_arg, what)
    if op in _CONDITIONS:
        cond = _CONDITIONS[op].format(*args, zero=zero)
        return f"({cond}) ? {one} : {zero}", None
    if op == ca.OP_IF_ELSE_ZERO:
        return f"({args[0]} != {zero}) ? {args[1]} : {zero}", None
    if op == ca.OP_SIGN:
        a = args[0]
        return f"({a} > {zero}) ? {one} : (({a} < {zero}) ? -{one} : {a} * {zero})", None
    if op in _LIBM:
        name = _LIBM[op] + ("f" if scalar.name == "float" else "")
        return f"{name}({', '.join(args)})", None
    raise LoweringError(f"{what}: CasADi operation '{_OP_NAMES.get(op, op)}' has no C equivalent in mpcgen")


def _complex_expression(op: int, args: list[str], const_arg: float | None, what: str) -> tuple[str, str]:
    """Complex build: every non-arithmetic operation goes through a ``cs_*`` helper."""
    if op == ca.OP_CONSTPOW and const_arg is not None and float(const_arg).is_integer():
        return f"cs_ipow({args[0]}, {int(const_arg)})", "ipow"
    if op in _CONDITIONS:
        name = {ca.OP_LT: "lt", ca.OP_LE: "le", ca.OP_EQ: "eq", ca.OP_NE: "ne",
                ca.OP_NOT: "not", ca.OP_AND: "and", ca.OP_OR: "or"}[op]
    elif op == ca.OP_IF_ELSE_ZERO:
        name = "if_else_zero"
    elif op == ca.OP_SIGN:
        name = "sign"
    elif op == ca.OP_CONSTPOW:
        name = "pow"
    elif op in _LIBM:
        name = _LIBM[op]
    else:
        raise LoweringError(f"{what}: CasADi operation '{_OP_NAMES.get(op, op)}' has no complex-step form in mpcgen")
    return f"cs_{name}({', '.join(args)})", name
