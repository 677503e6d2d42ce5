"""The gallery of bad input: each mistake gives one error line that names it, exit code 2,
no traceback and no output folder. OCP mistakes go through the CLI too (model files with
a broken FUNCTION_ocp) and, in more variants, through ``check_ocp``.

The model files are in tests/data/bad_models/ (models.py holds one broken function per
mistake, next to the correct ``plant``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import casadi as ca
import numpy as np
import pytest
from conftest import ROOT

from mpcgen.cli import main
from mpcgen.problem.ocp import Ocp, OcpError, check_ocp
from mpcgen.problem.source import load_source

BAD = ROOT / "tests" / "data" / "bad_models"
M = f"{BAD / 'models.py'}"
USER = f"{ROOT / 'tests' / 'data' / 'user_models.py'}"

O = f"{BAD / 'ocps.py'}"

#: (arguments after `mpcgen generate`, without -o; a substring the error line must contain)
GALLERY = [
    # the OCP in a model file (FUNCTION_ocp next to FUNCTION), checked before any code is written
    ([f"{O}:empty_horizon"], "OCP: horizon N must be an integer from 1 to 1000, got 0"),
    ([f"{O}:inverted_bounds"], "OCP: input 'f' has lower bound 2.0 > upper bound -2.0"),
    ([f"{O}:indefinite_q"], "OCP: Q is not positive semidefinite"),
    ([f"{O}:nan_reference"], "x_ref contains NaN at index 1 (state 'v')"),
    ([f"{O}:wrong_reference_size"], "OCP: x_ref has 3 entries, the model needs 2"),
    ([f"{O}:unbounded_input"], "every input needs finite bounds u_lo and u_hi"),
    ([f"{O}:undeclared_in_h"], "h uses symbol(s) z that are not states, inputs or parameters"),
    ([f"{O}:ocp_raises"], "ocp_raises_ocp(model) raised KeyError: 'weights'"),
    ([f"{O}:ocp_not_an_ocp"], "ocp_not_an_ocp_ocp(model) must return an mpcgen.Ocp, got dict"),
    # dimensions
    ([f"{M}:missing_equation"], "model 'plant': the ODE has shape 1x1 but the model has 2 states"),
    ([f"{M}:extra_equation"], "the ODE has shape 3x1 but the model has 2 states"),
    ([f"{M}:vector_symbol"], "state symbol must be one scalar casadi.SX.sym, got (2, 1)"),
    ([f"{M}:no_states"], "model 'plant' has no states"),
    # symbols
    ([f"{M}:undeclared_symbol"], "the ODE of state 'v' uses undeclared symbol(s) c; declare them"),
    ([f"{M}:redeclared_symbol"], "q is declared, but the ODE uses another symbol of the same name"),
    ([f"{M}:mx_symbols"], "state 'q' is a CasADi MX symbol"),
    ([f"{M}:mx_ode"], "the ODE is a CasADi MX expression"),
    ([f"{M}:string_input"], "every input must be an mpcgen.Var"),
    ([f"{M}:missing_expression"], "ODE entry 1 (state 'v') is a NoneType, not a CasADi SX expression"),
    # constants and the nominal point
    ([f"{M}:nan_constant"], "the ODE of state 'v' contains the constant nan"),
    ([f"{M}:inf_constant"], "the ODE of state 'v' contains the constant inf"),
    ([f"{M}:division_by_zero"], "the ODE of state 'v' is -inf at the nominal point (q=0, f=0, k=1)"),
    ([f"{M}:sqrt_of_negative"], "the ODE of state 'v' is nan at the nominal point (q=0, f=0, k=-1.25)"),
    ([f"{M}:infinite_slope"], "the derivative of the ODE of state 'v' with respect to 'q' is -inf at the nominal"),
    # names
    ([f"{M}:non_c_model_name"], "model name 'cart-spring' is not a valid C identifier"),
    ([f"{M}:keyword_state_name"], "state name 'double' is not a valid C identifier"),
    ([f"{M}:space_in_name"], "state name 'q dot' is not a valid C identifier"),
    ([f"{M}:duplicate_name"], "name 'q' is used by a state and a parameter"),
    # ranges
    ([f"{M}:inverted_range"], "state 'q' has range lo=1.0 >= hi=-1.0"),
    ([f"{M}:empty_range"], "input 'f' has range lo=0.0 >= hi=0.0"),
    ([f"{M}:nominal_outside_range"], "parameter 'k' nominal 5.0 lies outside [0.5, 2.0]"),
    ([f"{M}:infinite_range"], "state 'v' has non-finite lo = -inf"),
    ([f"{M}:nan_nominal"], "state 'q' has non-finite nominal = nan"),
    # the measurement model
    ([f"{M}:output_undeclared_symbol"], "output 'q_meas' uses undeclared symbol(s) bias; declare them"),
    ([f"{M}:output_not_scalar"], "output 'q_meas' has shape 2x1; give one scalar expression per output"),
    ([f"{M}:output_nan_constant"], "output 'q_meas' contains the constant nan"),
    ([f"{M}:output_not_an_output"], "every output must be an mpcgen.Output"),
    ([f"{M}:output_name_clash"], "output name 'q' is already used"),
    ([f"{M}:negative_measurement_std"],
     "measurement_noise of output 'q_meas' is -0.1; a standard deviation must be positive"),
    ([f"{M}:wrong_process_noise_size"], "process_noise has 3 entries but the model has 2 states"),
    ([f"{M}:indefinite_process_covariance"],
     "process_noise covariance is not positive semidefinite (smallest eigenvalue -0.0001)"),
    ([f"{M}:nan_measurement_noise"], "measurement_noise of output 'q_meas' is nan; give a finite number"),
    ([f"{M}:noise_without_outputs"], "measurement_noise is given but the model declares no outputs"),
    # the model file and function
    ([f"{M}:raises"], "raises() raised KeyError: 'pole' (models.py line"),
    ([f"{M}:casadi_raises"], "Matrix product with incompatible dimensions. Lhs is 2x3 and rhs is 2x1. (models.py line"),
    ([f"{M}:exits"], "exits() raised SystemExit: sys.exit(0) was called (models.py line"),
    ([f"{M}:needs_argument"], "needs_argument() missing 1 required positional argument: 'masses'"),
    ([f"{M}:not_a_model"], "not_a_model() must return an mpcgen.Model, got dict"),
    ([f"{M}:no_such_function"], "models.py: has no function 'no_such_function'"),
    ([f"{M}:NOT_A_FUNCTION"], "'NOT_A_FUNCTION' is not a function (it is of type int)"),
    ([M], "name the function that returns the model, as path/to/file.py:function"),
    ([f"{BAD / 'import_raises.py'}:plant"],
     "importing the model file raised ModuleNotFoundError: No module named 'mpcgen_plant_library_not_installed' "
     "(import_raises.py line 3)"),
    ([f"{BAD / 'exits_on_import.py'}:plant"], "importing the model file raised SystemExit: sys.exit(0) was called"),
    ([f"{BAD / 'no_such_file.py'}:plant"], "no_such_file.py: no such model file"),
    (["{tmp}/syntax_error.py:plant"], "importing the model file raised SyntaxError"),
    ([f"{BAD / 'no_sample_time.py'}:plant"], "no default sample time; pass ts (CLI: --ts SECONDS)"),
    # examples and options
    (["nosuchplant"], "unknown example 'nosuchplant'"),
    (["chain:0"], "example 'chain': the number of masses must be an integer from 1 to 12, got 0"),
    (["pendulum:3"], "example 'pendulum' takes no size"),
    ([f"{M}:plant", "--ts", "-0.1"], "sample time ts must be a positive finite number of seconds, got -0.1"),
    ([f"{M}:plant", "--ts", "0"], "sample time ts must be a positive finite number of seconds, got 0.0"),
    ([f"{M}:plant", "--ts", "nan"], "sample time ts must be a positive finite number of seconds, got nan"),
    ([f"{M}:plant", "--substeps", "0"], "substeps must be an integer from 1 to 1000, got 0"),
    ([f"{USER}:nonsmooth", "--ts", "-1"], "sample time ts must be a positive"),  # no warning line besides
    ([f"{M}:plant", "--ts", "fast"], "argument --ts: invalid float value: 'fast'"),
    ([f"{M}:plant", "--precision", "half"], "argument --precision: invalid choice: 'half'"),
]


def _ids() -> list[str]:
    return [args[0].rpartition("/")[2].replace(".py:", ":") + "".join(args[1:]) for args, _ in GALLERY]


def _args(args: list[str], tmp_path: Path) -> list[str]:
    if args[0].startswith("{tmp}"):
        source = tmp_path / "src"
        source.mkdir()
        (source / "syntax_error.py").write_text("from mpcgen import Model, var\n\ndef plant(:\n    pass\n")
        args = [args[0].format(tmp=source), *args[1:]]
    return args


def _assert_one_error_line(stderr: str, message: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("mpcgen: error: "), stderr
    assert message in lines[0]


def test_gallery_has_at_least_twenty_model_mistakes() -> None:
    assert len(GALLERY) >= 20
    assert len(set(_ids())) == len(GALLERY)


@pytest.mark.parametrize("args, message", GALLERY, ids=_ids())
def test_bad_input_gives_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture, args, message) -> None:
    out = tmp_path / "out"
    try:
        code = main(["generate", *_args(args, tmp_path), "-o", str(out)])
    except SystemExit as exc:  # argparse's own errors exit rather than return
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2
    _assert_one_error_line(captured.err, message)
    assert captured.out == ""
    assert not out.exists(), "no output folder on failure"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "no staging folder left"


@pytest.mark.parametrize("case", ["division_by_zero", "casadi_raises", "exits_on_import", "--ts", "missing_equation"])
def test_bad_input_in_a_real_process(tmp_path: Path, case: str) -> None:
    """The installed entry point, not just main(): exit code and stderr as a shell sees them."""
    args, message = next((a, m) for a, m in GALLERY if case in a[0] or a[1:2] == [case])
    r = subprocess.run([sys.executable, "-m", "mpcgen.cli", "generate", *args, "-o", "out"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    _assert_one_error_line(r.stderr, message)
    assert list(tmp_path.iterdir()) == []


def test_correct_plant_of_the_gallery_generates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The mistakes above are the only thing wrong: the plant they start from is fine."""
    assert main(["generate", f"{M}:plant", "-o", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err == ""
    assert (tmp_path / "out" / "plant.c").is_file()


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda out: out.write_text("notes"), "exists and is not a folder"),
        (lambda out: (out.mkdir(), (out / "notes.txt").write_text("notes")), "is not an mpcgen output folder"),
    ],
    ids=["file", "foreign-folder"],
)
def test_output_that_is_not_ours_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture, setup, message) -> None:
    out = tmp_path / "out"
    setup(out)
    before = sorted((p.name, p.read_bytes()) for p in ([out] if out.is_file() else out.iterdir()))
    assert main(["generate", f"{M}:plant", "-o", str(out)]) == 2
    _assert_one_error_line(capsys.readouterr().err, message)
    after = sorted((p.name, p.read_bytes()) for p in ([out] if out.is_file() else out.iterdir()))
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_output_below_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "notes").write_text("notes")
    assert main(["generate", f"{M}:plant", "-o", str(tmp_path / "notes" / "out")]) == 2
    _assert_one_error_line(capsys.readouterr().err, "cannot create the folder")
    assert (tmp_path / "notes").read_text() == "notes"


# OCP mistakes ---------------------------------------------------------------------
PLANT = load_source(f"{M}:plant").model  # states q, v; input f; parameter k


def _ocp(**kw) -> Ocp:
    base = dict(N=20, Q=np.diag([10.0, 1.0]), R=[[0.1]], P=np.diag([10.0, 1.0]), u_lo=[-5.0], u_hi=[5.0])
    base.update(kw)
    return Ocp(**base)


q, v = PLANT.states[0].symbol, PLANT.states[1].symbol
f = PLANT.inputs[0].symbol

OCP_GALLERY = [
    ({"N": 0}, "horizon N must be an integer from 1 to 1000, got 0"),
    ({"N": -5}, "horizon N must be an integer from 1 to 1000, got -5"),
    ({"N": 2.5}, "horizon N must be an integer from 1 to 1000, got 2.5"),
    ({"N": True}, "horizon N must be an integer from 1 to 1000, got True"),
    ({"Q": np.diag([1.0, -1.0])}, "Q is not positive semidefinite (smallest eigenvalue -1"),
    ({"Q": [[1.0, 2.0], [0.0, 1.0]]}, "Q is not symmetric"),
    ({"Q": np.eye(3)}, "Q is 3x3, must be 2x2"),
    ({"Q": [[1.0, np.nan], [np.nan, 1.0]]}, "Q has non-finite entries"),
    ({"Q": [["a", "b"], ["c", "d"]]}, "Q must be numbers (a list or numpy array), got list"),
    ({"R": [[-0.1]]}, "R is not positive semidefinite (smallest eigenvalue -0.1"),
    ({"Q": np.diag([1e300, 1.0])}, "Q[0,0] = 1e+300 is beyond 1e+30 in magnitude (the cost would overflow)"),
    ({"x_ref": [0.0, 1e300]}, "x_ref[1] (state 'v') = 1e+300 is beyond 1e+30 in magnitude"),
    ({"P": np.diag([1.0, -2.0])}, "P is not positive semidefinite (smallest eigenvalue -2"),
    ({"u_lo": [6.0]}, "input 'f' has lower bound 6.0 > upper bound 5.0"),
    ({"x_lo": [-1.0, 3.0], "x_hi": [1.0, 2.0]}, "state 'v' has lower bound 3.0 > upper bound 2.0"),
    ({"u_hi": None}, "every input needs finite bounds u_lo and u_hi"),
    ({"x_ref": [0.0, np.nan]}, "x_ref contains NaN at index 1 (state 'v'); references must be finite"),
    ({"u_ref": [np.inf]}, "u_ref contains inf at index 0 (input 'f'); references must be finite"),
    ({"x_ref": [0.0, 0.0, 0.0]}, "x_ref has 3 entries, the model needs 2"),
    ({"x_ref": np.zeros((2, 2))}, "x_ref has shape 2x2, must be a vector of 2"),
    ({"x_lo": [np.nan, -1.0]}, "x_lo contains NaN at index 0 (state 'q')"),
    ({"h": ca.SX.sym("z") - 1}, "h uses symbol(s) z that are not states, inputs or parameters of model 'plant'"),
    ({"h_terminal": q + f}, "h_terminal uses symbol(s) f that are not states or parameters"),
    ({"h": "q - 1"}, "h is a str, not an SX expression of the model's symbols"),
    ({"h": ca.MX.sym("q")}, "h is an MX expression"),
    ({"y": ca.vertcat(q, v), "W": [[1.0]]}, "W is 1x1, must be 2x2"),
    ({"y": ca.vertcat(q, v), "W": np.eye(2), "y_ref": [0.0]}, "y_ref has 1 entries, the model needs 2"),
    ({"slack_l1": -1.0}, "slack_l1 must be a finite number >= 0, got -1.0"),
    ({"slack_l2": None}, "slack_l2 must be a finite number >= 0, got None"),
    ({"x_hi": [1.0, 1.0], "slack_l1": 0.0, "slack_l2": 0.0}, "soft constraints need a slack penalty"),
    ({"P": None}, "P not given and no discrete model to derive it from"),
]


@pytest.mark.parametrize("kw, message", OCP_GALLERY, ids=[f"{next(iter(kw))}-{i}" for i, (kw, _) in
                                                           enumerate(OCP_GALLERY)])
def test_bad_ocp_names_the_problem(kw, message) -> None:
    with pytest.raises(OcpError) as info:
        check_ocp(PLANT, _ocp(**kw))
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_ocp_gallery_starts_from_a_valid_ocp() -> None:
    checked = check_ocp(PLANT, _ocp(N=np.int64(20)))
    assert checked.N == 20 and type(checked.N) is int


def test_the_ocp_gallery_plant_with_a_good_ocp_generates_a_controller(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["generate", f"{O}:good", "-o", str(tmp_path / "good")]) == 0
    assert (tmp_path / "good" / "plant_mpc.c").is_file()
