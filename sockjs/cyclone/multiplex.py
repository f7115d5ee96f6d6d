"""websocket-multiplex channels over one SockJS connection (PROTOCOL.md 9).

Each channel is an ordinary :class:`SockJSConnection` subclass; it gets a
:class:`ChannelSession` that turns its ``sendMessage``/``close`` into
``msg,<topic>,<payload>`` and ``uns,<topic>`` messages on the parent.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from sockjs.cyclone import logevents
from sockjs.cyclone._session import CloseInfo
from sockjs.protocol.encoding import json_encode

if TYPE_CHECKING:
    from sockjs.cyclone.conn import SockJSConnection
    from sockjs.cyclone.conninfo import ConnectionInfo

_FAILED = object()
#: ``close_info`` of a channel ended because one of its hooks failed.
CHANNEL_ERROR = CloseInfo(1011, "Internal server error", "server")

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
            elif kind == "msg" and self._run(conn, "messageReceived", topic, payload) is _FAILED:
                # Only this channel is broken: end it, keep the others.
                self._broken(conn, topic, refuse=False)
            return
        if kind == "sub":
            session = ChannelSession(self, topic)
            conn = factory(session)
            session.conn = conn
            self.open[topic] = conn
            accepted = self._run(conn, "connectionMade", topic, self.info)
            if accepted is _FAILED:
                self._broken(conn, topic, refuse=True)
            elif accepted is False:
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
            self._run(conn, "connectionLost", topic)
        return conn

    def _run(self, conn: SockJSConnection, hook: str, topic: str, *args: Any) -> Any:
        """Call a channel hook: its result, or ``_FAILED`` if it raised.

        A Deferred or coroutine it returns is not waited for, but its failure
        counts like an exception (logged, the channel ends); it never reaches
        Twisted as an unhandled error.
        """
        try:
            result = getattr(conn, hook)(*args)
        except Exception:
            self._app_exception(conn, hook, topic)
            return _FAILED
        if inspect.iscoroutine(result):
            result = Deferred.fromCoroutine(result)
        if isinstance(result, Deferred):
            result.addErrback(self._failed_later, conn, hook, topic)
            return None
        return result

    def _failed_later(
        self, failure: Failure, conn: SockJSConnection, hook: str, topic: str
    ) -> None:
        self._app_exception(conn, hook, topic, failure)
        if hook != "connectionLost":
            self._broken(conn, topic, refuse=hook == "connectionMade")

    def _broken(self, conn: SockJSConnection, topic: str, *, refuse: bool) -> None:
        """A channel hook failed: end that channel (``uns``) with 1011 in its ``close_info``.

        A failed ``connectionMade`` refuses the channel (no ``connectionLost``,
        as for sessions).
        """
        if self.open.get(topic) is not conn:
            return  # already ended (by the hook itself, or the session closed)
        session = conn.session
        if isinstance(session, ChannelSession):
            session.close_info = session.close_info or CHANNEL_ERROR
        if refuse:
            self.refuse(topic)
        elif self.forget(topic, CHANNEL_ERROR) is not None and not self.parent.is_closed:
            self.parent.sendMessage(f"uns,{topic}")

    def _app_exception(
        self, conn: SockJSConnection, hook: str, topic: str, failure: Failure | None = None
    ) -> None:
        router = self.parent.router
        name = f"{type(conn).__qualname__}.{hook}"
        prefix = None if router is None else router.prefix
        logevents.app_exception(prefix, name, failure, topic=topic)

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
