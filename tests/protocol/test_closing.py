"""The close table (sockjs/protocol/closing.py): one place for every code and reason."""

from __future__ import annotations

import pytest

from sockjs.protocol import closing
from sockjs.protocol.closing import CloseInfo, Initiator


def test_initiator_is_a_string() -> None:
    """Applications written for 2.0a compare ``close_info.initiator`` with strings."""
    assert closing.EXPIRED.initiator == "timeout"
    assert Initiator.CLIENT == "client"
    assert str(Initiator.APPLICATION) == "application"


def test_close_info_accepts_a_plain_string_initiator() -> None:
    info = CloseInfo(3001, "bye", "application")  # type: ignore[arg-type]
    assert info.initiator is Initiator.APPLICATION
    assert info == closing.by_application(3001, "bye")
    with pytest.raises(ValueError):
        CloseInfo(3001, "bye", "nobody")  # type: ignore[arg-type]


def test_builders_set_the_initiator() -> None:
    assert closing.by_client(1005, "").initiator is Initiator.CLIENT
    assert closing.by_server(1002, "bad frame").initiator is Initiator.SERVER


def test_each_reason_is_written_once() -> None:
    """No two close constants with the same code say different things by accident."""
    table = {name: value for name, value in vars(closing).items() if isinstance(value, CloseInfo)}
    assert len({(v.code, v.reason) for v in table.values()}) == len(table)
    assert table["GO_AWAY"] == CloseInfo(3000, "Go away!", Initiator.SERVER)


@pytest.mark.parametrize(
    ("code", "sent"),
    [
        (1000, 1000),
        (1001, 1001),
        (1003, 1003),
        (1004, 1000),
        (1005, 1000),
        (1006, 1000),
        (1007, 1007),
        (1014, 1014),
        (1015, 1000),
        (2010, 1000),
        (2999, 1000),
        (3000, 3000),
        (4999, 4999),
        (5000, 1000),
        (0, 1000),
    ],
)
def test_sendable_code(code: int, sent: int) -> None:
    """RFC 6455 7.4: codes a Close frame may carry; the others go out as 1000."""
    assert closing.sendable_code(code) == sent
