"""Glue between one core session, its current receiver and the application."""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from sockjs.cyclone import logevents
from sockjs.cyclone.conninfo import ConnectionInfo
from sockjs.protocol.frames import CLOSE_REASONS, CloseCode, encode_message
from sockjs.protocol.session import Output, Prepared, Session, SessionState

if TYPE_CHECKING:
    from sockjs.cyclone._service import Service
    from sockjs.cyclone.conn import SockJSConnection

_FAILED = object()
#: SessionHandle._pending while a single message's hook runs (see _deliver_one).
_BUSY: deque[Any] = deque()
# Globals: reading a member off the enum class is slow, and these
# comparisons run for every message.
_OPEN = SessionState.OPEN
_CLOSING = SessionState.CLOSING
_CLOSED = SessionState.CLOSED


class ConnectionSession(Protocol):
    """What a :class:`SockJSConnection` may rely on in ``self.session``.

    Implemented by SockJS sessions (:class:`SessionHandle`), raw WebSocket
    sessions and multiplex channels.
    """

    conn: SockJSConnection | None

    @property
    def is_closed(self) -> bool:
        """True once closing or closed."""

    def send_message(self, message: Any) -> None:
        """Send one message to the client."""

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast path: the message and its JSON encoding, made once."""

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close the session."""

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send one message to many connections."""


class ReceiverSink(Protocol):
    """What a receiving handler offers the glue (a ``Receiver.token``)."""

    def write_output(self, output: Output) -> None:
        """Write chunks; finish the response when ``output.end``."""


@dataclass(frozen=True, slots=True)
class CloseInfo:
    """How a session ended, readable from ``connectionLost()``.

    ``initiator`` is ``"application"`` (the app called ``close()``),
    ``"server"`` (a limit, an application error, shutdown), ``"client"`` (the
    client closed or went away) or ``"timeout"`` (no receiver for
    ``disconnect_delay``).
    """

    code: int
    reason: str
    initiator: str


EXPIRED = CloseInfo(1000, "Session expired", "timeout")
INTERRUPTED = CloseInfo(1002, "Connection interrupted", "client")


class AppHooks:
    """The application's side of a session: its hooks, run in order and once.

    Shared by SockJS sessions (:class:`SessionHandle`) and raw WebSocket
    connections (:class:`~sockjs.cyclone._rawsession.RawSessionHandle`):
    ``connectionMade`` when the client is told the session is open,
    ``messageReceived`` for each message in order (a hook that returns a
    Deferred or is a coroutine holds the next message back), and
    ``connectionLost`` exactly once. A hook that raises, or whose Deferred
    fails, is logged; ``connectionMade`` failing or returning False refuses
    the session, ``messageReceived`` failing closes it with 1011.

    Subclasses say whether messages are still accepted (:meth:`_accepting`)
    and how to close (:meth:`close_by`, :meth:`settle`).
    """

    __slots__ = (
        "_counted",
        "_lost",
        "_pending",
        "close_info",
        "conn",
        "info",
        "remote_ip",
        "service",
    )

    def __init__(self, service: Service, info: ConnectionInfo) -> None:
        self.service = service
        self.info = info
        self.remote_ip = info.ip
        self.conn: SockJSConnection | None = None
        self.close_info: CloseInfo | None = None
        self._lost = False
        self._counted = False
        # Messages waiting for an asynchronous hook; None while nothing waits.
        self._pending: deque[Any] | None = None
        for observer in service.session_observers:
            observer(self)

    def _accepting(self) -> bool:  # pragma: no cover - interface
        """Messages may still reach the application (the session is open)."""
        raise NotImplementedError

    def close_by(self, code: int, reason: str, initiator: str) -> None:  # pragma: no cover
        """Close, recording who asked (see :class:`CloseInfo`)."""
        raise NotImplementedError

    def settle(self) -> None:  # pragma: no cover - interface
        """After any change: report a close to the application, once."""
        raise NotImplementedError

    # -- hooks ------------------------------------------------------------------------

    def opened(self) -> None:
        """The client was told the session is open: create the connection, call the app."""
        # Subclasses are ConnectionSessions; this base alone is not.
        session = cast(ConnectionSession, self)
        conn = self.service.connection_class(session)
        self.conn = conn
        self.service.live.add(session)
        self.service.stats.session_opened(self.info.transport)
        self._counted = True
        logevents.session_opened(self.service.prefix, self.info.transport, self.info.ip)
        result = self._invoke(conn.connectionMade, self.info)
        if isinstance(result, Deferred):
            # Messages that arrive meanwhile wait for connectionMade to finish.
            self._pending = deque()
            result.addBoth(self._made)
            return
        self._made(result)

    def _made(self, result: Any) -> None:
        failed = result is _FAILED
        if isinstance(result, Failure):
            self._app_exception(_hook(self.conn, "connectionMade"), result)
            failed = True
        if failed or result is False:
            # Refused (False: 3000) or broken (raised: 1011): the client is
            # told, the application hears nothing more.
            self._lost = True
            self.conn = None
            self._pending = None
            self.service.live.discard(self)
            if self._accepting():
                code = CloseCode.INTERNAL_ERROR if failed else CloseCode.GO_AWAY
                self.close_by(code, CLOSE_REASONS[code], "server")
            self.settle()
            return
        self._pump()  # what was delivered while the hook ran
        self.settle()

    def _queue(self, batch: list[Any]) -> None:
        """Deliver ``batch`` (counted already) in order, after what waits."""
        pending = self._pending
        if pending is not None:
            if pending is _BUSY:  # delivered from inside messageReceived
                self._pending = deque(batch)
            else:
                pending.extend(batch)
            return
        conn = self.conn
        if len(batch) == 1 and conn is not None:
            self._deliver_one(conn, batch[0])
            return
        self._pending = deque(batch)
        self._pump()

    def _deliver_one(self, conn: Any, message: Any) -> None:
        # The usual case, one message and none waiting, without making a
        # queue: _BUSY stands for an empty one while the hook runs, and
        # becomes a real queue if anything is delivered meanwhile.
        self._pending = _BUSY
        outcome = self._invoke(conn.messageReceived, message)
        if outcome is _FAILED:
            self._internal_error()
            return
        if isinstance(outcome, Deferred):
            if self._pending is _BUSY:
                self._pending = deque()
            outcome.addBoth(self._pump)
            return
        if self._pending is _BUSY:
            self._pending = None
        else:
            self._pump()  # what was delivered while the hook ran

    def _pump(self, result: Any = None) -> None:
        if isinstance(result, Failure):
            self._app_exception(_hook(self.conn, "messageReceived"), result)
            self._internal_error()
            return
        pending = self._pending
        while pending:
            conn = self.conn
            if conn is None or not self._accepting():
                break
            outcome = self._invoke(conn.messageReceived, pending.popleft())
            if outcome is None:  # the usual synchronous hook
                continue
            if outcome is _FAILED:
                self._internal_error()
                return
            if isinstance(outcome, Deferred):
                outcome.addBoth(self._pump)
                return
        self._pending = None

    def _internal_error(self) -> None:
        # A failing handler must not take the server down, nor leave the
        # client talking to a half-broken session.
        self._pending = None
        code = CloseCode.INTERNAL_ERROR
        self.close_by(code, CLOSE_REASONS[code], "server")

    def _report_closed(self) -> None:
        """The session is closed: count it, log it, run ``connectionLost`` once."""
        if self._counted:
            self._counted = False
            self.service.stats.session_closed(self.info.transport)
            info = self.close_info or INTERRUPTED
            logevents.session_closed(
                self.service.prefix, self.info.transport, info.code, info.reason, info.initiator
            )
        if self._lost:
            return
        self._lost = True
        self._pending = None
        conn = self.conn
        self.service.live.discard(self)
        if conn is not None:
            outcome = self._invoke(conn.connectionLost)
            if isinstance(outcome, Deferred):
                outcome.addErrback(lambda f: self._app_exception(_hook(conn, "connectionLost"), f))

    def _note_close(self, info: CloseInfo) -> None:
        if self.close_info is None:
            self.close_info = info

    def _app_exception(self, hook: str, failure: Failure | None = None) -> None:
        self.service.stats.error("app_exception")
        logevents.app_exception(self.service.prefix, hook, failure)

    def _invoke(self, hook: Callable[..., Any], *args: Any) -> Any:
        """Run an application hook; a Deferred for async results, ``_FAILED`` on error."""
        try:
            result = hook(*args)
        except Exception:
            self._app_exception(_name(hook))
            return _FAILED
        if result is not None and inspect.iscoroutine(result):
            return Deferred.fromCoroutine(result)
        return result


def report_slow_consumer(service: Service) -> None:
    """Count and log a connection closed with 1013 for not reading."""
    service.stats.error("slow_consumer")
    logevents.limit_hit(
        service.prefix,
        "slow_consumer",
        "max_queued_bytes",
        f"over {service.options.max_queued_bytes} bytes queued for a client not reading",
        code=CloseCode.SLOW_CONSUMER,
    )


class SessionHandle(AppHooks):
    """The ``session`` object a :class:`SockJSConnection` is built with.

    It owns the application connection, forwards application calls to the
    core session and writes what the core returns to the receiver attached
    at the time of the call. Incoming messages reach the application in
    order, even when a hook returns a Deferred or is a coroutine: the next
    message waits until the previous hook has finished.
    """

    __slots__ = ("core",)

    def __init__(self, service: Service, core: Session, info: ConnectionInfo) -> None:
        super().__init__(service, info)
        self.core = core
        core.owner = self

    def _accepting(self) -> bool:
        return self.core.state == _OPEN

    # -- application API ----------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """True once the session is closing or closed."""
        return self.core.state >= _CLOSING

    def send_message(self, message: Any) -> None:
        """Queue one message (any JSON-serializable value) for the client."""
        self.send_encoded(encode_message(message))

    sendMessage = send_message  # the old project's spelling

    def send_encoded(self, encoded: str) -> None:
        """Queue a message already encoded once."""
        service = self.service
        now = service.now()
        if self.send_at(encoded, now):
            service.stats.sent(1, now)
            if self.core.state == _OPEN:
                service.reschedule()  # all settle() does for an open session

    def send_at(self, encoded: str, now: float, prepared: Prepared | None = None) -> bool:
        """Queue an encoded message at ``now``; False if the session takes none.

        The broadcast path: the caller counts the messages and re-arms the
        service's timer once for all the sessions it sent to, and passes the
        same ``prepared`` to each (frame bytes made once). A session that
        this send closes (``max_queued_bytes``) is settled here.
        """
        core = self.core
        if core.state != _OPEN:  # not accepting messages
            return False
        receiver = core.receiver
        output = core.send(encoded, now, prepared)
        if output is not None and receiver is not None:
            receiver.token.write_output(output)
        if core.state >= _CLOSING:  # max_queued_bytes closed it
            self._note_close(CloseInfo(core.close_code or 0, core.close_reason or "", "server"))
            if core.close_code == CloseCode.SLOW_CONSUMER:
                report_slow_consumer(self.service)
            self.settle()
        return True

    def send_prepared(self, encoded: str, message: Any) -> None:
        """Broadcast entry point: SockJS sessions take the encoded form."""
        del message
        self.send_encoded(encoded)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Close the session; the client gets ``c[code,"reason"]``."""
        self.close_by(code, reason, "application")

    def close_by(self, code: int, reason: str, initiator: str) -> None:
        """Close the session, recording who asked (see :class:`CloseInfo`)."""
        core = self.core
        if core.state < SessionState.CLOSING:
            self._note_close(CloseInfo(code, reason, initiator))
        receiver = core.receiver
        output = core.close(code, reason, self.service.now())
        if output is not None and receiver is not None:
            receiver.token.write_output(output)
        self.settle()

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to many connections, encoding it once."""
        self.service.broadcast(clients, message)

    # -- transport side -------------------------------------------------------------

    def deliver(self, messages: Iterable[Any]) -> None:
        """Hand incoming messages to the application, in order, while OPEN."""
        if self.core.state != _OPEN or (self.conn is None and self._pending is None):
            return
        batch = messages if isinstance(messages, list) else list(messages)
        service = self.service
        service.stats.received(len(batch), service.now())
        self._queue(batch)

    def receiver_lost(self, token: ReceiverSink, close_info: CloseInfo = INTERRUPTED) -> None:
        """The attached receiver's connection dropped (PROTOCOL.md 6.8 (a))."""
        receiver = self.core.receiver
        if receiver is not None and receiver.token is token:
            self._note_close(close_info)
            self.core.abort()
            self.settle()

    def resume(self, token: ReceiverSink) -> None:
        """The receiver's transport can take more data."""
        receiver = self.core.receiver
        if receiver is not None and receiver.token is token:
            output = self.core.resume(self.service.now())
            if output is not None:
                receiver.token.write_output(output)
            self.settle()

    def expired(self) -> None:
        """The disconnect timeout ran out (called by the service timer)."""
        self._note_close(EXPIRED)
        self.settle()

    def settle(self) -> None:
        """After any core call: notify the app of a close, drop dead sessions, re-arm."""
        state = self.core.state
        if state >= _CLOSING:
            self._report_closed()
        if state == _CLOSED:
            self.service.forget(self)
        self.service.reschedule()


def _name(hook: Callable[..., Any]) -> str:
    return str(getattr(hook, "__qualname__", hook))


def _hook(conn: object, name: str) -> str:
    """``Class.hook``, as :func:`_name` spells a bound method (for log events)."""
    return f"{type(conn).__qualname__}.{name}"
