"""mpcgen: code-generating nonlinear MPC with verified, flat, static C.

One subpackage per stage, data flowing forward (a lower stage never imports a higher
one; ``tests/test_layout.py`` keeps it so):

problem      what the user describes: model, OCP, generation options, scenarios, examples
derivatives  CasADi: discretization and Jacobians of the model and the OCP's functions
codegen      the C program: lowering, model/QP/controller programs, rendering, the folder
compiled     cffi: build a generated folder into the cache and call it from numpy
runs         closed loops, IPOPT reference solutions, plots, benchmarks
checks       verdicts on the compiled code: verification, fuzzing, firmware on Cortex-M

``errors`` (the error family) and ``version`` serve every stage; ``cli`` parses
arguments and calls the library.
"""

from .checks.verification import verify
from .codegen.folder import write_folder
from .codegen.generate import generate, generate_files
from .compiled.controller_binding import Controller, load
from .compiled.ekf_binding import Ekf, load_ekf
from .compiled.model_binding import CompiledModel, load_model
from .errors import MpcgenError
from .problem.measurement import Output, output
from .problem.model import Model, Var, var
from .problem.ocp import Ocp
from .problem.options import CodegenOptions
from .problem.rate_limits import rate_model, rate_ocp
from .problem.scenario import Scenario, Uncertainty
from .runs.campaign import campaign
from .version import __version__

__all__ = [
    "CodegenOptions", "CompiledModel", "Controller", "Ekf", "Model", "MpcgenError", "Ocp", "Output", "Scenario",
    "Uncertainty", "Var", "__version__", "campaign", "generate", "generate_files", "load", "load_ekf", "load_model",
    "output", "rate_model", "rate_ocp", "var", "verify", "write_folder",
]
