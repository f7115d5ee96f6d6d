"""Micro-benchmark of the protocol core: encode/decode cost per frame, no I/O.

    .venv/bin/python bench/micro.py [--size 32] [--number N] [--repeat R]

Times the pure functions of :mod:`sockjs.protocol` on one message of
``--size`` characters: encoding a message and building its ``a[...]`` frame,
wrapping it for each transport, decoding client payloads, and a whole
``Session.send`` to an attached receiver (what every delivered message
costs in the core). Prints the best of ``--repeat`` runs in nanoseconds per
operation: the best run is the one least disturbed by other processes.
Nothing here imports Twisted or Cyclone.
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable

from sockjs.protocol import frames, transports
from sockjs.protocol.encoding import decode_payload, decode_websocket_message, json_encode
from sockjs.protocol.options import Options
from sockjs.protocol.session import Receiver, Session


def cases(size: int) -> list[tuple[str, Callable[[], object]]]:
    """The operations measured, each a zero-argument callable."""
    text = "x" * size
    unicode_text = ("é€\u2028" * size)[:size]
    encoded = frames.encode_message(text)
    frame = frames.message_frame(encoded)
    many = [encoded] * 10
    payload = json.dumps([text]).encode()
    payload10 = json.dumps([text] * 10).encode()
    ws_message = json.dumps([text])

    options = Options(heartbeat_delay=25, disconnect_delay=5)
    ws_session = Session(None, options, 0.0)
    ws_session.attach(Receiver(transports.WEBSOCKET), 0.0)
    stream_session = Session("s", Options(response_limit=1 << 60), 0.0)
    stream_session.attach(Receiver(transports.XHR_STREAMING), 0.0)
    jsonp = transports.jsonp("callback")
    htmlfile = transports.htmlfile("callback")

    return [
        ("encode_message (ASCII str)", lambda: frames.encode_message(text)),
        ("encode_message (non-ASCII str)", lambda: frames.encode_message(unicode_text)),
        ("encode_message (dict)", lambda: json_encode({"text": text, "n": 1})),
        ("message_frame a[...] of 1", lambda: frames.message_frame(encoded)),
        ("messages_frame a[...] of 10", lambda: frames.messages_frame(many)),
        ("close_frame", lambda: frames.close_frame(3000, "Go away!")),
        ("wrap websocket", lambda: transports.WEBSOCKET.wrap(frame)),
        ("wrap xhr / xhr_streaming", lambda: transports.XHR.wrap(frame)),
        ("wrap eventsource", lambda: transports.EVENTSOURCE.wrap(frame)),
        ("wrap jsonp", lambda: jsonp.wrap(frame)),
        ("wrap htmlfile", lambda: htmlfile.wrap(frame)),
        ("decode websocket message [msg]", lambda: decode_websocket_message(ws_message)),
        ("decode xhr_send payload [msg]", lambda: decode_payload(payload)),
        ("decode xhr_send payload [msg x10]", lambda: decode_payload(payload10)),
        ("Session.send -> websocket frame", lambda: ws_session.send(encoded, 1.0)),
        ("Session.send -> xhr_streaming chunk", lambda: stream_session.send(encoded, 1.0)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32, help="message length in characters")
    parser.add_argument("--number", type=int, default=100_000, help="calls per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is shown")
    args = parser.parse_args()
    print(f"protocol core, {args.size}-character message, best of {args.repeat} x {args.number}")
    for name, func in cases(args.size):
        best = min(timeit.repeat(func, number=args.number, repeat=args.repeat))
        print(f"  {name:<38} {best / args.number * 1e9:8.0f} ns")


if __name__ == "__main__":
    main()
