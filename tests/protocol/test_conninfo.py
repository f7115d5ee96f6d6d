"""ConnectionInfo: the plain value the application gets in connectionMade(info)."""

from http.cookies import SimpleCookie

from sockjs.protocol.conninfo import ConnectionInfo


def _info(**overrides: object) -> ConnectionInfo:
    cookies: SimpleCookie = SimpleCookie()
    cookies["JSESSIONID"] = "abc"
    fields: dict[str, object] = {
        "ip": "203.0.113.5",
        "cookies": cookies,
        "arguments": {"name": [b"caf\xc3\xa9"], "n": [7], "empty": []},
        "headers": {"User-Agent": "test", "X-Mixed-Case": "yes"},
        "path": "/echo",
    }
    fields.update(overrides)
    return ConnectionInfo(**fields)  # type: ignore[arg-type]


def test_arguments_are_text_first_values_or_none() -> None:
    info = _info()
    assert info.get_argument("name") == "café"
    assert info.get_argument("n") == "7"
    assert info.get_argument("empty") is None
    assert info.get_argument("missing") is None


def test_undecodable_argument_bytes_are_replaced() -> None:
    assert _info(arguments={"a": [b"\xff"]}).get_argument("a") == "\ufffd"


def test_headers_are_found_whatever_the_case() -> None:
    info = _info()
    assert info.get_header("User-Agent") == "test"
    assert info.get_header("x-mixed-case") == "yes"
    assert info.get_header("Referer") is None


def test_cookies_are_morsels() -> None:
    info = _info()
    morsel = info.get_cookie("JSESSIONID")
    assert morsel is not None and morsel.value == "abc"
    assert info.get_cookie("other") is None


def test_the_value_owns_copies_of_what_it_was_given() -> None:
    arguments = {"a": [b"1"]}
    headers = {"A": "1"}
    info = _info(arguments=arguments, headers=headers)
    arguments.clear()
    headers.clear()
    assert info.get_argument("a") == "1" and info.get_header("A") == "1"


def test_transport_defaults_to_empty_and_repr_shows_no_ids() -> None:
    info = _info()
    assert info.transport == ""
    assert repr(info) == "ConnectionInfo(ip='203.0.113.5', path='/echo', transport='')"
    assert _info(transport="xhr").transport == "xhr"
