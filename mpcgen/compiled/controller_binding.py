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
from ..problem.ocp import reference_problem, weight_problem
from .build import build

_DTYPES = {"double": np.float64, "float": np.float32}

#: enum PREFIX_mpc_status, in order
STATUS = ("ok", "max_iter", "qp_failure", "nonfinite_input", "bad_argument", "model_failure", "infeasible")
_STATS = ("status", "sqp_iterations", "qp_iterations", "qp_iterations_total", "qp_status", "res_stat", "res_eq",
          "res_ineq", "mu", "cost", "step", "reused")
_SETTINGS = ("rt_iterations", "rt_reuse", "rt_reuse_step", "rt_corrector", "rt_sigma", "qp_max_iter", "sqp_max_iter",
             "shift", "sqp_tol", "levenberg_marquardt", "qp_tol", "qp_tol_comp")
#: what a controller with hard rows adds to its settings and statistics
_HARD_SETTINGS = ("hard_tol",)
_HARD_STATS = ("hard_next",)


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
        #: hard state or constraint rows: their tolerance setting and next-sample violation
        self._hard = "hard_tol" in dict(self._ffi.typeof(f"struct {self._pre}_settings").fields)
        self._settings_names = _SETTINGS + (_HARD_SETTINGS if self._hard else ())
        self.last_status = "ok"
        self._check(self._fn("init")(), "init")

    # -- helpers ---------------------------------------------------------------------
    def _fn(self, name: str):
        return getattr(self._lib, f"{self._pre}_{name}")

    def _ptr(self, a: np.ndarray):
        """A C pointer to ``a`` that keeps ``a`` alive as long as the pointer lives."""
        return self._ffi.from_buffer(self._array, a)

    def _vector(self, value, n: int, label: str) -> np.ndarray:
        need = f"{label} must be {n} numbers (a list or numpy array)"
        if value is None or isinstance(value, (str, bytes)):
            raise EvaluationError(f"{need}, got {type(value).__name__}")
        try:
            a = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise EvaluationError(f"{need}, got {type(value).__name__}") from None
        a = a.reshape(-1)
        if a.size != n:
            raise EvaluationError(f"{label} has {a.size} entries, the controller needs {n}")
        return np.ascontiguousarray(a.astype(self.dtype))

    def _check(self, status: int, what: str, why: str | None = None) -> None:
        """Raise for a rejected argument, saying ``why`` when known."""
        name = STATUS[status] if 0 <= status < len(STATUS) else f"status {status}"
        if name in ("bad_argument", "nonfinite_input"):
            raise EvaluationError(f"{self._pre}_{what}: {why or name.replace('_', ' ')}")

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

    def _set_stage(self, name: str, stage: int | None, value, n: int, stages: int) -> None:
        v = self._vector(value, n, name)
        status = self._fn(f"set_{name}")(-1 if stage is None else stage, self._ptr(v))
        why = None
        if stage is not None and not (isinstance(stage, (int, np.integer)) and 0 <= stage < stages):
            why = f"stage {stage!r} is not one of 0..{stages - 1} (None: every stage)"
        elif not np.isfinite(v).all():
            why = f"{name} has NaN or Inf at index {int(np.flatnonzero(~np.isfinite(v))[0])}"
        elif name != "p":
            why = reference_problem(name, v.astype(float), limit=self.interface.magnitude_max)
        self._check(status, f"set_{name}", why)

    def set_x_ref(self, value, stage: int | None = None) -> None:
        """State reference of one stage (0..N), or of every stage (stage None)."""
        self._set_stage("x_ref", stage, value, self.nx, self.N + 1)

    def set_x_ref_trajectory(self, X_ref) -> None:
        """The state reference of every stage at once: (N+1) x nx, row k for stage k."""
        X = self._vector(X_ref, (self.N + 1) * self.nx, "X_ref ((N+1) x nx)")
        why = None
        if not np.isfinite(X).all():
            why = f"X_ref has NaN or Inf at stage {int(np.flatnonzero(~np.isfinite(X))[0]) // self.nx}"
        else:
            why = reference_problem("X_ref", X.astype(float), limit=self.interface.magnitude_max)
        self._check(self._fn("set_x_ref_trajectory")(self._ptr(X)), "set_x_ref_trajectory", why)

    def set_u_ref(self, value, stage: int | None = None) -> None:
        self._set_stage("u_ref", stage, value, self.nu, self.N)

    def set_y_ref(self, value, stage: int | None = None) -> None:
        self._set_stage("y_ref", stage, value, self.ny, self.N)

    def set_p(self, value, stage: int | None = None) -> None:
        self._set_stage("p", stage, value, self.np, self.N + 1)

    def set_u_bounds(self, lo, hi, stage: int | None = None) -> None:
        """Input bounds of one stage 0..N-1, or of every stage (stage None). Needs an OCP
        generated with ``runtime_bounds=True``."""
        self._set_bounds("u", self.nu, lo, hi, stage, range(self.N))

    def set_x_bounds(self, lo, hi, stage: int | None = None) -> None:
        """Soft state bounds of one stage 1..N, or of every stage (stage None): the bounds
        that were finite in the OCP finite, the others infinite (they have no rows)."""
        self._set_bounds("x", self.nx, lo, hi, stage, range(1, self.N + 1))

    def _set_bounds(self, kind: str, n: int, lo, hi, stage: int | None, stages: range) -> None:
        name = f"set_{kind}_bounds"
        if not self.interface.runtime_bounds:
            raise EvaluationError(f"{self._pre}_{name}: this controller's bounds are fixed at generation; "
                                  "generate it from an Ocp with runtime_bounds=True to set them per stage")
        a, b = self._vector(lo, n, f"{kind}_lo"), self._vector(hi, n, f"{kind}_hi")
        status = self._fn(name)(-1 if stage is None else stage, self._ptr(a), self._ptr(b))
        why = None
        if stage is not None and stage not in stages:
            why = f"stage {stage!r} is not one of {stages.start}..{stages.stop - 1} (None: every stage)"
        elif np.isnan(a).any() or np.isnan(b).any():
            why = f"{kind}_lo or {kind}_hi has NaN"
        elif (a > b).any():
            i = int(np.flatnonzero(a > b)[0])
            why = f"{kind}_lo[{i}] = {a[i]:g} > {kind}_hi[{i}] = {b[i]:g}"
        else:
            why = (f"each bound the OCP had finite must be finite and within {self.interface.magnitude_max:g}, "
                   "each it had infinite must stay infinite (it has no row in the QP)")
        self._check(status, name, why)

    def set_weights(self, Q=None, R=None, P=None, W=None, stage: int | None = None) -> None:
        """Weights (a 1-D array means a diagonal; None leaves one unchanged) of every stage,
        or of one stage 0..N-1 (then P, the terminal weight, must be None)."""
        mats, why = [], None
        for value, n, label in ((Q, self.nx, "Q"), (R, self.nu, "R"), (P, self.nx, "P"), (W, self.ny, "W")):
            if value is None:
                mats.append(self._ffi.NULL)
                continue
            a = self._vector(value, n if np.ndim(value) == 1 else n * n, label)
            a = np.ascontiguousarray(np.diag(a)) if np.ndim(value) == 1 else a
            mats.append(self._ptr(a))
            dense = a.astype(float).reshape(n, n)
            why = why or (f"{label} has NaN or Inf" if not np.isfinite(dense).all() else
                          weight_problem(label, dense, self.interface.magnitude_max))
        why = why or ("a weight has a nonzero entry where the OCP's weight had a structural zero (the "
                      "solver multiplies only the generation-time pattern; regenerate with that entry nonzero)")
        if stage is None:
            self._check(self._fn("set_weights")(*mats), "set_weights", why)
            return
        if P is not None:
            raise EvaluationError("P is the terminal weight: set it without a stage")
        if not (isinstance(stage, (int, np.integer)) and 0 <= stage < self.N):
            why = f"stage {stage!r} is not one of 0..{self.N - 1}"
        self._check(self._fn("set_stage_weights")(stage, mats[0], mats[1], mats[3]), "set_stage_weights", why)

    @property
    def settings(self) -> dict:
        s = self._ffi.new(f"struct {self._pre}_settings *")
        self._fn("get_settings")(s)
        return {k: getattr(s, k) for k in self._settings_names}

    def configure(self, **changes) -> None:
        """Change settings by name (see the header's settings struct)."""
        s = self._ffi.new(f"struct {self._pre}_settings *")
        self._fn("get_settings")(s)
        for k, v in changes.items():
            if k not in self._settings_names:
                raise EvaluationError(f"unknown controller setting {k!r}; known: {', '.join(self._settings_names)}")
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
        out = {k: getattr(s, k) for k in _STATS + (_HARD_STATS if self._hard else ())}
        out["status"] = STATUS[out["status"]]
        return out


def load(folder: str | Path) -> Controller:
    """Compile (cached) and bind the controller of the generated folder ``folder``."""
    return Controller(folder)
