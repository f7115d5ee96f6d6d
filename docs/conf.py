"""Sphinx configuration for the sockjs-cyclone documentation.

The build must work offline (no intersphinx, no remote themes) and with -W,
so every warning is an error.
"""

import tomllib
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
with (_ROOT / "pyproject.toml").open("rb") as _f:
    _PROJECT = tomllib.load(_f)["project"]

project = "sockjs-cyclone"
author = "sockjs-cyclone contributors"
copyright = "2026, sockjs-cyclone contributors"
release = _PROJECT["version"]
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
root_doc = "index"
exclude_patterns = ["_build"]
language = "en"

html_theme = "alabaster"
html_title = f"sockjs-cyclone {release}"
# No _static directory: a missing one is a warning, and -W turns it into an error.
html_static_path: list[str] = []
