"""The in-memory test harness, at the path applications import it from.

It lives in :mod:`sockjs.addons.testing` (the adapter does not depend on
it); the testing page of the documentation describes it.
"""

from sockjs.addons.testing import (
    TRANSPORTS,
    ChannelClient,
    ClientClosedError,
    SockJSTestServer,
    TestClient,
)

__all__ = ["TRANSPORTS", "ChannelClient", "ClientClosedError", "SockJSTestServer", "TestClient"]
