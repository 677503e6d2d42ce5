"""Van de Vusse CSTR: the Klatt-Engell benchmark reactor with a cooling jacket.

Reactions A -> B -> C and 2 A -> D in a continuous stirred tank; B (cyclopentenol) is
the product. Rates follow Arrhenius laws with the temperature T in deg C:

    k_i(T) = k_i0 exp(-E_i / (T + 273.15))          (E_i: activation energy / R, in K)

State  x = (cA, cB, T, TK)
    cA, cB  concentrations of A and B [mol/l]
    T, TK   reactor and coolant (jacket) temperatures [deg C]
Input  u = (F, QK)
    F       specific feed flow F/V_R [1/h]
    QK      heat removed by the jacket cooler [kJ/h] (negative: cooling)

Mass and energy balances, time t in HOURS:

    dcA/dt = F (cA0 - cA) - k1 cA - k3 cA^2
    dcB/dt = -F cB + k1 cA - k2 cB
    dT/dt  = F (T0 - T) + kw AR / (rho cp VR) (TK - T)
             - (k1 cA dH_AB + k2 cB dH_BC + k3 cA^2 dH_AD) / (rho cp)
    dTK/dt = (QK + kw AR (T - TK)) / (mK cpK)

mpcgen's sample time is in seconds, so the model's ODE is these per-hour rates divided
by 3600 s/h: the states evolve in SECONDS while F and QK keep the published per-hour
units (well scaled for a solver). The default sample time is Ts = 20 s, as in the NMPC
studies of this reactor (Chen, Kremling, Allgoewer 1995).

Values (Klatt & Engell 1998, Table 1): k10 = k20 = 1.287e12 1/h, k30 = 9.043e9 l/(mol h),
E1 = E2 = 9758.3 K, E3 = 8560 K, dH_AB = 4.2, dH_BC = -11.0, dH_AD = -41.85 kJ/mol,
rho = 0.9342 kg/l, cp = 3.01 kJ/(kg K), kw = 4032 kJ/(h m^2 K), AR = 0.215 m^2,
VR = 10.01 l, mK = 5.0 kg, cpK = 2.0 kJ/(kg K), cA0 = 5.10 mol/l, T0 = 104.9 deg C.
The feed concentration cA0, the feed temperature T0 and the heat transfer coefficient
kw are parameters (they are the uncertain or disturbing quantities of the benchmark);
the rest are constants. Input ranges are the benchmark's bounds, F in [5, 35] 1/h and
QK in [-8500, 0] kJ/h.

The published design steady state is cA = 2.14 mol/l, cB = 1.09 mol/l, T = 114.2 deg C,
TK = 112.9 deg C at F = 14.19 1/h, QK = -1113.5 kJ/h (it is the nominal point here).

K.-U. Klatt, S. Engell, "Gain-scheduling trajectory control of a continuous stirred
tank reactor", Computers & Chemical Engineering, 1998; H. Chen, A. Kremling,
F. Allgoewer, "Nonlinear predictive control of a benchmark CSTR", Proc. 3rd European
Control Conference, 1995.
"""

from __future__ import annotations

import casadi as ca
import numpy as np

from ..model import Model, var

TS = 20.0
"""Default sample time [s]."""

SECONDS_PER_HOUR = 3600.0

# Kinetics: pre-exponential factors [1/h, 1/h, l/(mol h)] and activation temperatures [K].
K10, K20, K30 = 1.287e12, 1.287e12, 9.043e9
E1, E2, E3 = 9758.3, 9758.3, 8560.0
# Reaction enthalpies [kJ/mol].
DH_AB, DH_BC, DH_AD = 4.2, -11.0, -41.85
# Physical data: density [kg/l], heat capacities [kJ/(kg K)], jacket area [m^2],
# reactor volume [l], coolant mass [kg].
RHO, CP, CPK = 0.9342, 3.01, 2.0
AREA, VOLUME, COOLANT_MASS = 0.215, 10.01, 5.0
KELVIN = 273.15

#: Published design steady state (Klatt & Engell 1998): states and inputs.
STEADY_STATE = {"cA": 2.14, "cB": 1.09, "T": 114.2, "TK": 112.9}
STEADY_INPUT = {"F": 14.19, "QK": -1113.5}
#: Nominal parameters (cA0 [mol/l], T0 [deg C], kw [kJ/(h m^2 K)]), Klatt & Engell 1998.
NOMINAL_PARAMETERS = (5.1, 104.9, 4032.0)

REFERENCE = (
    "K.-U. Klatt, S. Engell, 'Gain-scheduling trajectory control of a continuous stirred tank "
    "reactor', Computers & Chemical Engineering, 1998; Ts after H. Chen, A. Kremling, F. Allgoewer, "
    "'Nonlinear predictive control of a benchmark CSTR', Proc. 3rd ECC, 1995"
)


def arrhenius(k0: float, activation: float, temperature_c: ca.SX) -> ca.SX:
    """Rate constant k0 exp(-E / (T + 273.15)) for a temperature in deg C."""
    return k0 * ca.exp(-activation / (temperature_c + KELVIN))


def balances_per_hour(
    c_a: ca.SX, c_b: ca.SX, t: ca.SX, tk: ca.SX, f: ca.SX, qk: ca.SX, ca0: ca.SX, t0: ca.SX, kw: ca.SX
) -> list[ca.SX]:
    """Right-hand sides of the four balances in units per HOUR."""
    k1, k2, k3 = arrhenius(K10, E1, t), arrhenius(K20, E2, t), arrhenius(K30, E3, t)
    heat_transfer = kw * AREA  # kJ/(h K)
    reaction_heat = k1 * c_a * DH_AB + k2 * c_b * DH_BC + k3 * c_a**2 * DH_AD  # kJ/(l h)
    return [
        f * (ca0 - c_a) - k1 * c_a - k3 * c_a**2,
        -f * c_b + k1 * c_a - k2 * c_b,
        f * (t0 - t) + heat_transfer / (RHO * CP * VOLUME) * (tk - t) - reaction_heat / (RHO * CP),
        (qk + heat_transfer * (t - tk)) / (COOLANT_MASS * CPK),
    ]


def cstr() -> Model:
    """The van de Vusse CSTR, nx = 4 (cA, cB, T, TK), nu = 2 (F, QK), np = 3 (cA0, T0, kw)."""
    states = (
        var("cA", 1.0, 4.0, nominal=STEADY_STATE["cA"], unit="mol/l"),
        var("cB", 0.3, 1.5, nominal=STEADY_STATE["cB"], unit="mol/l"),
        var("T", 100.0, 130.0, nominal=STEADY_STATE["T"], unit="degC"),
        var("TK", 95.0, 130.0, nominal=STEADY_STATE["TK"], unit="degC"),
    )
    inputs = (
        var("F", 5.0, 35.0, nominal=STEADY_INPUT["F"], unit="1/h"),
        var("QK", -8500.0, 0.0, nominal=STEADY_INPUT["QK"], unit="kJ/h"),
    )
    parameters = (
        var("cA0", 4.5, 5.7, nominal=5.1, unit="mol/l"),
        var("T0", 95.0, 115.0, nominal=104.9, unit="degC"),
        var("kw", 3600.0, 4400.0, nominal=4032.0, unit="kJ/(h m^2 K)"),
    )
    per_hour = balances_per_hour(*(v.symbol for v in (*states, *inputs, *parameters)))
    return Model(
        "cstr",
        states=states,
        inputs=inputs,
        ode=[rate / SECONDS_PER_HOUR for rate in per_hour],
        parameters=parameters,
        description="van de Vusse CSTR with cooling jacket; time in seconds, F and QK per hour",
        reference=REFERENCE,
    )


def steady_state(inputs: tuple[float, float] = (STEADY_INPUT["F"], STEADY_INPUT["QK"]),
                 parameters: tuple[float, float, float] = NOMINAL_PARAMETERS) -> np.ndarray:
    """The steady state (cA, cB, T, TK) at constant inputs (F, QK) and parameters (cA0, T0, kw).

    Newton's method on the four balances from the published design point; the
    published values are rounded to about three digits, this is the exact root (to
    machine precision) that an MPC reference must be.
    """
    x = ca.SX.sym("x", 4)
    balances = ca.vertcat(*balances_per_hour(*ca.vertsplit(x), *inputs, *parameters))
    newton = ca.rootfinder("steady_state", "newton", ca.Function("g", [x], [balances]),
                           {"abstol": 1e-12, "max_iter": 50})
    return np.array(newton(list(STEADY_STATE.values()))).reshape(-1)


def ocp(model: Model):
    """Setpoint holding at the design point: cB = 1.09 mol/l, the benchmark's operating point.

    x_ref is the exact steady state at the published design inputs u_ref = (14.19 1/h,
    -1113.5 kJ/h) and nominal parameters (:func:`steady_state`). N = 20 at Ts = 20 s
    (400 s ahead, about two residence times V/F). Weights, chosen so that a typical
    deviation costs about 1: 0.1 mol/l of cA or 0.05 mol/l of cB, 1 K of T or TK
    (Q = diag(100, 400, 1, 1)), 3 1/h of flow or 1000 kJ/h of cooling (R = diag(0.1, 1e-6));
    cB, the product, is weighted most. Inputs within the benchmark's bounds F in
    [5, 35] 1/h, QK in [-8500, 0] kJ/h (Klatt & Engell 1998). Soft bounds on the
    temperatures (T, TK in [100, 130] deg C, a band around the design point), and a
    soft nonlinear path constraint: the production rate of B, F cB, stays above 80 %
    of its design value (h = 1 - F cB / (0.8 F_ref cB_ref) <= 0, dimensionless).
    ``model`` is the built :func:`cstr` whose symbols h uses.
    """
    from ..ocp import Ocp

    x_ref = steady_state()
    u_ref = np.array([STEADY_INPUT["F"], STEADY_INPUT["QK"]])
    c_b, flow = model.x[1], model.u[0]
    return Ocp(
        N=20,
        Q=np.array([100.0, 400.0, 1.0, 1.0]),
        R=np.array([0.1, 1e-6]),
        x_ref=x_ref,
        u_ref=u_ref,
        u_lo=[5.0, -8500.0],
        u_hi=[35.0, 0.0],
        x_lo=[-np.inf, -np.inf, 100.0, 100.0],
        x_hi=[np.inf, np.inf, 130.0, 130.0],
        h=1 - flow * c_b / (0.8 * u_ref[0] * x_ref[1]),
    )


COLD_FEED = (5.1, 100.0, 4032.0)
"""Plant parameters (cA0, T0, kw) during the scenario's disturbance: the feed 4.9 K colder."""


def scenario(model: Model | None = None):
    """Hold the setpoint through a feed-temperature disturbance, 80 samples (26.7 min).

    The reactor starts at the setpoint with both temperatures 5 K low. From sample 20
    to sample 50 (10 min) the feed arrives at T0 = 100 deg C instead of 104.9 (the
    controller is not told; its model keeps the nominal value), then it returns to
    nominal. The controller keeps the product concentration cB at its setpoint
    throughout (it lets T drift instead, the cooling being already off).
    """
    from ..scenario import Scenario

    x0 = steady_state() + np.array([0.0, 0.0, -5.0, -5.0])
    return Scenario("start 5 K cold; feed 4.9 K colder from sample 20 to 50 (unmeasured)",
                    x0=tuple(x0), steps=80, disturbance=((20, COLD_FEED), (50, NOMINAL_PARAMETERS)))
