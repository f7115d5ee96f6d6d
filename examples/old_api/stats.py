"""Live router statistics, written against the sockjs-cyclone 1.x API.

Two services: ``/broadcast`` fans every message out to all its clients, and
``/statsconn`` sends, once a second, ``proto.json_encode`` of the broadcast
router's ``stats.dump()`` (keys ``sessions_active``, ``connections_active``,
``connections_ps``, ``packets_sent_ps``, ``packets_recv_ps`` and
``transp_<transport>``).  As in the earlier releases, the broadcast router is
created when the module is imported, before the reactor runs, and the stats
connection's ``messageReceived`` takes no message argument (it never expects
one).

    python examples/old_api/stats.py [PORT]     (default 8888; 0 picks a free port)
"""

import sys
from typing import ClassVar

from cyclone.web import Application, RequestHandler
from twisted.internet import reactor, task
from twisted.python import log

from sockjs.cyclone import SockJSConnection, SockJSRouter, proto


class IndexHandler(RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.write("SockJS services at /broadcast and /statsconn.\n")


class BroadcastConnection(SockJSConnection):
    clients: ClassVar[set] = set()

    def connectionMade(self, info):
        self.clients.add(self)

    def messageReceived(self, msg):
        self.broadcast(self.clients, msg)

    def connectionLost(self):
        self.clients.remove(self)


BroadcastRouter = SockJSRouter(BroadcastConnection, "/broadcast")


class StatsConnection(SockJSConnection):
    def connectionMade(self, info):
        self.loop = task.LoopingCall(self._send_stats)
        self.loop.start(1)

    def messageReceived(self):
        pass

    def connectionLost(self):
        self.loop.stop()

    def _send_stats(self):
        self.sendMessage(proto.json_encode(BroadcastRouter.stats.dump()))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    stats_router = SockJSRouter(StatsConnection, "/statsconn")
    # router.urls is a plain list, added to the handlers as in 1.x.
    app = Application([(r"/", IndexHandler)] + BroadcastRouter.urls + stats_router.urls)  # noqa: RUF005
    reactor.listenTCP(port, app)
    reactor.run()


if __name__ == "__main__":
    log.startLogging(sys.stdout)
    main()
