"""A broadcast chat written against the sockjs-cyclone 1.x API.

This program uses the library the way applications written for the earlier
releases do, and runs unchanged on this one: ``import cyclone`` then
``cyclone.web``, the connection's class-level set of participants,
``self.broadcast(...)`` and ``router.urls`` added to the handler list.

    python examples/old_api/chat.py [PORT]      (default 8888; 0 picks a free port)

Every message a client sends goes to everybody; joins and leaves are
announced.  The service lives at ``/chat``.
"""

import sys
from typing import ClassVar

import cyclone
from twisted.internet import reactor
from twisted.python import log

import sockjs.cyclone


class IndexHandler(cyclone.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.write("SockJS chat service at /chat (see examples/chat/ for a page).\n")


class ChatConnection(sockjs.cyclone.SockJSConnection):
    # Shared by every connection of the class: the old examples keep their
    # room in the class itself.
    participants: ClassVar[set] = set()

    def connectionMade(self, info):
        self.broadcast(self.participants, "Someone joined.")
        self.participants.add(self)

    def messageReceived(self, message):
        self.broadcast(self.participants, message)

    def connectionLost(self):
        self.participants.discard(self)
        self.broadcast(self.participants, "Someone left.")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    chat_router = sockjs.cyclone.SockJSRouter(ChatConnection, "/chat")
    # router.urls is a plain list, added to the handlers as in 1.x.
    app = cyclone.web.Application([(r"/", IndexHandler)] + chat_router.urls)  # noqa: RUF005
    reactor.listenTCP(port, app)
    reactor.run()


if __name__ == "__main__":
    log.startLogging(sys.stdout)
    main()
