"""An echo service on http://127.0.0.1:8888/echo: every message comes back.

The smallest complete server, with the hardened HTTP connection that every
deployment should use (request limits, idle timeouts: docs/security.rst).
``examples/old_api/echo.py`` is the same service as the 1.x README wrote it.
"""

import cyclone.web
from twisted.internet import reactor

import sockjs.cyclone


class EchoConnection(sockjs.cyclone.SockJSConnection):
    def messageReceived(self, message):
        self.sendMessage(message)


if __name__ == "__main__":
    router = sockjs.cyclone.SockJSRouter(EchoConnection, "/echo")
    app = cyclone.web.Application(router.urls)
    app.protocol = sockjs.cyclone.SockJSHTTPConnection
    reactor.listenTCP(8888, app, interface="127.0.0.1")
    reactor.run()
