"""OCP mistakes as a user makes them in a model file: each FUNCTION has a FUNCTION_ocp.

Every model function returns the same correct mass-spring plant; its OCP is broken.
"""

import casadi as ca
import numpy as np

from mpcgen import Model, Ocp, var

TS = 0.05


def _plant() -> Model:
    q, v, f = var("q", -1, 1), var("v", -2, 2), var("f", -5, 5)
    k = var("k", 0.5, 2.0, nominal=1.0)
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q.symbol + f.symbol], [k])


def _ocp(**changes) -> Ocp:
    kw = dict(N=10, Q=[1.0, 1.0], R=[[0.1]], u_lo=[-5.0], u_hi=[5.0])
    kw.update(changes)
    return Ocp(**kw)


def good(): return _plant()                                          # noqa: E704
def good_ocp(model): return _ocp()                                   # noqa: E704
def empty_horizon(): return _plant()                                 # noqa: E704
def empty_horizon_ocp(model): return _ocp(N=0)                       # noqa: E704
def inverted_bounds(): return _plant()                               # noqa: E704
def inverted_bounds_ocp(model): return _ocp(u_lo=[2.0], u_hi=[-2.0])  # noqa: E704
def indefinite_q(): return _plant()                                  # noqa: E704
def indefinite_q_ocp(model): return _ocp(Q=[[1.0, 2.0], [2.0, 1.0]])  # noqa: E704
def nan_reference(): return _plant()                                 # noqa: E704
def nan_reference_ocp(model): return _ocp(x_ref=[0.0, np.nan])        # noqa: E704
def wrong_reference_size(): return _plant()                          # noqa: E704
def wrong_reference_size_ocp(model): return _ocp(x_ref=[0.0, 0.0, 1.0])  # noqa: E704
def unbounded_input(): return _plant()                               # noqa: E704
def unbounded_input_ocp(model): return _ocp(u_lo=None, u_hi=None)     # noqa: E704
def undeclared_in_h(): return _plant()                               # noqa: E704
def undeclared_in_h_ocp(model): return _ocp(h=ca.SX.sym("z") - 1.0)   # noqa: E704
def ocp_raises(): return _plant()                                    # noqa: E704
def ocp_raises_ocp(model): raise KeyError("weights")                 # noqa: E704
def ocp_not_an_ocp(): return _plant()                                # noqa: E704
def ocp_not_an_ocp_ocp(model): return {"N": 10}                      # noqa: E704
