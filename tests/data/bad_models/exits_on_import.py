"""A script-style model file that exits when imported (no ``if __name__ == "__main__":``)."""

import sys

from mpcgen import Model, var

TS = 0.05


def plant() -> Model:
    q, f = var("q", -1, 1), var("f", -1, 1)
    return Model("plant", [q], [f], [-q.symbol + f.symbol])


sys.exit(0)
