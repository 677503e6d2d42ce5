"""Render a C program into file texts through the Jinja2 templates."""

from __future__ import annotations

import functools
from importlib import resources

import jinja2

from .model_program import Interface, Program


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja environment over mpcgen's templates (StrictUndefined: typos fail loudly)."""
    folder = resources.files("mpcgen.templates")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
        autoescape=False,
    )


def render_program(program: Program) -> dict[str, str]:
    """File name -> text of the header and source of ``program``."""
    env = environment()
    files = {}
    for template, suffix in (("model.h.j2", ".h"), ("model.c.j2", ".c")):
        text = env.get_template(template).render(program=program)
        files[program.prefix + suffix] = _tidy(text)
    return files


def render_cdef(interface: Interface) -> str:
    """Declarations for cffi's ``cdef`` (same macros as the header)."""
    return environment().get_template("cdef.h.j2").render(interface=interface)


def _tidy(text: str) -> str:
    """Strip trailing spaces and collapse runs of blank lines; end with one newline."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def render_qp(qp) -> dict[str, str]:
    """File name -> text of the QP solver pair ``PREFIX_qp.h`` / ``PREFIX_qp.c``."""
    env = environment()
    return {f"{qp.prefix}_qp{suffix}": _tidy(env.get_template(t).render(qp=qp))
            for t, suffix in (("qp.h.j2", ".h"), ("qp.c.j2", ".c"))}


def render_qp_cdef(qp) -> str:
    """cffi declarations of the QP solver (same macros as its header)."""
    env = environment()
    module = env.get_template("qp_api.j2").module
    return str(module.declarations(qp))


def render_ocp(program) -> dict[str, str]:
    """File name -> text of the OCP functions' pair ``PREFIX_ocp.h`` / ``PREFIX_ocp.c`` (or its twin)."""
    env = environment()
    return {program.prefix + suffix: _tidy(env.get_template(t).render(program=program))
            for t, suffix in (("ocp.h.j2", ".h"), ("ocp.c.j2", ".c"))}


def render_ocp_cdef(interface) -> str:
    """cffi declarations of the OCP functions (same macros as their header)."""
    return str(environment().get_template("ocp_api.j2").module.declarations(interface))


def render_controller(mpc) -> dict[str, str]:
    """File name -> text of the controller: ``PREFIX_mpc.h/.c`` and its QP solver."""
    env = environment()
    files = render_qp(mpc.qp)
    for template, suffix in (("mpc.h.j2", ".h"), ("mpc.c.j2", ".c")):
        files[f"{mpc.prefix}_mpc{suffix}"] = _tidy(env.get_template(template).render(mpc=mpc))
    return files


def render_controller_cdef(model: Interface, controller) -> str:
    """cffi declarations of a controller build: the model's API, then the controller's."""
    module = environment().get_template("mpc_api.j2").module
    real = f"{controller.prefix}_real"
    return "\n".join([render_cdef(model), str(module.constants(controller)), str(module.declarations(controller, real))])


def render_ekf(program) -> dict[str, str]:
    """File name -> text of the EKF pair ``PREFIX_ekf.h`` / ``PREFIX_ekf.c`` (or its complex twin)."""
    env = environment()
    return {program.prefix + suffix: _tidy(env.get_template(t).render(e=program))
            for t, suffix in (("ekf.h.j2", ".h"), ("ekf.c.j2", ".c"))}


def render_ekf_cdef(program_json: dict) -> str:
    """cffi declarations of the EKF (its constants, API and the checked h), from its manifest entry."""
    from types import SimpleNamespace

    from .ocp_program import OcpInterface

    interface = OcpInterface.from_json(program_json)
    e = SimpleNamespace(prefix=interface.prefix, model_prefix=interface.model_prefix, memory_bytes=program_json["memory_bytes"],
                        model=SimpleNamespace(ny=program_json["ny"]))
    module = environment().get_template("ekf_api.j2").module
    return "\n".join([str(module.constants(e)), str(module.declarations(e)), render_ocp_cdef(interface)])
