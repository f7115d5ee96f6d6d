"""What sockjs/cyclone/_twisted.py relies on in Twisted, one test per private attribute.

Each test names the attribute it checks, so that a Twisted release that
changes one fails here, saying what changed, before any behaviour test
fails for a reason that is harder to see.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from twisted.internet import tcp
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from sockjs.cyclone import _twisted


@pytest.fixture
def server() -> Iterator[tcp.Server]:
    """A real tcp.Server on one end of a socket pair (its reactor is in memory)."""
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    transport = tcp.Server(ours, Protocol(), ("127.0.0.1", 1), None, 1, MemoryReactorClock())
    yield transport
    ours.close()
    peer.close()


def test_file_descriptor_keeps_small_writes_in_temp_data_buffer(server: tcp.Server) -> None:
    server.write(b"abc")
    assert server._tempDataBuffer == [b"abc"], (
        "twisted FileDescriptor no longer queues small writes in `_tempDataBuffer` "
        "(a list of bytes): write_now/cork append to it"
    )
    assert server._tempDataLen == 3, (
        "twisted FileDescriptor no longer counts queued bytes in `_tempDataLen` (an int)"
    )


def test_file_descriptor_keeps_a_data_buffer_and_an_offset(server: tcp.Server) -> None:
    assert server.dataBuffer == b"", (
        "twisted FileDescriptor has no `dataBuffer` (bytes being sent): queued_bytes reads it"
    )
    assert server.offset == 0, (
        "twisted FileDescriptor has no `offset` into `dataBuffer`: queued_bytes reads it"
    )
    server.write(b"x" * 10)
    assert _twisted.queued_bytes(server) == 10


def test_tcp_server_has_the_flags_write_now_checks(server: tcp.Server) -> None:
    assert server._aborting is False, (
        "twisted tcp.Connection has no `_aborting` flag: write_now must not write to an "
        "aborted connection"
    )
    assert server.TLS is False, "twisted tcp.Connection has no `TLS` flag"
    assert isinstance(server.socket, socket.socket), (
        "twisted tcp.Connection no longer exposes its `socket`: write_now sends on it"
    )
    assert (server.connected, server.disconnecting) == (1, False)


def test_instance_attributes_replace_protocol_methods(server: tcp.Server) -> None:
    """Twisted looks ``dataReceived``/``connectionLost`` up on the protocol instance."""
    protocol = server.protocol
    received: list[bytes] = []
    _twisted.route_bytes(protocol, received.append)
    lost: list[bool] = []
    _twisted.watch_loss(protocol, lambda: lost.append(True))
    server.protocol.dataReceived(b"frame")
    server.connectionLost(Failure(ConnectionDone()))
    assert received == [b"frame"]
    assert lost == [True], "twisted tcp.Connection no longer calls protocol.connectionLost"


def test_a_protocol_keeping_its_own_watchers_is_not_wrapped() -> None:
    """SockJSHTTPConnection runs its loss watchers itself: no per-instance method (memory)."""
    import cyclone.web

    from sockjs.cyclone import SockJSHTTPConnection

    app = cyclone.web.Application([])
    app.protocol = SockJSHTTPConnection
    protocol = app.buildProtocol(None)
    protocol.makeConnection(StringTransport())
    lost: list[str] = []
    unwatch = _twisted.watch_loss(protocol, lambda: lost.append("first"))
    _twisted.watch_loss(protocol, lambda: lost.append("second"))
    unwatch()
    assert "connectionLost" not in vars(protocol)
    protocol.connectionLost(Failure(ConnectionDone()))
    assert lost == ["second"]


def test_take_raw_switches_a_line_receiver_to_raw_mode() -> None:
    receiver = LineReceiver()
    receiver.lineReceived = lambda line: None  # type: ignore[method-assign]
    receiver.dataReceived(b"held")
    assert receiver._buffer == b"held", (
        "twisted LineReceiver no longer keeps unparsed bytes in `_buffer`: take_raw reads it"
    )
    raw: list[bytes] = []
    assert _twisted.take_raw(receiver, raw.append) == b"held"
    assert receiver._buffer == b""
    receiver.dataReceived(b"next")
    assert raw == [b"next"], "twisted LineReceiver.setRawMode no longer routes to rawDataReceived"
