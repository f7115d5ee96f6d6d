"""Names and attributes that 1.x applications used, and small 2.0 conveniences."""

from typing import Any

from sockjs.cyclone import CloseInfo, MultiplexConnection, SockJSConnection
from sockjs.cyclone.testing import SockJSTestServer


class Echo(SockJSConnection):
    def messageReceived(self, message: Any) -> None:
        self.sendMessage(message)


def test_router_old_attributes() -> None:
    with SockJSTestServer(Echo, {"jsessionid": False, "disabled_transports": ["websocket"]}) as s:
        router = s.router
        assert router.get_connection_class() is Echo
        assert router.websockets_enabled is False
        assert router.cookie_needed is False
        assert router.settings["disconnect_delay"] == 5
        assert router.settings.get("response_limit") == 131072


def test_connection_knows_its_router() -> None:
    with SockJSTestServer(Echo) as server:
        client = server.open()
        assert client.connection.router is server.router
        client.disconnect()


class Room(SockJSConnection):
    pass


def test_channels_know_their_router_and_close_info() -> None:
    mux = MultiplexConnection.create(room=Room)
    with SockJSTestServer(mux) as server:
        client = server.open()
        client.send("sub,room")
        parent = client.connection
        assert isinstance(parent, MultiplexConnection)
        channel = parent._channels.open["room"].conn
        assert channel.router is server.router
        session = channel.session
        client.send("uns,room")
        assert session.close_info == CloseInfo(1000, "Channel closed by the client", "client")
        client.send("sub,room")
        second = parent._channels.open["room"].conn
        second.close(4000, "bye")
        assert second.close_info == CloseInfo(4000, "bye", "application")
        client.send("sub,room")
        third = parent._channels.open["room"].conn
        client.disconnect()
        assert third.close_info is not None
        assert third.close_info.initiator == "client"
