"""Sphinx configuration for the sockjs-cyclone documentation.

The build must work offline (no intersphinx, no remote themes) and with -W -n,
so every warning is an error and every cross-reference must resolve.  Names
from other projects (Twisted, Cyclone) are written as literals, not links.
"""

import sys
import tomllib
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# autodoc imports the library from this checkout, installed or not.
sys.path.insert(0, str(_ROOT))

with (_ROOT / "pyproject.toml").open("rb") as _f:
    _PROJECT = tomllib.load(_f)["project"]

project = "sockjs-cyclone"
author = "sockjs-cyclone contributors"
copyright = "2026, sockjs-cyclone contributors"
release = _PROJECT["version"]
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]
root_doc = "index"
exclude_patterns = ["_build"]
language = "en"

# -- autodoc -------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
autodoc_typehints = "signature"

# -- cross-references ----------------------------------------------------------
# The build is offline (no intersphinx), so names from the standard library,
# Twisted and Cyclone that appear in signatures cannot be links.  They are
# listed one by one, never by pattern, so that a broken reference to one of
# our own names still fails the build.  The last group are private types of
# this library that public signatures mention but the API page does not cover.
nitpick_ignore = [
    ("py:class", "collections.abc.Callable"),
    ("py:class", "collections.abc.Iterable"),
    ("py:class", "collections.abc.Mapping"),
    ("py:class", "collections.abc.Sequence"),
    ("py:class", "http.cookies.Morsel"),
    ("py:class", "http.cookies.SimpleCookie"),
    ("py:class", "Deferred"),
    ("py:class", "twisted.internet.defer.Deferred"),
    ("py:class", "twisted.internet.task.Clock"),
    ("py:class", "twisted.python.failure.Failure"),
    ("py:class", "twisted.logger._levels.LogLevel"),
    ("py:class", "cyclone.web.URLSpec"),
    ("py:class", "URLSpec"),
    ("py:class", "collections.abc.Iterator"),
    ("py:class", "prometheus_client.registry.CollectorRegistry"),
    ("py:class", "CollectorRegistry"),
    ("py:class", "prometheus_client.metrics_core.Metric"),
    ("py:class", "Service"),
    ("py:class", "sockjs.addons._testclient.Harness"),
    ("py:class", "sockjs.protocol.stats.Stats"),
    ("py:class", "sockjs.protocol.transports.Wire"),
]
