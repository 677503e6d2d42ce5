"""Output feedback: plant -> noisy sensors -> the generated EKF -> the generated MPC.

What ``mpcgen simulate DIR --estimator ekf`` runs. The plant is the model's ODE
integrated accurately (:func:`~mpcgen.runs.simulate.plant_step`) with the declared
process noise added per sample; the sensors read y = h(x, u, p) plus the declared
measurement noise. Each sample: the EKF corrects with y, the controller acts on the
estimate, the EKF predicts with the applied input. Noise is drawn from one seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import casadi as ca
import numpy as np

from ..codegen.manifest import read_manifest
from ..compiled.controller_binding import load
from ..compiled.ekf_binding import load_ekf
from ..errors import OptionsError
from ..problem.model import Model
from ..problem.ocp import CheckedOcp
from .output import write_atomically
from .plot import _matplotlib, check_plot_path
from .closed_loop import folder_problem
from .simulate import plant_events, plant_step


@dataclass(frozen=True)
class EstimatedLoop:
    """True states, estimates and their standard deviations (after each update), inputs, statuses."""

    model: Model
    ocp: CheckedOcp
    ts: float
    X: np.ndarray          # steps+1 x nx, true
    X_hat: np.ndarray      # steps x nx, the estimate the controller used
    x_hat0: np.ndarray     # the filter's start, with covariance P0
    P0: np.ndarray
    std: np.ndarray        # steps x nx, sqrt(diag P) of that estimate
    U: np.ndarray          # steps x nu
    Y: np.ndarray          # steps x ny, the measurements the filter got
    ekf_statuses: tuple[str, ...]
    controller_statuses: tuple[str, ...]
    description: str

    @property
    def inside(self) -> np.ndarray:
        """Per state: the share of samples whose estimate is within 2 sigma of the truth."""
        return np.mean(np.abs(self.X[:-1] - self.X_hat) <= 2 * self.std, axis=0)

    def summary(self) -> str:
        error = np.abs(self.X[-1] - self.ocp.x_ref)
        worst = int(np.argmax(error))
        inside = self.inside
        counts = lambda s: ", ".join(f"{k} {s.count(k)}" for k in dict.fromkeys(s))  # noqa: E731
        names = [v.name for v in self.model.states]
        return "\n".join([
            f"closed loop with the EKF: {self.description}",
            f"  {len(self.U)} steps of {self.ts:g} s; plant: RK4 with fine substeps plus the declared process noise; "
            f"sensors: {', '.join(o.name for o in self.model.outputs)} with the declared noise",
            f"  final state error vs x_ref: max {error.max():.3g} ({names[worst]})",
            f"  estimate within its 2 sigma band: {100 * np.mean(inside):.1f} % of samples and states "
            f"(worst {names[int(np.argmin(inside))]} {100 * inside.min():.1f} %; 95.4 % expected "
            "on average over runs, +-2 % in one run)",
            f"  final estimation error: max {np.max(np.abs(self.X[-2] - self.X_hat[-1]) / self.std[-1]):.2f} sigma",
            f"  EKF update status: {counts(list(self.ekf_statuses))}; controller status: "
            f"{counts(list(self.controller_statuses))}",
        ])


def run_estimated_loop(folder: str | Path, steps: int | None = None, x0=None, seed: int = 0,
                       substeps: int = 50, initial_spread: float = 0.02) -> EstimatedLoop:
    """The folder's controller on the folder's EKF's estimate (see the module docstring).

    The true start is the scenario's (or ``x0``); the filter starts from it displaced by
    a draw of its own initial covariance, diag((initial_spread * half range)^2).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if "ekf" not in manifest["interfaces"]:
        raise OptionsError(f"{folder}: has no EKF (the model declares no outputs with measurement noise); "
                           "simulate without --estimator, or give the model outputs and noise levels")
    if "controller" not in manifest["interfaces"]:
        raise OptionsError(f"{folder}: has no controller to close the loop with")
    model, ocp, options, scenario = folder_problem(folder)
    if x0 is None and scenario is None:
        raise OptionsError(f"{folder}: no scenario for {manifest['source']!r}; give the initial state (--x0)")
    x = np.asarray(scenario.x0 if x0 is None else x0, float).reshape(model.nx)
    n_steps = steps or (scenario.steps if scenario else 100)
    p = np.array([v.nominal_value for v in model.parameters])
    rng = np.random.default_rng(seed)
    ekf, ctrl = load_ekf(folder), load(folder)
    run = output_feedback(model, plant_step(model, options.ts, substeps), ctrl, ekf, x, p, n_steps, rng,
                          initial_spread=initial_spread)
    description = scenario.description if scenario and x0 is None else "from the given initial state"
    return EstimatedLoop(model, ocp, options.ts, run.X, run.X_hat, run.x_hat0, run.P0, run.std, run.U, run.Y,
                         run.ekf_statuses, run.controller_statuses, description)


@dataclass(frozen=True)
class OutputFeedback:
    """One output-feedback run: the truth, the estimates, inputs, measurements, statuses and
    the controller's time per step (EKF update + MPC step + EKF predict) [s]."""

    X: np.ndarray
    X_hat: np.ndarray
    x_hat0: np.ndarray
    P0: np.ndarray
    std: np.ndarray
    U: np.ndarray
    Y: np.ndarray
    ekf_statuses: tuple[str, ...]
    controller_statuses: tuple[str, ...]
    qp_iterations: np.ndarray
    step_time: np.ndarray
    start_status: str = "ok"


def output_feedback(model: Model, plant, ctrl, ekf, x0, p, steps: int, rng: np.random.Generator,
                    initial_spread: float = 0.02, disturbance=(), pushes=()) -> OutputFeedback:
    """Run plant -> noisy sensors -> ``ekf`` -> ``ctrl`` for ``steps`` samples from the true
    state ``x0`` with plant parameters ``p`` (``disturbance``: (k, p) changes from sample k
    on; ``pushes``: (k, dx) state jumps before sample k), the declared process and
    measurement noise drawn from ``rng``. The filter starts from x0 displaced by a draw of
    its initial covariance, diag((initial_spread * half range)^2); the controller is
    started from the filter's estimate. What ``simulate --estimator ekf`` and a campaign's
    samples with an EKF run."""
    import time

    x = np.asarray(x0, float).reshape(model.nx).copy()
    p = np.asarray(p, float).reshape(-1)
    changes, kicks = plant_events(model, disturbance, pushes)
    sensors = ca.Function("h", [model.x, model.u, model.p], [model.y])
    Lq = _root(model.process_noise, model.nx)
    Lr = _root(model.measurement_noise, model.ny)
    P0 = np.diag((initial_spread * np.array([(v.hi - v.lo) / 2 for v in model.states])) ** 2)
    x_hat0 = x + np.sqrt(np.diag(P0)) * rng.standard_normal(model.nx)
    ekf.init(x_hat0, P0)
    start_status = ctrl.start(ekf.x)
    u = np.array([v.nominal_value for v in model.inputs])
    X, X_hat, S, U, Y, ekf_status, ctrl_status, its, T = [x.copy()], [], [], [], [], [], [], [], []
    for k in range(steps):
        p = changes.get(k, p)
        if k in kicks:
            x = x + kicks[k]
            X[-1] = x.copy()
        y = np.array(sensors(x, u, p)).ravel() + Lr @ rng.standard_normal(model.ny)
        Y.append(y)
        t0 = time.perf_counter()
        ekf_status.append(ekf.update(y, u))
        x_hat, P = ekf.state()
        u = ctrl.step(x_hat)
        ekf.predict(u)
        T.append(time.perf_counter() - t0)
        X_hat.append(x_hat)
        S.append(np.sqrt(np.clip(np.diag(P), 0.0, None)))
        ctrl_status.append(ctrl.last_status)
        its.append(ctrl.stats["qp_iterations"])
        U.append(u)
        x = np.array(plant(x, u, p)).ravel() + Lq @ rng.standard_normal(model.nx)
        X.append(x.copy())
    return OutputFeedback(np.array(X), np.array(X_hat), x_hat0, P0, np.array(S), np.array(U), np.array(Y),
                          tuple(ekf_status), tuple(ctrl_status), np.array(its), np.array(T), start_status)


def _root(cov, n: int) -> np.ndarray:
    """A square root of a declared covariance (None: no noise)."""
    if cov is None:
        return np.zeros((n, n))
    w, v = np.linalg.eigh(np.array(cov))
    return v * np.sqrt(np.clip(w, 0.0, None))


def plot_estimated_loop(run: EstimatedLoop, path) -> Path:
    """PNG, PDF or SVG (by the extension): per state, the truth, the estimate and its 2 sigma
    band; and the inputs. Written atomically, drawn without pyplot (see :mod:`.plot`)."""
    path = check_plot_path(path)
    Figure, FigureCanvasAgg, _ = _matplotlib()
    m = run.model
    cols = 3 if m.nx > 4 else 2
    rows = -(-(m.nx + 1) // cols)
    fig = Figure(figsize=(4.2 * cols, 2.6 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2 * rows, cols, squeeze=False, gridspec_kw={"height_ratios": [2, 1] * rows})
    t = run.ts * np.arange(len(run.U))
    inside = run.inside
    for i, v in enumerate(m.states):
        top, low = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        top.plot(t, run.X[:-1, i], color="k", lw=1, label="true")
        top.plot(t, run.X_hat[:, i], color="tab:orange", lw=1, ls="--", label="estimate")
        top.set_title(f"{v.name} [{v.unit}] ({100 * inside[i]:.0f} % within 2σ)", fontsize=8)
        low.fill_between(t, -2 * run.std[:, i], 2 * run.std[:, i], color="tab:orange", alpha=0.3, lw=0,
                         label="± 2σ (the filter's P)")
        low.plot(t, run.X_hat[:, i] - run.X[:-1, i], color="tab:orange", lw=0.8, label="estimate - true")
        for ax in (top, low):
            ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6)
    axes[1, 0].legend(fontsize=6)
    top = axes[2 * (m.nx // cols), m.nx % cols]
    for j, v in enumerate(m.inputs):
        top.step(t, run.U[:, j], where="post", lw=1, label=v.name)
    top.set_title("inputs", fontsize=8)
    top.legend(fontsize=6)
    axes[2 * (m.nx // cols) + 1, m.nx % cols].axis("off")
    for k in range(m.nx + 1, rows * cols):
        axes[2 * (k // cols), k % cols].axis("off")
        axes[2 * (k // cols) + 1, k % cols].axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("time [s]", fontsize=8)
    fig.suptitle(f"{m.name}: MPC on the EKF's estimate, measuring {', '.join(o.name for o in m.outputs)}",
                 fontsize=9)
    fig.tight_layout()
    write_atomically(path, lambda name: fig.savefig(name, format=path.suffix.lower().lstrip("."), dpi=110))
    return path
