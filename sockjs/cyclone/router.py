"""``SockJSRouter``: one SockJS service mounted under a URL prefix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from twisted.internet.defer import Deferred

from cyclone.web import URLSpec
from sockjs.cyclone import logevents
from sockjs.cyclone._clock import Clock
from sockjs.cyclone._service import Service
from sockjs.cyclone._shutdown import DEFAULT_GRACE, GracefulShutdown
from sockjs.cyclone.conn import SockJSConnection
from sockjs.cyclone.handlers import base, receivers, senders, static, websocket
from sockjs.cyclone.pubsub import Broker
from sockjs.cyclone.stats import StatsCollector
from sockjs.protocol.options import Options
from sockjs.protocol.routing import (
    ROUTE_TRANSPORT,
    ROUTES,
    catch_all_pattern,
    full_pattern,
    normalize_prefix,
)

_HANDLERS: dict[str, type[base.SockJSHandler]] = {
    "greeting": static.GreetingHandler,
    "iframe": static.IframeHandler,
    "info": static.InfoHandler,
    "raw_websocket": websocket.RawWebSocketHandler,
    "xhr": receivers.XhrPollingHandler,
    "xhr_send": senders.XhrSendHandler,
    "xhr_streaming": receivers.XhrStreamingHandler,
    "jsonp": receivers.JsonpHandler,
    "jsonp_send": senders.JsonpSendHandler,
    "eventsource": receivers.EventSourceHandler,
    "htmlfile": receivers.HtmlFileHandler,
    "websocket": websocket.WebSocketHandler,
}


class SockJSRouter:
    """Serve ``connection`` (a :class:`SockJSConnection` subclass) under ``prefix``.

    ``user_settings`` uses the old sockjs-cyclone keys, in seconds (see
    :class:`sockjs.protocol.options.Options`); unknown keys, wrong types and
    out-of-range values raise :class:`~sockjs.protocol.options.SettingsError`.
    ``reactor`` defaults to the global Twisted reactor, imported lazily.
    ``broker`` carries publish/subscribe channels (:mod:`sockjs.cyclone.pubsub`);
    each router gets its own in-process broker unless one is given, so pass
    the same broker to routers that should share channels.
    """

    def __init__(
        self,
        connection: type[SockJSConnection],
        prefix: str = "",
        user_settings: Mapping[str, Any] | None = None,
        reactor: Clock | None = None,
        broker: Broker | None = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.connection = connection
        self.prefix = normalize_prefix(prefix)
        self.options = Options.from_settings(user_settings)
        self._service = Service(connection, self.prefix, self.options, reactor, broker)
        self._service.router = self
        if self.options.allowed_origins is None:
            _warn_every_origin(self.prefix)
        #: Counters and rates (``router.stats.dump()``, as in the old project).
        self.stats = StatsCollector(self._service.stats, reactor)
        self._urls = self._build_urls()

    def get_connection_class(self) -> type[SockJSConnection]:
        """The connection class this router serves (old API)."""
        return self.connection

    @property
    def websockets_enabled(self) -> bool:
        """Whether the WebSocket endpoints are served (old API)."""
        return self.options.websocket_enabled

    @property
    def cookie_needed(self) -> bool:
        """Whether the ``JSESSIONID`` cookie is set (old API)."""
        return self.options.cookie_needed

    @property
    def settings(self) -> Options:
        """The validated settings (read-only)."""
        return self.options

    @property
    def urls(self) -> list[URLSpec]:
        """Cyclone URL specs for every SockJS route (a new list each time)."""
        return list(self._urls)

    def apply_routes(self, routes: list[Any]) -> list[Any]:
        """Append this router's URL specs to ``routes`` and return it (old API)."""
        routes.extend(self._urls)
        return routes

    def broadcast(self, clients: Iterable[Any], message: Any) -> None:
        """Send ``message`` to every connection in ``clients``, encoded once."""
        self._service.broadcast(clients, message)

    @property
    def broker(self) -> Broker:
        """The publish/subscribe broker this router's sessions use."""
        return self._service.pubsub.broker

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Publish ``message`` on ``channel`` to every subscribed session.

        The same as ``SockJSConnection.publish``, for code outside any
        connection (a ticker, a web handler). The Deferred fires once the
        broker has accepted the message.
        """
        return self._service.pubsub.publish(channel, message)

    @property
    def connections(self) -> list[SockJSConnection]:
        """The application connections currently open on this router."""
        return [handle.conn for handle in self._service.live if handle.conn is not None]

    @property
    def session_count(self) -> int:
        """Sessions alive (open or waiting for replay/expiry), all transports."""
        return len(self._service.registry)

    def stop(self) -> None:
        """Close every session and cancel the router's timer."""
        self._service.stop()

    def shutdown(self, grace: float = DEFAULT_GRACE) -> Deferred[None]:
        """Close every session gracefully, then :meth:`stop`; fires within ``grace`` seconds.

        Each client gets ``c[1001,"Server going away"]`` (see
        :func:`sockjs.cyclone.shutdown`, which also stops listening ports
        and takes several routers).
        """
        return shutdown([self], grace)

    def _build_urls(self) -> list[URLSpec]:
        disabled = self.options.disabled_transports
        kwargs = {"service": self._service}
        specs = []
        for route in ROUTES:
            handler = _HANDLERS[route.name]
            if ROUTE_TRANSPORT.get(route.name) in disabled:
                handler = _disabled_handler(route.name)
            specs.append(URLSpec(full_pattern(self.prefix, route), handler, kwargs))
        specs.append(URLSpec(catch_all_pattern(self.prefix), base.NotFoundHandler, kwargs))
        return specs


def shutdown(
    routers: Iterable[SockJSRouter],
    grace: float = DEFAULT_GRACE,
    ports: Iterable[Any] = (),
    reactor: Clock | None = None,
) -> Deferred[None]:
    """Shut ``routers`` down gracefully; the Deferred fires within ``grace`` seconds.

    ``ports`` are listening ports (what ``reactor.listenTCP`` returned) to
    stop first, so that no new connection arrives. Each open session gets
    the close frame ``c[1001,"Server going away"]`` (docs/deployment.rst
    says what each transport sees). Typical use, on SIGTERM::

        port = reactor.listenTCP(8080, app)
        reactor.addSystemEventTrigger(
            "before", "shutdown", sockjs.cyclone.shutdown, routers, grace=5, ports=[port]
        )

    Twisted's SIGTERM handler stops the reactor, which waits for the
    Deferred of a "before shutdown" trigger. ``reactor`` defaults to the
    first router's.
    """
    services = [router._service for router in routers]
    if reactor is None:
        if services:
            reactor = services[0].reactor
        else:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
    assert reactor is not None
    return GracefulShutdown(services, grace, reactor).start(list(ports))


def _warn_every_origin(prefix: str) -> None:
    # Once per router, when it is made: the default serves pages of any origin,
    # with their visitors' cookies (docs/security.rst).
    logevents.log.warn(
        "SockJS router {router} accepts requests from pages of every origin, with their "
        "visitors' cookies: set 'allowed_origins' (the sites allowed to use it, e.g. "
        "[\"https://example.com\"]) and 'check_origin_http': True in its settings, or "
        'allowed_origins=["*"] to keep this on purpose (see the security page of the docs)',
        router=logevents.router_label(prefix),
        setting="allowed_origins",
    )


def _disabled_handler(route_name: str) -> type[base.SockJSHandler]:
    if route_name in ("websocket", "raw_websocket"):
        return websocket.DisabledWebSocketHandler
    return base.NotFoundHandler
