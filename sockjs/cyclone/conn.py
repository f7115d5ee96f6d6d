"""Application-facing connection classes (names fixed by users' code)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from sockjs.cyclone.multiplex import ChannelSet
from sockjs.protocol.multiplex import escape_topic

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from sockjs.cyclone._types import RouterLike, SessionLike
    from sockjs.cyclone.conninfo import ConnectionInfo
    from sockjs.protocol.closing import CloseInfo


class SockJSConnection:
    """Subclass this and implement the hooks; one instance per SockJS session.

    Subclasses that define ``__init__`` must call ``super().__init__(session)``.
    """

    def __init__(self, session: SessionLike) -> None:
        self.session = session

    # -- hooks ------------------------------------------------------------------

    def connectionMade(self, info: ConnectionInfo) -> Any:
        """The session opened. Return ``False`` to refuse it (client gets ``c[3000,...]``).

        May return a Deferred or be a coroutine; messages wait until it finishes.
        Raising (or failing) refuses it too, logged, and the client gets
        ``c[1011,"Internal server error"]``.
        """
        return None

    def messageReceived(self, message: Any) -> Any:
        """One message from the client (usually a ``str``).

        May return a Deferred or be a coroutine: the next message of this
        session is delivered only after it finishes. Raising (or failing)
        closes the session with 1011.
        """

    def connectionLost(self) -> Any:
        """The session closed (by either side or by expiry). Runs exactly once.

        :attr:`close_info` tells the code, reason and who closed.
        """

    # -- actions ----------------------------------------------------------------

    def sendMessage(self, message: Any) -> None:
        """Send a message: a ``str`` arrives as a string, other JSON values as themselves."""
        self.session.send_message(message)

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to many connections, encoding it once."""
        self.session.broadcast(clients, message)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close the session; the client receives ``c[code,"reason"]``."""
        self.session.close(code, reason)

    # -- publish/subscribe (sockjs.cyclone.pubsub) ------------------------------

    def subscribe(self, channel: str) -> None:
        """Receive every message later published on ``channel``, as if sent to us.

        Lasts until :meth:`unsubscribe` or the end of the session (whichever
        comes first); subscribing twice is the same as once, and a closed
        session cannot subscribe. Each message is encoded once per router
        for all its subscribers.
        """
        self.session.pubsub.subscribe(self.session, channel)

    def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel`` (no effect if not subscribed)."""
        self.session.pubsub.unsubscribe(self.session, channel)

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Send ``message`` (a JSON value) to every session subscribed to ``channel``.

        This connection receives it too if it is subscribed. With a shared
        broker, subscribers on other routers or processes receive it as well.
        The Deferred fires once the broker has accepted the message.
        """
        return self.session.pubsub.publish(channel, message)

    @property
    def is_closed(self) -> bool:
        """True once the session is closing or closed."""
        return self.session.is_closed

    @property
    def router(self) -> RouterLike | None:
        """The router serving this connection (channels: their parent's router)."""
        return self.session.router

    @property
    def close_info(self) -> CloseInfo | None:
        """Code, reason and initiator of the close, once the session is closing.

        Read it from ``connectionLost()`` (which keeps its no-argument signature).
        """
        return self.session.close_info


class MultiplexConnection(SockJSConnection):
    """Fan channels out over one SockJS session (websocket-multiplex protocol).

    Use :meth:`create` to build a connection class from channel classes::

        Multiplexed = MultiplexConnection.create(ann=AnnConnection, bob=BobConnection)
        router = SockJSRouter(Multiplexed, '/multiplex')
    """

    channels: ClassVar[dict[str, type[SockJSConnection]]] = {}

    @classmethod
    def create(cls, **channels: type[SockJSConnection]) -> type[MultiplexConnection]:
        """A :class:`MultiplexConnection` subclass serving ``channels`` by name."""
        return type(
            "MultiplexConnection",
            (cls,),
            {"channels": {escape_topic(name): conn for name, conn in channels.items()}},
        )

    def __init__(self, session: SessionLike) -> None:
        super().__init__(session)
        self._channels = ChannelSet(session, dict(self.channels))

    def connectionMade(self, info: ConnectionInfo) -> bool | None:
        """Remember the client details for the channels."""
        self._channels.info = info
        return None

    def messageReceived(self, message: Any) -> None:
        """Dispatch one multiplex frame."""
        self._channels.handle(message)

    def connectionLost(self) -> None:
        """Close every open channel."""
        self._channels.close_all()
