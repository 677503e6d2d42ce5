"""mpcgen: code-generating nonlinear MPC with verified, flat, static C.

Pipeline, one module per stage, data flowing forward:
model (problem description) -> derive (CasADi discretization and Jacobians)
-> lower, program (C expression program) -> render (Jinja templates)
-> build, binding (cffi) -> verification, bench.
``pipeline`` composes the stages; ``cli`` parses arguments and calls them.
"""

__version__ = "0.1.0"

from .binding import CompiledModel, load_model  # noqa: E402
from .errors import MpcgenError  # noqa: E402
from .model import Model, Var, var  # noqa: E402
from .mpc_binding import Controller, load  # noqa: E402
from .ocp import Ocp  # noqa: E402
from .options import CodegenOptions  # noqa: E402
from .pipeline import generate, generate_files, write_folder  # noqa: E402
from .verification import verify  # noqa: E402

__all__ = [
    "CodegenOptions", "CompiledModel", "Controller", "Model", "MpcgenError", "Ocp", "Var", "__version__",
    "generate", "generate_files", "load", "load_model", "var", "verify", "write_folder",
]
