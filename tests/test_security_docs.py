"""The security documentation states facts the code and the client files can check."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from sockjs.protocol.options import DEFAULT_SOCKJS_URL

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "node_modules" / "sockjs-client"


def test_documented_integrity_hash_is_the_default_files() -> None:
    """docs/settings.rst gives the SRI hash of the file DEFAULT_SOCKJS_URL names."""
    if not (CLIENT / "package.json").is_file():
        pytest.skip("node_modules/sockjs-client is missing: run scripts/bootstrap.sh")
    version = json.loads((CLIENT / "package.json").read_text(encoding="utf-8"))["version"]
    assert f"sockjs-client@{version}/dist/sockjs.min.js" in DEFAULT_SOCKJS_URL
    digest = hashlib.sha384((CLIENT / "dist" / "sockjs.min.js").read_bytes()).digest()
    sri = "sha384-" + base64.b64encode(digest).decode()
    settings = (ROOT / "docs" / "settings.rst").read_text(encoding="utf-8")
    assert f"``{sri}``" in settings
    assert f"{version}'s ``dist/sockjs.min.js``" in settings


def test_security_page_is_in_the_toctree() -> None:
    index = (ROOT / "docs" / "index.rst").read_text(encoding="utf-8")
    assert "\n   security\n" in index
