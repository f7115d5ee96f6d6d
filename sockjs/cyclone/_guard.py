"""The one guard around application hooks: order, asynchronous results, failures.

SockJS sessions, raw WebSockets and multiplex channels all run their
connection's hooks through :class:`HookGuard`, so a connection class behaves
the same wherever it is served: ``connectionMade`` first (``False``, an
exception or a failed Deferred refuses), then each message in order, a
pending Deferred or coroutine holding the next one back (a failure closes
with 1011), and ``connectionLost`` exactly once unless refused. A hook's
exception never reaches the server or the other sessions. docs/sessions.rst
is the user's view.
"""

from __future__ import annotations

import inspect
from collections import deque
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from sockjs.cyclone._types import AppConnection
from sockjs.cyclone.conninfo import ConnectionInfo
from sockjs.protocol import closing
from sockjs.protocol.closing import CloseInfo

_FAILED = object()
#: HookGuard._pending while a single message's hook runs (see _deliver_one).
_BUSY: deque[Any] = deque()


class HookGuard:
    """Runs one application connection's hooks (see the module documentation).

    Subclasses say whether messages are still taken (:meth:`_accepting`),
    how to end on the guard's request (:meth:`_end`: a refusal or a hook
    failure) and where exceptions are reported (:meth:`_hook_failed`).
    """

    __slots__ = ("_lost", "_pending", "conn")

    def __init__(self) -> None:
        #: The application's connection; ``None`` before the start and once refused.
        self.conn: Any = None
        self._lost = False
        # Messages waiting for an asynchronous hook; None while nothing waits.
        self._pending: deque[Any] | None = None

    # -- for subclasses ---------------------------------------------------------------

    def _accepting(self) -> bool:  # pragma: no cover - interface
        """Messages may still reach the application."""
        raise NotImplementedError

    def _end(self, close: CloseInfo, refused: bool) -> None:  # pragma: no cover - interface
        """Close on the guard's request (``refused``: ``connectionMade`` said no or failed)."""
        raise NotImplementedError

    def _hook_failed(self, hook: str, failure: Failure | None) -> None:  # pragma: no cover
        """Report an exception raised by ``hook`` (``Class.method``)."""
        raise NotImplementedError

    # -- hooks ------------------------------------------------------------------------

    def start(self, conn: AppConnection, info: ConnectionInfo | None) -> None:
        """Run ``connectionMade``; messages delivered meanwhile wait for it."""
        self.conn = conn
        result = self._invoke("connectionMade", info)
        if isinstance(result, Deferred):
            self._pending = deque()
            result.addBoth(self._made)
            return
        self._made(result)

    def _made(self, result: Any) -> None:
        failed = result is _FAILED
        if isinstance(result, Failure):
            self._hook_failed(_hook_name(self.conn, "connectionMade"), result)
            failed = True
        if failed or result is False:
            # Refused: the client is told, the application hears nothing more.
            self._lost = True
            self.conn = None
            self._pending = None
            self._end(closing.INTERNAL_ERROR if failed else closing.GO_AWAY, refused=True)
            return
        self._pump()  # what was delivered while the hook ran

    def dispatch(self, batch: list[Any]) -> None:
        """Hand ``batch`` to ``messageReceived``, in order, after what waits."""
        pending = self._pending
        if pending is not None:
            if pending is _BUSY:  # delivered from inside messageReceived
                self._pending = deque(batch)
            else:
                pending.extend(batch)
            return
        if self.conn is None:
            return
        if len(batch) == 1:
            self._deliver_one(batch[0])
            return
        self._pending = deque(batch)
        self._pump()

    def _deliver_one(self, message: Any) -> None:
        # The usual case, one message and none waiting, without making a
        # queue: _BUSY stands for an empty one while the hook runs, and
        # becomes a real queue if anything is delivered meanwhile.
        self._pending = _BUSY
        outcome = self._invoke("messageReceived", message)
        if outcome is _FAILED:
            self._failed()
            return
        if isinstance(outcome, Deferred):
            if self._pending is _BUSY:
                self._pending = deque()
            outcome.addBoth(self._pump)
            return
        if self._pending is _BUSY:
            self._pending = None
        else:
            self._pump()  # what was delivered while the hook ran

    def _pump(self, result: Any = None) -> None:
        if isinstance(result, Failure):
            self._hook_failed(_hook_name(self.conn, "messageReceived"), result)
            self._failed()
            return
        pending = self._pending
        while pending:
            if self.conn is None or not self._accepting():
                break
            outcome = self._invoke("messageReceived", pending.popleft())
            if outcome is None:  # the usual synchronous hook
                continue
            if outcome is _FAILED:
                self._failed()
                return
            if isinstance(outcome, Deferred):
                outcome.addBoth(self._pump)
                return
        self._pending = None

    def _failed(self) -> None:
        # A failing hook must not take the server down, nor leave the
        # client talking to a half-broken session.
        self._pending = None
        self._end(closing.INTERNAL_ERROR, refused=False)

    def finish(self) -> None:
        """The session stopped taking messages: run ``connectionLost`` (once, unless refused)."""
        if self._lost:
            return
        self._lost = True
        self._pending = None
        conn = self.conn
        if conn is not None:
            outcome = self._invoke("connectionLost")
            if isinstance(outcome, Deferred):
                outcome.addErrback(
                    lambda failure: self._hook_failed(_hook_name(conn, "connectionLost"), failure)
                )

    @property
    def waiting(self) -> bool:
        """``connectionMade`` or a ``messageReceived`` has not finished yet."""
        return self._pending is not None

    def _invoke(self, hook: str, *args: Any) -> Any:
        """Run the connection's ``hook``; a Deferred for async results, ``_FAILED`` on error."""
        try:
            result = getattr(self.conn, hook)(*args)
        except Exception:
            self._hook_failed(_hook_name(self.conn, hook), None)
            return _FAILED
        if result is not None and inspect.iscoroutine(result):
            return Deferred.fromCoroutine(result)
        return result


def _hook_name(conn: object, name: str) -> str:
    """``Class.hook``, as log events name an application hook."""
    return f"{type(conn).__qualname__}.{name}"
