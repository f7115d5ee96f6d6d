"""A client that opens one WebSocket and one xhr_streaming session, then waits.

Run inside a network namespace by tests/integration/test_dead_peers.py:
``python vanishing_client.py HOST PORT``. It prints ``ready`` once both
sessions have their open frame, then keeps its sockets open without reading
until stdin closes. The test then removes the client's address, so that its
kernel drops everything the server sends: the client vanishes without a FIN
or an RST, as a phone out of coverage does.
"""

from __future__ import annotations

import base64
import os
import socket
import sys


def recv_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before {marker!r}: {data[:200]!r}")
        data += chunk
    return data


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    ws = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    ws.sendall(
        (
            f"GET /echo/000/vanish-ws/websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    recv_until(ws, b"\x81\x01o")  # the 101 head, then the text frame "o"
    stream = socket.create_connection((host, port), timeout=10)
    stream.sendall(
        (
            f"POST /echo/000/vanish-xhr/xhr_streaming HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )
    recv_until(stream, b"o\n")
    print("ready", flush=True)
    sys.stdin.read()  # until the test is done with us
    ws.close()
    stream.close()


if __name__ == "__main__":
    main()
