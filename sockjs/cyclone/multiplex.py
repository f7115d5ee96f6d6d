"""websocket-multiplex channels over one SockJS connection (PROTOCOL.md 9).

Each channel is an ordinary :class:`SockJSConnection` subclass; it gets a
:class:`ChannelSession` that turns its ``sendMessage``/``close`` into
``msg,<topic>,<payload>`` and ``uns,<topic>`` messages on the parent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from sockjs.cyclone._session import CloseInfo
from sockjs.protocol.encoding import json_encode

if TYPE_CHECKING:
    from sockjs.cyclone.conn import SockJSConnection
    from sockjs.cyclone.conninfo import ConnectionInfo

log = Logger(namespace="sockjs.cyclone.multiplex")

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./")


def escape_topic(name: str) -> str:
    """JavaScript ``escape()``: how both ends spell a channel name on the wire."""
    out = []
    for char in name:
        code = ord(char)
        if char in _SAFE:
            out.append(char)
        elif code < 0x100:
            out.append(f"%{code:02X}")
        else:
            for unit in _utf16_units(code):
                out.append(f"%u{unit:04X}")
    return "".join(out)


def _utf16_units(code: int) -> list[int]:
    if code < 0x10000:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]


def parse_frame(message: Any) -> tuple[str, str, str] | None:
    """Split ``type,topic,payload`` on the first two commas; ``None`` if invalid."""
    if not isinstance(message, str):
        return None
    kind, sep, rest = message.partition(",")
    if not sep:
        return None
    topic, _, payload = rest.partition(",")
    return kind, topic, payload


class ChannelSession:
    """The ``session`` a channel connection sees."""

    def __init__(self, channels: ChannelSet, topic: str) -> None:
        self._channels = channels
        self.topic = topic
        self.closed = False
        #: The channel's connection, once created.
        self.conn: SockJSConnection | None = None
        #: How the channel ended (see :class:`~sockjs.cyclone.CloseInfo`).
        self.close_info: CloseInfo | None = None

    @property
    def parent(self) -> SockJSConnection:
        """The multiplexed SockJS connection this channel travels on."""
        return self._channels.parent

    @property
    def is_closed(self) -> bool:
        """True once the channel is closed (or its SockJS session is)."""
        return self.closed or self._channels.parent.is_closed

    def send_message(self, message: Any) -> None:
        """Send ``msg,<topic>,<message>`` on the parent connection."""
        if self.is_closed:
            return
        payload = message if isinstance(message, str) else json_encode(message)
        self._channels.parent.sendMessage(f"msg,{self.topic},{payload}")

    sendMessage = send_message

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast entry point: channels carry the message text itself."""
        del encoded
        self.send_message(message)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """End the channel: the client gets ``uns,<topic>``; the session stays open."""
        # The multiplex protocol has no close codes; they are kept for close_info.
        closed_now = (
            self._channels.forget(self.topic, CloseInfo(code, reason, "application")) is not None
        )
        if closed_now and not self._channels.parent.is_closed:
            self._channels.parent.sendMessage(f"uns,{self.topic}")

    def broadcast(self, clients: Any, message: Any) -> None:
        """Send ``message`` to each channel connection in ``clients``."""
        for client in list(clients):
            client.sendMessage(message)


class ChannelSet:
    """Open channels of one multiplexed connection, keyed by escaped topic."""

    def __init__(
        self, parent: SockJSConnection, registered: dict[str, type[SockJSConnection]]
    ) -> None:
        self.parent = parent
        self.registered = registered
        self.open: dict[str, SockJSConnection] = {}
        self.info: ConnectionInfo | None = None

    def handle(self, message: Any) -> None:
        """Apply one client frame; invalid or unknown frames are ignored (9.2)."""
        frame = parse_frame(message)
        if frame is None:
            return
        kind, topic, payload = frame
        factory = self.registered.get(topic)
        if factory is None:
            return
        conn = self.open.get(topic)
        if conn is not None:
            if kind == "uns":
                self.forget(topic, CloseInfo(1000, "Channel closed by the client", "client"))
            elif kind == "msg":
                try:
                    conn.messageReceived(payload)
                except Exception:
                    # Only this channel is broken: end it, keep the others.
                    log.failure("Channel {topic} messageReceived raised", topic=topic)
                    conn.session.close()
            return
        if kind == "sub":
            session = ChannelSession(self, topic)
            conn = factory(session)
            session.conn = conn
            self.open[topic] = conn
            try:
                accepted = conn.connectionMade(self.info)  # type: ignore[arg-type]
            except Exception:
                log.failure("Channel {topic} connectionMade raised", topic=topic)
                accepted = False
            if accepted is False:
                self.refuse(topic)

    def refuse(self, topic: str) -> None:
        """A channel declined its subscription: tell the client (``uns``), nothing else.

        Like a refused session, a refused channel gets no ``connectionLost``.
        """
        conn = self.open.pop(topic, None)
        if conn is None:
            return
        session = conn.session
        if isinstance(session, ChannelSession):
            session.closed = True
            _drop_subscriptions(session)
        if not self.parent.is_closed:
            self.parent.sendMessage(f"uns,{topic}")

    def forget(self, topic: str, info: CloseInfo | None = None) -> SockJSConnection | None:
        """Remove a channel and run its ``connectionLost`` once."""
        conn = self.open.pop(topic, None)
        if conn is not None:
            session = conn.session
            if isinstance(session, ChannelSession):
                session.closed = True
                session.close_info = session.close_info or info
                _drop_subscriptions(session)
            try:
                conn.connectionLost()
            except Exception:
                log.failure("Channel {topic} connectionLost raised", topic=topic)
        return conn

    def close_all(self) -> None:
        """The SockJS connection closed: close every channel."""
        info = getattr(self.parent.session, "close_info", None)
        for topic in list(self.open):
            self.forget(topic, info)


def _drop_subscriptions(session: ChannelSession) -> None:
    # A channel that ends while its SockJS session stays open must not keep
    # pub/sub subscriptions alive until the session closes.
    from sockjs.cyclone.pubsub import hub_for

    try:
        hub = hub_for(session)
    except TypeError:  # not served by a router (plain unit tests)
        return
    hub.session_closed(session)
