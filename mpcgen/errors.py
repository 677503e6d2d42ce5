"""The one family of errors mpcgen raises for user mistakes.

Every error says what is wrong, where (which model, state, expression, file or
dimension) and how to fix it. The CLI prints ``str(error)`` as one line and exits
non-zero; any other exception escaping the CLI is a bug in mpcgen.
"""

from __future__ import annotations


class MpcgenError(Exception):
    """Base class: a problem the user can fix."""


class ModelError(MpcgenError):
    """The model description is invalid (names, shapes, symbols, constants)."""


class OptionsError(MpcgenError):
    """Generation options are invalid (precision, integrator, substeps, Ts)."""


class LoweringError(MpcgenError):
    """An expression cannot be turned into flat C (call nodes, unsupported ops)."""


class SourceError(MpcgenError):
    """A model could not be loaded from an example name or ``file.py:function``."""


class OutputError(MpcgenError):
    """The output folder cannot be written (it is not an mpcgen folder, or not writable)."""


class BuildError(MpcgenError):
    """The C compiler rejected generated code, or a generated folder is incomplete."""


class EvaluationError(MpcgenError):
    """A compiled function returned a non-OK status, or was called with wrong sizes."""


class VerificationError(MpcgenError):
    """Compiled derivatives disagree with the references beyond tolerance."""


class FirmwareError(MpcgenError):
    """A firmware check cannot run: missing cross tools, or the target program did not finish."""


class CampaignError(MpcgenError):
    """A campaign cannot run: the cluster is unreachable or lost its work, or the output
    folder holds another campaign's results."""


class NonSmoothWarning(UserWarning):
    """The model uses an operation without a derivative everywhere (fabs, fmin, ...).

    Such operations are emitted correctly (the complex build branches on the real
    part) but finite and complex-step differences are not reliable across the kink.
    """
