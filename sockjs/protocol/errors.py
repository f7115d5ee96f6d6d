"""Errors raised by the protocol core, each carrying the answer to send.

Peer faults (bad JSON, unknown session, bad callback) are subclasses of
:class:`PeerError` and know their HTTP status and body, so the adapter never
has to map exceptions to responses by hand.
"""

from __future__ import annotations

from collections.abc import Sized


class SockJSError(Exception):
    """Base class of every error raised by ``sockjs.protocol``."""


class PeerError(SockJSError):
    """The client sent something the protocol rejects.

    :attr:`status` and :attr:`body` are the HTTP answer PROTOCOL.md prescribes.
    """

    status = 500
    body = "500 - Internal Server Error"
    #: Short name used in stats and logs.
    kind = "internal"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.body)
        self.detail = detail or self.body


class PayloadExpected(PeerError):
    """Empty body, or a payload that is not a JSON array (section 3.4)."""

    body = "Payload expected."
    kind = "payload_expected"


class BrokenJSON(PeerError):
    """The payload is not valid JSON or not valid UTF-8 (section 3.4)."""

    body = "Broken JSON encoding."
    kind = "bad_json"


class SessionNotFound(PeerError):
    """A sending request names a session that does not exist (section 4.6)."""

    status = 404
    body = "404 Error: Page not found\n"
    kind = "no_session"


class CallbackRequired(PeerError):
    """``jsonp``/``htmlfile`` without a ``c`` parameter (section 7.4)."""

    body = '"callback" parameter required'
    kind = "bad_callback"


class InvalidCallback(PeerError):
    """A callback name with characters outside ``A-Z a-z 0-9 _ - .`` (section 7.4)."""

    body = 'invalid "callback" parameter'
    kind = "bad_callback"


class BodyTooLarge(PeerError):
    """A request body over ``max_request_body``."""

    status = 413
    body = "Request body too large."
    kind = "body_too_large"


class TooManyMessages(PeerError):
    """A send request carrying more than ``max_messages_per_request`` messages."""

    status = 413
    body = "Too many messages in one request."
    kind = "too_many_messages"


class OriginRefused(PeerError):
    """An HTTP request whose ``Origin`` is not in ``allowed_origins`` (``check_origin_http``)."""

    status = 403
    body = "Unverified origin."
    kind = "bad_origin"


def check_message_count(messages: Sized, limit: int) -> None:
    """Raise :class:`TooManyMessages` when ``messages`` holds more than ``limit`` items."""
    if len(messages) > limit:
        raise TooManyMessages(f"{len(messages)} messages in one request, limit {limit}")
