"""Sending transports: ``xhr_send`` and ``jsonp_send`` (PROTOCOL.md 7.3, 7.5)."""

from __future__ import annotations

from urllib.parse import parse_qs

from sockjs.cyclone.handlers.base import SockJSHandler
from sockjs.protocol import http
from sockjs.protocol.encoding import decode_payload
from sockjs.protocol.errors import (
    BodyTooLarge,
    BrokenJSON,
    PayloadExpected,
    SessionNotFound,
    check_message_count,
)


class SenderHandler(SockJSHandler):
    """Parse a payload, find the session, deliver the messages in order."""

    checks_origin = True

    def deliver(self, session_id: str, payload: bytes) -> bool:
        """Checks in the order of PROTOCOL.md 3.4; errors carry their answer.

        Returns False when admission refused the request (``verify_ip``): the
        refusal is answered, counted and logged here, and nothing is delivered.
        """
        messages = decode_payload(payload)
        # A payload error like the others (before the session lookup, 3.4).
        check_message_count(messages, self.service.options.max_messages_per_request)
        service = self.service
        handle = service.session(session_id)
        if handle is None:
            raise SessionNotFound()
        ip = self.client_address()
        refusal = service.admission.admit_sender(handle.core, ip)
        if refusal is not None:
            service.telemetry.refused(refusal, ip)
            self.respond(refusal.status, [], refusal.detail.encode())
            return False
        # Delivered before answering: the client may poll right after the 204.
        handle.deliver(messages)
        return True

    def body(self) -> bytes:
        """The request body, refused beyond ``max_request_body``."""
        body: bytes = self.request.body or b""
        self.service.stats.bytes_received += len(body)
        if len(body) > self.service.options.max_request_body:
            raise BodyTooLarge()
        return body


class XhrSendHandler(SenderHandler):
    """``POST .../xhr_send``: 204 on success; the request Content-Type is ignored."""

    methods = ("POST", "OPTIONS")
    allow = "POST, OPTIONS"
    route_name = "xhr_send"

    def post(self, server_id: str, session_id: str) -> None:
        """Deliver a JSON array of messages."""
        self.cors_headers()
        self.session_headers()
        if self.deliver(session_id, self.body()):
            self.respond(204, [], b"")

    def options(self, server_id: str, session_id: str) -> None:
        """Preflight."""
        self.preflight("OPTIONS, POST")


class JsonpSendHandler(SenderHandler):
    """``POST .../jsonp_send``: form field ``d`` or a raw body; answers ``ok``."""

    methods = ("POST",)
    allow = "POST"
    route_name = "jsonp_send"

    def post(self, server_id: str, session_id: str) -> None:
        """Deliver the payload of a form or text body."""
        self.session_headers()
        body = self.body()
        media_type = (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if media_type == "application/x-www-form-urlencoded":
            body = _form_field(body, "d")
        if self.deliver(session_id, body):
            self.respond(200, [], b"ok", content_type=http.TEXT_PLAIN)


def _form_field(body: bytes, name: str) -> bytes:
    """First value of a urlencoded field (blank values count as missing)."""
    try:
        fields = parse_qs(body.decode("utf-8"), errors="strict")
    except UnicodeDecodeError:
        raise BrokenJSON() from None
    values = fields.get(name)
    if not values:
        raise PayloadExpected()
    return values[0].encode("utf-8")
