"""The one place where sockjs touches what ``websockets`` does not document.

``websockets`` promises compatibility only for the names in its API
reference. What :mod:`sockjs.cyclone.wsstream` needs beyond them is wrapped
here, one small function each, so a change in ``websockets`` breaks one
function and the test named after it (``tests/cyclone/test_websockets_fence.py``).
Public names (``Protocol``'s documented methods, frames, extension
factories, exceptions) are used directly elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from websockets.extensions import Extension, ServerExtensionFactory
from websockets.headers import build_extension, parse_extension
from websockets.protocol import Protocol
from websockets.typing import ExtensionName, ExtensionParameter

try:  # websockets' C helper; its pure-Python twin where it was not built
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - depends on how websockets was built
    from websockets.utils import apply_mask as _apply_mask

__all__ = [
    "ExtensionOffer",
    "build_extensions_header",
    "factory_name",
    "install_extensions",
    "parse_extensions_header",
    "parser_error",
    "unmask",
]

#: One extension of a ``Sec-WebSocket-Extensions`` header: name and parameters.
ExtensionOffer = tuple[ExtensionName, Sequence[ExtensionParameter]]

#: ``unmask(payload, key)``: a client frame's payload XORed with its 4-byte
#: masking key (RFC 6455 5.3).  Relies on ``websockets.speedups.apply_mask``
#: (C), else ``websockets.utils.apply_mask``: undocumented helpers; the C one
#: beats XOR in Python (int.from_bytes) 5 times on 16 bytes, 18 times on 1 KiB.
unmask: Callable[[bytes, bytes], bytes] = _apply_mask


def install_extensions(protocol: Protocol, extensions: list[Extension]) -> None:
    """Make ``protocol`` encode and decode frames with ``extensions``.

    Relies on ``Protocol.extensions``, the list its parser and framer apply;
    websockets itself only sets it from its own handshake, which sockjs does
    not use (hybi-07/08 and our own header checks).
    """
    protocol.extensions = extensions


def parser_error(protocol: Protocol) -> Exception | None:
    """The exception that stopped ``protocol``'s parser, if one did.

    Relies on ``Protocol.parser_exc``.  The public ``close_exc`` carries it as
    ``__cause__`` only once the connection is CLOSED, which a failing
    server-side Protocol is not until the client's EOF.
    """
    return protocol.parser_exc


def factory_name(factory: ServerExtensionFactory) -> str:
    """The extension name ``factory`` negotiates (``"permessage-deflate"``).

    Relies on ``ServerExtensionFactory.name``, documented on the client
    factory and on ``Extension`` but not on the server factory.
    """
    return factory.name


def parse_extensions_header(header: str) -> list[ExtensionOffer]:
    """Parse a ``Sec-WebSocket-Extensions`` header (RFC 6455 9.1).

    Raises ``websockets.exceptions.InvalidHeader`` when it is malformed.
    Relies on ``websockets.headers.parse_extension``.
    """
    return list(parse_extension(header))


def build_extensions_header(extensions: Sequence[ExtensionOffer]) -> str:
    """The ``Sec-WebSocket-Extensions`` value for ``extensions`` (RFC 6455 9.1).

    Relies on ``websockets.headers.build_extension``.
    """
    return build_extension(extensions)
