"""Property-based fuzzing of every parser in the core that reads client bytes.

Each test states what must hold for *any* input: the parser either returns a
well-formed value or raises the one error the protocol prescribes (which the
adapter turns into a documented answer); nothing else may escape, and what
is written back into script or HTML never carries client text unescaped.
"""

from __future__ import annotations

import json
import re
import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sockjs.protocol import frames, http, transports
from sockjs.protocol.admission import Admission
from sockjs.protocol.clientip import client_ip, parse_networks
from sockjs.protocol.encoding import decode_payload, decode_websocket_message, json_encode
from sockjs.protocol.errors import BrokenJSON, CallbackRequired, InvalidCallback, PayloadExpected
from sockjs.protocol.handshake import origin_allowed, request_origin, validate_upgrade
from sockjs.protocol.hixie76 import Hixie76Parser, Hixie76ProtocolError
from sockjs.protocol.options import Options
from sockjs.protocol.routing import ROUTES, full_pattern

FUZZ = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

# -- payload JSON (PROTOCOL.md 3.4) --------------------------------------------------


@FUZZ
@given(st.binary(max_size=300))
@example(b'["\xed\xa0\x80"]')
@example(b"[NaN]")
@example(b"[1e999999]")
@example(b"[" * 5000 + b"]" * 5000)
def test_decode_payload_any_bytes(body: bytes) -> None:
    """Any body: a list of messages, or exactly PayloadExpected / BrokenJSON."""
    try:
        messages = decode_payload(body)
    except (PayloadExpected, BrokenJSON):
        return
    assert isinstance(messages, list)


@FUZZ
@given(st.lists(json_values, max_size=8))
def test_decode_payload_round_trip(messages: list[object]) -> None:
    """Whatever a client can encode is delivered unchanged."""
    assert decode_payload(json.dumps(messages).encode()) == messages
    assert decode_payload(json_encode(messages)) == messages


@FUZZ
@given(st.text(max_size=300))
@example("[" * 5000)
@example("[" * 5000 + "]" * 5000)
def test_decode_websocket_message_any_text(text: str) -> None:
    try:
        messages = decode_websocket_message(text)
    except BrokenJSON:
        return
    assert isinstance(messages, list)
    if not text:
        assert messages == []


# -- callbacks and what is written into script/HTML (7.4, 7.7) -------------------------

_ALLOWED = set(string.ascii_letters + string.digits + "_-.")


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=300), st.text(alphabet="".join(_ALLOWED))))
@example("a" * 256)
@example("a" * 257)
@example("_jp.a1b2c3")
@example("x\u0130")  # non-ASCII letters are not A-Z a-z
@example("x\n")
def test_validate_callback(value: str | None) -> None:
    """Only names of ``A-Z a-z 0-9 _ - .`` (at most 256 of them) pass, unchanged."""
    try:
        accepted = transports.validate_callback(value)
    except CallbackRequired:
        assert not value
        return
    except InvalidCallback:
        assert value and (len(value) > 256 or not set(value) <= _ALLOWED)
        return
    assert accepted == value
    assert set(accepted) <= _ALLOWED and 0 < len(accepted) <= 256


callbacks = st.text(alphabet="".join(sorted(_ALLOWED)), min_size=1, max_size=40)


@FUZZ
@given(callbacks, st.lists(st.text(), max_size=4))
def test_jsonp_body_calls_the_callback_with_the_frame(callback: str, messages: list[str]) -> None:
    """``callback("<frame>");\\r\\n``: the argument is one JS string literal holding the frame."""
    frame = frames.messages_frame(frames.encode_message(m) for m in messages)
    body = transports.jsonp(callback).wrap(frame).decode("ascii")
    assert body.startswith(callback + "(") and body.endswith(");\r\n")
    argument = body[len(callback) + 1 : -4]
    assert json.loads(argument) == frame
    # ASCII only: U+2028/U+2029 cannot end the string literal in old engines.
    assert "\u2028" not in body and "\u2029" not in body


@FUZZ
@given(callbacks, st.lists(st.text(), max_size=4))
@example("c", ["</script><script>alert(1)</script>", "<!--", "]]>"])
def test_htmlfile_chunk_never_carries_markup(callback: str, messages: list[str]) -> None:
    """Client text inside the forever-iframe never contains ``<`` (no ``</script>``)."""
    frame = frames.messages_frame(frames.encode_message(m) for m in messages)
    chunk = transports.htmlfile(callback).wrap(frame).decode("ascii")
    inner = chunk.removeprefix("<script>\np(").removesuffix(");\n</script>\r\n")
    assert "<" not in inner
    assert json.loads(inner) == frame
    prelude = transports.htmlfile(callback).prelude.decode("ascii")
    assert f"var c = parent.{callback};" in prelude


@FUZZ
@given(st.lists(st.text(), max_size=4))
def test_eventsource_events_cannot_be_split(messages: list[str]) -> None:
    frame = frames.messages_frame(frames.encode_message(m) for m in messages)
    event = transports.EVENTSOURCE.wrap(frame).decode("ascii")
    assert event.startswith("data: ") and event.endswith("\r\n\r\n")
    assert not re.search(r"[\r\n\x00]", event[6:-4])


# -- session ids and routing (2.2, 2.3) ------------------------------------------------

segments = st.text(min_size=0, max_size=20)


@FUZZ
@given(segments, segments, st.sampled_from([r for r in ROUTES if "/([^/.]+)" in r.pattern]))
def test_session_routes_take_only_plain_segments(server: str, session: str, route: object) -> None:
    """A server or session id matches only when non-empty and free of ``/`` and ``.``."""
    assert hasattr(route, "pattern")
    pattern = re.compile(full_pattern("/echo", route))  # type: ignore[arg-type]
    suffix = route.name.removeprefix("raw_")  # type: ignore[attr-defined]
    path = f"/echo/{server}/{session}/{suffix}"
    plain = all(s and "/" not in s and "." not in s for s in (server, session))
    match = pattern.match(path)
    if plain:
        assert match is not None and match.groups() == (server, session)
    elif match is not None:
        # Only a "/" inside an id can shift the split; never a "." and never empty ids.
        assert all(group and "." not in group for group in match.groups())


# -- cookies, origins, client addresses (4.1, 4.4, 7.8) ---------------------------------


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=200)))
@example("JSESSIONID=abc\r\nSet-Cookie: evil=1")
@example("JSESSIONID=a;b")
def test_jsessionid_cookie_is_one_safe_header(cookie: str | None) -> None:
    name, value = http.jsessionid_cookie(cookie)
    assert name == "Set-Cookie"
    assert value.startswith("JSESSIONID=") and value.endswith("; path=/; HttpOnly")
    token = value.removeprefix("JSESSIONID=").removesuffix("; path=/; HttpOnly")
    assert token and all(33 <= ord(ch) <= 126 and ch not in '",;\\' for ch in token)


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=80)), st.lists(st.text(max_size=30), max_size=4))
@example("http://[::1", ["*.example.com"])
@example("http://a:99999", ["a:*"])
def test_origin_checks_never_raise(origin: str | None, allowed: list[str]) -> None:
    assert isinstance(origin_allowed(origin, allowed), bool)
    assert origin_allowed(origin, None) is True


@FUZZ
@given(
    st.sampled_from(["GET", "POST", "get", ""]),
    st.dictionaries(
        st.sampled_from(
            [
                "Upgrade",
                "Connection",
                "Origin",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key1",
                "Sec-WebSocket-Key2",
                "Sec-WebSocket-Origin",
            ]
        ),
        st.text(max_size=40),
    ),
    st.booleans(),
)
def test_upgrade_validation_never_raises(method: str, headers: dict[str, str], raw: bool) -> None:
    result = validate_upgrade(method, headers, raw=raw, origins=["http://a.example"])
    assert result is not None
    request_origin({k.lower(): v for k, v in headers.items()})


@FUZZ
@given(st.text(max_size=40), st.text(max_size=120), st.text(max_size=40))
def test_client_ip_never_raises(peer: str, forwarded: str, real: str) -> None:
    trusted = parse_networks(["127.0.0.1", "10.0.0.0/8"])
    headers = {"X-Forwarded-For": forwarded, "X-Real-IP": real}
    for candidate_peer in (peer, "127.0.0.1", "10.1.2.3"):
        assert isinstance(client_ip(candidate_peer, headers, trusted), str)


# -- hixie-76 frames (7.10) --------------------------------------------------------------


def _feed_all(parser: Hixie76Parser, pieces: list[bytes]) -> list[str] | None:
    out: list[str] = []
    try:
        for piece in pieces:
            out.extend(parser.feed(piece))
    except Hixie76ProtocolError:
        return None
    return out


hixie_bytes = st.lists(
    st.one_of(
        st.binary(max_size=12),
        st.builds(lambda t: b"\x00" + t.encode() + b"\xff", st.text(max_size=10)),
        st.sampled_from([b"\xff\x00", b"\xff", b"\x00", b"\xed\xa0\x80", b"\x80"]),
    ),
    max_size=10,
).map(b"".join)


@FUZZ
@given(hixie_bytes, st.lists(st.integers(min_value=0, max_value=200), max_size=5))
def test_hixie76_parser_is_split_independent(data: bytes, cuts: list[int]) -> None:
    """However the bytes are split, the same messages come out (or both fail)."""
    whole = _feed_all(Hixie76Parser(64), [data])
    points = sorted({min(cut, len(data)) for cut in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    split = _feed_all(Hixie76Parser(64), pieces)
    assert split == whole


@FUZZ
@given(st.lists(st.text(max_size=20), max_size=6))
def test_hixie76_round_trip(texts: list[str]) -> None:
    data = b"".join(b"\x00" + t.encode() + b"\xff" for t in texts)
    assert Hixie76Parser().feed(data) == texts


# -- session admission --------------------------------------------------------------------


@FUZZ
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 30), st.sampled_from(["a", "b", "c"])),
        max_size=60,
    ),
    st.one_of(st.none(), st.integers(1, 10)),
    st.one_of(st.none(), st.integers(1, 5)),
)
def test_session_limiter_counts_stay_exact(
    steps: list[tuple[bool, int, str]], overall: int | None, per_ip: int | None
) -> None:
    """Any sequence of admissions and releases keeps both counts right and in bounds."""
    limiter = Admission(Options(max_sessions=overall, max_sessions_per_ip=per_ip))
    model: dict[int, str] = {}
    for add, key, ip in steps:
        if add:
            if key in model:
                continue
            if limiter.admit(None, ip) is None:
                limiter.count(key, ip)
                model[key] = ip
        else:
            limiter.release(key)
            model.pop(key, None)
        assert limiter.sessions() == len(model)
        for address in "abc":
            assert limiter.sessions(address) == sum(1 for v in model.values() if v == address)
        assert overall is None or limiter.sessions() <= overall
        assert per_ip is None or all(limiter.sessions(a) <= per_ip for a in "abc")
