"""Uncertainty through the discrete model: the first-order covariance map against Monte-Carlo.

Along a nominal trajectory x̄_{k+1} = F(x̄_k, ū_k, p) the Jacobians A_k, B_k of the
discrete model (:mod:`mpcgen.derivatives.jacobians`, the expressions the C evaluates)
propagate a covariance to first order:

    Σ_{k+1} = A_k Σ_k A_kᵀ + B_k Σ_u B_kᵀ + Q.

The same initial spread, input noise and process noise are pushed through the
nonlinear F by sampling. Where the two spreads part by more than the sampling error
allows (and by at least ``tolerance``), the first-order map stops holding; the report
says which state, how much and from when.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca
import numpy as np

from ..derivatives.jacobians import reference_function
from ..problem.model import Model
from ..problem.options import CodegenOptions


@dataclass(frozen=True)
class Propagation:
    """Linear and sampled spread (standard deviations) per step and state."""

    ts: float
    states: tuple[str, ...]
    mean: np.ndarray          # steps+1 x nx: the nominal trajectory x̄
    std_linear: np.ndarray    # steps+1 x nx: sqrt(diag Σ_k)
    std_sampled: np.ndarray   # steps+1 x nx: spread of the Monte-Carlo samples
    mean_sampled: np.ndarray  # steps+1 x nx
    samples: int
    tolerance: float          # relative disagreement that counts as a break (at least the sampling error)

    @property
    def ratio(self) -> np.ndarray:
        """std_linear / std_sampled (1 where both are zero)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = self.std_linear / self.std_sampled
        return np.where((self.std_sampled == 0) & (self.std_linear == 0), 1.0, r)

    def breaks(self) -> list[tuple[int, int, float]]:
        """Per state that breaks: (state index, first step, linear/sampled ratio there), earliest first."""
        out = []
        bad = ~(np.abs(self.ratio - 1.0) <= self.tolerance)   # a NaN spread (samples that blew up) breaks too
        for i in range(bad.shape[1]):
            steps = np.flatnonzero(bad[:, i])
            if steps.size:
                out.append((i, int(steps[0]), float(self.ratio[steps[0], i])))
        return sorted(out, key=lambda b: (b[1], b[0]))

    def findings(self) -> list[str]:
        """One sentence per state where first order stops holding, or one saying it holds."""
        horizon = (self.mean.shape[0] - 1) * self.ts
        if not self.breaks():
            worst = float(np.max(np.abs(self.ratio - 1.0)))
            return [f"linear propagation holds over {horizon:g} s: every state's spread within {100 * worst:.0f} % "
                    f"of {self.samples} Monte-Carlo samples (tolerance {100 * self.tolerance:.0f} %)"]
        lines = []
        for i, k, r in self.breaks():
            how = f"underestimates {self.states[i]}'s spread by {100 * (1 - r):.0f} %" if r < 1 else (
                f"overestimates {self.states[i]}'s spread by {100 * (r - 1):.0f} %")
            lines.append(f"linear propagation {how} after {k * self.ts:.3g} s (step {k})")
        return lines

    def to_json(self) -> dict:
        return {"ts": self.ts, "states": list(self.states), "samples": self.samples, "tolerance": self.tolerance,
                "mean": self.mean.tolist(), "std_linear": self.std_linear.tolist(),
                "std_sampled": self.std_sampled.tolist(), "mean_sampled": self.mean_sampled.tolist(),
                "findings": self.findings()}


def propagate(model: Model, options: CodegenOptions, x0, U, cov0, cov_u=None, cov_w=None, p=None,
              samples: int = 1000, seed: int = 0, tolerance: float = 0.1) -> Propagation:
    """First-order covariance along (x0, U) against ``samples`` nonlinear Monte-Carlo runs.

    ``U`` is steps x nu (the nominal inputs), ``cov0`` the initial covariance, ``cov_u``
    the input noise and ``cov_w`` the per-sample process noise (default: the model's
    ``process_noise``, else none). A break is a relative disagreement of the spreads
    beyond ``tolerance`` and beyond four standard errors of the sampled spread.
    """
    nx, nu = model.nx, model.nu
    U = np.atleast_2d(np.asarray(U, float)).reshape(-1, nu)
    p = np.array([v.nominal_value for v in model.parameters] if p is None else p, float)
    cov0 = np.asarray(cov0, float)
    cov_u = np.zeros((nu, nu)) if cov_u is None else np.asarray(cov_u, float)
    if cov_w is None:
        cov_w = np.array(model.process_noise) if model.process_noise is not None else np.zeros((nx, nx))
    cov_w = np.asarray(cov_w, float)
    jac = reference_function(model, options)
    F = ca.Function("F", [model.x, model.u, model.p], [jac(model.x, model.u, model.p)[0]])
    Fmap = F.map(samples)

    def chol(c: np.ndarray) -> np.ndarray:   # a square root that also takes singular covariances
        w, v = np.linalg.eigh(0.5 * (c + c.T))
        return v * np.sqrt(np.clip(w, 0.0, None))

    rng = np.random.default_rng(seed)
    L0, Lu, Lw = chol(cov0), chol(cov_u), chol(cov_w)
    x = np.asarray(x0, float).reshape(nx)
    S = cov0.copy()
    X = x[:, None] + L0 @ rng.standard_normal((nx, samples))
    means, stds, mc_mean, mc_std = [x.copy()], [np.sqrt(np.diag(S))], [X.mean(axis=1)], [X.std(axis=1, ddof=1)]
    P = np.repeat(p[:, None], samples, axis=1)
    for u in U:
        x_next, A, B, _ = (m.full() for m in jac(x, u, p))
        S = A @ S @ A.T + B @ cov_u @ B.T + cov_w
        x = x_next.reshape(nx)
        Us = u[:, None] + Lu @ rng.standard_normal((nu, samples))
        X = Fmap(X, Us, P).full() + Lw @ rng.standard_normal((nx, samples))
        means.append(x.copy())
        stds.append(np.sqrt(np.clip(np.diag(S), 0.0, None)))
        mc_mean.append(X.mean(axis=1))
        mc_std.append(X.std(axis=1, ddof=1))
    tol = max(tolerance, 4.0 / np.sqrt(2.0 * (samples - 1)))
    return Propagation(options.ts, tuple(v.name for v in model.states), np.array(means), np.array(stds),
                       np.array(mc_std), np.array(mc_mean), samples, tol)
