"""Register-blocked unrolled matrix products: which loads and multiply-adds a tile has.

A product C[i][j] = sum over k of X(i, k) * Y(k, j), with the structural nonzeros of X
and Y known at generation time, is unrolled into tiles of a few rows by a few columns of
C. A tile keeps its entries of C in local accumulators and walks the inner index k once:
at each k it loads the X(i, k) of its rows and the Y(k, j) of its columns into locals and
does every multiply-add those locals serve. Each loaded value is then used by up to a
tile's width of products instead of one: on a Cortex-M4F, an entry-by-entry dot product
costs a load per multiply-add besides the multiply-add itself (about 2.5 instructions per
multiply-add); a 4 x 4 tile needs 8 loads for up to 16 (about 1.6). A tile's 16
accumulators and 8 operands fit the FPU's 32 single-precision registers.

A factor that is a constant of the model (a kinematic 1 or Ts in A) is no load: it is
written as a literal, and a constant 1 is no multiplication.

Python decides the tiles; the ``tiled`` macro of ``qp_macros.j2`` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Rows x columns of C per tile: 16 accumulators and 8 operands in registers.
TILE = (4, 4)


@dataclass(frozen=True)
class Factor:
    """One factor of a product: a load of ``expr`` (a C lvalue), or the constant ``value``."""

    expr: str | None = None
    value: float = 1.0


@dataclass(frozen=True)
class Mac:
    """``acc = term`` (first) or ``acc += term``; ``negate``: ``-`` / ``-=`` instead."""

    acc: str
    term: str
    first: bool
    negate: bool = False


@dataclass(frozen=True)
class Step:
    """The loads of one inner index and the multiply-adds they serve."""

    loads: tuple[tuple[str, str], ...]
    macs: tuple[Mac, ...]


@dataclass(frozen=True)
class Tile:
    accumulators: tuple[str, ...]
    steps: tuple[Step, ...]
    #: (target lvalue, C expression) written when the tile's sums are complete
    stores: tuple[tuple[str, str], ...]


FactorOf = Callable[[int, object], Factor | None]


def tile_product(rows: Sequence[int], cols: Sequence[int], keys: Sequence[object], x: FactorOf,
                 y: Callable[[object, int], Factor | None], target: Callable[[int, int], str],
                 init: Callable[[int, int], list[str]], literal: Callable[[float], str],
                 lower: bool = False, tile: tuple[int, int] = TILE) -> list[Tile]:
    """The tiles of C[i][j] = init(i, j) + sum over keys k of x(i, k) * y(k, j) for i in rows,
    j in cols (only i >= j with ``lower``), stored to target(i, j). x and y give None for a
    structural zero. An entry without any product stores its init terms (or 0)."""
    tiles = []
    for r0 in range(0, len(rows), tile[0]):
        for c0 in range(0, len(cols), tile[1]):
            block = [(i, j) for i in rows[r0:r0 + tile[0]] for j in cols[c0:c0 + tile[1]] if not lower or i >= j]
            if block:
                tiles.append(_tile(block, keys, x, y, target, init, literal))
    return tiles


def _tile(block, keys, x, y, target, init, literal) -> Tile:
    acc = {ij: f"c{n}" for n, ij in enumerate(block)}
    started: set[tuple[int, int]] = set()
    tile_rows = sorted({i for i, _ in block})
    tile_cols = sorted({j for _, j in block})
    steps = []
    for key in keys:
        xs = {i: x(i, key) for i in tile_rows}
        ys = {j: y(key, j) for j in tile_cols}
        pairs = [(i, j) for i, j in block if xs[i] is not None and ys[j] is not None]
        if not pairs:
            continue
        loads, local = [], {}
        for side, factors in (("x", xs), ("y", ys)):
            for index, f in factors.items():
                if f is not None and f.expr is not None and any((i if side == "x" else j) == index for i, j in pairs):
                    name = f"{side}{len(loads)}"
                    local[side, index] = name
                    loads.append((name, f.expr))
        macs = []
        for i, j in pairs:
            term, negate = _term(local.get(("x", i)), xs[i], local.get(("y", j)), ys[j], literal)
            macs.append(Mac(acc[i, j], term, (i, j) not in started, negate))
            started.add((i, j))
        steps.append(Step(tuple(loads), tuple(macs)))
    stores = []
    for ij in block:
        terms = init(*ij) + ([acc[ij]] if ij in started else [])
        stores.append((target(*ij), " + ".join(terms) if terms else literal(0.0)))
    return Tile(tuple(acc[ij] for ij in block if ij in started), tuple(steps), tuple(stores))


def _term(xl: str | None, xf: Factor, yl: str | None, yf: Factor, literal) -> tuple[str, bool]:
    """The product of two factors as a C term and whether it is subtracted."""
    loads = [name for name in (xl, yl) if name is not None]
    value = (xf.value if xl is None else 1.0) * (yf.value if yl is None else 1.0)
    if not loads:
        return literal(abs(value)), value < 0
    if abs(value) == 1.0:
        return " * ".join(loads), value < 0
    return " * ".join(loads + [literal(abs(value))]), value < 0
