"""Chain of point masses connected by springs, one end fixed, the other end moved.

The benchmark of Wirsching, Bock and Diehl (2006): point masses in 3D hang in a row
between an anchor fixed at the origin and an end point whose VELOCITY is controlled.
With M free masses (the build argument ``masses``) there are M + 1 springs; point 0 is
the anchor p_0 = 0 and point M + 1 the controlled end p_end.

State  x = (p_1, v_1, p_2, v_2, ..., p_M, v_M, p_end), nx = 6 M + 3
    p_i = (x_i, y_i, z_i) positions [m], v_i = (vx_i, vy_i, vz_i) velocities [m/s]
Input  u = (ux, uy, uz), velocity of the end point [m/s]

Each spring follows Hooke's law with rest length L along the line between its ends;
the force it exerts on its lower-index end, for d = p_{i+1} - p_i, is

    F(d) = D (1 - L / |d|) d,        |d| = sqrt(d_x^2 + d_y^2 + d_z^2),

so that, with gravity g = (0, 0, -9.81) m/s^2,

    dp_i/dt   = v_i                                          i = 1..M
    dv_i/dt   = (F(p_{i+1} - p_i) - F(p_i - p_{i-1})) / m + g
    dp_end/dt = u

No damping. F is smooth wherever neighbouring masses do not coincide; the operating
ranges keep them apart: x_i stays within 0.4 slot widths s = SPAN / (M + 1) of its slot
i s, so neighbours are at least 0.2 s apart everywhere in the sampled box.

The nominal state is the chain at rest, hanging between the anchor and the end point
(SPAN, 0, 0) with the nominal parameters: see :func:`rest_positions`. The springs are
soft for the weights they carry, so the chain hangs deep: about 1.5 m below the anchor
for 1 mass, 6 m for the default 3 and 62 m for 12 (the sag grows like M^2). Each z_i
ranges over [1.5 z_i - 0.5, 0.5 z_i + 0.5] m around its rest value z_i.

Values: m = 0.03 kg, D = 0.1 N/m, L = 0.033 m, end velocity bound 1 m/s and sample
time Ts = 0.2 s, after L. Wirsching, H. G. Bock, M. Diehl, "Fast NMPC of a chain of
mass points connected by springs", IEEE International Conference on Control
Applications, 2006, and C. Kirches, L. Wirsching, H. G. Bock, J. P. Schloeder,
"Efficient direct multiple shooting for nonlinear model predictive control on long
horizons", Journal of Process Control, 2012. m, D and L are parameters (+-20 %).
"""

from __future__ import annotations

import math
from typing import Union

import casadi as ca
import numpy as np

from ...errors import ModelError
from ..model import Model, Var, var

TS = 0.2
"""Default sample time [s]."""

MIN_MASSES, MAX_MASSES, DEFAULT_MASSES = 1, 12, 3
"""Allowed number of free masses: nx = 6 M + 3 runs from 9 to 75; the default has nx = 21."""

BENCH_SIZES = (1, 2, 3, 5, 8, 12)
"""Sizes the benchmark sweeps, from the smallest to the largest allowed."""

MASS, SPRING, REST_LENGTH = 0.03, 0.1, 0.033
"""Nominal mass of each point [kg], spring constant [N/m] and spring rest length [m]."""

GRAVITY = 9.81
"""Gravitational acceleration [m/s^2], acting along -z."""

SPAN = 1.0
"""Nominal end point (SPAN, 0, 0) [m]."""

REFERENCE = (
    "L. Wirsching, H. G. Bock, M. Diehl, 'Fast NMPC of a chain of mass points connected by springs', "
    "IEEE CCA, 2006; C. Kirches, L. Wirsching, H. G. Bock, J. P. Schloeder, 'Efficient direct multiple "
    "shooting for nonlinear model predictive control on long horizons', J. Process Control, 2012"
)

Vec3 = list[Union[ca.SX, float]]
"""A 3-vector of scalars (symbolic, or the anchor's zeros)."""


def state_count(masses: int) -> int:
    """nx of a chain with ``masses`` free masses: 6 per free mass plus the end position."""
    return 6 * masses + 3


def spring_force(d: Vec3, spring: ca.SX, rest_length: ca.SX) -> Vec3:
    """Hooke force D (1 - L/|d|) d on the lower-index end of a spring spanning d."""
    length = ca.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
    scale = spring * (1 - rest_length / length)
    return [scale * component for component in d]


def rest_positions(
    masses: int, mass: float = MASS, spring: float = SPRING, rest_length: float = REST_LENGTH, span: float = SPAN
) -> list[tuple[float, float, float]]:
    """Positions of the free masses of the chain at rest between 0 and (span, 0, 0).

    In equilibrium every spring j = 1..M+1 (from point j-1 to point j) carries a tension
    vector t_j = (H, 0, V_j) with the same horizontal part H, and each free mass adds
    its weight w = m g: V_j = -M w / 2 + (j - 1) w (symmetric about the middle). The
    spring then spans d_j = t_j (1/D + L/|t_j|). H is the unique root of the increasing
    function sum_j d_j,x - span, found by bisection; the positions are partial sums.
    """
    weight = mass * GRAVITY
    verticals = [(-masses / 2 + j) * weight for j in range(masses + 1)]

    def spans(h: float) -> list[tuple[float, float]]:
        factors = [1 / spring + rest_length / math.hypot(h, v) for v in verticals]
        return [(h * f, v * f) for v, f in zip(verticals, factors)]

    lo, hi = 0.0, spring * span
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if sum(dx for dx, _ in spans(mid)) < span:
            lo = mid
        else:
            hi = mid
    positions, x, z = [], 0.0, 0.0
    for dx, dz in spans(0.5 * (lo + hi))[:masses]:
        x, z = x + dx, z + dz
        positions.append((x, 0.0, z))
    return positions


def _point_vars(label: str, nominal: tuple[float, float, float], reach: float) -> list[Var]:
    """Position variables of one point, each within +-reach of its rest coordinate."""
    return [
        var(f"{axis}{label}", c - reach, c + reach, nominal=c, unit="m") for axis, c in zip("xyz", nominal)
    ]


def _reaches(points: list[tuple[float, float, float]]) -> list[float]:
    """Sampling half-width of every point but the anchor: 0.2 of its shortest rest distance
    to a neighbour. Each point then moves at most 0.2 sqrt(3) < 0.35 of that distance, so
    neighbours stay at least 0.3 of their rest distance apart and no spring degenerates."""
    gaps = [math.dist(a, b) for a, b in zip(points, points[1:])]
    return [0.2 * min(gaps[i - 1], gaps[i] if i < len(gaps) else gaps[i - 1]) for i in range(1, len(points))]


def _velocity_vars(label: str) -> list[Var]:
    return [var(f"v{axis}{label}", -1.0, 1.0, nominal=0.0, unit="m/s") for axis in "xyz"]


def chain(masses: int | None = None) -> Model:
    """Chain with ``masses`` free masses (default 3): nx = 6 M + 3, nu = 3, np = 3 (m, D, L).

    The default build is named ``chain``; an explicit size M is named ``chain{M}``.
    """
    name = "chain" if masses is None else f"chain{masses}"
    count = DEFAULT_MASSES if masses is None else masses
    if isinstance(count, bool) or not isinstance(count, int) or not MIN_MASSES <= count <= MAX_MASSES:
        raise ModelError(f"chain: masses must be an integer from {MIN_MASSES} to {MAX_MASSES}, got {count!r}")
    rest = rest_positions(count)
    reach = _reaches([(0.0, 0.0, 0.0), *rest, (SPAN, 0.0, 0.0)])

    states: list[Var] = []
    points: list[Vec3] = [[0.0, 0.0, 0.0]]  # the anchor
    velocities: list[Vec3] = []
    for i in range(1, count + 1):
        position, velocity = _point_vars(str(i), rest[i - 1], reach[i - 1]), _velocity_vars(str(i))
        states += position + velocity
        points.append([v.symbol for v in position])
        velocities.append([v.symbol for v in velocity])
    end = _point_vars("_end", (SPAN, 0.0, 0.0), reach[-1])
    states += end
    points.append([v.symbol for v in end])

    inputs = [var(f"u{axis}", -1.0, 1.0, nominal=0.0, unit="m/s") for axis in "xyz"]
    params = (
        var("m", 0.8 * MASS, 1.2 * MASS, nominal=MASS, unit="kg"),
        var("D", 0.8 * SPRING, 1.2 * SPRING, nominal=SPRING, unit="N/m"),
        var("L", 0.8 * REST_LENGTH, 1.2 * REST_LENGTH, nominal=REST_LENGTH, unit="m"),
    )
    m, spring, rest_length = (p.symbol for p in params)

    forces = [
        spring_force([b - a for a, b in zip(points[j], points[j + 1])], spring, rest_length)
        for j in range(count + 1)
    ]  # forces[j]: spring between point j and point j+1, acting on point j
    ode: list[ca.SX] = []
    for i in range(1, count + 1):
        acceleration = [(forces[i][k] - forces[i - 1][k]) / m for k in range(3)]
        acceleration[2] = acceleration[2] - GRAVITY
        ode += velocities[i - 1] + acceleration
    ode += [u.symbol for u in inputs]
    return Model(
        name,
        states=tuple(states),
        inputs=tuple(inputs),
        ode=ode,
        parameters=params,
        description=f"chain of {count} free masses between a fixed anchor and a velocity-controlled end",
        reference=REFERENCE,
    )


END_TOLERANCE = 0.05
"""Radius [m] of the soft terminal ball around the end point's target."""


def ocp(model: Model):
    """Bring the chain to rest with its controlled end at (SPAN, 0, 0), the nominal rest state.

    The reference is the chain at rest (:func:`rest_positions`, nominal parameters) with
    zero end velocity u_ref = 0. Q weights the end point 10 per m^2, the free masses'
    positions 1 per m^2 and their velocities 1 per (m/s)^2: the end must reach its target
    precisely, the swinging masses are damped through it. R = 0.1 per (m/s)^2 of end
    velocity, which is bounded by 1 m/s per axis (Wirsching et al. 2006). N = 20 at
    Ts = 0.2 s (4 s ahead: the slowest swing of the chain at rest takes 2.5 s with 1
    mass, 4.5 s with 3 and 14 s with 12, so long chains need a longer N). A
    soft terminal constraint asks the end point to be within END_TOLERANCE of its
    target at the end of the horizon: h_N = |p_end - target|^2 - END_TOLERANCE^2 <= 0.
    ``model`` is a built :func:`chain` of any size; its symbols are used by h_N.
    """
    from ..ocp import Ocp

    masses = (model.nx - 3) // 6
    x_ref = np.array([v.nominal_value for v in model.states])
    end = model.x[-3:] - ca.DM(x_ref[-3:])
    return Ocp(
        N=20,
        Q=np.array([1.0] * (6 * masses) + [10.0] * 3),
        R=np.full(3, 0.1),
        x_ref=x_ref,
        u_ref=np.zeros(3),
        u_lo=np.full(3, -1.0),
        u_hi=np.full(3, 1.0),
        h_terminal=ca.sumsqr(end) - END_TOLERANCE**2,
    )


def scenario(model: Model):
    """From a perturbed chain back to rest, 100 samples (20 s).

    The chain starts at its rest positions with the end point displaced by
    (-0.2, 0.3, 0.2) m and every free mass moving sideways at 0.3 m/s (along y).
    """
    from ..scenario import Scenario

    x0 = [v.nominal_value for v in model.states]
    masses = (model.nx - 3) // 6
    for i in range(masses):
        x0[6 * i + 4] += 0.3  # vy of mass i + 1
    for k, shift in enumerate((-0.2, 0.3, 0.2)):
        x0[6 * masses + k] += shift
    return Scenario("perturbed chain (end point displaced, masses swinging sideways) back to rest",
                    x0=tuple(x0), steps=100)
