"""What sockjs relies on in websockets beyond its documented API, one test each.

``sockjs/cyclone/_websockets.py`` is the only module allowed to touch these
things (the last tests check that). When one of the tests below fails after a
websockets upgrade, its message says what changed; adapt the fence function
it names, not the stream.
"""

from __future__ import annotations

import ast
import zlib
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import InvalidHeader, ProtocolError
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from sockjs.cyclone import _websockets

SOCKJS = Path(__file__).resolve().parents[2] / "sockjs"
FENCE = SOCKJS / "cyclone" / "_websockets.py"
VERSION = f"(websockets {websockets.__version__})"


def server() -> Protocol:
    return Protocol(Side.SERVER, state=State.OPEN)


def client_frame(first_byte: int, payload: bytes) -> bytes:
    key = b"\x01\x02\x03\x04"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes((first_byte, 0x80 | len(payload))) + key + masked


def test_protocol_extensions() -> None:
    """install_extensions() sets ``Protocol.extensions``."""
    protocol = server()
    assert isinstance(getattr(protocol, "extensions", None), list), (
        f"websockets.protocol.Protocol no longer has `extensions` (the list of extensions "
        f"its parser and framer apply, which install_extensions() sets) {VERSION}"
    )
    _, extension = ServerPerMessageDeflateFactory().process_request_params([], [])
    _websockets.install_extensions(protocol, [extension])
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(b"hello") + compressor.flush(zlib.Z_SYNC_FLUSH)
    protocol.receive_data(client_frame(0xC1, data[:-4]))  # FIN, RSV1, text
    frames = [e for e in protocol.events_received() if isinstance(e, Frame)]
    assert [(f.opcode, bytes(f.data)) for f in frames] == [(Opcode.TEXT, b"hello")], (
        f"websockets.protocol.Protocol ignores a list assigned to `extensions`: frames are "
        f"no longer decoded by it, install_extensions() must install them another way {VERSION}"
    )


def test_protocol_parser_exc() -> None:
    """parser_error() reads ``Protocol.parser_exc``."""
    protocol = server()
    assert hasattr(protocol, "parser_exc"), (
        f"websockets.protocol.Protocol no longer has `parser_exc` (the exception that stopped "
        f"its parser, which parser_error() reads) {VERSION}"
    )
    assert _websockets.parser_error(protocol) is None
    protocol.receive_data(client_frame(0x83, b"x"))  # reserved opcode
    exc = _websockets.parser_error(protocol)
    assert isinstance(exc, ProtocolError), (
        f"websockets.protocol.Protocol no longer stores the exception that stopped its parser "
        f"in `parser_exc` (got {exc!r}); parser_error() must find it elsewhere {VERSION}"
    )


def test_server_extension_factory_name() -> None:
    """factory_name() reads ``ServerExtensionFactory.name``."""
    name = getattr(ServerPerMessageDeflateFactory(), "name", None)
    assert name == "permessage-deflate", (
        f"websockets.extensions.ServerExtensionFactory no longer has `name` (the extension "
        f"name it negotiates, which factory_name() reads); got {name!r} {VERSION}"
    )
    assert _websockets.factory_name(ServerPerMessageDeflateFactory()) == name


def test_headers_parse_extension() -> None:
    """parse_extensions_header() is ``websockets.headers.parse_extension``."""
    header = 'permessage-deflate; client_max_window_bits, x-foo; a=1; b="two"'
    try:
        offers = _websockets.parse_extensions_header(header)
    except Exception as exc:  # pragma: no cover - only when websockets changed
        pytest.fail(
            f"websockets.headers.parse_extension (which parse_extensions_header() calls) "
            f"failed on a valid header: {exc!r} {VERSION}"
        )
    assert [(name, list(params)) for name, params in offers] == [
        ("permessage-deflate", [("client_max_window_bits", None)]),
        ("x-foo", [("a", "1"), ("b", "two")]),
    ], f"websockets.headers.parse_extension no longer returns [(name, [(param, value)])] {VERSION}"
    with pytest.raises(InvalidHeader):
        _websockets.parse_extensions_header("permessage-deflate; =")


def test_headers_build_extension() -> None:
    """build_extensions_header() is ``websockets.headers.build_extension``."""
    offers = [("permessage-deflate", [("server_max_window_bits", "12"), ("x", None)])]
    built = _websockets.build_extensions_header(offers)  # type: ignore[arg-type]
    assert built == "permessage-deflate; server_max_window_bits=12; x", (
        f"websockets.headers.build_extension no longer builds a Sec-WebSocket-Extensions "
        f"value from [(name, [(param, value)])]; got {built!r} {VERSION}"
    )


def test_apply_mask() -> None:
    """unmask() is websockets' ``apply_mask`` (``speedups``, else ``utils``)."""
    from websockets import utils

    assert callable(getattr(utils, "apply_mask", None)), (
        f"websockets.utils no longer has `apply_mask(data, mask)` (unmask() falls back to it "
        f"when websockets.speedups is missing) {VERSION}"
    )
    payload = bytes(range(256)) * 5
    key = b"\x0a\x1b\x2c\x3d"
    expected = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert _websockets.unmask(payload, key) == expected, (
        f"websockets' apply_mask(data, mask) no longer XORs data with the 4-byte mask {VERSION}"
    )
    assert utils.apply_mask(payload, key) == expected


# -- the fence holds --------------------------------------------------------------------

#: What websockets documents (its API reference) and sockjs may use anywhere.
PUBLIC = {
    "websockets.exceptions": None,  # every exception there is documented
    "websockets.extensions": {"Extension", "ServerExtensionFactory", "ClientExtensionFactory"},
    "websockets.extensions.permessage_deflate": {
        "ServerPerMessageDeflateFactory",
        "ClientPerMessageDeflateFactory",
    },
    "websockets.frames": {"Frame", "Opcode", "Close", "CloseCode"},
    "websockets.protocol": {"Protocol", "Side", "State", "SEND_EOF", "Event"},
    "websockets.server": {"ServerProtocol"},
    "websockets.http11": {"Request", "Response"},
    "websockets.datastructures": {"Headers", "MultipleValuesError"},
    "websockets.typing": {"Data", "LoggerLike", "Origin", "ExtensionName", "ExtensionParameter"},
}
#: Undocumented attributes of websockets' objects (the fence's and others').
INTERNAL_ATTRIBUTES = {
    "writes",
    "events",
    "parser",
    "parser_exc",
    "reader",
    "current_size",
    "cur_size",
    "expect_continuation_frame",
    "eof_sent",
    "debug",
    "extensions",
    "close_rcvd",
    "close_sent",
    "close_rcvd_then_sent",
    "max_message_size",
    "max_size",
    "send_frame",
    "send_eof",
}


def _modules() -> list[Path]:
    return sorted(path for path in SOCKJS.rglob("*.py") if path != FENCE)


def test_only_the_fence_imports_websockets_internals() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                bad = [a.name for a in node.names if a.name.startswith("websockets.")]
                assert not bad, f"{path}: import {bad} (use from-imports of public names)"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("websockets"):
                allowed = PUBLIC.get(node.module or "", set())
                names = {alias.name for alias in node.names}
                bad_names = set() if allowed is None else names - allowed
                assert not bad_names, (
                    f"{path.relative_to(SOCKJS.parent)}:{node.lineno} imports {sorted(bad_names)} "
                    f"from {node.module}, which websockets does not document: go through "
                    f"sockjs/cyclone/_websockets.py"
                )


def _imports_websockets(tree: ast.Module) -> bool:
    return any(
        (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("websockets"))
        or (
            isinstance(node, ast.Import)
            and any(a.name.startswith("websockets") for a in node.names)
        )
        for node in ast.walk(tree)
    )


def test_only_the_fence_touches_websockets_attributes() -> None:
    """In modules that use websockets, none of its objects' undocumented attributes."""
    checked = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        if not _imports_websockets(tree):
            continue
        checked.append(path.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert node.attr not in INTERNAL_ATTRIBUTES, (
                    f"{path.relative_to(SOCKJS.parent)}:{node.lineno} uses `.{node.attr}`, "
                    f"an undocumented attribute of websockets' objects: go through "
                    f"sockjs/cyclone/_websockets.py"
                )
    assert "wsstream.py" in checked
