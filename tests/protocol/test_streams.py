"""The streams broker's bookkeeping with plain values: outbox, inbox, losses."""

from __future__ import annotations

from typing import Any

import pytest

from sockjs.protocol.brokerwire import encode_entry
from sockjs.protocol.streams import Inbox, Loss, LossKind, Outbox

KEY = "p:stream"


def entry(entry_id: str, origin: str, seq: int, channel: str, body: str) -> list[Any]:
    """An entry as an XREAD reply carries it."""
    return [entry_id, ["d", encode_entry(origin, seq, channel, body).decode()]]


def read_reply(*entries: list[Any]) -> list[Any]:
    return [[KEY, list(entries)]]


def everything(channel: str) -> bool:
    return True


# ---------------------------------------------------------------------------
# Outbox
# ---------------------------------------------------------------------------


def test_outbox_writes_each_entry_once_per_connection() -> None:
    box = Outbox("A", KEY, 1000, 1 << 20)
    assert box.add("ch", '"one"') is None
    assert box.add("ch", '"two"') is None
    first = box.to_send()
    assert first == [
        ("XADD", KEY, "MAXLEN", "~", 1000, "*", "d", b'A 1 2 ch"one"'),
        ("XADD", KEY, "MAXLEN", "~", 1000, "*", "d", b'A 2 2 ch"two"'),
    ]
    assert box.to_send() == []
    box.add("ch", '"three"')
    assert [command[-1] for command in box.to_send()] == [b'A 3 2 ch"three"']
    assert len(box) == 3 and box.bytes == 13 + 13 + 15
    box.confirmed()
    assert len(box) == 2 and box.bytes == 28
    box.disconnected()  # two in flight, unconfirmed: written again
    assert [command[-1] for command in box.to_send()] == [b'A 2 2 ch"two"', b'A 3 2 ch"three"']
    box.confirmed()
    box.confirmed()
    assert len(box) == 0 and box.bytes == 0
    box.confirmed()  # a reply that matches nothing: ignored
    assert box.refused() is None


def test_outbox_is_bounded_in_bytes() -> None:
    box = Outbox("A", KEY, 10, 30)
    assert box.add("ch", '"0123456"') is None  # 17 bytes
    assert box.add("ch", '"0123456"') == Loss(LossKind.OVERFLOW, 1, "ch", "A")
    assert box.add("c", '"x"') is None  # 10 bytes: fits
    assert box.seq == 3 and len(box) == 2  # the dropped one has its number: readers see the gap
    assert [command[-1] for command in box.to_send()] == [b'A 1 2 ch"0123456"', b'A 3 1 c"x"']
    assert Outbox("A", KEY, 10, 0).add("ch", "1") == Loss(LossKind.OVERFLOW, 1, "ch", "A")


def test_outbox_drops_what_redis_refused() -> None:
    box = Outbox("A", KEY, 10, 100)
    box.add("one", "1")
    box.add("two", "2")
    box.to_send()
    assert box.refused() == Loss(LossKind.REFUSED, 1, "one", "A")
    box.confirmed()
    assert len(box) == 0


# ---------------------------------------------------------------------------
# Inbox
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "start"),
    [
        ([], "0-0"),
        ([["5-1", ["d", "x"]]], "5-1"),
        (None, "0-0"),
        ([[5, []]], "0-0"),
        ([[]], "0-0"),
        ("5-1", "0-0"),
    ],
)
def test_the_first_round_finds_the_newest_entry(reply: Any, start: str) -> None:
    inbox = Inbox("B", KEY, count=10, block_ms=2000)
    assert inbox.commands() == [("XREVRANGE", KEY, "+", "-", "COUNT", 1)]
    assert inbox.received([reply], everything).deliveries == []
    assert inbox.last_id == start


def started(last_id: str = "0-0", **kw: Any) -> Inbox:
    inbox = Inbox("B", KEY, count=10, block_ms=2000, **kw)
    inbox.received([[[last_id, []]] if last_id != "0-0" else []], everything)
    return inbox


def test_rounds_check_the_last_entry_then_read_on() -> None:
    inbox = started()
    read = ("XREAD", "COUNT", 10, "BLOCK", 2000, "STREAMS", KEY, "0-0")
    assert inbox.commands() == [read]  # nothing to check yet
    inbox.received([read_reply(entry("1-0", "A", 1, "ch", '"x"'))], everything)
    assert inbox.commands() == [
        ("XRANGE", KEY, "1-0", "1-0"),
        ("XREAD", "COUNT", 10, "BLOCK", 2000, "STREAMS", KEY, "1-0"),
    ]


def test_entries_are_sorted() -> None:
    inbox = started("1-0")
    wanted = {"ch", "bad"}.__contains__
    batch = inbox.received(
        [
            [["1-0", ["d", "..."]]],  # the check: still there
            read_reply(
                entry("2-0", "A", 1, "ch", '"a1"'),
                entry("3-0", "B", 1, "ch", '"ours"'),
                entry("4-0", "C", 7, "other", "not json, not wanted: not decoded"),
                entry("5-0", "A", 2, "ch", '"a2"'),
                entry("6-0", "A", 2, "ch", '"a2"'),  # a copy: dropped
                entry("7-0", "A", 1, "ch", '"a1"'),  # an older copy: dropped
                entry("8-0", "A", 5, "ch", '"a5"'),  # 3 and 4 never came
                entry("9-0", "C", 8, "bad", "[[["),
                entry("10-0", "C", 10, "ch", '{"c":10}'),  # 9 never came
            ),
        ],
        wanted,
    )
    assert batch.deliveries == [("ch", "a1"), ("ch", "a2"), ("ch", "a5"), ("ch", {"c": 10})]
    assert batch.duplicates == 2 and batch.bad == 1
    assert batch.losses == [
        Loss(LossKind.SEQUENCE_GAP, 2, None, "A"),
        Loss(LossKind.SEQUENCE_GAP, 1, None, "C"),
    ]
    assert inbox.last_id == "10-0"


def test_a_missing_last_entry_is_one_retention_gap() -> None:
    inbox = started("1-0")
    inbox.received([[["1-0", []]], read_reply(entry("2-0", "A", 1, "ch", "1"))], everything)
    batch = inbox.received(
        [[], read_reply(entry("9-0", "A", 5, "ch", "5"), entry("10-0", "C", 1, "ch", "1"))],
        everything,
    )
    # The sequence gaps seen in that round are counted in it, not reported apart.
    assert batch.losses == [Loss(LossKind.RETENTION_GAP, 3)]
    assert batch.deliveries == [("ch", 5), ("ch", 1)]


def test_a_stream_that_lost_everything_is_reported_once() -> None:
    inbox = started("7-0")
    batch = inbox.received([[], None], everything)  # gone, and nothing new
    assert batch.losses == [Loss(LossKind.RETENTION_GAP, None)]
    # The same missing entry is not checked (nor reported) again...
    assert inbox.commands() == [("XREAD", "COUNT", 10, "BLOCK", 2000, "STREAMS", KEY, "7-0")]
    assert inbox.received([None], everything).losses == []
    # ...until reading moves on.
    inbox.received([read_reply(entry("8-0", "A", 1, "ch", "1"))], everything)
    assert inbox.commands()[0] == ("XRANGE", KEY, "8-0", "8-0")


@pytest.mark.parametrize(
    ("reply", "bad"),
    [
        ("nonsense", 1),
        ([[KEY, "entries"]], 1),
        ([[KEY]], 1),
        ([], 1),
        ([[KEY, [["1-0"]]]], 1),
        ([[KEY, [[1, ["d", "x"]]]]], 1),
        ([[KEY, ["1-0"]]], 1),
        ([[KEY, [["1-0", "fields"]]]], 1),
        ([[KEY, [["1-0", ["e", "A 1 2 ch1"]]]]], 1),
        ([[KEY, [["1-0", ["d", b"A 1 2 ch1"]]]]], 1),
    ],
)
def test_malformed_replies_are_bad_data(reply: Any, bad: int) -> None:
    inbox = started()
    batch = inbox.received([reply], everything)
    assert batch.bad == bad and batch.deliveries == []


def test_publishers_are_remembered_within_a_bound() -> None:
    inbox = started(max_origins=2)
    firsts = [entry(f"{n}-1", origin, 1, "ch", "1") for n, origin in enumerate("ACD", 1)]
    inbox.received([read_reply(*firsts)], everything)
    # D is remembered: its copy is dropped. A was forgotten: its copy is taken for new.
    copies = [entry("4-1", "D", 1, "ch", "1"), entry("5-1", "A", 1, "ch", "1")]
    batch = inbox.received([[["3-1", []]], read_reply(*copies)], everything)
    assert batch.duplicates == 1 and batch.deliveries == [("ch", 1)]


@pytest.mark.parametrize(
    ("loss", "text", "counter"),
    [
        (
            Loss(LossKind.OVERFLOW, 1, "ch", "A"),
            "buffer full: a message on 'ch' stayed in this process",
            "redis_buffer_overflow",
        ),
        (
            Loss(LossKind.REFUSED, 1, "ch", "A"),
            "Redis refused a message on 'ch': it stayed in this process",
            "redis_not_published",
        ),
        (
            Loss(LossKind.SEQUENCE_GAP, 3, None, "A"),
            "3 message(s) of A never arrived",
            "redis_stream_gap",
        ),
        (Loss(LossKind.RETENTION_GAP, 4), "at least 4 message(s) lost", "redis_stream_gap"),
        (Loss(LossKind.RETENTION_GAP), "an unknown number of message(s) lost", "redis_stream_gap"),
    ],
)
def test_losses_describe_themselves(loss: Loss, text: str, counter: str) -> None:
    assert text in loss.describe()
    assert loss.counter == counter
