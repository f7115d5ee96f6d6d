"""Every use of Twisted's private internals, fenced in one module.

The adapter relies on a few things Twisted does not promise; each is named
here and checked by ``tests/cyclone/test_twisted_fence.py``, which fails
naming the attribute if a Twisted release changes it:

* ``FileDescriptor._tempDataBuffer`` / ``_tempDataLen`` / ``dataBuffer`` /
  ``offset``: the bytes queued for a connection (write-now, corking, drain
  checks), and ``_aborting`` / ``socket`` / ``TLS`` on ``tcp.Server``;
* ``LineReceiver._buffer``: what Cyclone's own HTTP parser holds when a
  WebSocket takes its socket over (not needed with SockJSHTTPConnection);
* instance-level ``dataReceived`` / ``connectionLost``: a protocol rewired
  after an upgrade, or watched for the loss of its socket.

Nothing else in ``sockjs/`` touches a private attribute of Twisted.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

from twisted.internet.tcp import Server as _TCPServer
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from sockjs.cyclone._clock import Clock, DelayedCall, cancel
from sockjs.protocol.options import Options

# -- what a connection has queued -----------------------------------------------------------


def queued_bytes(transport: Any) -> int:
    """Bytes written to ``transport`` and not yet sent (0 for a transport without a buffer)."""
    # FileDescriptor keeps unsent bytes in dataBuffer (from offset on) and
    # in _tempDataBuffer (_tempDataLen bytes).
    buffered = getattr(transport, "dataBuffer", b"")
    return len(buffered) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)


def flushed(transport: Any) -> bool:
    """Nothing is left to send, or the connection is gone."""
    return not getattr(transport, "connected", False) or queued_bytes(transport) == 0


# -- writing now, and corking -----------------------------------------------------------------

#: Largest write :func:`write_now` may send straight to the socket.
DIRECT_WRITE_MAX = 16384
#: Bytes held for one connection while corked before they are sent anyway
#: (Twisted's own buffer limit: past it, back-pressure applies as usual).
CORK_MAX = 65536

_cork_depth = 0
#: Connections with writes held by the current cork, in order (a dict: no
#: flag on the transport, whose instance dictionary a new name would grow).
_held: dict[Any, None] = {}


def cork() -> None:
    """Hold small writes until the matching :func:`uncork` (calls nest).

    While one read that completed several messages is processed, what they
    make the server write to each connection leaves in one system call.
    """
    global _cork_depth
    _cork_depth += 1


def uncork() -> None:
    """Send what was held since the outermost :func:`cork`, one write per connection."""
    global _cork_depth
    _cork_depth -= 1
    if _cork_depth or not _held:
        return
    held = list(_held)
    _held.clear()
    for transport in held:
        _release(transport)


def write_now(transport: Any, data: bytes) -> None:
    """``transport.write(data)``, sent to the socket at once when nothing is queued.

    Twisted queues every write until its next pass over the descriptors. On
    a plain TCP connection with an empty buffer small writes go out now;
    what the kernel does not take is queued as usual, so order, back-pressure
    and errors stay Twisted's. While corked they wait in Twisted's buffer.
    """
    if _cork_depth:
        if transport in _held:
            transport._tempDataBuffer.append(data)
            transport._tempDataLen += len(data)
            if transport._tempDataLen > CORK_MAX:
                del _held[transport]
                _release(transport)
            return
        if len(data) <= DIRECT_WRITE_MAX and _can_send(transport):
            transport._tempDataBuffer.append(data)
            transport._tempDataLen += len(data)
            _held[transport] = None
            return
    elif len(data) <= DIRECT_WRITE_MAX and _can_send(transport):
        _send(transport, data)
        return
    transport.write(data)


def _can_send(transport: Any) -> bool:
    """A plain TCP connection, open, with nothing queued in Twisted's buffer."""
    return bool(
        type(transport) is _TCPServer
        and not transport.TLS
        and not transport._tempDataLen
        and not transport.dataBuffer
        and transport.connected
        and not transport.disconnecting
        and not transport._aborting
    )


def _send(transport: Any, data: bytes) -> None:
    """Send what the socket takes now; Twisted queues the rest."""
    try:
        sent = transport.socket.send(data)
    except OSError:
        sent = 0  # EAGAIN, or an error Twisted's doWrite will report
    if sent != len(data):
        transport.write(data[sent:] if sent else data)


def _release(transport: Any) -> None:
    """Send a connection's held bytes (and whatever was written behind them)."""
    if (
        transport.dataBuffer
        or transport.disconnecting
        or transport._aborting
        or not transport.connected
    ):
        # Twisted flushes its buffer itself (after loseConnection(), it then
        # closes); an aborted or lost connection drops it, as Twisted would.
        if transport.connected and not transport._aborting:
            transport.startWriting()
        return
    buffered = transport._tempDataBuffer
    data = buffered[0] if len(buffered) == 1 else b"".join(buffered)
    transport._tempDataBuffer = []
    transport._tempDataLen = 0
    _send(transport, data)


def tune_socket(transport: Any, options: Options) -> None:
    """Socket options for a client connection, set once (each is a system call).

    ``TCP_NODELAY`` (``disable_nagle``); keepalive probes after
    ``tcp_keepalive`` idle seconds; ``TCP_USER_TIMEOUT`` (Linux): data left
    unacknowledged for ``tcp_user_timeout`` seconds ends the connection, so
    a client that vanished without closing is noticed at its next heartbeat.
    Platforms without an option just go without it.
    """
    if getattr(transport, "_sockjs_tuned", False):
        return
    with contextlib.suppress(AttributeError):  # a transport with __slots__
        transport._sockjs_tuned = True
    get_handle = getattr(transport, "getHandle", None)
    sock = get_handle() if get_handle is not None else None
    if not isinstance(sock, socket.socket) or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # a UNIX socket, or a test transport: nothing to tune
    settings: list[tuple[int, int, int]] = []
    if options.disable_nagle:
        settings.append((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1))
    idle = options.tcp_keepalive
    if idle is not None:
        settings.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
        for option, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", _KEEPALIVE_INTERVAL)):
            if hasattr(socket, option):
                settings.append((socket.IPPROTO_TCP, getattr(socket, option), max(1, int(value))))
        if hasattr(socket, "TCP_KEEPCNT"):
            settings.append((socket.IPPROTO_TCP, socket.TCP_KEEPCNT, _KEEPALIVE_PROBES))
    user_timeout = options.tcp_user_timeout
    if user_timeout is not None and hasattr(socket, "TCP_USER_TIMEOUT"):
        settings.append((socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(user_timeout * 1000)))
    for level, number, value in settings:
        with contextlib.suppress(OSError):
            sock.setsockopt(level, number, value)


#: Seconds between keepalive probes, and probes without an answer before the
#: kernel gives up (after ``tcp_keepalive`` idle seconds).
_KEEPALIVE_INTERVAL = 10
_KEEPALIVE_PROBES = 3


# -- connections that do not drain ------------------------------------------------------------

#: Seconds a client gets to read what is still queued for it once the server
#: closed its connection, before the connection is aborted.
CLOSE_TIMEOUT = 10.0


def abort_if_stuck(transport: Any, clock: Clock, timeout: float = CLOSE_TIMEOUT) -> Any:
    """Call right after ``loseConnection``: abort in ``timeout`` s if bytes are still queued.

    Twisted closes a connection only once its buffer is flushed: a client not
    reading would keep both for ever. Returns the timer (``None`` when
    nothing is queued), which the caller cancels when the connection is lost.
    """
    if queued_bytes(transport):
        return clock.callLater(timeout, transport.abortConnection)
    return None


class DrainWatchdog:
    """Aborts a connection whose queued bytes stop draining; see :func:`abort_if_not_draining`."""

    def __init__(self, transport: Any, clock: Clock, timeout: float) -> None:
        self._transport = transport
        self._clock = clock
        self._timeout = timeout
        self._last = queued_bytes(transport)
        self._producer = getattr(transport, "producer", None)
        self._timer: DelayedCall | None = clock.callLater(timeout, self._check)

    def _check(self) -> None:
        transport = self._transport
        queued = queued_bytes(transport)
        if queued == 0 or getattr(transport, "producer", None) is not self._producer:
            # Drained, or a new streaming response holds the connection: the
            # client asked for more, so it read what was queued (HTTP/1.1
            # clients wait for a response before the next request).
            self._timer = None
        elif queued >= self._last:  # nothing read for a whole period
            self._timer = None
            transport.abortConnection()
        else:
            self._last = queued
            self._timer = self._clock.callLater(self._timeout, self._check)

    def cancel(self) -> None:
        """Stop watching (the connection is gone)."""
        cancel(self._timer)
        self._timer = None


def abort_if_not_draining(
    transport: Any, clock: Clock, timeout: float = CLOSE_TIMEOUT
) -> DrainWatchdog | None:
    """Abort ``transport`` if its queued bytes do not shrink for ``timeout`` s.

    For a keep-alive connection whose last response is still queued: a slow
    reader is left alone, one that stopped does not keep the socket for
    ever. ``None`` when nothing is queued; cancel it when the connection is lost.
    """
    if transport is None or queued_bytes(transport) == 0:
        return None
    return DrainWatchdog(transport, clock, timeout)


# -- protocols: loss of the socket, taking a socket over ---------------------------------------


#: A protocol's loss watchers. One that makes it a list and calls :func:`connection_lost`
#: is not wrapped (a wrapper gives each idle stream a dictionary of its own, ~1 KB).
LOSS_WATCHERS = "_sockjs_loss_watchers"


def connection_lost(protocol: Any) -> None:
    """Run ``protocol``'s loss watchers (for protocols that keep :data:`LOSS_WATCHERS`)."""
    for watcher in list(getattr(protocol, LOSS_WATCHERS, ())):
        watcher()


def watch_loss(protocol: Any, callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` when ``protocol``'s connection is lost; returns an unwatch function.

    Cyclone's ``notifyFinish`` also fires when *another* request on the
    same connection finishes, which a parked long-poll must not take for the
    client going away; so the protocol's own ``connectionLost`` is wrapped,
    unless the protocol runs :data:`LOSS_WATCHERS` itself (``SockJSHTTPConnection``).
    """
    watchers: list[Callable[[], None]] | None = getattr(protocol, LOSS_WATCHERS, None)
    if watchers is None:
        watchers = []
        original = protocol.connectionLost

        def lost(reason: Failure) -> None:
            try:
                original(reason)
            finally:
                connection_lost(protocol)

        protocol.connectionLost = lost  # an instance attribute: Twisted looks it up there
        setattr(protocol, LOSS_WATCHERS, watchers)
    watchers.append(callback)
    active = watchers

    def unwatch() -> None:
        if callback in active:
            active.remove(callback)

    return unwatch


def route_bytes(protocol: Any, on_raw: Callable[[bytes], None]) -> None:
    """Every further byte of ``protocol``'s connection goes straight to ``on_raw``.

    The hot path of every WebSocket message: ``dataReceived`` itself is
    replaced on the instance (Twisted looks it up there), no check per read.
    """
    protocol.dataReceived = on_raw


def take_raw(protocol: LineReceiver, on_raw: Callable[[bytes], None]) -> bytes:
    """Put a ``LineReceiver`` in raw mode feeding ``on_raw``; returns the bytes it held."""
    protocol.rawDataReceived = on_raw  # type: ignore[method-assign]
    buffered = bytes(protocol._buffer)  # held, not parsed yet
    protocol._buffer = b""
    protocol.setRawMode()  # type: ignore[no-untyped-call]
    return buffered
