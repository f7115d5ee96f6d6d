"""Static answers: greeting, ``/info`` body and the iframe page (PROTOCOL.md 5)."""

from __future__ import annotations

import hashlib

from sockjs.protocol import http
from sockjs.protocol.encoding import json_encode
from sockjs.protocol.options import Options

GREETING = b"Welcome to SockJS!\n"

_IFRAME_TEMPLATE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script>
    document.domain = document.domain;
    _sockjs_onload = function(){SockJS.bootstrap_iframe();};
  </script>
  <script src="{{ sockjs_url }}"></script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""
_SCRIPT_TAG = '<script src="{{ sockjs_url }}"></script>'


def info_body(options: Options, entropy: int) -> bytes:
    """The ``/info`` JSON; ``entropy`` comes from the adapter's CSPRNG."""
    return json_encode(
        {
            "websocket": options.websocket_enabled,
            "origins": ["*:*"],
            "cookie_needed": options.cookie_needed,
            "entropy": entropy,
        }
    ).encode()


class IframePage:
    """The iframe page for one ``sockjs_url``, its strong ETag and its framing headers.

    The body is exactly the 0.3.3 template (the suite compares it) unless
    ``integrity`` (``sockjs_url_integrity``) is given: the script tag then
    carries ``integrity`` and ``crossorigin="anonymous"``, so the browser
    refuses a client library that is not the expected file. ``headers`` are
    those of :func:`~sockjs.protocol.http.frame_ancestors`.
    """

    __slots__ = ("body", "etag", "headers")

    def __init__(
        self, sockjs_url: str, integrity: str | None = None, frame_ancestors: str | None = None
    ) -> None:
        # Options validation guarantees the URL has no '"' and the hash only
        # base64 characters, so neither can break out of its attribute.
        script = f'<script src="{sockjs_url}"></script>'
        if integrity is not None:
            script = (
                f'<script src="{sockjs_url}" integrity="{integrity}" '
                'crossorigin="anonymous"></script>'
            )
        self.body = _IFRAME_TEMPLATE.replace(_SCRIPT_TAG, script).encode()
        self.etag = '"' + hashlib.md5(self.body, usedforsecurity=False).hexdigest() + '"'
        self.headers: http.Headers = http.frame_ancestors(frame_ancestors)

    @classmethod
    def for_options(cls, options: Options) -> IframePage:
        """The page of ``sockjs_url``, ``sockjs_url_integrity`` and ``iframe_frame_ancestors``."""
        return cls(options.sockjs_url, options.sockjs_url_integrity, options.iframe_frame_ancestors)

    def matches(self, if_none_match: str | None) -> bool:
        """Whether a conditional GET can be answered 304."""
        return if_none_match == self.etag
