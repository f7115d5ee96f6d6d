"""Graceful shutdown: stop accepting, close every session with 1001, flush, stop.

Entry points: :func:`sockjs.cyclone.shutdown` and ``SockJSRouter.shutdown``
(docs/deployment.rst says what each kind of client sees).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred

from sockjs.cyclone import logevents
from sockjs.cyclone._clock import Clock, DelayedCall
from sockjs.cyclone._rawsession import RawSessionHandle
from sockjs.cyclone._service import Service
from sockjs.cyclone._session import SessionHandle
from sockjs.cyclone._twisted import flushed
from sockjs.cyclone._types import ReceiverSink, SessionLike
from sockjs.protocol import closing
from sockjs.protocol.session import SessionState

#: Seconds :func:`shutdown` waits for clients by default.
DEFAULT_GRACE = 5.0
#: How often the flush is checked while waiting (seconds).
_CHECK_INTERVAL = 0.05


class GracefulShutdown:
    """One shutdown in progress: what is still owed a close frame, what still flushes."""

    def __init__(self, services: list[Service], grace: float, reactor: Clock) -> None:
        if grace < 0:
            raise ValueError(f"grace must be >= 0 seconds, got {grace!r}")
        self.services = services
        self.reactor = reactor
        self.deadline = float(reactor.seconds()) + grace
        #: Sessions whose close frame still waits for their next poll.
        self.awaiting: set[SessionHandle] = set()
        #: Transports a close frame was written to (they must flush).
        self.transports: list[Any] = []
        self.done: Deferred[None] = Deferred()
        self._timer: DelayedCall | None = None

    def start(self, ports: list[Any]) -> Deferred[None]:
        """Stop listening on ``ports`` and close every session; fires once flushed or late."""
        for port in ports:
            port.stopListening()
        for service in self.services:
            admission = service.admission
            if admission.stopped or admission.stopping:
                continue
            admission.stopping = True
            service.close_watch = self._close_written
            self._close_sessions(service)
        self._check()
        return self.done

    def _close_sessions(self, service: Service) -> None:
        for core in service.registry:
            if core.state >= SessionState.CLOSING:
                continue  # its own close frame is already waiting for it
            handle: SessionHandle = core.owner
            # Owed a frame until the session says it was written (at once for
            # an attached streaming receiver, at the next poll otherwise).
            self.awaiting.add(handle)
            handle.close_with(closing.GOING_AWAY)
        for live in list(service.live):
            if isinstance(live, RawSessionHandle):
                live.close_with(closing.GOING_AWAY)
                self.transports.append(live.transport)

    def _close_written(self, session: SessionLike, sink: ReceiverSink | None) -> None:
        """A session's close frame went out (``Service.close_watch``)."""
        if isinstance(session, SessionHandle):
            self.awaiting.discard(session)
        if sink is not None and sink.transport is not None:
            self.transports.append(sink.transport)

    def _check(self) -> None:
        self._timer = None
        # Sessions that expired (disconnect_delay) or were dropped owe nothing more.
        self.awaiting = {h for h in self.awaiting if h.core.state != SessionState.CLOSED}
        self.transports = [t for t in self.transports if not flushed(t)]
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
                code=closing.GOING_AWAY.code,
            )
        for service in self.services:
            service.close_watch = None
            service.stop()
        self.done.callback(None)
