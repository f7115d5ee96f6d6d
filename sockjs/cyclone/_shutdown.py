"""Graceful shutdown: stop accepting, close every session with 1001, flush, stop.

Public entry points: :func:`sockjs.cyclone.shutdown` and
:meth:`SockJSRouter.shutdown <sockjs.cyclone.SockJSRouter.shutdown>`.

What a client sees (PROTOCOL.md 6.7 close frames, code 1001 "going away"):

* a SockJS WebSocket: ``c[1001,"Server going away"]``, then a Close frame
  1001; a raw WebSocket: a Close frame 1001;
* an attached streaming receiver (xhr_streaming, eventsource, htmlfile):
  the ``c[1001,"Server going away"]`` chunk, then the end of the response;
* a polling session (xhr, jsonp), attached or not: its next poll within
  the grace period gets the messages still queued, and the poll after them
  ``c[1001,"Server going away"]`` (the usual replay of a closed session);
* a new session while the shutdown is under way: ``c[1001,"Server going
  away"]`` instead of ``o``.

The Deferred fires once every session has had its close frame written and
every connection written to has flushed its buffer, or when ``grace``
seconds have passed, whichever comes first. Then the routers are stopped
(:meth:`SockJSRouter.stop <sockjs.cyclone.SockJSRouter.stop>`): whatever is
left is dropped and no timer remains.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from sockjs.cyclone import logevents
from sockjs.cyclone._clock import Clock, DelayedCall
from sockjs.cyclone._rawsession import RawSessionHandle
from sockjs.cyclone._session import CloseInfo, SessionHandle
from sockjs.protocol.limits import GOING_AWAY
from sockjs.protocol.session import SessionState
from sockjs.protocol.transports import Wire

if TYPE_CHECKING:
    from sockjs.cyclone._service import Service
    from sockjs.cyclone.handlers.receivers import ReceiverHandler
    from sockjs.cyclone.router import SockJSRouter

#: Seconds :func:`shutdown` waits for clients by default.
DEFAULT_GRACE = 5.0
#: How often the flush is checked while waiting (seconds).
_CHECK_INTERVAL = 0.05

_GOING_AWAY = CloseInfo(GOING_AWAY[0], GOING_AWAY[1], "server")


def shutdown(
    routers: Iterable[SockJSRouter],
    grace: float = DEFAULT_GRACE,
    ports: Iterable[Any] = (),
    reactor: Clock | None = None,
) -> Deferred[None]:
    """Shut ``routers`` down gracefully; the Deferred fires within ``grace`` seconds.

    ``ports`` are listening ports (what ``reactor.listenTCP`` returned) to
    stop first, so that no new connection arrives. Each open session gets
    the close frame ``c[1001,"Server going away"]`` (see the module
    documentation for every transport). Typical use, on SIGTERM::

        port = reactor.listenTCP(8080, app)
        reactor.addSystemEventTrigger(
            "before", "shutdown", sockjs.cyclone.shutdown, routers, grace=5, ports=[port]
        )

    Twisted's SIGTERM handler stops the reactor, which waits for the
    Deferred of a "before shutdown" trigger. ``reactor`` defaults to the
    first router's.
    """
    if grace < 0:
        raise ValueError(f"grace must be >= 0 seconds, got {grace!r}")
    services: list[Service] = [router._service for router in routers]
    if reactor is None:
        if services:
            reactor = services[0].reactor
        else:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
    assert reactor is not None
    return _Shutdown(services, grace, reactor).start(list(ports))


class _Shutdown:
    """One shutdown in progress: what is still owed a close frame, what still flushes."""

    def __init__(self, services: list[Service], grace: float, reactor: Clock) -> None:
        self.services = services
        self.reactor = reactor
        self.deadline = float(reactor.seconds()) + grace
        #: Polling sessions whose close frame still waits for their next poll.
        self.awaiting: set[SessionHandle] = set()
        #: Transports a close frame was written to (they must flush).
        self.transports: list[Any] = []
        self.done: Deferred[None] = Deferred()
        self._timer: DelayedCall | None = None

    def start(self, ports: list[Any]) -> Deferred[None]:
        for port in ports:
            port.stopListening()
        for service in self.services:
            if service._stopped or service.stopping:
                continue
            service.stopping = True
            service.shutdown_watch = self._answered
            self._close_sessions(service)
        self._check()
        return self.done

    def _close_sessions(self, service: Service) -> None:
        now = service.now()
        for core in service.registry:
            if core.state >= SessionState.CLOSING:
                continue  # its own close frame is already waiting for it
            handle: SessionHandle = core.owner
            receiver = core.receiver
            handle.close_info = handle.close_info or _GOING_AWAY
            output = core.close(GOING_AWAY[0], GOING_AWAY[1], now)
            delivered = False
            if output is not None and receiver is not None:
                receiver.token.write_output(output)
                self._note_transport(receiver.token)
                delivered = _carries_close(output.chunks, receiver.wire, core.close_frame)
            if not delivered:
                self.awaiting.add(handle)
            handle.settle()
        for live in list(service.live):
            if isinstance(live, RawSessionHandle):
                socket: Any = getattr(live, "_socket", None)
                live.close_by(GOING_AWAY[0], GOING_AWAY[1], "server")
                self._note_transport(socket)

    def _answered(
        self, handler: ReceiverHandler, handle: SessionHandle, chunks: list[bytes]
    ) -> None:
        """A receiving request was answered while stopping (``Service.shutdown_watch``)."""
        if handle in self.awaiting and _carries_close(
            chunks, handler.wire, handle.core.close_frame
        ):
            self.awaiting.discard(handle)
            self._note_transport(handler)

    def _note_transport(self, token: Any) -> None:
        request = getattr(token, "request", None)
        transport = getattr(getattr(request, "connection", None), "transport", None)
        if transport is not None:
            self.transports.append(transport)

    def _check(self) -> None:
        self._timer = None
        # Sessions that expired (disconnect_delay) or were dropped owe nothing more.
        self.awaiting = {h for h in self.awaiting if h.core.state != SessionState.CLOSED}
        self.transports = [t for t in self.transports if not _flushed(t)]
        now = float(self.reactor.seconds())
        if (self.awaiting or self.transports) and now < self.deadline:
            delay = min(_CHECK_INTERVAL, self.deadline - now)
            self._timer = self.reactor.callLater(delay, self._check)
            return
        self._finish()

    def _finish(self) -> None:
        if self.awaiting or self.transports:
            # One line for the whole shutdown (it may span several routers).
            logevents.transport_error(
                None,
                "shutdown_grace_expired",
                f"{len(self.awaiting)} sessions not told, "
                f"{len(self.transports)} connections not flushed",
                code=GOING_AWAY[0],
            )
        for service in self.services:
            service.shutdown_watch = None
            service.stop()
        self.done.callback(None)


def _carries_close(chunks: list[bytes], wire: Wire, close_frame: str | None) -> bool:
    return close_frame is not None and wire.wrap(close_frame) in chunks


def _flushed(transport: Any) -> bool:
    """Nothing left in Twisted's write buffer (or the connection is gone)."""
    if not getattr(transport, "connected", False):
        return True
    return not getattr(transport, "dataBuffer", b"") and not getattr(transport, "_tempDataLen", 0)
