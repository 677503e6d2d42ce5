"""A model file whose import fails: it needs a package that is not installed."""

import mpcgen_plant_library_not_installed  # noqa: F401

TS = 0.05


def plant():
    return mpcgen_plant_library_not_installed.plant()
