"""A chat room built on publish/subscribe (used by docs/broadcast.rst and docs/testing.rst)."""

from sockjs.cyclone import SockJSConnection


class RoomConnection(SockJSConnection):
    """One member of the room named in the ``room`` query argument."""

    def connectionMade(self, info):
        self.name = info.get_argument("name")
        if not self.name:
            return False  # refused: the client gets c[3000,"Go away!"]
        self.room = "room:" + (info.get_argument("room") or "lobby")
        self.subscribe(self.room)  # ends by itself when the session does
        self.publish(self.room, {"joined": self.name})
        return None

    def messageReceived(self, message):
        self.publish(self.room, {"from": self.name, "text": message})

    def connectionLost(self):
        self.publish(self.room, {"left": self.name})
