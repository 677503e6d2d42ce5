"""Find a model: an example name (``pendulum``, ``chain:12``) or ``file.py:function``."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..errors import MpcgenError, SourceError
from .model import Model


@dataclass(frozen=True)
class Source:
    """A loaded model with where it came from and its default sample time (if any)."""

    spec: str
    model: Model
    default_ts: float | None
    #: the optimal-control problem shipped with the model: an example's, or a function
    #: ``FUNCTION_ocp(model)`` (else ``ocp(model)``) in the model file returning an
    #: mpcgen.Ocp (None: model only)
    ocp: Callable[[Model], object] | None = None
    #: the closed-loop scenario a controller of the model is judged on: an example's, or a
    #: function ``FUNCTION_scenario(model)`` (else ``scenario(model)``) in the model file
    #: returning an mpcgen.Scenario (None: none shipped)
    scenario: Callable[[Model], object] | None = None


def is_file_spec(spec: str) -> bool:
    return ".py:" in spec or spec.endswith(".py")


def load_source(spec: str) -> Source:
    """Load the model named by ``spec``; raise SourceError/ModelError with one clear line."""
    if is_file_spec(spec):
        return _load_file(spec)
    from .examples import get_example

    example, model = get_example(spec)
    return Source(spec, model, example.ts, example.ocp, example.scenario)


def _load_file(spec: str) -> Source:
    path_text, _, func_name = spec.rpartition(":") if ".py:" in spec else (spec, "", "")
    if not func_name:
        raise SourceError(f"{spec}: name the function that returns the model, as path/to/file.py:function")
    path = Path(path_text)
    if not path.is_file():
        raise SourceError(f"{path}: no such model file")
    module_name = f"mpcgen_user_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        with importable(path.parent):
            loader_spec.loader.exec_module(module)
    except MpcgenError:
        raise
    except (Exception, SystemExit) as exc:  # SystemExit: a sys.exit() in the file must not end mpcgen silently
        raise SourceError(f"{path}: importing the model file raised {_where(exc, path)}") from None
    func = getattr(module, func_name, None)
    if func is None:
        raise SourceError(f"{path}: has no function {func_name!r}")
    if not callable(func):
        raise SourceError(f"{path}: {func_name!r} is not a function (it is of type {type(func).__name__}); "
                          "name the function that returns the model")
    try:
        with importable(path.parent):
            result = func()
    except MpcgenError:
        raise
    except (Exception, SystemExit) as exc:
        raise SourceError(f"{path}:{func_name}() raised {_where(exc, path)}") from None
    if not isinstance(result, Model):
        raise SourceError(f"{path}:{func_name}() must return an mpcgen.Model, got {type(result).__name__}")
    ocp = _companion(module, func_name, "ocp")
    scenario = _companion(module, func_name, "scenario")
    return Source(spec, result, getattr(module, "TS", None), _in_folder(ocp, path.parent) if ocp else None,
                  _in_folder(scenario, path.parent) if scenario else None)


def call_companion(loaded: Source, kind: str, expected: type):
    """``loaded``'s OCP or scenario function (kind: "ocp", "scenario") called with its model and
    checked to return an ``expected``; None if the source has none. Its errors are one line."""
    function = getattr(loaded, kind)
    if function is None:
        return None
    name = getattr(function, "__name__", kind)
    try:
        result = function(loaded.model)
    except MpcgenError:
        raise
    except Exception as exc:
        raise SourceError(f"{loaded.spec}: {name}(model) raised {type(exc).__name__}: "
                          f"{' '.join(str(exc).split())}") from None
    if not isinstance(result, expected):
        raise SourceError(f"{loaded.spec}: {name}(model) must return an mpcgen.{expected.__name__}, "
                          f"got {type(result).__name__}")
    return result


def scenario_of(loaded: Source):
    """``loaded``'s scenario, called and checked against its model, or None."""
    from .scenario import Scenario

    scenario = call_companion(loaded, "scenario", Scenario)
    if scenario is not None:
        scenario.check(loaded.model.nx, loaded.model.np)
    return scenario


def _companion(module, func_name: str, kind: str) -> Callable | None:
    """The model file's ``FUNCTION_KIND(model)``, else ``KIND(model)`` (KIND: ocp, scenario), if callable."""
    found = getattr(module, f"{func_name}_{kind}", None) or getattr(module, kind, None)
    return found if callable(found) else None


@contextlib.contextmanager
def importable(folder: Path) -> Iterator[None]:
    """The model file's folder on ``sys.path`` while it loads, as a user expects of a script;
    afterwards the path and the modules imported from that folder are gone again, so a later
    model file with a helper of the same name gets its own."""
    folder = folder.resolve()
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        try:
            sys.path.remove(str(folder))
        except ValueError:
            pass
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None)
            if origin and Path(origin).resolve().is_relative_to(folder):
                del sys.modules[name]


def _in_folder(function: Callable, folder: Path) -> Callable:
    """``function`` called with its model file's folder importable (an OCP function may import too)."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        with importable(folder):
            return function(*args, **kwargs)
    return call


def _where(exc: BaseException, path: Path) -> str:
    """``ValueError: message (file.py line 12)`` for the innermost frame in the user's file.

    The message is joined into one line (CasADi's errors span several).
    """
    line = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = f" ({path.name} line {frame.lineno})"
    text = f"sys.exit({exc.code!r}) was called" if isinstance(exc, SystemExit) else " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}{line}"
