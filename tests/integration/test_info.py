"""The ``/info`` endpoint and its preflight (PROTOCOL.md 5.2; checklist 11.C, items 28-40)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from .rawhttp import NO_CACHE, Response, content_type_is, request

if TYPE_CHECKING:
    from .conftest import ServerProcess

pytestmark = pytest.mark.integration

INFO_KEYS = {"websocket", "cookie_needed", "origins", "entropy"}


def get_info(port: int, prefix: str = "/echo", headers: Any = None) -> Response:
    """``GET <prefix>/info`` on a fresh connection."""
    return request(port, "GET", f"{prefix}/info", headers=headers)


def info_json(port: int, prefix: str = "/echo") -> dict[str, Any]:
    """The parsed body of ``GET <prefix>/info``."""
    resp = get_info(port, prefix)
    assert resp.status == 200, resp
    data = json.loads(resp.body)
    assert isinstance(data, dict), data
    return data


def max_age(cache_control: str | None) -> int:
    """The ``max-age`` directive of a Cache-Control value (-1 when absent)."""
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return int(match.group(1)) if match else -1


def test_info_content_type(server: ServerProcess) -> None:
    """Checklist 28: ``GET P/info`` -> 200, Content-Type ``application/json; charset=UTF-8``."""
    resp = get_info(server.port)
    assert resp.status == 200, resp
    assert content_type_is(resp, "application/json; charset=UTF-8"), resp.header("Content-Type")


def test_info_no_cache(server: ServerProcess) -> None:
    """Checklist 29: info has the exact no-cache Cache-Control, no Expires, no Last-Modified."""
    resp = get_info(server.port)
    assert resp.header("Cache-Control") == NO_CACHE, resp
    assert not resp.has_header("Expires"), resp
    assert not resp.has_header("Last-Modified"), resp


def test_info_cors_without_origin(server: ServerProcess) -> None:
    """Checklist 30: info without Origin -> ``Access-Control-Allow-Origin: *``, credentials true."""
    resp = get_info(server.port)
    assert resp.header("Access-Control-Allow-Origin") == "*", resp
    assert resp.header("Access-Control-Allow-Credentials") == "true", resp


def test_info_websocket_true(server: ServerProcess) -> None:
    """Checklist 31: info body is a JSON object with exactly the 4 keys; ``websocket`` is true."""
    data = info_json(server.port)
    assert set(data) == INFO_KEYS, data
    assert data["websocket"] is True


def test_info_cookie_needed_false(server: ServerProcess) -> None:
    """Checklist 32: ``cookie_needed`` is a boolean, false for ``/echo``."""
    data = info_json(server.port)
    assert isinstance(data["cookie_needed"], bool)
    assert data["cookie_needed"] is False


def test_info_origins(server: ServerProcess) -> None:
    """Checklist 33: ``origins`` equals ``["*:*"]``."""
    assert info_json(server.port)["origins"] == ["*:*"]


def test_info_entropy_range(server: ServerProcess) -> None:
    """Checklist 34: ``entropy`` is an integer in [0, 2**32-1]."""
    entropy = info_json(server.port)["entropy"]
    assert isinstance(entropy, int) and not isinstance(entropy, bool), entropy
    assert 0 <= entropy <= 2**32 - 1


def test_info_entropy_changes(server: ServerProcess) -> None:
    """Checklist 35: two consecutive info calls return different ``entropy`` values."""
    first = info_json(server.port)["entropy"]
    second = info_json(server.port)["entropy"]
    assert first != second


def test_info_disabled_websocket(server: ServerProcess) -> None:
    """Checklist 36: ``/disabled_websocket_echo/info`` -> ``websocket`` is false."""
    data = info_json(server.port, "/disabled_websocket_echo")
    assert set(data) == INFO_KEYS, data
    assert data["websocket"] is False
    assert data["cookie_needed"] is False


def test_info_cookie_needed_true(server: ServerProcess) -> None:
    """Checklist 37: ``/cookie_needed_echo/info`` -> ``cookie_needed`` true and no Set-Cookie."""
    for headers in (None, [("Cookie", "JSESSIONID=abcdef")]):
        resp = get_info(server.port, "/cookie_needed_echo", headers=headers)
        assert resp.status == 200, resp
        data = json.loads(resp.body)
        assert data["cookie_needed"] is True, data
        assert data["websocket"] is True, data
        assert not resp.has_header("Set-Cookie"), resp


def test_info_preflight(server: ServerProcess) -> None:
    """Checklist 38: ``OPTIONS P/info`` -> 204, empty body, Allow-Methods ``OPTIONS, GET``."""
    resp = request(server.port, "OPTIONS", "/echo/info")
    assert resp.status == 204, resp
    assert resp.body == b""
    assert resp.header("Access-Control-Allow-Methods") == "OPTIONS, GET", resp


def test_info_preflight_caching(server: ServerProcess) -> None:
    """Checklist 39: info preflight: public, max-age >= 1000000, Expires, Max-Age > 1000000."""
    resp = request(server.port, "OPTIONS", "/echo/info")
    cache_control = resp.header("Cache-Control")
    assert cache_control is not None and "public" in cache_control, resp
    assert max_age(cache_control) >= 1000000, cache_control
    assert resp.header("Expires"), resp
    assert int(resp.header("Access-Control-Max-Age") or "0") > 1000000, resp


def test_info_preflight_null_origin(server: ServerProcess) -> None:
    """Checklist 40: ``OPTIONS P/info`` + ``Origin: null`` -> ``Access-Control-Allow-Origin: *``."""
    resp = request(server.port, "OPTIONS", "/echo/info", headers=[("Origin", "null")])
    assert resp.status == 204, resp
    assert resp.header("Access-Control-Allow-Origin") == "*", resp
    assert resp.header("Access-Control-Allow-Credentials") == "true", resp
