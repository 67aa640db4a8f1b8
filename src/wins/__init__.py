"""WINS — Waiting Issue Number System."""

__version__ = "0.1.0"
