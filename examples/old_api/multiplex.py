"""Three channels over one SockJS connection, written against the sockjs-cyclone 1.x API.

Imports come from the submodules, as in the earlier releases
(``sockjs.cyclone.conn`` and ``sockjs.cyclone.router``), and the channels are
put together with ``MultiplexConnection.create(name=ConnectionClass, ...)``.

    python examples/old_api/multiplex.py [PORT]  (default 8888; 0 picks a free port)

The service lives at ``/multiplex``; ``examples/multiplex/`` has a page for it.
"""

import sys

import cyclone
from twisted.internet import reactor
from twisted.python import log

from sockjs.cyclone.conn import MultiplexConnection, SockJSConnection
from sockjs.cyclone.router import SockJSRouter


class IndexHandler(cyclone.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.write("SockJS multiplex service at /multiplex: channels ann, bob, carl.\n")


class AnnConnection(SockJSConnection):
    def connectionMade(self, info):
        self.sendMessage("Ann says hi!")

    def messageReceived(self, message):
        self.sendMessage("Ann nods: " + message)


class BobConnection(SockJSConnection):
    def connectionMade(self, info):
        self.sendMessage("Bob doesn't agree.")

    def messageReceived(self, message):
        self.sendMessage("Bob says no to: " + message)


class CarlConnection(SockJSConnection):
    def connectionMade(self, info):
        self.sendMessage("Carl says goodbye!")
        self.close()

    def messageReceived(self, message):
        pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    connection = MultiplexConnection.create(
        ann=AnnConnection, bob=BobConnection, carl=CarlConnection
    )
    router = SockJSRouter(connection, "/multiplex")
    # router.urls is a plain list, added to the handlers as in 1.x.
    app = cyclone.web.Application([(r"/", IndexHandler)] + router.urls)  # noqa: RUF005
    reactor.listenTCP(port, app)
    reactor.run()


if __name__ == "__main__":
    log.startLogging(sys.stdout)
    main()
