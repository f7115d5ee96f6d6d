"""Deterministic generators of hostile inputs for the socket fuzzer.

Every case is built from a seeded :class:`random.Random`, so a failure names
a case that can be replayed (``Case.tag`` and ``Case.number``). Two families:

* HTTP: valid requests of every SockJS route (and the WebSocket and hixie-76
  upgrades), then mutated: truncated, bytes flipped/inserted/deleted, headers
  duplicated or oversized, framing contradictions, odd versions and methods,
  broken chunked bodies and JSON payloads, raw garbage; plus targeted
  upgrade malformations that must never be answered ``101``.
* WebSocket: a valid handshake, then protocol violations (unmasked frames,
  reserved bits and opcodes, fragmented or oversized control frames, bad
  close payloads, invalid UTF-8, binary data, broken SockJS framing) with the
  close code each must get, truncated frames and garbage.
"""

from __future__ import annotations

import base64
import json
import random
import re
import struct
from dataclasses import dataclass, field

from integration.slowclients import client_frame

KEY = base64.b64encode(b"fuzz-fuzz-fuzz!!").decode()
HIXIE_KEY1 = "4 @1  46546xW%0l 1 5"
HIXIE_KEY2 = "12998 5 Y3 1  .P00"
HIXIE_KEY3 = b"aaaaaaaa"
MASK = b"\x37\xfa\x21\x3d"

#: The protocol's own 5xx answers (PROTOCOL.md 4.6); any other 5xx is a bug.
PROTOCOL_500_BODIES = {
    b"Payload expected.",
    b"Broken JSON encoding.",
    b'"callback" parameter required',
    b'invalid "callback" parameter',
}


@dataclass
class Case:
    """One input: what to send, and what must (not) come back."""

    number: int
    tag: str
    family: str  # "http" or "ws"
    data: bytes = b""
    #: HTTP: an upgrade request known to be malformed (101 forbidden).
    malformed_upgrade: bool = False
    #: WebSocket: endpoint path and the frames sent after the handshake.
    path: str = ""
    frames: bytes = b""
    #: WebSocket: close codes the server may answer with (``None``: no requirement).
    expect_close: frozenset[int] | None = None
    #: WebSocket (SockJS endpoint): a text frame that must precede the Close.
    expect_text: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


# -- valid templates ---------------------------------------------------------------------


def _request(method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def upgrade_headers(version: str = "13", key: str = KEY) -> list[tuple[str, str]]:
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", version),
        ("Sec-WebSocket-Key", key),
    ]


def hixie_request(path: str, key1: str = HIXIE_KEY1, key2: str = HIXIE_KEY2) -> bytes:
    headers = [
        ("Connection", "Upgrade"),
        ("Upgrade", "WebSocket"),
        ("Origin", "http://127.0.0.1"),
        ("Sec-WebSocket-Key1", key1),
        ("Sec-WebSocket-Key2", key2),
    ]
    return _request("GET", path, headers) + HIXIE_KEY3


def templates(rng: random.Random) -> list[tuple[str, bytes]]:
    sid = f"f{rng.randrange(10**9)}"
    prefix = rng.choice(["/echo", "/close", "/cookie_needed_echo", "/broadcast", "/multiplex"])
    session = f"{prefix}/{rng.randrange(1000):03d}/{sid}"
    payload = json.dumps(["x", {"a": [1, 2]}, "\u2028</script>"]).encode()
    chunked_body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    return [
        ("greeting", _request("GET", prefix, [])),
        ("info", _request("GET", f"{prefix}/info", [("Origin", "http://a.example")])),
        (
            "preflight",
            _request(
                "OPTIONS",
                f"{session}/xhr",
                [("Origin", "null"), ("Access-Control-Request-Headers", "a, b")],
            ),
        ),
        ("xhr", _request("POST", f"{session}/xhr", [])),
        ("xhr_send", _request("POST", f"{session}/xhr_send", [], payload)),
        ("xhr_streaming", _request("POST", f"{session}/xhr_streaming", [])),
        ("jsonp", _request("GET", f"{session}/jsonp?c=_jp.a1", [])),
        (
            "jsonp_send",
            _request(
                "POST",
                f"{session}/jsonp_send",
                [("Content-Type", "application/x-www-form-urlencoded")],
                b"d=%5B%22x%22%5D",
            ),
        ),
        ("eventsource", _request("GET", f"{session}/eventsource", [])),
        ("htmlfile", _request("GET", f"{session}/htmlfile?c=cb", [])),
        ("iframe", _request("GET", f"{prefix}/iframe.html", [("If-None-Match", "x")])),
        (
            "chunked_send",
            _request("POST", f"{session}/xhr_send", [("Transfer-Encoding", "chunked")])[
                :-2
            ].replace(b"Content-Length: 0\r\n", b"")
            + b"\r\n"
            + chunked_body,
        ),
        ("upgrade", _request("GET", f"{session}/websocket", upgrade_headers())),
        ("raw_upgrade", _request("GET", f"{prefix}/websocket", upgrade_headers())),
        ("hixie", hixie_request(f"{session}/websocket")),
        ("cookie", _request("POST", f"{session}/xhr", [("Cookie", "JSESSIONID=abc; x=y")])),
    ]


# -- mutations ----------------------------------------------------------------------------

_SPICE = [b"\x00", b"\r", b"\n", b"\r\n", b"\xff", b" ", b":", b"%", b"\xc3", b"\t", b"\x0c"]


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _insert(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    spice = rng.choice(_SPICE) * rng.randint(1, 3) if rng.random() < 0.7 else rng.randbytes(8)
    return data[:at] + spice + data[at:]


def _delete(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 16) :]


def _head_lines(data: bytes) -> tuple[list[bytes], bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body if sep else b""


def _join(lines: list[bytes], body: bytes) -> bytes:
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _dup_header(rng: random.Random, data: bytes) -> bytes:
    lines, body = _head_lines(data)
    if len(lines) > 1:
        lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(lines[1:]))
    return _join(lines, body)


def _weird_value(rng: random.Random, data: bytes) -> bytes:
    lines, body = _head_lines(data)
    if len(lines) > 1:
        index = rng.randrange(1, len(lines))
        name = lines[index].split(b":", 1)[0]
        value = rng.choice(
            [
                b"",
                b" " * 50,
                b"\xff\xfe",
                "\u2028é".encode(),
                b"x" * rng.choice([100, 5000, 70_000]),
                b"a,b,,c;;=",
                b"-1",
                b"99999999999999999999",
            ]
        )
        lines[index] = name + b": " + value
    return _join(lines, body)


def _request_line(rng: random.Random, data: bytes) -> bytes:
    lines, body = _head_lines(data)
    parts = lines[0].split(b" ")
    choice = rng.randrange(6)
    if choice == 0 and parts:
        parts[0] = rng.choice([b"get", b"GeT", b"FOO", b"", b"G\x00T", b"CONNECT", b"TRACE"])
    elif choice == 1 and len(parts) > 2:
        parts[2] = rng.choice([b"HTTP/1.2", b"HTTP/2.0", b"HTTP/1", b"http/1.1", b"", b"HTTP/1.1x"])
    elif choice == 2 and len(parts) > 1:
        parts[1] = parts[1] + rng.choice(
            [b"%00", b"%ZZ", b"/..", b"/./x", "/é".encode(), b"?" + b"q" * 9000, b"#frag"]
        )
    elif choice == 3 and len(parts) > 1:
        parts[1] = b"http://127.0.0.1" + parts[1]
    elif choice == 4:
        parts.insert(1, b"")  # a double space
    else:
        parts = parts[:2]
    lines[0] = b" ".join(parts)
    return _join(lines, body)


def _framing(rng: random.Random, data: bytes) -> bytes:
    lines, body = _head_lines(data)
    lines = [line for line in lines if not line.lower().startswith(b"content-length")]
    extra = rng.choice(
        [
            [b"Content-Length: -1"],
            [b"Content-Length: abc"],
            [b"Content-Length: +5"],
            [b"Content-Length: 1e9"],
            [b"Content-Length: 5", b"Content-Length: 7"],
            [b"Content-Length: 999999999999"],
            [b"Content-Length: 3", b"Transfer-Encoding: chunked"],
            [b"Transfer-Encoding: chunked"],
            [b"Transfer-Encoding: gzip, chunked"],
            [f"Content-Length: {len(body) + rng.randint(1, 50)}".encode()],
            [b"Expect: 100-continue", f"Content-Length: {len(body)}".encode()],
        ]
    )
    if b"Transfer-Encoding: chunked" in extra and rng.random() < 0.7:
        body = rng.choice(
            [
                b"zz\r\nabc\r\n0\r\n\r\n",
                b"5\r\nabc\r\n0\r\n\r\n",
                b"3\r\nabcdef",
                b"fffffffffffffffff\r\n",
                b"3;ext=1\r\n[1]\r\n0\r\nTrailer: x\r\n\r\n",
                b"-1\r\n",
                b"3\r\n[1]\r\n" * 20,
            ]
        )
    return _join(lines + extra, body)


def _lf_only(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def _big_head(rng: random.Random, data: bytes) -> bytes:
    lines, body = _head_lines(data)
    if rng.random() < 0.5:
        lines += [f"X-H{i}: v".encode() for i in range(rng.choice([90, 150, 400]))]
    else:
        lines.append(b"X-Big: " + b"b" * rng.choice([20_000, 66_000]))
    return _join(lines, body)


def _obs_fold(rng: random.Random, data: bytes) -> bytes:
    lines, body = _head_lines(data)
    if len(lines) > 1:
        lines.insert(rng.randrange(2, len(lines) + 1), b" folded continuation")
    return _join(lines, body)


def _payload(rng: random.Random, data: bytes) -> bytes:
    lines, _ = _head_lines(data)
    body = rng.choice(
        [
            b"[" * 3000 + b"]" * 3000,
            b"[" * 5000,
            b'["\\ud800"]',
            b'["\xed\xa0\x80"]',
            b"[1e99999]",
            b"[" + b"0," * 2000 + b"0]",
            b'{"a": 1}',
            b"null",
            b'"str"',
            b"[NaN, Infinity]",
            b'["' + b"\\" * 101 + b'"]',
            b"d=%5B%22x",
            b"d=%FF%FE",
            b"d=&d=%5B1%5D",
            json.dumps(["m"] * 1001).encode(),  # over max_messages_per_request: 413
            rng.randbytes(64),
        ]
    )
    lines = [line for line in lines if not line.lower().startswith(b"content-length")]
    lines.append(f"Content-Length: {len(body)}".encode())
    return _join(lines, body)


def _query(rng: random.Random, data: bytes) -> bytes:
    lines, body = _head_lines(data)
    parts = lines[0].split(b" ")
    if len(parts) == 3:
        path = parts[1].split(b"?", 1)[0]
        value = b"".join(b"%%%02X" % rng.randrange(256) for _ in range(rng.randint(0, 6)))
        name = rng.choice([b"c", b"callback", b"d", b"i", b"c=x&c", b""])
        parts[1] = path + b"?" + name + b"=" + rng.choice([value, b"x" * 300, b"a.b-c_d", b""])
        lines[0] = b" ".join(parts)
    return _join(lines, body)


def _pipeline(rng: random.Random, data: bytes) -> bytes:
    second = _MUTATIONS[rng.randrange(len(_MUTATIONS) - 1)][1](rng, data)
    return data + second


def _garbage(rng: random.Random, data: bytes) -> bytes:
    return rng.randbytes(rng.randint(1, 300))


_MUTATIONS = [
    ("truncate", _truncate),
    ("flip", _flip),
    ("insert", _insert),
    ("delete", _delete),
    ("dup_header", _dup_header),
    ("weird_value", _weird_value),
    ("request_line", _request_line),
    ("framing", _framing),
    ("lf_only", _lf_only),
    ("big_head", _big_head),
    ("obs_fold", _obs_fold),
    ("payload", _payload),
    ("garbage", _garbage),
    ("query", _query),
    ("pipeline", _pipeline),  # last: _pipeline picks among the others
]


# -- targeted malformed upgrades ------------------------------------------------------------


def malformed_upgrades(rng: random.Random) -> list[tuple[str, bytes]]:
    sid = f"m{rng.randrange(10**9)}"
    sockjs, raw = f"/echo/000/{sid}/websocket", "/echo/websocket"
    path = rng.choice([sockjs, raw])
    good = upgrade_headers()

    def without(name: str) -> list[tuple[str, str]]:
        return [(n, v) for n, v in good if n != name]

    def replaced(name: str, value: str) -> list[tuple[str, str]]:
        return [(n, value if n == name else v) for n, v in good]

    return [
        ("no_upgrade", _request("GET", path, without("Upgrade"))),
        ("upgrade_h2c", _request("GET", path, replaced("Upgrade", "h2c"))),
        ("no_connection", _request("GET", path, without("Connection"))),
        ("connection_keepalive", _request("GET", path, replaced("Connection", "keep-alive"))),
        ("version_99", _request("GET", path, replaced("Sec-WebSocket-Version", "99"))),
        ("version_empty", _request("GET", path, replaced("Sec-WebSocket-Version", ""))),
        ("raw_version_7", _request("GET", raw, replaced("Sec-WebSocket-Version", "7"))),
        ("no_key", _request("GET", path, without("Sec-WebSocket-Key"))),
        (
            "short_key",
            _request(
                "GET", path, replaced("Sec-WebSocket-Key", base64.b64encode(b"x" * 15).decode())
            ),
        ),
        ("non_base64_key", _request("GET", path, replaced("Sec-WebSocket-Key", "!" * 24))),
        ("post_upgrade", _request("POST", path, good)),
        ("wrong_path", _request("GET", f"/echo/000/{sid}/websockets", good)),
        ("session_dot", _request("GET", f"/echo/000/{sid}.x/websocket", good)),
        ("disabled", _request("GET", f"/disabled_websocket_echo/000/{sid}/websocket", good)),
        ("hixie_on_raw", hixie_request(raw)),
        ("hixie_bad_key", hixie_request(sockjs, key1="no spaces or digits")),
        ("hixie_zero_spaces", hixie_request(sockjs, key1="123456")),
        ("hixie_no_key2", hixie_request(sockjs).replace(b"Sec-WebSocket-Key2", b"X-Key2")),
    ]


# -- a reference check of upgrades (to judge mutated ones that got 101) ----------------------

_WS_PATH = re.compile(r"^/[^/?#]+(/[^/.?#]+/[^/.?#]+)?/websocket/?(\?.*)?$")


def acceptable_upgrade(data: bytes) -> bool:
    """Whether a request may be answered ``101`` (read the way the server reads heads).

    The request line must be ``GET <websocket route> HTTP/1.x``; the headers
    (split like Cyclone: ``str.splitlines`` on the UTF-8 text) must ask for a
    WebSocket with an RFC 6455 version and key, or carry both hixie-76 keys.
    """
    head = data.split(b"\r\n\r\n", 1)[0]
    request_line, _, rest = head.partition(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        return False
    target = re.sub(rb"^https?://[^/]+", b"", parts[1], flags=re.IGNORECASE)
    try:
        path = target.decode("ascii")
        text = rest.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not _WS_PATH.match(path):
        return False
    headers: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        if not line:
            continue
        if line[0].isspace() and last is not None:
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            return False
        last = name.strip().lower()
        headers[last] = (
            value.strip() if last not in headers else headers[last] + "," + value.strip()
        )
    if "upgrade" not in [t.strip() for t in headers.get("connection", "").lower().split(",")]:
        return False
    if headers.get("upgrade", "").strip().lower() != "websocket":
        return False
    if "sec-websocket-key1" in headers and "sec-websocket-key2" in headers:
        return True
    try:
        key_ok = len(base64.b64decode(headers.get("sec-websocket-key", ""), validate=True)) == 16
    except ValueError:
        key_ok = False
    return headers.get("sec-websocket-version", "").strip() in ("7", "8", "13") and key_ok


# -- WebSocket frames --------------------------------------------------------------------------


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = True
) -> bytes:
    """One client frame with this module's fixed mask (cases stay reproducible)."""
    return client_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask, mask_key=MASK)


def ws_cases(
    rng: random.Random,
) -> list[tuple[str, bool, bytes, frozenset[int] | None, str | None]]:
    """``(tag, sockjs_endpoint, frames, allowed close codes, text expected first)``."""
    sockjs = rng.random() < 0.5
    text = b'["hi"]' if sockjs else b"hi"
    violation = frozenset({1002})
    cases: list[tuple[str, bool, bytes, frozenset[int] | None, str | None]] = [
        ("unmasked", sockjs, frame(0x1, text, mask=False), violation, None),
        ("rsv", sockjs, frame(0x1, text, rsv=rng.choice([1, 2, 4, 3, 7])), violation, None),
        (
            "reserved_opcode",
            sockjs,
            frame(rng.choice([3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]), text),
            violation,
            None,
        ),
        ("fragmented_ping", sockjs, frame(0x9, b"p", fin=False), violation, None),
        ("fragmented_close", sockjs, frame(0x8, b"\x03\xe8", fin=False), violation, None),
        ("long_ping", sockjs, frame(0x9, b"p" * rng.randint(126, 300)), violation, None),
        ("lone_continuation", sockjs, frame(0x0, text), violation, None),
        (
            "interleaved_data",
            sockjs,
            frame(0x1, b"[", fin=False) + frame(0x1, b"]"),
            violation,
            None,
        ),
        ("close_one_byte", sockjs, frame(0x8, b"\x03"), violation, None),
        (
            "close_bad_code",
            sockjs,
            frame(0x8, struct.pack("!H", rng.choice([0, 999, 1004, 1005, 1006, 1015, 2999, 5000]))),
            violation,
            None,
        ),
        ("close_bad_utf8", sockjs, frame(0x8, b"\x03\xe8\xff"), frozenset({1002, 1007}), None),
        ("bad_utf8", sockjs, frame(0x1, b'["\xed\xa0\x80"]'), frozenset({1007}), None),
        ("binary", sockjs, frame(0x2, text), frozenset({1003}), None),
        ("truncated", sockjs, frame(0x1, text * 20)[: rng.randint(1, 30)], None, None),
        ("garbage", sockjs, rng.randbytes(rng.randint(1, 200)), None, None),
        ("valid_then_garbage", sockjs, frame(0x1, text) + rng.randbytes(40), None, None),
        (
            "huge_length",
            sockjs,
            struct.pack("!BBQ", 0x81, 0xFF, rng.choice([2**40, 2**63 - 1, 5_000_000])) + MASK,
            frozenset({1009, 1002}),
            None,
        ),
    ]
    topics = ["ann", "bob", "carl", "room", "", "a,b", "%41nn", "\u00e9", "x" * 300]
    mux = [
        f"{rng.choice(['sub', 'msg', 'uns', 'SUB', 'x', ''])},{rng.choice(topics)},{rng.random()}"
        for _ in range(rng.randint(1, 8))
    ]
    mux_frame = frame(0x1, json.dumps([*mux, 42, None, {"a": [1]}, ",,", "msg"]).encode())
    cases.append(("multiplex", True, mux_frame, None, None))
    if sockjs:
        cases += [
            ("not_json", True, frame(0x1, b"[broken"), frozenset({3000}), None),
            (
                "too_many_messages",
                True,
                frame(0x1, json.dumps(["m"] * 1001).encode()),
                frozenset({1000}),
                'c[1009,"Too many messages in one frame"]',
            ),
            ("deep_json", True, frame(0x1, b"[" * 3000), frozenset({3000}), None),
        ]
    return cases


def hixie_cases(rng: random.Random) -> list[tuple[str, bytes]]:
    return [
        ("hixie_bad_lead", b"\x42junk"),
        ("hixie_length_frame", b"\xff\x05hello"),
        ("hixie_bad_utf8", b"\x00\xed\xa0\x80\xff"),
        ("hixie_garbage", rng.randbytes(rng.randint(1, 100))),
        ("hixie_truncated", b"\x00" + b"x" * rng.randint(0, 50)),
    ]


# -- the whole deterministic sequence ---------------------------------------------------------


def generate(seed: int, http_count: int, ws_count: int) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    number = 0
    while len(cases) < http_count:
        if rng.random() < 0.1:
            for tag, data in malformed_upgrades(rng):
                cases.append(Case(number, f"upgrade:{tag}", "http", data, malformed_upgrade=True))
                number += 1
            continue
        name, template = rng.choice(templates(rng))
        mutation, mutate = rng.choice(_MUTATIONS)
        data = mutate(rng, template) if template else template
        cases.append(Case(number, f"{name}:{mutation}", "http", data))
        number += 1
    ws_total = 0
    while ws_total < ws_count:
        if rng.random() < 0.1:
            for tag, frames_ in hixie_cases(rng):
                path = f"/echo/000/h{number}/websocket"
                cases.append(
                    Case(number, tag, "hixie", hixie_request(path), path=path, frames=frames_)
                )
                number += 1
                ws_total += 1
            continue
        for tag, sockjs, frames_, expect, first_text in ws_cases(rng):
            path = f"/echo/000/w{number}/websocket" if sockjs else "/echo/websocket"
            if tag == "multiplex":
                path = f"/multiplex/000/w{number}/websocket"
            cases.append(
                Case(
                    number,
                    f"ws:{tag}",
                    "ws",
                    path=path,
                    frames=frames_,
                    expect_close=expect,
                    expect_text=first_text,
                )
            )
            number += 1
            ws_total += 1
    rng.shuffle(cases)
    return cases
