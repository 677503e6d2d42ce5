"""The version of mpcgen, stamped into every generated file (one source of truth:
``pyproject.toml`` reads it from here). A module of its own so that every stage can
read it without importing the package root, which imports every stage."""

__version__ = "0.1.0"
