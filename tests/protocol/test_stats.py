"""Counters and lazily rotated per-second rates."""

from sockjs.protocol.stats import MovingRate, Stats


def test_moving_rate_counts_complete_seconds() -> None:
    rate = MovingRate(window=3)
    assert rate.rate(0) == 0.0
    rate.add(5, 0.1)
    rate.add(5, 0.9)
    assert rate.rate(0.95) == 0.0  # the current second is not complete
    assert rate.rate(1.0) == 10.0
    rate.add(2, 1.5)
    assert rate.rate(2.0) == 6.0
    assert rate.rate(1.5) == 6.0  # reading in the past changes nothing


def test_moving_rate_counts_idle_seconds_as_zero() -> None:
    rate = MovingRate(window=3)
    rate.add(9, 0)
    assert rate.rate(100) == 0.0  # the window only holds idle seconds now
    rate.add(3, 100)
    assert rate.rate(101) == 1.0


def test_dump_keeps_old_keys() -> None:
    stats = Stats()
    stats.session_opened("xhr")
    stats.session_opened("websocket")
    stats.session_closed("websocket", expired=True)
    stats.connection_opened(0)
    stats.connection_opened(0)
    stats.connection_closed()
    stats.sent(4, 0)
    stats.received(2, 0)
    stats.heartbeat()
    stats.error("bad_json")
    data = stats.dump(1)
    assert data["sessions_active"] == 1
    assert data["connections_active"] == 1
    assert data["connections_ps"] == 2.0
    assert data["packets_sent_ps"] == 4.0
    assert data["packets_recv_ps"] == 2.0
    assert data["transp_xhr"] == 1
    assert data["transp_websocket"] == 0
    assert data["sessions_expired"] == 1
    assert data["sessions_opened"] == 2
    assert data["sessions_closed"] == 1
    assert data["messages_sent"] == 4
    assert data["messages_received"] == 2
    assert data["heartbeats_sent"] == 1
    assert data["errors_bad_json"] == 1
    stats.session_closed("ghost")
    assert stats.dump(1)["transp_ghost"] == 0


def test_dump_adds_totals_by_transport_and_bytes() -> None:
    stats = Stats()
    stats.session_opened("xhr")
    stats.session_opened("xhr")
    stats.session_opened("eventsource")
    stats.session_closed("xhr")
    stats.bytes_sent += 100
    stats.bytes_received += 7
    data = stats.dump(0)
    # The old keys come first, with their meaning: sessions open now.
    assert list(data)[:5] == [
        "sessions_active",
        "connections_active",
        "connections_ps",
        "packets_sent_ps",
        "packets_recv_ps",
    ]
    assert data["transp_xhr"] == 1
    assert data["transp_eventsource"] == 1
    assert data["sessions_opened_xhr"] == 2
    assert data["sessions_opened_eventsource"] == 1
    assert data["sessions_closed_xhr"] == 1
    assert "sessions_closed_eventsource" not in data
    assert data["bytes_sent"] == 100
    assert data["bytes_received"] == 7
    assert stats.opened_by_transport == {"xhr": 2, "eventsource": 1}
    assert stats.closed_by_transport == {"xhr": 1}


def test_dump_is_plain_json() -> None:
    import json

    stats = Stats()
    stats.session_opened("websocket")
    stats.error("no_session")
    data = stats.dump(0)
    assert json.loads(json.dumps(data)) == data
    assert all(type(value) in (int, float) for value in data.values())
