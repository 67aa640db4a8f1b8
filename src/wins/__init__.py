"""WINS — Waiting Issue Number System."""

from wins.version import package_version

__version__ = package_version()  # pyproject.toml's version; wins.version.full_version() adds the commit
