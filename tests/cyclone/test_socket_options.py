"""Socket options of client connections (_twisted.tune_socket): nodelay, keepalive, user timeout.

A real ``tcp.Server`` on one end of a TCP connection over loopback (the
options only exist on TCP sockets); nothing is sent.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport

from sockjs.cyclone._twisted import tune_socket
from sockjs.protocol.options import Options


@pytest.fixture
def server_socket() -> Iterator[socket.socket]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    yield accepted
    for sock in (accepted, client, listener):
        sock.close()


def transport_for(sock: socket.socket) -> tcp.Server:
    return tcp.Server(sock, Protocol(), ("127.0.0.1", 1), None, 1, MemoryReactorClock())


def option(sock: socket.socket, level: int, name: str) -> int:
    return sock.getsockopt(level, getattr(socket, name))


def test_the_defaults_turn_every_option_on(server_socket: socket.socket) -> None:
    """Dead peers are noticed by default: keepalive and TCP_USER_TIMEOUT (docs/settings.rst)."""
    tune_socket(transport_for(server_socket), Options())
    assert option(server_socket, socket.IPPROTO_TCP, "TCP_NODELAY")
    assert option(server_socket, socket.SOL_SOCKET, "SO_KEEPALIVE")
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert option(server_socket, socket.IPPROTO_TCP, "TCP_KEEPIDLE") == 30
        assert option(server_socket, socket.IPPROTO_TCP, "TCP_KEEPINTVL") == 10
        assert option(server_socket, socket.IPPROTO_TCP, "TCP_KEEPCNT") == 3
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        assert option(server_socket, socket.IPPROTO_TCP, "TCP_USER_TIMEOUT") == 10_000


def test_settings_change_or_remove_them(server_socket: socket.socket) -> None:
    options = Options(
        disable_nagle=False, tcp_keepalive=None, tcp_user_timeout=2.5, heartbeat_delay=1
    )
    tune_socket(transport_for(server_socket), options)
    assert not option(server_socket, socket.IPPROTO_TCP, "TCP_NODELAY")
    assert not option(server_socket, socket.SOL_SOCKET, "SO_KEEPALIVE")
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        assert option(server_socket, socket.IPPROTO_TCP, "TCP_USER_TIMEOUT") == 2500


def test_once_per_connection(server_socket: socket.socket) -> None:
    transport = transport_for(server_socket)
    tune_socket(transport, Options())
    server_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    tune_socket(transport, Options())  # a second request on the same connection
    assert not option(server_socket, socket.IPPROTO_TCP, "TCP_NODELAY")


def test_transports_without_a_tcp_socket_are_left_alone() -> None:
    tune_socket(StringTransport(), Options())  # no getHandle: nothing to do
    left, right = socket.socketpair()  # AF_UNIX
    try:
        tune_socket(transport_for(left), Options())
    finally:
        left.close()
        right.close()
