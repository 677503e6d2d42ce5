"""A correct model file without a TS constant: generate needs --ts."""

from mpcgen import Model, var


def plant() -> Model:
    q, f = var("q", -1, 1), var("f", -1, 1)
    return Model("plant", [q], [f], [-q.symbol + f.symbol])
