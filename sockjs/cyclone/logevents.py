"""Structured log events of :mod:`sockjs.cyclone`: stable names, stable fields.

Every event carries a ``sockjs_event`` field (one of the constants below)
and a fixed set of fields, so log pipelines match names, not message text
(docs/operations.rst lists them). Normal traffic is logged at debug level
only; events are emitted once per session or failed request, never per
message; session and server ids never appear (they act as bearer tokens).
"""

from __future__ import annotations

from typing import Final

from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

#: ``log_namespace`` of every event of this module.
NAMESPACE: Final = "sockjs.cyclone"

#: A session sent its open frame and the application's ``connectionMade`` runs.
SESSION_OPENED: Final = "session_opened"
#: A session ended (any side, any reason); ``initiator`` as in ``CloseInfo``.
SESSION_CLOSED: Final = "session_closed"
#: A request was answered with an error status (bad JSON, unknown session...).
REQUEST_REJECTED: Final = "request_rejected"
#: A connection-level fault: refused upgrade, WebSocket protocol error,
#: another receiver already attached, handshake timeout, malformed request...
TRANSPORT_ERROR: Final = "transport_error"
#: A configured limit was reached (body size, queued bytes, message size...).
LIMIT_HIT: Final = "limit_hit"
#: An application hook (``connectionMade``, ``messageReceived``...) raised.
APP_EXCEPTION: Final = "app_exception"
#: An unexpected error inside the library while answering a request.
INTERNAL_ERROR: Final = "internal_error"

#: Every event name, for log pipelines and tests.
EVENTS: Final = frozenset(
    {
        SESSION_OPENED,
        SESSION_CLOSED,
        REQUEST_REJECTED,
        TRANSPORT_ERROR,
        LIMIT_HIT,
        APP_EXCEPTION,
        INTERNAL_ERROR,
    }
)

log = Logger(namespace=NAMESPACE)
#: Levels whose events are built at all (see :func:`set_level`).
_wanted = dict.fromkeys(LogLevel.iterconstants(), True)


def set_level(level: LogLevel) -> None:
    """Build no event below ``level`` (default ``LogLevel.debug``: every event), process-wide.

    Observers filter events only once built; see docs/operations.rst.
    """
    for each in _wanted:
        _wanted[each] = each >= level


def router_label(prefix: str | None) -> str | None:
    """The ``router`` field (and Prometheus label) for a router prefix."""
    if prefix is None:
        return None
    return prefix or "/"


def _emit(level: LogLevel, text: str, event: str, router: str | None, **fields: object) -> None:
    if _wanted[level]:
        log.emit(level, text, sockjs_event=event, router=router_label(router), **fields)


def session_opened(router: str, transport: str, ip: str | None) -> None:
    """Log :data:`SESSION_OPENED` (debug)."""
    if not _wanted[LogLevel.debug]:
        return  # the usual production case: not even the text is made
    text = "Session opened on {router} over {transport} from {ip}"
    _emit(LogLevel.debug, text, SESSION_OPENED, router, transport=transport, ip=ip)


def session_closed(router: str, transport: str, code: int, reason: str, initiator: str) -> None:
    """Log :data:`SESSION_CLOSED` (debug)."""
    if not _wanted[LogLevel.debug]:
        return
    text = "Session closed on {router} ({transport}): {code} {reason!r}, by {initiator}"
    fields = {"transport": transport, "code": code, "reason": reason, "initiator": initiator}
    _emit(LogLevel.debug, text, SESSION_CLOSED, router, **fields)


def request_rejected(
    router: str, route: str, method: str, status: int, kind: str, detail: str
) -> None:
    """Log :data:`REQUEST_REJECTED` (info)."""
    text = "Rejected {method} {router}/<{route}>: {status} ({kind})"
    fields = {"route": route, "method": method, "status": status, "kind": kind}
    _emit(LogLevel.info, text, REQUEST_REJECTED, router, detail=detail.strip(), **fields)


def transport_error(
    router: str | None,
    kind: str,
    detail: str,
    *,
    code: int | None = None,
    status: int | None = None,
    ip: str | None = None,
) -> None:
    """Log :data:`TRANSPORT_ERROR` (info)."""
    text = "Transport error on {router}: {kind}: {detail}"
    fields = {"kind": kind, "detail": detail, "code": code, "status": status, "ip": ip}
    _emit(LogLevel.info, text, TRANSPORT_ERROR, router, **fields)


def limit_hit(
    router: str | None,
    kind: str,
    limit: str,
    detail: str,
    *,
    code: int | None = None,
    status: int | None = None,
    ip: str | None = None,
) -> None:
    """Log :data:`LIMIT_HIT` (warn)."""
    text = "Limit {limit} reached on {router}: {detail}"
    fields = {"kind": kind, "limit": limit, "detail": detail, "code": code, "status": status}
    _emit(LogLevel.warn, text, LIMIT_HIT, router, ip=ip, **fields)


def app_exception(
    router: str | None, hook: str, failure: Failure | None = None, **fields: object
) -> None:
    """Log :data:`APP_EXCEPTION` (error) with the current or given failure."""
    if not _wanted[LogLevel.error]:
        return
    log.failure(
        "Application hook {hook} raised on {router}",
        failure,
        LogLevel.error,
        sockjs_event=APP_EXCEPTION,
        router=router_label(router),
        hook=hook,
        **fields,
    )


def internal_error(router: str, route: str, method: str) -> None:
    """Log :data:`INTERNAL_ERROR` (critical) with the exception being handled."""
    if not _wanted[LogLevel.critical]:
        return
    log.failure(
        "Unexpected error answering {method} {router}/<{route}>",
        sockjs_event=INTERNAL_ERROR,
        router=router_label(router),
        route=route,
        method=method,
    )
