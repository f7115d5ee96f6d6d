"""Admission: whether a receiving request may open or join a session now.

One function, :meth:`Admission.admit`, decides for every entry point (the
HTTP receivers, both WebSocket endpoints, and so the testing harness, which
drives them): a stopped service, a graceful shutdown, ``max_sessions`` and
``max_sessions_per_ip`` for new sessions; ``verify_ip`` and the one-receiver
rule (PROTOCOL.md 6.3 step 2, ``c[2010,...]``) for existing ones. The answer
is ``None`` (go ahead) or a :class:`Refusal` that says how to answer.
:meth:`Admission.admit_sender` is the same for the sending requests
(``xhr_send``, ``jsonp_send``): ``verify_ip`` covers them too, or a client
elsewhere that learnt a session id could write into the session.

A refused new session gets a close frame where the open frame would have
been (``c[1013,"Too many sessions"]``): sockjs-client reports it as a close
event with that code, and nothing was allocated for it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sockjs.protocol import closing
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.options import Options

if TYPE_CHECKING:
    from sockjs.protocol.session import Session


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a receiving request gets no session, and what it is answered."""

    #: Short name for stats (``errors_<kind>``) and log events.
    kind: str
    #: The close frame sent instead of a session; ``None``: answer :attr:`status`.
    close: CloseInfo | None
    #: What a log line says about it.
    detail: str = ""
    #: The setting that refused it (a ``limit_hit`` log event), if any.
    limit: str | None = None
    #: Counted and logged (a client fault or a limit), or an expected answer.
    reported: bool = True
    #: HTTP status when :attr:`close` is ``None``.
    status: int = 503


#: The service was stopped: no timer runs, so no session could ever expire.
STOPPED = Refusal("stopped", None, "Service stopped.", reported=False)
#: A graceful shutdown is under way: new sessions get ``c[1001,...]``.
SHUTTING_DOWN = Refusal("going_away", closing.GOING_AWAY, reported=False)
#: ``max_sessions`` reached.
TOO_MANY_SESSIONS = Refusal(
    "too_many_sessions",
    closing.TOO_MANY_SESSIONS,
    "a new session was refused",
    limit="max_sessions",
)
#: ``max_sessions_per_ip`` reached for the client's address.
TOO_MANY_SESSIONS_FROM_IP = Refusal(
    "too_many_sessions",
    closing.TOO_MANY_SESSIONS_FROM_IP,
    "a new session was refused",
    limit="max_sessions_per_ip",
)
#: ``verify_ip``: a receiving request from another address than the session's.
IP_MISMATCH = Refusal("ip_mismatch", closing.ANOTHER_CONNECTION, "a receiver from another IP")
#: ``verify_ip``: a sending request from another address than the session's.
#: Nothing is delivered; the answer is a status (a sender has no frame to
#: carry a close), with :attr:`Refusal.detail` as its body.
SENDER_IP_MISMATCH = Refusal(
    "ip_mismatch", None, "Session opened from another IP address.", status=403
)
#: A receiving request while another one is attached (PROTOCOL.md 6.3 step 2).
SECOND_RECEIVER = Refusal("another_connection", closing.ANOTHER_CONNECTION, "a second receiver")


class Admission:
    """Admission state of one service: stopping or stopped, and the session counts.

    Sessions are counted under any hashable key (the core session for SockJS
    sessions, the adapter's object for raw WebSockets) with :meth:`count`
    and :meth:`release`; releasing twice, or a key never counted, is
    harmless, so every close path may call it.
    """

    __slots__ = ("_by_ip", "_ips", "max_per_ip", "max_sessions", "stopped", "stopping", "verify_ip")

    def __init__(self, options: Options) -> None:
        self.max_sessions = options.max_sessions
        self.max_per_ip = options.max_sessions_per_ip
        self.verify_ip = options.verify_ip
        #: A graceful shutdown is under way: new sessions are refused with 1001.
        self.stopping = False
        #: The service was stopped: every receiving request is refused.
        self.stopped = False
        self._ips: dict[Hashable, str] = {}
        self._by_ip: dict[str, int] = {}

    def admit(self, session: Session | None, ip: str) -> Refusal | None:
        """Whether a request from ``ip`` may open (``session=None``) or join ``session``."""
        if self.stopped:
            return STOPPED
        if session is None:
            if self.stopping:
                return SHUTTING_DOWN
            if self.max_sessions is not None and len(self._ips) >= self.max_sessions:
                return TOO_MANY_SESSIONS
            if self.max_per_ip is not None and self._by_ip.get(ip, 0) >= self.max_per_ip:
                return TOO_MANY_SESSIONS_FROM_IP
            return None
        if self.verify_ip and session.ip != ip:
            return IP_MISMATCH
        if session.receiver is not None:
            return SECOND_RECEIVER
        return None

    def admit_sender(self, session: Session, ip: str) -> Refusal | None:
        """Whether a sending request from ``ip`` may deliver messages to ``session``."""
        if self.verify_ip and session.ip != ip:
            return SENDER_IP_MISMATCH
        return None

    def count(self, key: Hashable, ip: str) -> None:
        """Count the admitted session ``key``, opened from ``ip`` (once per key)."""
        if key in self._ips:
            return
        self._ips[key] = ip
        self._by_ip[ip] = self._by_ip.get(ip, 0) + 1

    def release(self, key: Hashable) -> None:
        """The session ``key`` is gone (no effect if it was not counted)."""
        ip = self._ips.pop(key, None)
        if ip is None:
            return
        left = self._by_ip[ip] - 1
        if left:
            self._by_ip[ip] = left
        else:
            del self._by_ip[ip]  # keeps the table as small as the set of clients

    def sessions(self, ip: str | None = None) -> int:
        """Sessions counted overall, or from ``ip``."""
        if ip is None:
            return len(self._ips)
        return self._by_ip.get(ip, 0)
