"""write_now() and cork(): direct socket writes that keep Twisted's semantics.

A real ``twisted.internet.tcp.Server`` is built around one end of a socket
pair, with a MemoryReactorClock as its reactor: the bytes really go through the
kernel, and whether Twisted was asked to watch for writability (its own,
deferred write path) is visible in ``reactor.getWriters()``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport

from sockjs.cyclone import _twisted as base
from sockjs.cyclone._twisted import CORK_MAX, DIRECT_WRITE_MAX, cork, uncork, write_now


class Pair:
    """A tcp.Server transport on one end of a socket pair; ``peer`` is the other end."""

    def __init__(self) -> None:
        ours, self.peer = socket.socketpair()
        ours.setblocking(False)
        self.peer.setblocking(False)
        self.reactor = MemoryReactorClock()
        self.protocol = Protocol()
        self.transport = tcp.Server(ours, self.protocol, ("127.0.0.1", 1), None, 1, self.reactor)
        self.protocol.makeConnection(self.transport)

    def received(self) -> bytes:
        chunks = []
        while True:
            try:
                data = self.peer.recv(1 << 20)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    @property
    def queued(self) -> bytes:
        """What Twisted still holds for this connection."""
        return bytes(self.transport.dataBuffer) + b"".join(self.transport._tempDataBuffer)

    @property
    def watched(self) -> bool:
        """Twisted was asked to write (it will flush its buffer on the next pass)."""
        return self.transport in self.reactor.getWriters()

    def fill_kernel(self) -> None:
        """Make the socket refuse more bytes (the peer does not read)."""
        sock = self.transport.socket
        for size in (65536, 4096, 256, 1):
            while True:
                try:
                    sock.send(b"\0" * size)
                except BlockingIOError:
                    break

    def close(self) -> None:
        self.transport.socket.close()
        self.peer.close()


@pytest.fixture
def pair() -> Iterator[Pair]:
    p = Pair()
    yield p
    p.close()
    depth, held = base._cork_depth, list(base._held)
    base._cork_depth = 0
    base._held.clear()
    assert (depth, held) == (0, [])  # a list of the held dict's keys


def test_small_write_goes_out_at_once(pair: Pair) -> None:
    write_now(pair.transport, b"hello")
    assert pair.received() == b"hello"
    assert not pair.watched
    assert pair.queued == b""


def test_large_write_takes_twisted_path(pair: Pair) -> None:
    data = b"x" * (DIRECT_WRITE_MAX + 1)
    write_now(pair.transport, data)
    assert pair.received() == b""
    assert pair.watched
    assert pair.queued == data


def test_write_behind_queued_bytes_is_queued(pair: Pair) -> None:
    pair.transport.write(b"first ")
    write_now(pair.transport, b"second")
    assert pair.received() == b""
    assert pair.queued == b"first second"


def test_what_the_kernel_refuses_is_queued_in_order(pair: Pair) -> None:
    pair.fill_kernel()
    write_now(pair.transport, b"one")
    write_now(pair.transport, b"two")
    assert pair.watched
    assert pair.queued == b"onetwo"


def test_after_lose_connection_twisted_writes_and_closes(pair: Pair) -> None:
    pair.transport.loseConnection()
    write_now(pair.transport, b"late")
    assert pair.received() == b""
    assert pair.queued == b"late"


def test_aborted_connection_is_not_written(pair: Pair) -> None:
    pair.transport.abortConnection()
    write_now(pair.transport, b"dropped")
    assert pair.received() == b""


def test_socket_error_is_left_to_twisted(pair: Pair) -> None:
    pair.peer.close()
    write_now(pair.transport, b"x" * 100)  # EPIPE/ECONNRESET, or accepted by a dying socket
    write_now(pair.transport, b"y")
    assert pair.queued in (b"", b"y", b"x" * 100 + b"y")


def test_other_transports_use_write() -> None:
    transport = StringTransport()
    write_now(transport, b"abc")
    cork()
    try:
        write_now(transport, b"def")
    finally:
        uncork()
    assert transport.value() == b"abcdef"


# -- cork ----------------------------------------------------------------------------


def test_corked_writes_leave_together(pair: Pair) -> None:
    other = Pair()
    try:
        cork()
        write_now(pair.transport, b"a[1]\n")
        write_now(other.transport, b"x")
        write_now(pair.transport, b"a[2]\n")
        assert pair.received() == b""
        assert other.received() == b""
        assert not pair.watched
        uncork()
        assert pair.received() == b"a[1]\na[2]\n"
        assert other.received() == b"x"
        assert pair.queued == b""
        assert not pair.watched
    finally:
        other.close()


def test_cork_nests(pair: Pair) -> None:
    cork()
    cork()
    write_now(pair.transport, b"a")
    uncork()
    assert pair.received() == b""
    uncork()
    assert pair.received() == b"a"


def test_twisted_writes_stay_behind_held_bytes(pair: Pair) -> None:
    cork()
    write_now(pair.transport, b"held ")
    pair.transport.write(b"direct ")  # e.g. a plain Cyclone handler on the connection
    write_now(pair.transport, b"again")
    uncork()
    assert pair.received() == b"held direct again"


def test_large_write_behind_held_bytes_is_held_too(pair: Pair) -> None:
    big = b"b" * (DIRECT_WRITE_MAX + 1)
    cork()
    write_now(pair.transport, b"small")
    write_now(pair.transport, big)
    assert pair.received() == b""
    uncork()
    assert pair.received() == b"small" + big


def test_large_first_write_is_not_held(pair: Pair) -> None:
    big = b"b" * (DIRECT_WRITE_MAX + 1)
    cork()
    write_now(pair.transport, big)
    write_now(pair.transport, b"small")
    uncork()
    assert pair.watched
    assert pair.queued == big + b"small"


def test_too_much_held_is_sent_at_once(pair: Pair) -> None:
    chunk = b"c" * 10000
    cork()
    sent = 0
    while sent <= CORK_MAX:
        write_now(pair.transport, chunk)
        sent += len(chunk)
    assert pair.received() == chunk * (sent // len(chunk))
    write_now(pair.transport, b"end")
    assert pair.received() == b""
    uncork()
    assert pair.received() == b"end"


def test_held_bytes_then_lose_connection(pair: Pair) -> None:
    cork()
    write_now(pair.transport, b"last words")
    pair.transport.loseConnection()
    uncork()
    # Twisted flushes them on its next pass, then closes.
    assert pair.watched
    assert pair.queued == b"last words"


def test_held_bytes_then_abort(pair: Pair) -> None:
    cork()
    write_now(pair.transport, b"dropped")
    pair.transport.abortConnection()
    uncork()
    assert pair.received() == b""
    assert not pair.watched


def test_held_bytes_the_kernel_refuses_are_queued(pair: Pair) -> None:
    cork()
    write_now(pair.transport, b"one")
    pair.fill_kernel()
    write_now(pair.transport, b"two")
    uncork()
    assert pair.watched
    assert pair.queued.endswith(b"onetwo")
