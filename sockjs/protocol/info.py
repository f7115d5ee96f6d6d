"""Static answers: greeting, ``/info`` body and the iframe page (PROTOCOL.md 5)."""

from __future__ import annotations

import hashlib

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
    """The iframe page for one ``sockjs_url`` and its strong ETag."""

    __slots__ = ("body", "etag")

    def __init__(self, sockjs_url: str) -> None:
        # Options validation guarantees the URL has no '"', so it cannot
        # break out of the src attribute.
        self.body = _IFRAME_TEMPLATE.replace("{{ sockjs_url }}", sockjs_url).encode()
        self.etag = '"' + hashlib.md5(self.body, usedforsecurity=False).hexdigest() + '"'

    def matches(self, if_none_match: str | None) -> bool:
        """Whether a conditional GET can be answered 304."""
        return if_none_match == self.etag
