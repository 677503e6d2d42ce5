"""Every CasADi operation mpcgen lowers, in double, float and complex C, checked numerically.

The complex build is the complex-step reference, so each operation's imaginary part
must carry the exact derivative: mapping fabs, fmin, comparisons, atan2, integer pow,
... to the real C functions would compile silently and drop it.
"""

from __future__ import annotations

import casadi as ca
import numpy as np
import pytest

from mpcgen.codegen.lower import SCALARS, lower
from mpcgen.codegen.render import environment
from mpcgen.compiled.build import compile_extension
from mpcgen.errors import LoweringError

x = ca.SX.sym("x")
y = ca.SX.sym("y")

# (name, expression, x, y): points chosen away from kinks and branch cuts
CASES = [
    ("exp", ca.exp(x), 0.3, 0.0), ("log", ca.log(x), 1.7, 0.0), ("sqrt", ca.sqrt(x), 2.2, 0.0),
    ("sin", ca.sin(x), 0.4, 0.0), ("cos", ca.cos(x), 0.4, 0.0), ("tan", ca.tan(x), 0.4, 0.0),
    ("asin", ca.asin(x), 0.3, 0.0), ("acos", ca.acos(x), 0.3, 0.0), ("atan", ca.atan(x), 0.3, 0.0),
    ("sinh", ca.sinh(x), 0.3, 0.0), ("cosh", ca.cosh(x), 0.3, 0.0), ("tanh", ca.tanh(x), 0.3, 0.0),
    ("asinh", ca.asinh(x), 0.3, 0.0), ("acosh", ca.acosh(x), 1.3, 0.0), ("atanh", ca.atanh(x), 0.3, 0.0),
    ("erf", ca.erf(x), 0.3, 0.0), ("log1p", ca.log1p(x), 1e-3, 0.0), ("expm1", ca.expm1(x), 1e-3, 0.0),
    ("fabs-", ca.fabs(x), -0.7, 0.0), ("fabs+", ca.fabs(x), 0.7, 0.0),
    ("fmin", ca.fmin(x, y), 0.2, 0.9), ("fmax", ca.fmax(x, y), 0.2, 0.9),
    ("sign", ca.sign(x) * y, -0.2, 0.9), ("floor", ca.floor(x) * y, 1.5, 0.9), ("ceil", ca.ceil(x) * y, 1.5, 0.9),
    ("lt", ca.if_else(x < y, x * y, y - x), 0.2, 0.9), ("le", ca.if_else(x <= y, x * y, y - x), 1.2, 0.9),
    ("eq", ca.if_else(x == y, x, y * x), 0.2, 0.9), ("ne", ca.if_else(x != y, x * x, y), 0.2, 0.9),
    ("and", ca.if_else(ca.logic_and(x > 0, y > 0), x * y, x), 0.2, 0.9),
    ("or", ca.if_else(ca.logic_or(x > 1, y > 1), x * y, x + y), 0.2, 0.9),
    ("not", ca.if_else(ca.logic_not(x > 1), x * y, x), 0.2, 0.9),
    ("atan2", ca.atan2(x, y), -0.4, -0.9), ("hypot", ca.hypot(x, y), -0.4, 0.9),
    ("fmod", ca.fmod(x, y), 2.3, 0.9), ("remainder", ca.remainder(x, y), 2.3, 0.9),
    ("copysign", ca.copysign(x, y), 0.4, -0.9),
    ("ipow-neg", x**3, -1.3, 0.0), ("ipow-even", x**4, -1.3, 0.0), ("constpow", x**2.5, 1.3, 0.0),
    ("pow", x**y, 1.3, 0.7), ("inv", 1 / x, 1.3, 0.0), ("div", x / y, 1.3, 0.7),
    ("sq", x * x - y, 1.3, 0.7), ("twice", 2 * x + y, 1.3, 0.7), ("neg", -x * y, 1.3, 0.7),
    ("shared-div", x / y + ca.sin(x) / y - 1 / y, 1.3, 0.7),
]


_BODY = environment().get_template("body.j2")


def _compile_cases(scalar_name: str):
    scalar = SCALARS[scalar_name]
    ctype = scalar.c_type
    sources, decls = [], []
    for i, (_, expr, _, _) in enumerate(CASES):
        fn = ca.Function(f"op{i}", [x, y], [expr], ["a", "b"], ["r"])
        low = lower(fn, scalar)
        body = _BODY.module.straight_line(low, ctype, False)
        decls.append(f"void op{i}(const {ctype} *a, const {ctype} *b, {ctype} *r);")
        sources.append(f"void op{i}(const {ctype} *a, const {ctype} *b, {ctype} *r)\n{{\n    (void)a; (void)b;\n{body}\n}}")
        helpers = low.helpers
    all_helpers = set()
    for i, (_, expr, _, _) in enumerate(CASES):
        all_helpers |= lower(ca.Function(f"op{i}", [x, y], [expr]), scalar).helpers
    tmpl = environment().from_string(
        '{% import "complex_math.j2" as cs %}{% import "float_math.j2" as fm %}'
        '{% if complex %}{{ cs.first_order() }}{% endif %}'
        '{% for h in helpers %}{{ fm.helper(h) if h.startswith("float_") else cs.helper(h) }}{% endfor %}'
    )
    prelude = "#include <math.h>\n#include <complex.h>\n#include \"ops.h\"\n"
    prelude += tmpl.render(helpers=sorted(all_helpers), complex=scalar.is_complex)
    c = prelude + "\n" + "\n".join(sources) + "\n"
    h = "\n".join(decls) + "\n"
    del helpers
    module, _ = compile_extension(f"ops_{scalar_name}", {"ops.h": h, "ops.c": c}, h, ("-std=c99", "-O1"))
    return module


@pytest.mark.parametrize("scalar_name", ["double", "float"])
def test_real_builds_match_casadi(scalar_name: str) -> None:
    module = _compile_cases(scalar_name)
    ffi, lib = module.ffi, module.lib
    ctype = SCALARS[scalar_name].c_type
    tol = 1e-14 if scalar_name == "double" else 2e-6
    for i, (name, expr, xv, yv) in enumerate(CASES):
        want = float(ca.Function("f", [x, y], [expr])(xv, yv))
        a, b, r = ffi.new(f"{ctype}[1]", [xv]), ffi.new(f"{ctype}[1]", [yv]), ffi.new(f"{ctype}[1]")
        getattr(lib, f"op{i}")(a, b, r)
        assert abs(r[0] - want) <= tol * max(1.0, abs(want)), name


def test_complex_step_gives_exact_derivatives() -> None:
    """Im(f(x + ih)) / h equals CasADi's derivative to rounding, for every operation."""
    module = _compile_cases("complex")
    ffi, lib = module.ffi, module.lib
    h = 1e-20
    for i, (name, expr, xv, yv) in enumerate(CASES):
        grad = ca.Function("g", [x, y], [ca.gradient(expr, ca.vertcat(x, y))])
        want = np.array(grad(xv, yv)).ravel()
        value = float(ca.Function("f", [x, y], [expr])(xv, yv))
        for k, (dx, dy) in enumerate(((1j * h, 0), (0, 1j * h))):
            a = ffi.new("double _Complex[1]", [complex(xv) + dx])
            b = ffi.new("double _Complex[1]", [complex(yv) + dy])
            r = ffi.new("double _Complex[1]")
            getattr(lib, f"op{i}")(a, b, r)
            assert abs(r[0].real - value) <= 1e-14 * max(1.0, abs(value)), f"{name}: value"
            assert abs(r[0].imag / h - want[k]) <= 1e-13 * max(1.0, abs(want[k])), f"{name}: d/d{'xy'[k]}"


def test_a_repeated_divisor_becomes_one_reciprocal() -> None:
    """Divisions by one operand become multiplications by its reciprocal, formed once (a
    division is 14 cycles on a Cortex-M4F, a multiplication 1); a divisor used once, and a
    literal one (whose reciprocal is not exact), stay divisions."""
    expr = ca.vertcat(x / y, ca.exp(x) / y, 3 / y, x / (x + 1), ca.sin(x) / 3, x * x / 3)
    low = lower(ca.Function("f", [x, y], [expr], ["a", "b"], ["r"]), SCALARS["float"])
    lets = [st.expr for st in low.statements if st.kind == "let"]
    assert [e for e in lets if " / " in e] == ["1.0f / b[0]", "a[0] / w11", "w14 / 3.0f", "w17 / 3.0f"]
    assert [e for e in lets if e.endswith("* inv0")] == ["a[0] * inv0", "w4 * inv0", "3.0f * inv0"]
    assert low.n_operations == 11   # 10 operations and the reciprocal


def test_lowering_rejects_call_nodes_and_mx() -> None:
    inner = ca.Function("inner", [x], [ca.sin(x)])
    X = ca.MX.sym("X")
    with pytest.raises(LoweringError, match="expand MX"):
        lower(ca.Function("outer", [X], [inner(X)]), SCALARS["double"])


def test_float_literals_and_functions() -> None:
    low = lower(ca.Function("f", [x], [ca.sin(x) * 0.1 + ca.exp(x) + 2]), SCALARS["float"])
    text = " ".join(s.expr for s in low.statements)
    assert "expf(" in text and "0.1f" in text and "2.0f" in text
    # sin and cos of one argument: one fixed-work call (float_math.j2), not libm's sinf
    both = lower(ca.Function("g", [x], [ca.sin(x) * ca.cos(x), ca.cos(x) + ca.sin(2 * x)]), SCALARS["float"])
    calls = [s for s in both.statements if s.kind == "sincos"]
    assert len(calls) == 2 and both.helpers == {"float_trig"}
    assert "sinf(" not in " ".join(s.expr for s in both.statements)


def test_float_sincos_is_accurate_and_rejects_what_it_cannot_reduce() -> None:
    # the float program's sin and cos against double libm: 2 ulp of 1 over |x| <= 8192,
    # NaN beyond (the model function then reports non-finite outputs), and for Inf / NaN
    xs = np.concatenate([np.linspace(-10, 10, 20001), np.random.default_rng(1).uniform(-8192, 8192, 20000),
                         np.arange(-5215, 5216) * np.pi / 2, [8192.0, -8192.0]]).astype(np.float32)
    fn = ca.Function("sc", [x, y], [ca.vertcat(ca.sin(x), ca.cos(x))], ["a", "b"], ["r"])
    low = lower(fn, SCALARS["float"])
    helper = environment().from_string('{% import "float_math.j2" as fm %}{{ fm.helper("float_trig") }}').render()
    c = ("#include <math.h>\n#include \"sc.h\"\n" + helper + "\nvoid sc(const float *a, const float *b, float *r)\n{\n"
         "    (void)b;\n" + _BODY.module.straight_line(low, "float", False) + "\n}\n")
    h = "void sc(const float *a, const float *b, float *r);\n"
    module, _ = compile_extension("sincos_float", {"sc.h": h, "sc.c": c}, h, ("-std=c99", "-O2"))
    ffi, lib = module.ffi, module.lib
    a, r = ffi.new("float[1]"), ffi.new("float[2]")
    worst = 0.0
    for v in xs:
        a[0] = float(v)
        lib.sc(a, a, r)
        worst = max(worst, abs(r[0] - np.sin(np.float64(v))), abs(r[1] - np.cos(np.float64(v))))
    assert worst <= 2 * 2.0**-23, worst
    for v in (8193.0, -1e6, np.inf, np.nan):
        a[0] = v
        lib.sc(a, a, r)
        assert np.isnan(r[0]) and np.isnan(r[1])
