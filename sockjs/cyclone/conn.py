"""Application-facing connection classes (names fixed by users' code)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from sockjs.cyclone._session import SessionHandle
    from sockjs.cyclone.conninfo import ConnectionInfo


class SockJSConnection:
    """Subclass this and implement the hooks; one instance per SockJS session.

    Subclasses that define ``__init__`` must call ``super().__init__(session)``.
    """

    def __init__(self, session: SessionHandle) -> None:
        self.session = session

    # -- hooks ------------------------------------------------------------------

    def connectionMade(self, info: ConnectionInfo) -> bool | None:
        """The session opened. Return ``False`` to refuse it (client gets ``c[3000,...]``)."""
        return None

    def messageReceived(self, message: Any) -> None:
        """One message from the client (usually a ``str``)."""

    def connectionLost(self) -> None:
        """The session closed (by either side or by expiry). Runs exactly once."""

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

    @property
    def is_closed(self) -> bool:
        """True once the session is closing or closed."""
        return self.session.is_closed


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
        from sockjs.cyclone.multiplex import escape_topic

        return type(
            "MultiplexConnection",
            (cls,),
            {"channels": {escape_topic(name): conn for name, conn in channels.items()}},
        )

    def __init__(self, session: SessionHandle) -> None:
        super().__init__(session)
        from sockjs.cyclone.multiplex import ChannelSet

        self._channels = ChannelSet(self, self.channels)

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
