"""The streams broker's bookkeeping, sans I/O: what to write, what to read, what was lost.

All channels of a broker share one Redis stream; each entry carries its
publisher's ``origin``, that publisher's message number ``seq`` and the
channel (see :mod:`sockjs.protocol.brokerwire`).

* :class:`Outbox` (publishing side) keeps every message until Redis has
  confirmed it, in order, within ``max_bytes``; after a lost connection the
  unconfirmed ones are written again (readers drop the copies by ``seq``).
* :class:`Inbox` (reading side) knows where this process reads the stream,
  builds the commands of each reading round and sorts what comes back:
  messages to deliver, copies to drop, losses to report.

Losses are never silent: each becomes a :class:`Loss`.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeGuard

from sockjs.protocol.brokerwire import BadBrokerData, decode_json, encode_entry, parse_entry

__all__ = ["Batch", "Inbox", "Loss", "LossKind", "Outbox"]

#: One Redis command, as its words.
Command = tuple[str | int | bytes, ...]


class LossKind(enum.StrEnum):
    """Why messages did not reach every subscriber."""

    #: This process's buffer for Redis was full: the message reached this
    #: process's subscribers only.
    OVERFLOW = "overflow"
    #: Redis answered the write with an error (out of memory, read-only...):
    #: the message reached this process's subscribers only.
    REFUSED = "refused"
    #: Messages numbered between two of another process's messages never
    #: arrived here (they overflowed there, or were trimmed before this
    #: process read them).
    SEQUENCE_GAP = "sequence_gap"
    #: The last entry this process read is no longer in the stream: it fell
    #: behind the retention, or Redis lost the stream (a restart without
    #: persistence). Whatever followed that entry may be lost.
    RETENTION_GAP = "retention_gap"


_COUNTERS = {
    LossKind.OVERFLOW: "redis_buffer_overflow",
    LossKind.REFUSED: "redis_not_published",
    LossKind.SEQUENCE_GAP: "redis_stream_gap",
    LossKind.RETENTION_GAP: "redis_stream_gap",
}


@dataclass(frozen=True)
class Loss:
    """Messages some subscribers did not get; the application may resync its clients.

    ``count`` is how many were lost (at least; ``None``: unknown),
    ``channel`` the channel when it is known (``None``: any channel may be
    concerned), ``origin`` the publishing broker's tag when known.
    """

    kind: LossKind
    count: int | None = None
    channel: str | None = None
    origin: str | None = None

    @property
    def counter(self) -> str:
        """The error kind it is counted as (``broker.counters``, ``errors_*`` of the routers)."""
        return _COUNTERS[self.kind]

    def describe(self) -> str:
        """One line for the log."""
        if self.kind is LossKind.OVERFLOW:
            return f"buffer full: a message on {self.channel!r} stayed in this process"
        if self.kind is LossKind.REFUSED:
            return f"Redis refused a message on {self.channel!r}: it stayed in this process"
        if self.kind is LossKind.SEQUENCE_GAP:
            return f"{self.count} message(s) of {self.origin} never arrived"
        amount = "an unknown number of" if self.count is None else f"at least {self.count}"
        return (
            "this process fell behind the stream's retention (or Redis lost the stream): "
            f"{amount} message(s) lost"
        )


class Outbox:
    """Messages on their way to the stream, oldest first, until Redis confirms each.

    ``key`` is the stream, ``retention`` its approximate length (``MAXLEN
    ~``). Entries written on the current connection are *in flight*; replies
    arrive in order, so each confirms or refuses the oldest in flight.
    """

    def __init__(self, origin: str, key: str, retention: int, max_bytes: int) -> None:
        self.origin = origin
        self.key = key
        self.retention = retention
        self.max_bytes = max_bytes
        #: The number of the last message published (kept or not).
        self.seq = 0
        #: Bytes of the entries kept (in flight or waiting).
        self.bytes = 0
        self._entries: deque[tuple[str, bytes]] = deque()
        self._in_flight = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, channel: str, body: str) -> Loss | None:
        """Keep a message (JSON ``body``) for the stream; a :class:`Loss` if there is no room."""
        self.seq += 1
        entry = encode_entry(self.origin, self.seq, channel, body)
        if self.bytes + len(entry) > self.max_bytes:
            return Loss(LossKind.OVERFLOW, 1, channel, self.origin)
        self._entries.append((channel, entry))
        self.bytes += len(entry)
        return None

    def to_send(self) -> list[Command]:
        """The XADD commands of the entries not written on this connection yet (now in flight)."""
        fresh = islice(self._entries, self._in_flight, None)
        commands: list[Command] = [
            ("XADD", self.key, "MAXLEN", "~", self.retention, "*", "d", entry) for _, entry in fresh
        ]
        self._in_flight = len(self._entries)
        return commands

    def confirmed(self) -> None:
        """Redis stored the oldest entry in flight."""
        self._pop()

    def refused(self) -> Loss | None:
        """Redis answered the oldest entry in flight with an error: it is dropped."""
        channel = self._pop()
        return None if channel is None else Loss(LossKind.REFUSED, 1, channel, self.origin)

    def disconnected(self) -> None:
        """The connection is gone: what was in flight is written again on the next one."""
        self._in_flight = 0

    def _pop(self) -> str | None:
        if not self._in_flight:
            return None  # a reply that matches nothing written: ignore it
        channel, entry = self._entries.popleft()
        self.bytes -= len(entry)
        self._in_flight -= 1
        return channel


@dataclass
class Batch:
    """What one reading round brought: messages to deliver, copies dropped, losses, bad data."""

    deliveries: list[tuple[str, Any]] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)
    duplicates: int = 0
    bad: int = 0


class Inbox:
    """Where this process reads the stream, and what it makes of each entry.

    A round is the commands of :meth:`commands`, sent together; their replies
    go to :meth:`received`. The first round finds the stream's newest entry
    (this process reads what is published from then on). Every later round
    checks that the last entry read is still in the stream (``XRANGE``, so
    a reader that fell behind the retention knows it) and reads on from it
    (``XREAD BLOCK``). A reader blocked on the newest entry cannot miss any:
    Redis answers it with the first entry added.

    Copies (a publisher writing again what a lost connection left
    unconfirmed) are dropped by their ``seq``, which is remembered for the
    last ``max_origins`` publishers seen.
    """

    def __init__(
        self, origin: str, key: str, *, count: int, block_ms: int, max_origins: int = 4096
    ) -> None:
        self.origin = origin
        self.key = key
        self.count = count
        self.block_ms = block_ms
        self.max_origins = max_origins
        #: The id of the last entry read ("0-0": the stream was empty), None before the first round.
        self.last_id: str | None = None
        self._seqs: dict[str, int] = {}
        self._missing: str | None = None  # a last id already reported missing
        self._gap = False  # this round's check found the last id missing

    def commands(self) -> list[Command]:
        """The commands of the next round."""
        if self.last_id is None:
            return [("XREVRANGE", self.key, "+", "-", "COUNT", 1)]
        read: Command = (
            "XREAD", "COUNT", self.count, "BLOCK", self.block_ms, "STREAMS", self.key, self.last_id
        )  # fmt: skip
        if self.last_id in ("0-0", self._missing):
            return [read]
        return [("XRANGE", self.key, self.last_id, self.last_id), read]

    def received(self, replies: list[Any], wanted: Callable[[str], bool]) -> Batch:
        """Sort the replies of a round; ``wanted(channel)``: whether it has local subscribers."""
        batch = Batch()
        if self.last_id is None:
            self.last_id = _newest_id(replies[0])
            return batch
        if len(replies) == 2 and not (isinstance(replies[0], list) and replies[0]):
            self._missing = self.last_id
            self._gap = True
        lost = 0
        for entry_id, data in _entries(replies[-1], batch):
            self.last_id = entry_id
            lost += self._one(data, wanted, batch)
        if self._gap:
            self._gap = False
            batch.losses.insert(0, Loss(LossKind.RETENTION_GAP, lost or None))
        return batch

    def _one(self, data: object, wanted: Callable[[str], bool], batch: Batch) -> int:
        """Sort one entry; the number of messages found missing before it."""
        try:
            entry = parse_entry(data)
        except BadBrokerData:
            batch.bad += 1
            return 0
        if entry.origin == self.origin:
            return 0  # ours: delivered here when it was published
        last = self._seqs.pop(entry.origin, None)
        if last is not None and entry.seq <= last:
            self._seqs[entry.origin] = last
            batch.duplicates += 1
            return 0
        self._seqs[entry.origin] = entry.seq
        if len(self._seqs) > self.max_origins:
            del self._seqs[next(iter(self._seqs))]  # the publisher heard from longest ago
        missing = 0 if last is None else entry.seq - last - 1
        if missing and not self._gap:
            batch.losses.append(Loss(LossKind.SEQUENCE_GAP, missing, None, entry.origin))
        if wanted(entry.channel):
            try:
                batch.deliveries.append((entry.channel, decode_json(entry.body)))
            except BadBrokerData:
                batch.bad += 1
        return missing


def _newest_id(reply: object) -> str:
    """The id in an ``XREVRANGE ... COUNT 1`` reply, "0-0" for an empty (or absent) stream."""
    if isinstance(reply, list) and len(reply) == 1:
        newest = reply[0]
        if isinstance(newest, list) and newest and isinstance(newest[0], str):
            return newest[0]
    return "0-0"


def _entries(reply: object, batch: Batch) -> list[tuple[str, object]]:
    """(id, ``d`` field) of each entry of an ``XREAD`` reply on one stream (None: none came)."""
    if reply is None:
        return []
    items = reply[0][1] if _one_stream(reply) else None
    if not isinstance(items, list):
        batch.bad += 1
        return []
    found = []
    for item in items:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
            fields = item[1] if isinstance(item[1], list) else []
            values = dict(zip(fields[::2], fields[1::2], strict=False))
            found.append((item[0], values.get("d")))
        else:
            batch.bad += 1
    return found


def _one_stream(reply: object) -> TypeGuard[list[Any]]:
    """Whether ``reply`` has the shape ``[[key, entries]]``."""
    return (
        isinstance(reply, list)
        and len(reply) == 1
        and isinstance(reply[0], list)
        and len(reply[0]) == 2
    )
