"""How each receiving transport wraps frames (PROTOCOL.md section 7).

A :class:`Wire` turns frame text into the bytes of one HTTP chunk (or one
WebSocket message), and says whether the transport polls (one frame per
response) or streams (until ``response_limit``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sockjs.protocol import frames
from sockjs.protocol.encoding import json_encode
from sockjs.protocol.errors import CallbackRequired, InvalidCallback

XHR_STREAMING_PRELUDE = b"h" * 2048 + b"\n"
EVENTSOURCE_PRELUDE = b"\r\n"

_HTMLFILE_TEMPLATE = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.{{ callback }};
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""
# Old Safari renders nothing before 1 KiB; pad the way sockjs-node does
# (template length with the 14-character placeholder, padded to 1024 + 13).
_HTMLFILE_PADDING = " " * (1024 - len(_HTMLFILE_TEMPLATE) + 14 - 1) + "\r\n\r\n"

_CALLBACK_RE = re.compile(r"[A-Za-z0-9_.\-]+")
#: Longest callback name accepted; the clients use short names such as ``_jp.a1b2c3``.
MAX_CALLBACK_LENGTH = 256


def validate_callback(value: str | None) -> str:
    """Return a safe JSONP/htmlfile callback name or raise the spec's error.

    Missing or empty -> ``"callback" parameter required``; anything outside
    ``A-Z a-z 0-9 _ - .`` -> ``invalid "callback" parameter`` (it is written
    verbatim into script, so this is the injection guard).
    """
    if not value:
        raise CallbackRequired()
    if len(value) > MAX_CALLBACK_LENGTH or not _CALLBACK_RE.fullmatch(value):
        raise InvalidCallback()
    return value


@dataclass(frozen=True, slots=True)
class Wire:
    """Frame wrapping of one receiving transport, and the rules it lives by."""

    name: str
    #: Frames keep coming on one response (else one frame per poll).
    streaming: bool
    prelude: bytes
    wrap: Callable[[str], bytes]
    #: A streaming response ends once it carried ``response_limit`` bytes.
    limited: bool = True
    #: The session lives only as long as this receiver: it ends with it,
    #: without ``disconnect_delay`` (WebSockets, as sockjs-node 0.3.11+).
    bound: bool = False
    #: The connection can carry a ping with each heartbeat (RFC 6455, not hixie-76).
    pings: bool = False


def _xhr(frame: str) -> bytes:
    return (frame + "\n").encode()


def _eventsource(frame: str) -> bytes:
    # The 0.3 client runs unescape() on each event; frames are JSON so only
    # '%' can occur, but CR/LF/NUL would break the event framing.
    if "%" in frame:
        frame = frame.replace("%", "%25")
    if "\r" in frame or "\n" in frame or "\x00" in frame:
        frame = frame.replace("\r", "%0D").replace("\n", "%0A").replace("\x00", "%00")
    return ("data: " + frame + "\r\n\r\n").encode()


def _htmlfile(frame: str) -> bytes:
    # Inside an inline <script>, '<' could end the element ("</script>");
    # \u003c is the same character to the JavaScript parser (PROTOCOL.md 7.7).
    return (
        "<script>\np(" + json_encode(frame).replace("<", "\\u003c") + ");\n</script>\r\n"
    ).encode()


def _websocket(frame: str) -> bytes:
    return frame.encode()


XHR = Wire("xhr", False, b"", _xhr)
XHR_STREAMING = Wire("xhr_streaming", True, XHR_STREAMING_PRELUDE, _xhr)
EVENTSOURCE = Wire("eventsource", True, EVENTSOURCE_PRELUDE, _eventsource)
WEBSOCKET = Wire("websocket", True, b"", _websocket, limited=False, bound=True, pings=True)
#: Hixie-76 WebSockets: the same frames, no ping frames in the protocol.
HIXIE76 = Wire("websocket", True, b"", _websocket, limited=False, bound=True)


#: What ``jsonp_prefix`` puts before every JSONP answer: an answer that starts
#: with a comment cannot be taken for a Flash file ("Rosetta Flash").
JSONP_PREFIX = "/**/"


def jsonp(callback: str, prefixed: bool = False) -> Wire:
    r"""Wire of ``jsonp``: ``callback("frame");\\r\\n``, one frame per response.

    ``prefixed`` (``jsonp_prefix``) starts each answer with :data:`JSONP_PREFIX`.
    """
    prefix = (JSONP_PREFIX if prefixed else "") + callback + "("

    def wrap(frame: str) -> bytes:
        return (prefix + json_encode(frame) + ");\r\n").encode()

    return Wire("jsonp", False, b"", wrap)


def htmlfile(callback: str) -> Wire:
    """Wire of ``htmlfile``: a 1 KiB+ page prelude, then one ``<script>`` per frame."""
    prelude = (_HTMLFILE_TEMPLATE + _HTMLFILE_PADDING).replace("{{ callback }}", callback)
    return Wire("htmlfile", True, prelude.encode(), _htmlfile)


class Prepared:
    """One message on its way to many sessions: its frame and wire bytes, made once.

    A broadcast passes the same :class:`Prepared` to :meth:`Session.send` of
    every recipient: the ``a[...]`` frame is built on first need and each
    transport's bytes (:meth:`Wire.wrap`) once per distinct wire, instead of
    once per session.  Meant to live for one broadcast.
    """

    __slots__ = ("_chunks", "_frame", "encoded")

    def __init__(self, encoded: str) -> None:
        #: The message, encoded with :func:`frames.encode_message`.
        self.encoded = encoded
        self._frame: str | None = None
        # id(wire) -> (wire, bytes): the wire is kept so that its id cannot
        # be reused by another wire while this object lives.
        self._chunks: dict[int, tuple[Wire, bytes]] = {}

    def chunk(self, wire: Wire) -> bytes:
        """The message frame wrapped for ``wire``."""
        entry = self._chunks.get(id(wire))
        if entry is None:
            frame = self._frame
            if frame is None:
                frame = self._frame = frames.message_frame(self.encoded)
            entry = self._chunks[id(wire)] = (wire, wire.wrap(frame))
        return entry[1]
