"""What verification found: one row per (function, output, method), and the table of them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    """Worst error of one output of one compiled function against one reference, over all points."""

    function: str      # the C function, e.g. "pendulum_dF_du" or "robot_arm_ocp_y"
    output: str        # x_next, A, B, P (model); value, Jx, Ju (OCP functions)
    method: str        # casadi, central or complex
    max_abs: float
    max_scaled: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(self.max_scaled <= self.tolerance)


@dataclass(frozen=True)
class Report:
    model: str
    precision: str
    points: int
    rows: tuple[Row, ...]
    meanings: dict[str, str] = field(default_factory=dict, compare=False)   # function -> what it computes

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def functions(self) -> tuple[str, ...]:
        """The C functions checked, in report order."""
        return tuple(dict.fromkeys(r.function for r in self.rows))

    def failures(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if not r.passed)

    def table(self) -> str:
        head = f"{'function / output':<28} {'method':<8} {'max abs err':>12} {'max scaled':>12} {'tolerance':>10}  result"
        lines = [f"verify {self.model} ({self.precision}): nominal point + {self.points - 1} random points",
                 head, "-" * len(head)]
        for fn in self.functions:
            meaning = self.meanings.get(fn, "")
            lines.append(f"{fn}" + (f"  ({meaning})" if meaning else ""))
            for r in (r for r in self.rows if r.function == fn):
                if r.output == "status":
                    lines.append(f"  status: {r.max_abs:.0f} of {self.points} points returned a non-OK status "
                                 "where CasADi evaluates finitely  FAIL")
                    continue
                lines.append(f"  {r.output:<26} {r.method:<8} {r.max_abs:>12.3e} {r.max_scaled:>12.3e} "
                             f"{r.tolerance:>10.1e}  {'ok' if r.passed else 'FAIL'}")
        checks = len(self.rows)
        if self.passed:
            lines.append(f"PASSED: {len(self.functions)} functions, {checks} checks")
        else:
            bad = ", ".join(dict.fromkeys(f"{r.function} {r.output}" for r in self.failures()))
            lines.append(f"FAILED: {len(self.failures())} of {checks} checks ({bad})")
        return "\n".join(lines)
