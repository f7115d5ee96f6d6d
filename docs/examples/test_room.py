"""Tests of room.py with sockjs.cyclone.testing (shown in docs/testing.rst)."""

from room import RoomConnection

from sockjs.cyclone.testing import SockJSTestServer


def test_members_hear_each_other():
    with SockJSTestServer(RoomConnection) as server:
        ann = server.open(arguments={"name": "ann"})
        bob = server.open(arguments={"name": "bob"})
        assert ann.pop_messages() == [{"joined": "ann"}, {"joined": "bob"}]
        assert bob.pop_messages() == [{"joined": "bob"}]

        bob.send("hi ann")
        assert ann.pop_messages() == [{"from": "bob", "text": "hi ann"}]
        assert bob.pop_messages() == [{"from": "bob", "text": "hi ann"}]


def test_rooms_are_separate():
    with SockJSTestServer(RoomConnection) as server:
        ann = server.open(arguments={"name": "ann", "room": "a"})
        bob = server.open(arguments={"name": "bob", "room": "b"})
        ann.send("anyone?")
        assert bob.pop_messages() == [{"joined": "bob"}]


def test_a_client_without_a_name_is_refused():
    with SockJSTestServer(RoomConnection) as server:
        nobody = server.open()
        assert nobody.close_frame == (3000, "Go away!")
        assert nobody.connection is None


def test_leaving_is_announced():
    with SockJSTestServer(RoomConnection, {"disconnect_delay": 5}) as server:
        ann = server.open(arguments={"name": "ann"})
        bob = server.open(arguments={"name": "bob"}, transport="xhr")
        ann.pop_messages()

        bob.disconnect()  # the browser tab closes: the session ends at once
        assert ann.pop_messages() == [{"left": "bob"}]
        assert bob.close_info.initiator == "client"

        carl = server.open(arguments={"name": "carl"}, transport="xhr")
        carl.stop_polling()  # the client vanishes between two polls
        server.advance(4.9)
        assert carl.connection.is_closed is False
        server.advance(0.1)  # disconnect_delay after its last poll ended
        assert carl.close_info.initiator == "timeout"
        assert ann.pop_messages() == [{"joined": "carl"}, {"left": "carl"}]


def test_heartbeats_keep_an_idle_client_alive():
    with SockJSTestServer(RoomConnection, {"heartbeat_delay": 25}) as server:
        ann = server.open(arguments={"name": "ann"})
        server.advance(60)
        assert ann.frames == ["o", 'a[{"joined":"ann"}]', "h", "h"]
        assert not ann.closed
    server.assert_no_timers()
