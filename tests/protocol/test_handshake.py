"""WebSocket upgrade checks and the RFC 6455 answer (PROTOCOL.md 7.8-7.10, checklist 110-125)."""

from __future__ import annotations

import pytest

from sockjs.protocol.handshake import (
    BAD_CONNECTION,
    BAD_UPGRADE,
    ORIGIN_REJECTED_STATUS,
    RAW_ONLY_RFC6455,
    UNVERIFIED_ORIGIN,
    HandshakeError,
    HandshakeKind,
    accept_key,
    hybi_response,
    hybi_response_headers,
    is_valid_key,
    origin_allowed,
    request_origin,
    validate_upgrade,
)

KEY = "x3JJHMbDL1EzLkh9GBhXDw=="
ACCEPT = "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
KEY1 = "4 @1  46546xW%0l 1 5"
KEY2 = "12998 5 Y3 1  .P00"


def hybi(version: str = "13", **extra: str) -> dict[str, str]:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": version,
        "Sec-WebSocket-Key": KEY,
    }
    headers.update(extra)
    return headers


def hixie76(**extra: str) -> dict[str, str]:
    headers = {
        "Upgrade": "WebSocket",
        "Connection": "Upgrade",
        "Origin": "http://localhost:8081",
        "Sec-WebSocket-Key1": KEY1,
        "Sec-WebSocket-Key2": KEY2,
    }
    headers.update(extra)
    return headers


# -- method, Upgrade, Connection (110, 111, 113) ---------------------------


def test_non_get_is_405_with_allow_get() -> None:
    assert validate_upgrade("POST", hybi(), raw=False) == HandshakeError(
        405, "", (("Allow", "GET"),)
    )


@pytest.mark.parametrize("raw", [False, True])
def test_plain_get_without_upgrade_headers_is_400(raw: bool) -> None:
    """Checklist 110: the body names the only allowed upgrade."""
    assert validate_upgrade("GET", {}, raw=raw) == HandshakeError(400, BAD_UPGRADE)
    assert BAD_UPGRADE == 'Can "Upgrade" only to "WebSocket".'


def test_upgrade_to_something_else_is_400() -> None:
    result = validate_upgrade("GET", hybi(Upgrade="h2c"), raw=False)
    assert result == HandshakeError(400, BAD_UPGRADE)


@pytest.mark.parametrize("value", ["websocket", "WebSocket", "WEBSOCKET", " websocket "])
def test_upgrade_compares_case_insensitively(value: str) -> None:
    assert validate_upgrade("GET", hybi(Upgrade=value), raw=False) is HandshakeKind.HYBI


def test_connection_close_is_400() -> None:
    """Checklist 111."""
    result = validate_upgrade("GET", hybi(Connection="close"), raw=False)
    assert result == HandshakeError(400, BAD_CONNECTION)
    assert BAD_CONNECTION == '"Connection" must be "Upgrade".'


def test_missing_connection_is_400() -> None:
    headers = hybi()
    del headers["Connection"]
    assert validate_upgrade("GET", headers, raw=False) == HandshakeError(400, BAD_CONNECTION)


@pytest.mark.parametrize(
    "value", ["Upgrade", "upgrade", "keep-alive, Upgrade", "keep-alive,Upgrade", "Upgrade ,x"]
)
def test_connection_token_list_contains_upgrade(value: str) -> None:
    """Checklist 113: Firefox 6 sends ``keep-alive, Upgrade``."""
    assert validate_upgrade("GET", hybi("7", Connection=value), raw=False) is HandshakeKind.HYBI


def test_connection_token_must_be_exact() -> None:
    result = validate_upgrade("GET", hybi(Connection="upgraded"), raw=False)
    assert result == HandshakeError(400, BAD_CONNECTION)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.lower(): value for name, value in hybi().items()}
    assert validate_upgrade("GET", headers, raw=False) is HandshakeKind.HYBI
    headers = {name.upper(): value for name, value in hybi().items()}
    assert validate_upgrade("GET", headers, raw=True) is HandshakeKind.HYBI


def test_upgrade_checked_before_connection() -> None:
    headers = {"Connection": "close"}
    assert validate_upgrade("GET", headers, raw=False) == HandshakeError(400, BAD_UPGRADE)


# -- variant selection (7.10, 112, 115, 125) -------------------------------


@pytest.mark.parametrize("version", ["7", "8", "13", " 13 "])
def test_hybi_versions_are_accepted_on_sockjs_endpoint(version: str) -> None:
    """Checklist 112."""
    assert validate_upgrade("GET", hybi(version), raw=False) is HandshakeKind.HYBI


@pytest.mark.parametrize("version", ["0", "6", "9", "12", "14", "abc", ""])
def test_unsupported_hybi_version_is_400_with_version_hint(version: str) -> None:
    result = validate_upgrade("GET", hybi(version), raw=False)
    assert isinstance(result, HandshakeError)
    assert result.status == 400
    assert result.headers == (("Sec-WebSocket-Version", "13, 8, 7"),)


@pytest.mark.parametrize("version", ["8", "13"])
def test_raw_endpoint_accepts_8_and_13(version: str) -> None:
    assert validate_upgrade("GET", hybi(version), raw=True) is HandshakeKind.HYBI


@pytest.mark.parametrize("version", ["7", "12", "x"])
def test_raw_endpoint_refuses_other_versions(version: str) -> None:
    """Checklist 125."""
    result = validate_upgrade("GET", hybi(version), raw=True)
    assert result == HandshakeError(400, RAW_ONLY_RFC6455, (("Sec-WebSocket-Version", "13, 8"),))


def test_raw_endpoint_refuses_hixie() -> None:
    """Checklist 125: a hixie-76 handshake is refused on the raw endpoint."""
    result = validate_upgrade("GET", hixie76(), raw=True)
    assert isinstance(result, HandshakeError)
    assert (result.status, result.body) == (400, RAW_ONLY_RFC6455)


def test_hixie76_selected_by_both_keys() -> None:
    assert validate_upgrade("GET", hixie76(), raw=False) is HandshakeKind.HIXIE76


@pytest.mark.parametrize("missing", ["Sec-WebSocket-Key1", "Sec-WebSocket-Key2"])
def test_hixie75_is_refused(missing: str) -> None:
    headers = hixie76()
    del headers[missing]
    result = validate_upgrade("GET", headers, raw=False)
    assert isinstance(result, HandshakeError)
    assert result.status == 400
    assert "Hixie-75" in result.body


@pytest.mark.parametrize(
    ("key", "problem"),
    [("12  35", "multiple"), ("1234", "no spaces"), ("  x  ", "no digits")],
)
def test_invalid_hixie_key_is_refused_before_101(key: str, problem: str) -> None:
    result = validate_upgrade("GET", hixie76(**{"Sec-WebSocket-Key2": key}), raw=False)
    assert isinstance(result, HandshakeError)
    assert result.status == 400
    assert problem in result.body


@pytest.mark.parametrize(
    "key", ["", "abc", "x3JJHMbDL1EzLkh9GBhX", "!!!!!!!!!!!!!!!!!!!!!!!!", "é"]
)
def test_bad_hybi_key_is_400(key: str) -> None:
    result = validate_upgrade("GET", hybi(**{"Sec-WebSocket-Key": key}), raw=False)
    assert isinstance(result, HandshakeError)
    assert result.status == 400


def test_missing_hybi_key_is_400() -> None:
    headers = hybi()
    del headers["Sec-WebSocket-Key"]
    result = validate_upgrade("GET", headers, raw=True)
    assert isinstance(result, HandshakeError)
    assert result.status == 400


# -- origin (7.8 check 3) --------------------------------------------------


def test_origin_refused_by_allow_list() -> None:
    headers = hybi(Origin="http://evil.example")
    result = validate_upgrade("GET", headers, raw=False, origins=["http://good.example"])
    assert result == HandshakeError(ORIGIN_REJECTED_STATUS, UNVERIFIED_ORIGIN)
    # sockjs-node 0.3.3 said 400 (PROTOCOL.md 10.1 item 21); the project chose 403.
    assert ORIGIN_REJECTED_STATUS == 403


def test_origin_checked_before_version() -> None:
    headers = hybi("7", **{"Sec-WebSocket-Origin": "http://evil.example"})
    result = validate_upgrade("GET", headers, raw=True, origins=["good.example:*"])
    assert result == HandshakeError(ORIGIN_REJECTED_STATUS, UNVERIFIED_ORIGIN)


def test_origin_allowed_by_allow_list() -> None:
    headers = hixie76(Origin="http://good.example")
    result = validate_upgrade("GET", headers, raw=False, origins=["http://good.example"])
    assert result is HandshakeKind.HIXIE76


def test_request_origin_prefers_the_header_of_the_version() -> None:
    both = {"Origin": "http://a", "Sec-WebSocket-Origin": "http://b"}
    assert request_origin({**both, "Sec-WebSocket-Version": "8"}) == "http://b"
    assert request_origin({**both, "Sec-WebSocket-Version": "7"}) == "http://b"
    assert request_origin({**both, "Sec-WebSocket-Version": "13"}) == "http://a"
    assert request_origin(both) == "http://a"
    assert request_origin({"sec-websocket-origin": " http://b "}) == "http://b"
    assert request_origin({"Sec-WebSocket-Version": "8", "origin": "http://a"}) == "http://a"
    assert request_origin({}) is None


@pytest.mark.parametrize("allowed", [None, ["*"], ["*:*"], ["http://x", "*"]])
def test_allow_all(allowed: list[str] | None) -> None:
    assert origin_allowed("http://anything:1234", allowed)
    assert origin_allowed(None, allowed)


@pytest.mark.parametrize(
    ("origin", "allowed", "expected"),
    [
        # scheme://host[:port] patterns, default ports normalised
        ("http://example.com", ["http://example.com"], True),
        ("http://example.com:80", ["http://example.com"], True),
        ("http://EXAMPLE.com", ["http://example.COM"], True),
        ("https://example.com", ["https://example.com:443"], True),
        ("https://example.com", ["http://example.com"], False),
        ("http://example.com:8080", ["http://example.com"], False),
        ("http://other.com", ["http://example.com"], False),
        ("http://a.example.com", ["http://*.example.com"], True),
        ("http://a.b.example.com", ["http://*.example.com"], True),
        ("http://example.com", ["http://*.example.com"], False),
        ("http://badexample.com", ["http://*.example.com"], False),
        ("http://example.com", ["http://"], False),
        ("http://example.com", ["http://example.com:bad"], False),
        # sockjs-node "host:port" patterns
        ("http://example.com:8080", ["example.com:8080"], True),
        ("https://example.com", ["example.com:443"], True),
        ("http://example.com", ["example.com:*"], True),
        ("http://example.com:81", ["*:81"], True),
        ("http://example.com:81", ["*:82"], False),
        ("http://a.example.com:81", ["*.example.com:81"], True),
        ("http://example.com:81", ["example.com"], True),
        ("http://[::1]:81", ["[::1]:81"], True),
        ("http://[::1]:81", ["[::1]"], True),
        ("http://[::1]:81", ["[::2]"], False),
        ("chrome-extension://abc", ["abc:*"], True),
        ("chrome-extension://abc", ["abc:80"], False),
        # unusable origins
        (None, ["http://example.com"], False),
        ("", ["http://example.com"], False),
        ("null", ["http://example.com"], False),
        ("example.com", ["example.com"], False),
        ("http://example.com:99999", ["example.com"], False),
        ("file:///etc", ["*:*:x"], False),
        ("http://example.com", [], False),
    ],
)
def test_origin_patterns(origin: str | None, allowed: list[str], expected: bool) -> None:
    assert origin_allowed(origin, allowed) is expected


# -- the 101 answer (112) --------------------------------------------------


def test_accept_key_worked_example() -> None:
    """Checklist 112: the suite's key and accept value."""
    assert accept_key(KEY) == ACCEPT


def test_accept_key_rejects_invalid_key() -> None:
    with pytest.raises(ValueError, match="Sec-WebSocket-Key"):
        accept_key("not a key")


def test_is_valid_key() -> None:
    assert is_valid_key(KEY)
    assert is_valid_key(f" {KEY} ")
    assert not is_valid_key("AAAA")  # 3 bytes
    assert not is_valid_key("AAAAAAAAAAAAAAAAAAAAAAAAAA==")  # 19 bytes


def test_hybi_response_headers() -> None:
    assert hybi_response_headers(KEY, None) == [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", ACCEPT),
    ]
    with_ext = hybi_response_headers(KEY, "permessage-deflate")
    assert with_ext[-1] == ("Sec-WebSocket-Extensions", "permessage-deflate")
    assert hybi_response_headers(KEY, "") == hybi_response_headers(KEY, None)


def test_hybi_response_bytes_have_no_content_length() -> None:
    head = hybi_response(KEY)
    assert head == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n"
    )
    assert b"content-length" not in head.lower()
    assert hybi_response(KEY, "x").endswith(b"Sec-WebSocket-Extensions: x\r\n\r\n")


def test_handshake_error_is_frozen() -> None:
    error = HandshakeError(400, "x")
    with pytest.raises(AttributeError):
        error.status = 500  # type: ignore[misc]
