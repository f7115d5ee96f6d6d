"""The small interfaces the adapter's glue is typed against (the lowest layer).

Low-level modules never import the user-facing classes or the handlers:
they say here what they need of them, and the classes above satisfy these
protocols structurally, so every import points down (docs/architecture.rst).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from sockjs.cyclone._telemetry import Telemetry
    from sockjs.cyclone.conninfo import ConnectionInfo
    from sockjs.protocol.admission import Refusal
    from sockjs.protocol.closing import CloseInfo
    from sockjs.protocol.session import Output


class AppConnection(Protocol):
    """An application connection: the hooks of ``SockJSConnection``."""

    def connectionMade(self, info: ConnectionInfo) -> Any:
        """The session opened; False refuses it; may return a Deferred or be a coroutine."""

    def messageReceived(self, message: Any) -> Any:
        """One message; may return a Deferred or be a coroutine (the next one waits)."""

    def connectionLost(self) -> Any:
        """The session ended; runs exactly once."""


class RouterLike(Protocol):
    """What ``SockJSConnection.router`` offers: the public side of a router."""

    @property
    def prefix(self) -> str:
        """The URL prefix the router serves."""

    @property
    def connections(self) -> Sequence[Any]:
        """The application connections currently open."""

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to many connections, encoded once."""

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Publish ``message`` on ``channel``."""


class PubSub(Protocol):
    """A router's publish/subscribe hub, as sessions and connections use it."""

    def subscribe(self, session: SessionLike, channel: str) -> None:
        """``session`` receives what is published on ``channel`` from now on."""

    def unsubscribe(self, session: SessionLike, channel: str) -> None:
        """End ``session``'s subscription to ``channel``."""

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Publish ``message`` on ``channel``."""

    def drop(self, session: SessionLike) -> None:
        """``session`` ended: end all its subscriptions."""


class SessionLike(Protocol):
    """What a ``SockJSConnection`` relies on in ``self.session``.

    Implemented by SockJS sessions, raw WebSocket sessions and multiplex
    channels (each in its own module).
    """

    conn: Any

    @property
    def is_closed(self) -> bool:
        """True once closing or closed."""

    @property
    def close_info(self) -> CloseInfo | None:
        """How the session ended, once it did."""

    @property
    def carrier(self) -> SessionLike:
        """The session that carries this one on the wire (itself, or a channel's parent)."""

    @property
    def topic(self) -> str | None:
        """A multiplex channel's topic; ``None`` for a session of its own."""

    @property
    def pubsub(self) -> PubSub:
        """The publish/subscribe hub of the router serving this session."""

    @property
    def telemetry(self) -> Telemetry:
        """The counters and log events of the router serving this session."""

    @property
    def router(self) -> RouterLike | None:
        """The router serving this session."""

    def send_message(self, message: Any) -> None:
        """Send one message to the client."""

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast path: the message and its JSON encoding, made once."""

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close the session (the application's call)."""

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send one message to many connections."""


class ReceiverSink(Protocol):
    """A receiving request or WebSocket as the session glue writes to it (``Receiver.token``)."""

    @property
    def transport(self) -> Any:
        """The TCP transport written to."""

    def write_output(self, output: Output) -> None:
        """Write the chunks; end the response (or the socket) when ``output.end``."""

    def abort_response(self) -> None:
        """The service stops: end without a frame."""


class ReceivingRequest(ReceiverSink, Protocol):
    """A request that asks the service for a session (HTTP receivers, WebSockets)."""

    def refuse(self, refusal: Refusal) -> None:
        """Admission said no: answer with the refusal."""

    def begin(self, session: Any) -> None:
        """Admission said yes: the response starts for ``session``."""
