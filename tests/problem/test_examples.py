"""Example plants: registry, sizes, and physics facts that a wrong equation would break.

The physics checks avoid re-deriving each model the same way it was written: they use
equilibria, energy/power balances built from positions and velocities (so a wrong
mass matrix, Coriolis or gravity term shows up) and an independent energy
minimization for the chain at rest.
"""

from __future__ import annotations

import math
import warnings

import casadi as ca
import numpy as np
import pytest

from mpcgen.errors import ModelError, SourceError
from mpcgen.problem.examples import (
    EXAMPLES,
    chain,
    cstr,
    get_example,
    quadrotor,
    robot_arm,
)
from mpcgen.problem.model import Model

SIZES = {  # (nx, nu, np) of the default builds
    "pendulum": (4, 1, 3),
    "quadrotor": (12, 4, 6),
    "cstr": (4, 2, 3),
    "robot_arm": (4, 2, 4),
    "chain": (21, 3, 3),
}
G = 9.81


# Helpers ----------------------------------------------------------------------
def build(spec: str) -> Model:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return get_example(spec)[1]


def nominal(model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.array([v.nominal_value for v in g]) for g in (model.states, model.inputs, model.parameters))


def random_points(model: Model, count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Uniform random (x, u, p) in the declared operating ranges."""
    rng = np.random.default_rng(seed)

    def draw(group):
        return np.array([rng.uniform(v.lo, v.hi) for v in group])

    return [(draw(model.states), draw(model.inputs), draw(model.parameters)) for _ in range(count)]


def function(model: Model, *outputs: ca.SX) -> ca.Function:
    """A CasADi function (x, u, p) -> outputs."""
    return ca.Function("f", [model.x, model.u, model.p], list(outputs))


def ode_at(model: Model, x, u, p) -> np.ndarray:
    return np.array(function(model, model.ode)(x, u, p)).ravel()


def time_derivative(model: Model, expression: ca.SX) -> ca.SX:
    """d/dt of an expression of the states along the model's ODE."""
    return ca.jtimes(expression, model.x, model.ode)


def symbols(model: Model) -> dict[str, ca.SX]:
    return {v.name: v.symbol for v in (*model.states, *model.inputs, *model.parameters)}


def assert_power_balance(model: Model, energy: ca.SX, power: ca.SX, points: int = 50) -> None:
    """dE/dt along the ODE equals the power supplied, at random points of the ranges."""
    f = function(model, time_derivative(model, energy), power)
    for x, u, p in random_points(model, points):
        rate, supplied = (float(v) for v in f(x, u, p))
        assert rate == pytest.approx(supplied, rel=1e-9, abs=1e-9)


# Registry ---------------------------------------------------------------------
def test_registry_order_and_fields() -> None:
    assert list(EXAMPLES) == ["pendulum", "quadrotor", "cstr", "robot_arm", "chain"]
    for name, ex in EXAMPLES.items():
        assert ex.name == name and ex.ts > 0 and ex.summary and "\n" not in ex.summary
    assert [ex.name for ex in EXAMPLES.values() if ex.size_name] == ["chain"]
    assert EXAMPLES["chain"].size_name == "masses"
    assert EXAMPLES["chain"].default_size == chain.DEFAULT_MASSES
    assert (EXAMPLES["pendulum"].ts, EXAMPLES["cstr"].ts, EXAMPLES["chain"].ts) == (0.05, 20.0, 0.2)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_builds_cleanly_with_documented_sizes(name: str) -> None:
    model = build(name)
    assert model.name == name
    assert model.warnings == ()
    assert (model.nx, model.nu, model.np) == SIZES[name]
    assert model.reference and model.description
    for v in (*model.states, *model.inputs, *model.parameters):
        assert v.unit, f"{name}: {v.name} has no unit"
    x, u, p = nominal(model)
    assert np.all(np.isfinite(ode_at(model, x, u, p)))


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_ode_and_jacobian_finite_over_the_ranges(name: str) -> None:
    model = build(name)
    z = ca.vertcat(model.x, model.u, model.p)
    f = function(model, model.ode, ca.jacobian(model.ode, z))
    for x, u, p in random_points(model, 200, seed=1):
        value, jac = f(x, u, p)
        assert np.all(np.isfinite(np.array(value))) and np.all(np.isfinite(np.array(jac)))


def test_builds_are_fresh() -> None:
    a, b = build("pendulum"), build("pendulum")
    assert not ca.is_equal(a.x[0], b.x[0])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("pendulm", r"unknown example 'pendulm': known examples are pendulum, quadrotor, cstr, robot_arm, chain"),
        ("", r"unknown example ''"),
        ("pendulum:3", r"example 'pendulum' takes no size.*chain:1\.\.12"),
        ("chain:x", r"masses must be an integer from 1 to 12, got 'x'"),
        ("chain:", r"masses must be an integer from 1 to 12, got ''"),
        ("chain:-2", r"from 1 to 12, got '-2'"),
        ("chain:2.5", r"from 1 to 12, got '2.5'"),
        ("chain:0", r"from 1 to 12, got 0"),
        ("chain:13", r"from 1 to 12, got 13"),
    ],
)
def test_get_example_errors(spec: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as info:
        get_example(spec)
    assert "\n" not in str(info.value)


def test_chain_sizes_and_names() -> None:
    example, default = get_example("chain")
    assert default.name == "chain" and default.nx == chain.state_count(chain.DEFAULT_MASSES)
    assert 15 <= default.nx <= 21
    smallest, largest = build(f"chain:{chain.MIN_MASSES}"), build(f"chain:{chain.MAX_MASSES}")
    assert (smallest.name, smallest.nx) == ("chain1", 9)
    assert (largest.name, largest.nx) == ("chain12", 75)
    assert 6 <= smallest.nx and largest.nx >= 60
    assert example.size_range == (chain.MIN_MASSES, chain.MAX_MASSES)
    assert chain.BENCH_SIZES[0] == chain.MIN_MASSES and chain.BENCH_SIZES[-1] == chain.MAX_MASSES
    assert list(chain.BENCH_SIZES) == sorted(set(chain.BENCH_SIZES))
    with pytest.raises(ModelError, match="from 1 to 12"):
        chain.chain(0)
    with pytest.raises(ModelError):
        chain.chain(True)  # type: ignore[arg-type]


# Pendulum ---------------------------------------------------------------------
def _pendulum_linearization(theta: float) -> np.ndarray:
    model = build("pendulum")
    _, u, p = nominal(model)
    x = np.array([0.0, theta, 0.0, 0.0])
    assert np.allclose(ode_at(model, x, [0.0], p), 0.0, atol=1e-12)
    return np.array(function(model, ca.jacobian(model.ode, model.x))(x, [0.0], p))


def test_pendulum_upright_is_an_unstable_equilibrium() -> None:
    eig = np.linalg.eigvals(_pendulum_linearization(0.0))
    M, m, l = 1.0, 0.1, 0.8  # acados values
    assert max(eig.real) == pytest.approx(math.sqrt((M + m) * G / (M * l)), rel=1e-9)


def test_pendulum_hanging_is_a_stable_equilibrium() -> None:
    eig = np.linalg.eigvals(_pendulum_linearization(math.pi))
    M, m, l = 1.0, 0.1, 0.8
    assert max(eig.real) < 1e-6
    assert max(eig.imag) == pytest.approx(math.sqrt((M + m) * G / (M * l)), rel=1e-6)


def test_pendulum_nominal_parameters_are_the_acados_values() -> None:
    model = build("pendulum")
    assert [v.nominal_value for v in model.parameters] == [1.0, 0.1, 0.8]
    assert [v.name for v in model.states] == ["p", "theta", "v", "omega"]
    assert (model.inputs[0].lo, model.inputs[0].hi) == (-80.0, 80.0)


def test_pendulum_power_balance() -> None:
    """d/dt (cart + bob kinetic energy + bob potential energy) = F v; bob at (p - l sin, l cos)."""
    model = build("pendulum")
    s = symbols(model)
    bob_velocity = ca.vertcat(s["v"] - s["l"] * ca.cos(s["theta"]) * s["omega"],
                              -s["l"] * ca.sin(s["theta"]) * s["omega"])
    energy = (0.5 * s["M"] * s["v"] ** 2 + 0.5 * s["m"] * ca.sumsqr(bob_velocity)
              + s["m"] * G * s["l"] * ca.cos(s["theta"]))
    assert_power_balance(model, energy, s["F"] * s["v"])


# Quadrotor --------------------------------------------------------------------
def _rotation(phi: ca.SX, theta: ca.SX, psi: ca.SX) -> ca.SX:
    """R = Rz(psi) Ry(theta) Rx(phi) from the elementary rotations."""
    c, s = ca.cos, ca.sin
    rx = ca.vertcat(ca.horzcat(1, 0, 0), ca.horzcat(0, c(phi), -s(phi)), ca.horzcat(0, s(phi), c(phi)))
    ry = ca.vertcat(ca.horzcat(c(theta), 0, s(theta)), ca.horzcat(0, 1, 0), ca.horzcat(-s(theta), 0, c(theta)))
    rz = ca.vertcat(ca.horzcat(c(psi), -s(psi), 0), ca.horzcat(s(psi), c(psi), 0), ca.horzcat(0, 0, 1))
    return rz @ ry @ rx


def test_quadrotor_hover_is_an_equilibrium_at_any_position_and_yaw() -> None:
    model = build("quadrotor")
    for x, _, p in random_points(model, 20):
        x[3:8] = 0.0  # velocity, roll, pitch
        x[9:] = 0.0   # body rates
        hover = np.full(4, p[0] * G / 4)
        assert np.allclose(ode_at(model, x, hover, p), 0.0, atol=1e-12)
    x, u, p = nominal(model)
    assert u == pytest.approx(np.full(4, quadrotor.HOVER_THRUST))
    assert np.allclose(ode_at(model, x, u, p), 0.0, atol=1e-12)


def test_quadrotor_euler_rates_match_rotation_kinematics() -> None:
    """dR/dt computed from the Euler angle rates equals R [omega]x."""
    model = build("quadrotor")
    s = symbols(model)
    angles = ca.vertcat(s["phi"], s["theta"], s["psi"])
    rot = _rotation(s["phi"], s["theta"], s["psi"])
    angle_rates = model.ode[6:9]
    rdot = ca.reshape(ca.jacobian(ca.vec(rot), angles) @ angle_rates, 3, 3)
    wx, wy, wz = s["wx"], s["wy"], s["wz"]
    skew = ca.vertcat(ca.horzcat(0, -wz, wy), ca.horzcat(wz, 0, -wx), ca.horzcat(-wy, wx, 0))
    residual = function(model, ca.vec(rdot - rot @ skew))
    for x, u, p in random_points(model, 50):
        assert np.allclose(np.array(residual(x, u, p)), 0.0, atol=1e-12)


def test_quadrotor_power_balance() -> None:
    """Translational: d/dt (m v^2 / 2 + m g z) = T (R e3).v; rotational: d/dt (w'Jw / 2) = w.tau."""
    model = build("quadrotor")
    s = symbols(model)
    v = ca.vertcat(s["vx"], s["vy"], s["vz"])
    w = ca.vertcat(s["wx"], s["wy"], s["wz"])
    f1, f2, f3, f4 = (s[f"f{i}"] for i in range(1, 5))
    thrust_axis = _rotation(s["phi"], s["theta"], s["psi"])[:, 2]
    translational = 0.5 * s["mass"] * ca.sumsqr(v) + s["mass"] * G * s["z"]
    assert_power_balance(model, translational, (f1 + f2 + f3 + f4) * ca.dot(thrust_axis, v))
    tau = ca.vertcat(s["arm"] * (f2 - f4), s["arm"] * (f3 - f1), s["kappa"] * (f1 - f2 + f3 - f4))
    rotational = 0.5 * (s["Ixx"] * s["wx"] ** 2 + s["Iyy"] * s["wy"] ** 2 + s["Izz"] * s["wz"] ** 2)
    assert_power_balance(model, rotational, ca.dot(w, tau))


# Robot arm --------------------------------------------------------------------
def _arm_energies(s: dict[str, ca.SX]) -> tuple[ca.SX, ca.SX]:
    """Kinetic and potential energy of two uniform rods from their centre-of-mass motion."""
    q = ca.vertcat(s["q1"], s["q2"])
    dq = ca.vertcat(s["dq1"], s["dq2"])
    a1, a12 = s["q1"], s["q1"] + s["q2"]
    elbow = ca.vertcat(s["l1"] * ca.cos(a1), s["l1"] * ca.sin(a1))
    com1 = elbow / 2
    com2 = elbow + ca.vertcat(s["l2"] / 2 * ca.cos(a12), s["l2"] / 2 * ca.sin(a12))
    v1, v2 = ca.jacobian(com1, q) @ dq, ca.jacobian(com2, q) @ dq
    kinetic = (0.5 * s["m1"] * ca.sumsqr(v1) + 0.5 * s["m2"] * ca.sumsqr(v2)
               + 0.5 * s["m1"] * s["l1"] ** 2 / 12 * s["dq1"] ** 2
               + 0.5 * s["m2"] * s["l2"] ** 2 / 12 * (s["dq1"] + s["dq2"]) ** 2)
    potential = G * (s["m1"] * com1[1] + s["m2"] * com2[1])
    return kinetic, potential


def test_robot_arm_power_balance() -> None:
    """d/dt (T + V) = tau . qdot: breaks if M, C or G is wrong."""
    model = build("robot_arm")
    s = symbols(model)
    kinetic, potential = _arm_energies(s)
    assert_power_balance(model, kinetic + potential, s["tau1"] * s["dq1"] + s["tau2"] * s["dq2"])


def test_robot_arm_rest_with_gravity_torque_is_an_equilibrium() -> None:
    model = build("robot_arm")
    s = symbols(model)
    _, potential = _arm_energies(s)
    hold = function(model, ca.gradient(potential, ca.vertcat(s["q1"], s["q2"])))
    for x, u, p in random_points(model, 20):
        x[2:] = 0.0
        tau = np.array(hold(x, u, p)).ravel()
        assert np.allclose(ode_at(model, x, tau, p), 0.0, atol=1e-12)
        assert np.allclose(robot_arm.gravity_torque(x[0], x[1], robot_arm.ArmParameters(*p)), tau, atol=1e-12)
    x, u, p = nominal(model)
    assert np.allclose(ode_at(model, x, u, p), 0.0, atol=1e-12)


def test_robot_arm_mass_matrix_is_symmetric_positive_definite() -> None:
    model = build("robot_arm")
    s = symbols(model)
    kinetic, _ = _arm_energies(s)
    hessian = function(model, ca.hessian(kinetic, ca.vertcat(s["dq1"], s["dq2"]))[0])
    for x, u, p in random_points(model, 50):
        mass = np.array(robot_arm.mass_matrix(x[1], robot_arm.ArmParameters(*p)), dtype=float)
        assert np.array_equal(mass, mass.T)
        assert np.all(np.linalg.eigvalsh(mass) > 0)
        assert np.allclose(mass, np.array(hessian(x, u, p)), rtol=1e-12, atol=1e-14)


# CSTR -------------------------------------------------------------------------
def _cstr_state_function(model: Model, u: np.ndarray, p: np.ndarray) -> ca.Function:
    ode = ca.substitute(ca.substitute(model.ode, model.u, ca.DM(u)), model.p, ca.DM(p))
    return ca.Function("f", [model.x], [ode])


def test_cstr_published_steady_state_is_an_equilibrium() -> None:
    model = build("cstr")
    x, u, p = nominal(model)
    assert list(x) == list(cstr.STEADY_STATE.values()) and list(u) == list(cstr.STEADY_INPUT.values())
    f = _cstr_state_function(model, u, p)
    exact = np.array(ca.rootfinder("steady", "newton", f)(x)).ravel()
    # The published values are rounded to 3-4 digits.
    assert np.allclose(exact[:2], x[:2], atol=1e-3) and np.allclose(exact[2:], x[2:], atol=0.02)
    assert np.allclose(np.array(f(exact)).ravel(), 0.0, atol=1e-12)


def test_cstr_time_is_in_seconds() -> None:
    """At the design point the reactor is stable with time constants of 30 s to 5 min."""
    model = build("cstr")
    x, u, p = nominal(model)
    f = _cstr_state_function(model, u, p)
    exact = np.array(ca.rootfinder("steady", "newton", f)(x)).ravel()
    eig = np.linalg.eigvals(np.array(ca.Function("A", [model.x], [ca.jacobian(f(model.x), model.x)])(exact)))
    assert np.all(eig.real < 0)
    assert 20.0 < min(1 / abs(eig.real)) and max(1 / abs(eig.real)) < 400.0


# Chain ------------------------------------------------------------------------
def _chain_rest_by_energy(masses: int) -> np.ndarray:
    """Free-mass positions minimizing spring + gravity energy (end at (SPAN, 0, 0))."""
    pos = ca.SX.sym("pos", 3, masses)
    points = [ca.DM.zeros(3)] + [pos[:, i] for i in range(masses)] + [ca.DM([chain.SPAN, 0, 0])]
    energy = sum(0.5 * chain.SPRING * (ca.norm_2(b - a) - chain.REST_LENGTH) ** 2
                 for a, b in zip(points[:-1], points[1:]))
    energy += chain.MASS * G * ca.sum2(pos[2, :])
    solver = ca.nlpsol("rest", "ipopt", {"x": ca.vec(pos), "f": energy},
                       {"print_time": False, "ipopt": {"print_level": 0, "sb": "yes", "tol": 1e-12}})
    guess = np.array([[(i + 1) / (masses + 1), 0.0, -1.0] for i in range(masses)]).ravel()
    result = solver(x0=guess)
    assert solver.stats()["success"]
    return np.array(result["x"]).reshape(masses, 3)


@pytest.mark.parametrize("masses", [1, chain.DEFAULT_MASSES, 6])
def test_chain_nominal_is_the_rest_configuration(masses: int) -> None:
    model = build(f"chain:{masses}")
    x, u, p = nominal(model)
    assert np.allclose(ode_at(model, x, u, p), 0.0, atol=1e-10)
    positions = np.array([x[6 * i: 6 * i + 3] for i in range(masses)])
    assert np.allclose(positions, _chain_rest_by_energy(masses), atol=1e-6)
    assert np.allclose(x[-3:], [chain.SPAN, 0.0, 0.0]) and np.all(x[2:-3:6] < 0)  # hangs below the anchor


def test_chain_energy_is_conserved_with_the_end_at_rest() -> None:
    model = build("chain")
    s = symbols(model)
    masses = chain.DEFAULT_MASSES
    points = [ca.DM.zeros(3)] + [ca.vertcat(s[f"x{i}"], s[f"y{i}"], s[f"z{i}"]) for i in range(1, masses + 1)]
    points.append(ca.vertcat(s["x_end"], s["y_end"], s["z_end"]))
    springs = sum(0.5 * s["D"] * (ca.norm_2(b - a) - s["L"]) ** 2 for a, b in zip(points[:-1], points[1:]))
    kinetic = sum(0.5 * s["m"] * (s[f"vx{i}"] ** 2 + s[f"vy{i}"] ** 2 + s[f"vz{i}"] ** 2)
                  for i in range(1, masses + 1))
    gravity = sum(s["m"] * G * s[f"z{i}"] for i in range(1, masses + 1))
    rate = function(model, time_derivative(model, kinetic + springs + gravity))
    for x, _, p in random_points(model, 50):
        assert float(rate(x, np.zeros(3), p)) == pytest.approx(0.0, abs=1e-10)


def test_chain_ranges_keep_neighbours_apart() -> None:
    """On the whole sampling box, consecutive points (anchor included) stay apart:
    the closest two corner-to-corner boxes can come is at least 30 % of the rest distance."""
    import math

    for masses in (1, chain.DEFAULT_MASSES, chain.MAX_MASSES):
        model = build(f"chain:{masses}")
        boxes = [((0.0, 0.0), (0.0, 0.0), (0.0, 0.0))]  # the anchor
        rest = [(0.0, 0.0, 0.0)]
        by_name = {v.name: v for v in model.states}
        labels = [str(i) for i in range(1, masses + 1)] + ["_end"]
        for label in labels:
            vs = [by_name[f"{axis}{label}"] for axis in "xyz"]
            boxes.append(tuple((v.lo, v.hi) for v in vs))
            rest.append(tuple(v.nominal_value for v in vs))
        for (box_a, box_b), (ra, rb) in zip(zip(boxes, boxes[1:]), zip(rest, rest[1:])):
            gap = math.sqrt(sum(max(0.0, lb - ha, la - hb) ** 2 for (la, ha), (lb, hb) in zip(box_a, box_b)))
            assert gap >= 0.3 * math.dist(ra, rb) - 1e-12
