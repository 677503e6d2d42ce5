"""Call the generated extended Kalman filter of a folder from Python with numpy.

``ekf = mpcgen.load_ekf(DIR)`` compiles (cached) the folder's model and filter with
cffi and returns an :class:`Ekf`. The C filter keeps its memory in static storage, so
every Ekf of one folder in one process shares one filter: ``init`` starts it over.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codegen.manifest import read_manifest
from ..errors import BuildError, EvaluationError
from .build import build

_DTYPES = {"double": np.float64, "float": np.float32}

#: enum PREFIX_ekf_status, in order
STATUS = ("ok", "rejected", "nonfinite_input", "model_failure", "bad_argument", "not_initialized")


class Ekf:
    """The generated EKF of a folder, compiled and bound through cffi (the shipped build)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        data = self.manifest["interfaces"].get("ekf")
        if data is None:
            raise BuildError(f"{self.folder}: has no EKF (the model declares no outputs with measurement noise); "
                             "give the model outputs and measurement_noise and regenerate")
        built = build(self.folder, "shipped")
        self.nx, self.nu, self.np, self.ny = data["nx"], data["nu"], data["np"], data["ny"]
        self.outputs = tuple(data["outputs"])
        self.dtype = _DTYPES[data["c_type"]]
        self._ffi, self._lib = built.ffi, built.lib
        self._pre = data["prefix"]
        self._array = f"{data['model_prefix']}_real[]"
        self.p_nominal = np.array([v["nominal"] for v in self.manifest["model"]["parameters"]])
        self.last_status = "not_initialized"

    def _fn(self, name: str):
        return getattr(self._lib, f"{self._pre}_{name}")

    def _vector(self, value, n: int, label: str) -> np.ndarray:
        with np.errstate(over="ignore"):   # 1e300 in a float filter: Inf, which the C rejects
            a = np.ascontiguousarray(np.asarray(value, dtype=self.dtype).reshape(-1))
        if a.size != n:
            raise EvaluationError(f"{label} has {a.size} entries, the EKF needs {n}")
        return a if n else np.zeros(1, dtype=self.dtype)

    def _ptr(self, a: np.ndarray):
        return self._ffi.from_buffer(self._array, a)

    def _status(self, code: int) -> str:
        self.last_status = STATUS[code] if 0 <= code < len(STATUS) else f"status {code}"
        return self.last_status

    def _p(self, p) -> np.ndarray:
        return self._vector(self.p_nominal if p is None else p, self.np, "p")

    def init(self, x0, P0=None) -> str:
        """Start from x0 with covariance P0 (None: the generated default). Returns the status name."""
        x = self._vector(x0, self.nx, "x0")
        P = self._ffi.NULL if P0 is None else self._ptr(self._vector(P0, self.nx * self.nx, "P0"))
        return self._status(self._fn("init")(self._ptr(x), P))

    def predict(self, u, p=None) -> str:
        """x = F(x, u, p), P = A P A^T + Q. Returns the status name."""
        return self._status(self._fn("predict")(self._ptr(self._vector(u, self.nu, "u")), self._ptr(self._p(p))))

    def update(self, y, u, p=None) -> str:
        """Sequential scalar updates with y (NaN entries are skipped). Returns the status name."""
        y = self._vector(y, self.ny, "y")
        return self._status(self._fn("update")(self._ptr(y), self._ptr(self._vector(u, self.nu, "u")),
                                               self._ptr(self._p(p))))

    def set_gate(self, threshold: float) -> str:
        """Gate on each measurement's normalized innovation squared (<= 0: off)."""
        return self._status(self._fn("set_gate")(float(threshold)))

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """The estimate x (nx,) and its covariance P (nx, nx)."""
        x = np.zeros(self.nx, dtype=self.dtype)
        P = np.zeros(self.nx * self.nx, dtype=self.dtype)
        self._fn("get_state")(self._ptr(x), self._ptr(P))
        return x.astype(float), P.reshape(self.nx, self.nx).astype(float)

    @property
    def x(self) -> np.ndarray:
        return self.state()[0]

    @property
    def P(self) -> np.ndarray:
        return self.state()[1]

    @property
    def stats(self) -> dict:
        """The last update: "nis" and "accepted" per measurement, "used"."""
        s = self._ffi.new(f"struct {self._pre}_stats *")
        self._fn("get_stats")(s)
        return {"nis": np.array(list(s.nis), float), "accepted": np.array(list(s.accepted), bool), "used": s.used}


def load_ekf(folder: str | Path) -> Ekf:
    """Compile (cached) and bind the EKF of the generated folder ``folder``."""
    return Ekf(folder)
