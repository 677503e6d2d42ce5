"""Call the generated MPC of a folder from Python with numpy.

``ctrl = mpcgen.load(DIR)`` compiles (cached) the folder's controller, model and QP
solver together with cffi and returns a :class:`Controller`; ``ctrl.step(x)`` returns
the control. The C controller keeps its memory in static storage, so every
Controller of one folder shares one controller: creating one resets it (init).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codegen.manifest import options_of, read_manifest
from ..codegen.mpc_program import ControllerInterface
from ..errors import EvaluationError
from .build import build

_DTYPES = {"double": np.float64, "float": np.float32}

#: enum PREFIX_mpc_status, in order
STATUS = ("ok", "max_iter", "qp_failure", "nonfinite_input", "bad_argument", "model_failure")
_STATS = ("status", "sqp_iterations", "qp_iterations", "qp_iterations_total", "qp_status", "res_stat", "res_eq",
          "res_ineq", "mu", "cost", "step", "reused")
_SETTINGS = ("rt_iterations", "rt_reuse", "rt_reuse_step", "rt_corrector", "rt_sigma", "qp_max_iter", "sqp_max_iter",
             "shift", "sqp_tol", "levenberg_marquardt", "qp_tol", "qp_tol_comp")


class Controller:
    """The generated nonlinear MPC of a folder, compiled and bound through cffi."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        built = build(self.folder, "controller")
        self.interface = ControllerInterface.from_json(self.manifest["interfaces"]["controller"])
        self.options = options_of(self.manifest)
        i = self.interface
        self.N, self.nx, self.nu, self.np, self.ny = i.N, i.nx, i.nu, i.np, i.ny
        self.ts = self.options.ts
        self.dtype = _DTYPES[i.c_type]
        self._ffi, self._lib = built.ffi, built.lib
        self._pre = f"{i.prefix}_mpc"
        self._array = f"{i.prefix}_real[]"
        self._u = np.zeros(self.nu, dtype=self.dtype)
        self.last_status = "ok"
        self._check(self._fn("init")(), "init")

    # -- helpers ---------------------------------------------------------------------
    def _fn(self, name: str):
        return getattr(self._lib, f"{self._pre}_{name}")

    def _ptr(self, a: np.ndarray):
        """A C pointer to ``a`` that keeps ``a`` alive as long as the pointer lives."""
        return self._ffi.from_buffer(self._array, a)

    def _vector(self, value, n: int, label: str) -> np.ndarray:
        a = np.ascontiguousarray(np.asarray(value, dtype=self.dtype).reshape(-1))
        if a.size != n:
            raise EvaluationError(f"{label} has {a.size} entries, the controller needs {n}")
        return a

    def _check(self, status: int, what: str) -> None:
        name = STATUS[status] if 0 <= status < len(STATUS) else f"status {status}"
        if name in ("bad_argument", "nonfinite_input"):
            raise EvaluationError(f"{self._pre}_{what}: {name.replace('_', ' ')}")

    def _control(self, name: str, x0) -> np.ndarray:
        x = self._vector(x0, self.nx, "x0")
        status = self._fn(name)(self._ptr(x), self._ptr(self._u))
        self.last_status = STATUS[status]
        if self.last_status == "bad_argument":
            raise EvaluationError(f"{self._pre}_{name}: bad argument")
        return self._u.astype(float)

    def reset(self) -> None:
        """init again: settings, references, weights and parameters back to their generated
        defaults and the initial guess at x_ref, as a freshly loaded controller."""
        self._check(self._fn("init")(), "init")
        self.last_status = "ok"

    # -- the real-time iteration -------------------------------------------------------
    def prepare(self) -> str:
        """Shift and linearize (before the next state arrives). Returns the status name."""
        return STATUS[self._fn("prepare")()]

    def feedback(self, x0) -> np.ndarray:
        """Insert the measured state, solve one QP, return u0 (status in ``last_status``)."""
        return self._control("feedback", x0)

    def step(self, x0) -> np.ndarray:
        """feedback, then prepare for the next sample: one real-time iteration."""
        return self._control("step", x0)

    def __call__(self, x0) -> np.ndarray:
        return self.step(x0)

    def solve(self, x0) -> np.ndarray:
        """SQP iterated to convergence from the current guess."""
        return self._control("solve", x0)

    # -- data -------------------------------------------------------------------------
    def start(self, x0) -> str:
        """The documented start: initial guess from x0, SQP to convergence, first prepare
        (offline, before the real-time loop). Returns the solve's status name."""
        x = self._vector(x0, self.nx, "x0")
        status = self._fn("start")(self._ptr(x))
        self._check(status, "start")
        self.last_status = STATUS[status]
        return self.last_status

    def set_initial_guess(self, x0) -> None:
        x = self._vector(x0, self.nx, "x0")
        self._check(self._fn("set_initial_guess")(self._ptr(x)), "set_initial_guess")

    def _set_stage(self, name: str, stage: int | None, value, n: int) -> None:
        v = self._vector(value, n, name)
        self._check(self._fn(f"set_{name}")(-1 if stage is None else stage, self._ptr(v)), f"set_{name}")

    def set_x_ref(self, value, stage: int | None = None) -> None:
        """State reference of one stage (0..N), or of every stage (stage None)."""
        self._set_stage("x_ref", stage, value, self.nx)

    def set_u_ref(self, value, stage: int | None = None) -> None:
        self._set_stage("u_ref", stage, value, self.nu)

    def set_y_ref(self, value, stage: int | None = None) -> None:
        self._set_stage("y_ref", stage, value, self.ny)

    def set_p(self, value, stage: int | None = None) -> None:
        self._set_stage("p", stage, value, self.np)

    def set_weights(self, Q=None, R=None, P=None, W=None, stage: int | None = None) -> None:
        """Weights (a 1-D array means a diagonal; None leaves one unchanged) of every stage,
        or of one stage 0..N-1 (then P, the terminal weight, must be None)."""
        mats = []
        for value, n, label in ((Q, self.nx, "Q"), (R, self.nu, "R"), (P, self.nx, "P"), (W, self.ny, "W")):
            if value is None:
                mats.append(self._ffi.NULL)
                continue
            a = np.asarray(value, dtype=float)
            a = np.diag(a) if a.ndim == 1 else a
            mats.append(self._ptr(self._vector(a, n * n, label)))
        if stage is None:
            self._check(self._fn("set_weights")(*mats), "set_weights")
            return
        if P is not None:
            raise EvaluationError("P is the terminal weight: set it without a stage")
        self._check(self._fn("set_stage_weights")(stage, mats[0], mats[1], mats[3]), "set_stage_weights")

    @property
    def settings(self) -> dict:
        s = self._ffi.new(f"struct {self._pre}_settings *")
        self._fn("get_settings")(s)
        return {k: getattr(s, k) for k in _SETTINGS}

    def configure(self, **changes) -> None:
        """Change settings by name (see the header's settings struct)."""
        s = self._ffi.new(f"struct {self._pre}_settings *")
        self._fn("get_settings")(s)
        for k, v in changes.items():
            if k not in _SETTINGS:
                raise EvaluationError(f"unknown controller setting {k!r}; known: {', '.join(_SETTINGS)}")
            setattr(s, k, v)
        self._check(self._fn("set_settings")(s), "set_settings")

    # -- results ----------------------------------------------------------------------
    def trajectory(self) -> tuple[np.ndarray, np.ndarray]:
        """Predicted (X, U): (N+1) x nx states and N x nu inputs."""
        X = np.zeros((self.N + 1, self.nx), dtype=self.dtype)
        U = np.zeros((self.N, self.nu), dtype=self.dtype)
        self._fn("get_trajectory")(self._ptr(X), self._ptr(U))
        return X.astype(float), U.astype(float)

    @property
    def stats(self) -> dict:
        s = self._ffi.new(f"struct {self._pre}_stats *")
        self._fn("get_stats")(s)
        out = {k: getattr(s, k) for k in _STATS}
        out["status"] = STATUS[out["status"]]
        return out


def load(folder: str | Path) -> Controller:
    """Compile (cached) and bind the controller of the generated folder ``folder``."""
    return Controller(folder)
