"""websocket-multiplex channels over one SockJS connection (PROTOCOL.md 9).

Each channel is an ordinary :class:`~sockjs.cyclone.SockJSConnection`
subclass; it gets a :class:`ChannelSession` that turns its
``sendMessage``/``close`` into ``msg,<topic>,<payload>`` and ``uns,<topic>``
messages on the parent session (the codec: :mod:`sockjs.protocol.multiplex`).
A channel's hooks run through the same guard as a session's
(:mod:`sockjs.cyclone._guard`): in order, asynchronous results waited for,
a failing hook ending that channel only (``uns``, close code 1011).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sockjs.cyclone._guard import HookGuard
from sockjs.cyclone._types import AppConnection, PubSub, RouterLike, SessionLike
from sockjs.protocol import closing, multiplex
from sockjs.protocol.closing import CloseInfo

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from sockjs.cyclone._telemetry import Telemetry
    from sockjs.cyclone.conninfo import ConnectionInfo

#: Makes a channel's application connection from its session (the channel class).
ChannelFactory = Callable[["ChannelSession"], AppConnection]

escape_topic = multiplex.escape_topic  # the 1.x name, kept


class ChannelSession(HookGuard):
    """The ``session`` a channel connection sees."""

    __slots__ = ("_channels", "_close_info", "closed", "topic")

    def __init__(self, channels: ChannelSet, topic: str) -> None:
        super().__init__()
        self._channels = channels
        #: The channel name as it travels (JavaScript ``escape()``).
        self.topic = topic
        #: The channel ended (either side), or was refused.
        self.closed = False
        self._close_info: CloseInfo | None = None

    @property
    def carrier(self) -> SessionLike:
        """The SockJS (or raw WebSocket) session this channel travels on."""
        return self._channels.carrier

    @property
    def parent(self) -> Any:
        """The multiplexed connection this channel travels on."""
        return self._channels.carrier.conn

    @property
    def is_closed(self) -> bool:
        """True once the channel is closed (or its SockJS session is)."""
        return self.closed or self.carrier.is_closed

    @property
    def close_info(self) -> CloseInfo | None:
        """How the channel ended, once it did."""
        return self._close_info

    @property
    def pubsub(self) -> PubSub:
        """The publish/subscribe hub of the router serving the parent session."""
        return self.carrier.pubsub

    @property
    def router(self) -> RouterLike | None:
        """The router serving the parent session."""
        return self.carrier.router

    @property
    def telemetry(self) -> Telemetry:
        """The router's counters and log events."""
        return self.carrier.telemetry

    def send_message(self, message: Any) -> None:
        """Send ``msg,<topic>,<message>`` on the parent session."""
        if not self.is_closed:
            payload = multiplex.payload_text(message)
            self.carrier.send_message(multiplex.message(self.topic, payload))

    sendMessage = send_message

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast entry point: channels carry the message text itself."""
        del encoded
        self.send_message(message)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """End the channel: the client gets ``uns,<topic>``; the session stays open.

        The multiplex protocol has no close codes; they are kept for ``close_info``.
        """
        self._channels.end(self, closing.by_application(code, reason), tell_client=True)

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to each channel connection in ``clients``."""
        for client in list(clients):
            client.sendMessage(message)

    # -- HookGuard --------------------------------------------------------------------

    def _accepting(self) -> bool:
        return not self.is_closed

    def _end(self, close: CloseInfo, refused: bool) -> None:
        # A refused channel, like a refused session, gets no connectionLost
        # (the guard has already dropped its connection).
        self._channels.end(self, close, tell_client=True)

    def _hook_failed(self, hook: str, failure: Failure | None) -> None:
        self.telemetry.app_exception(hook, failure, topic=self.topic)


class ChannelSet:
    """Open channels of one multiplexed connection, keyed by escaped topic."""

    def __init__(self, carrier: SessionLike, registered: dict[str, ChannelFactory]) -> None:
        #: The session the channels travel on.
        self.carrier = carrier
        self.registered = registered
        self.open: dict[str, ChannelSession] = {}
        #: The client details of the parent session (given to each channel).
        self.info: ConnectionInfo | None = None

    def handle(self, message: Any) -> None:
        """Apply one client frame; invalid or unknown frames are ignored (9.2)."""
        frame = multiplex.parse(message)
        if frame is None:
            return
        kind, topic, payload = frame
        factory = self.registered.get(topic)
        if factory is None:
            return
        channel = self.open.get(topic)
        if channel is not None:
            if kind == multiplex.UNSUBSCRIBE:
                self.end(channel, closing.CHANNEL_CLOSED_BY_CLIENT, tell_client=False)
            elif kind == multiplex.MESSAGE:
                channel.dispatch([payload])
            return
        if kind == multiplex.SUBSCRIBE:
            channel = ChannelSession(self, topic)
            self.open[topic] = channel
            channel.start(factory(channel), self.info)

    def end(self, channel: ChannelSession, close: CloseInfo, *, tell_client: bool) -> None:
        """End ``channel`` (once): ``uns`` to the client if asked, then ``connectionLost``."""
        if self.open.get(channel.topic) is not channel or channel.closed:
            return
        del self.open[channel.topic]
        channel.closed = True
        if channel.close_info is None:
            channel._close_info = close
        # A channel that ends while its session stays open must not keep its
        # pub/sub subscriptions until the session closes.
        channel.pubsub.drop(channel)
        if tell_client and not self.carrier.is_closed:
            self.carrier.send_message(multiplex.unsubscribe(channel.topic))
        channel.finish()

    def close_all(self) -> None:
        """The SockJS connection closed: end every channel with the session's close."""
        close = self.carrier.close_info or closing.INTERRUPTED
        for channel in list(self.open.values()):
            self.end(channel, close, tell_client=False)
