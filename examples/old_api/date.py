"""The time of day, pushed every second, written against the sockjs-cyclone 1.x API.

Written the way the earlier releases' date example was: the connection
overrides ``__init__(self, *args, **kwargs)``, calls the base class and
starts a ``LoopingCall`` there.  Nothing ever stops that loop, so it keeps
calling ``sendMessage`` after the session has closed; the library ignores
those calls, as the old one did.  The application is a ``cyclone.web.Application``
subclass that builds its router in ``__init__``.

    python examples/old_api/date.py [PORT]      (default 8888; 0 picks a free port)

The service lives at ``/timer``.
"""

import sys
import time

from cyclone import web
from twisted.internet import reactor, task
from twisted.python import log

from sockjs.cyclone import SockJSConnection, SockJSRouter


class DateConnection(SockJSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timer = task.LoopingCall(self.send_time)
        self.timer.start(1)

    def send_time(self):
        self.sendMessage(time.strftime("%H:%M:%S", time.localtime()))


class IndexHandler(web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.write("SockJS time service at /timer.\n")


class DateApplication(web.Application):
    def __init__(self):
        timer_router = SockJSRouter(DateConnection, prefix="/timer")
        # router.urls is a plain list, added to the handlers as in 1.x.
        handlers = [(r"/", IndexHandler)] + timer_router.urls  # noqa: RUF005
        super().__init__(handlers, autoescape=None)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    reactor.listenTCP(port, DateApplication())
    reactor.run()


if __name__ == "__main__":
    log.startLogging(sys.stdout)
    main()
