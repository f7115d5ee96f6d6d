"""SockJS server for Cyclone: the public API.

Typical use::

    import sockjs.cyclone

    class Echo(sockjs.cyclone.SockJSConnection):
        def messageReceived(self, message):
            self.sendMessage(message)

    router = sockjs.cyclone.SockJSRouter(Echo, '/echo')
    app = cyclone.web.Application(router.urls)
"""

try:
    import cyclone.web  # noqa: F401 - makes `import cyclone; cyclone.web` work, as before
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sockjs.cyclone needs cyclone 1.3, which must be installed without its "
        "outdated pins: pip install --no-deps cyclone==1.3"
    ) from error

from sockjs.cyclone.conn import MultiplexConnection, SockJSConnection
from sockjs.cyclone.conninfo import ConnectionInfo
from sockjs.cyclone.httpconn import SockJSHTTPConnection
from sockjs.cyclone.router import SockJSRouter, shutdown
from sockjs.protocol.closing import CloseInfo, Initiator
from sockjs.protocol.options import SettingsError

__all__ = [
    "CloseInfo",
    "ConnectionInfo",
    "Initiator",
    "MultiplexConnection",
    "SettingsError",
    "SockJSConnection",
    "SockJSHTTPConnection",
    "SockJSRouter",
    "shutdown",
]
