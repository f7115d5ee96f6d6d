"""One SockJS session as a state machine (PROTOCOL.md section 6).

Every input that can move time-dependent state takes ``now`` (seconds, any
monotonic origin); nothing here reads a clock. Methods that produce bytes
for the attached receiving request return an :class:`Output`: the chunks to
write, each one HTTP chunk (or one WebSocket message), and whether the
response must end afterwards. Lifecycle changes (opened, closed, expired,
heartbeat, close frame written, ended) are appended to :attr:`Session.events`
(see :mod:`sockjs.protocol.events`).

A session has exactly one deadline at a time (:attr:`Session.deadline`):
the heartbeat while a receiver is attached, the disconnect timeout while
none is. Whoever schedules timers (the registry) is told about every change
through the ``scheduler`` given at construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from sockjs.protocol import closing, frames
from sockjs.protocol.closing import CloseInfo
from sockjs.protocol.events import SessionEvent
from sockjs.protocol.options import Options
from sockjs.protocol.transports import Prepared, Wire


class SessionState(IntEnum):
    """Session states of PROTOCOL.md 6.2."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


# Module constants: reading a member off the enum class costs far more than
# a global lookup, and these comparisons run for every message.
_CONNECTING = SessionState.CONNECTING
_OPEN = SessionState.OPEN
_CLOSING = SessionState.CLOSING
_CLOSED = SessionState.CLOSED
_OPENED = SessionEvent.OPENED
_HEARTBEAT = SessionEvent.HEARTBEAT
_CLOSE_WRITTEN = SessionEvent.CLOSE_WRITTEN
_CLOSED_EVENT = SessionEvent.CLOSED
_EXPIRED = SessionEvent.EXPIRED
_ENDED = SessionEvent.ENDED


class Scheduler(Protocol):
    """Receives a session whenever its deadline changes."""

    def schedule(self, session: Session) -> None:
        """Note that ``session.deadline`` changed."""


@dataclass(slots=True)
class Output:
    """Bytes for the receiving request the call was about, and whether to end it."""

    chunks: list[bytes] = field(default_factory=list)
    end: bool = False
    #: The client stopped reading (a slow consumer), or is gone (no answer to
    #: a ping): after the end, drop the connection too.
    drop_connection: bool = False
    #: Send a ping with these chunks (a WebSocket heartbeat, :attr:`Wire.pings`).
    ping: bool = False


@dataclass(slots=True)
class Receiver:
    """A receiving request as the core sees it.

    ``token`` is whatever the adapter wants to find again (its request
    handler); the core never looks at it.
    """

    wire: Wire
    token: Any = None
    #: Bytes written so far, counted against ``response_limit`` (prelude excluded).
    sent: int = 0
    #: The peer stopped reading: keep messages queued until :meth:`Session.resume`.
    paused: bool = False
    #: When the peer must have answered the last ping (``ping_timeout``); ``None``: it did.
    pong_due: float | None = None
    #: When the next heartbeat is due while a ping waits for its answer.
    beat_due: float = 0.0


def refusal(wire: Wire, close: CloseInfo) -> Output:
    """The answer to a receiving request that gets no session: its close frame, then the end.

    Where the open frame would have been (a refused new session) or instead
    of anything at all (``c[2010,...]``): sockjs-client reports the close.
    """
    return Output([wire.wrap(frames.close_frame(close.code, close.reason))], end=True)


class Session:
    """State, message buffer, attached receiver and deadline of one session."""

    __slots__ = (
        "_buffer",
        "_buffered_bytes",
        "_scheduler",
        "close_frame",
        "close_info",
        "deadline",
        "events",
        "ip",
        "options",
        "owner",
        "receiver",
        "session_id",
        "state",
    )

    def __init__(
        self,
        session_id: str | None,
        options: Options,
        now: float,
        scheduler: Scheduler | None = None,
        ip: str = "",
    ) -> None:
        self.session_id = session_id
        self.options = options
        #: The client address the session was opened from (``verify_ip``).
        self.ip = ip
        self.state = SessionState.CONNECTING
        self.receiver: Receiver | None = None
        self._buffer: list[str] = []
        self._buffered_bytes = 0
        self.close_frame: str | None = None
        #: Why the session stopped taking messages (set once, with CLOSED).
        self.close_info: CloseInfo | None = None
        #: Lifecycle changes not taken yet (see :meth:`take_events`).
        self.events: list[SessionEvent] = []
        self._scheduler = scheduler
        #: Whatever the adapter attaches to this session; never read here.
        self.owner: Any = None
        self.deadline: float | None = None
        self._set_deadline(now + options.disconnect_delay)

    def take_events(self) -> list[SessionEvent]:
        """The events since the last call, oldest first."""
        events = self.events
        self.events = []
        return events

    # -- receiving requests -------------------------------------------------

    def attach(self, receiver: Receiver, now: float) -> Output:
        """A receiving request arrived for this session (PROTOCOL.md 6.3).

        Admission (:mod:`sockjs.protocol.admission`) has checked that no
        other receiver is attached: a second one is refused before this.
        """
        if self.receiver is not None:
            raise RuntimeError("a receiver is already attached (ask admission first)")
        if self.state >= _CLOSING:
            return self._replay_close(receiver, now)
        self.receiver = receiver
        self._set_deadline(now + self.options.heartbeat_delay)
        if self.state == _CONNECTING:
            # send() ignores a session that is not OPEN, so nothing is queued yet.
            self.state = SessionState.OPEN
            self.events.append(_OPENED)
            return self._emit(frames.OPEN, now)
        if self._buffer:
            return self._flush(now)
        return Output()

    def detach(self, now: float) -> None:
        """The attached receiver ended normally; start the disconnect timeout (6.6).

        A WebSocket session has no disconnect timeout: it ends with its
        socket (:attr:`Wire.bound`), as sockjs-node 0.3.11+ does.
        """
        receiver = self.receiver
        if receiver is None:
            return
        self.receiver = None
        if receiver.wire.bound:
            self._end(closing.INTERRUPTED)
        elif self.state != _CLOSED:
            self._set_deadline(now + self.options.disconnect_delay)

    def abort(self, close: CloseInfo = closing.INTERRUPTED) -> None:
        """The attached receiver's connection dropped: close at once (6.8 option a)."""
        self.receiver = None
        self._end(close)

    def alive(self) -> None:
        """The receiver's peer sent something (a pong, a message): it is there."""
        receiver = self.receiver
        if receiver is not None and receiver.pong_due is not None:
            receiver.pong_due = None
            self._set_deadline(receiver.beat_due)

    def pause(self) -> None:
        """The receiver's peer stopped reading: queue instead of writing."""
        if self.receiver is not None:
            self.receiver.paused = True

    def resume(self, now: float) -> Output | None:
        """The receiver's peer reads again: write what queued meanwhile."""
        if self.receiver is None:
            return None
        self.receiver.paused = False
        if self._buffer and self.state == _OPEN:
            return self._flush(now)
        return None

    # -- application side ---------------------------------------------------

    @property
    def accepts_messages(self) -> bool:
        """Incoming messages reach the application only while OPEN (6.4)."""
        return self.state == _OPEN

    def send(self, encoded: str, now: float, prepared: Prepared | None = None) -> Output | None:
        """Queue one message already encoded with :func:`frames.encode_message`.

        Returns output for the attached receiver, if one can take it now.
        Past ``max_queued_bytes`` of queued messages the session is closed
        with :data:`~sockjs.protocol.closing.SLOW_CONSUMER`. ``prepared``
        (for ``encoded``) lends its frame bytes when the message leaves at once.
        """
        if self.state != _OPEN:
            return None
        receiver = self.receiver
        if receiver is not None and not receiver.paused and not self._buffer:
            # The common case: nothing queued, the message leaves at once.
            if prepared is not None:
                return self._emit_chunk(receiver, prepared.chunk(receiver.wire), now)
            return self._emit(frames.message_frame(encoded), now)
        self._buffer.append(encoded)
        self._buffered_bytes += len(encoded)
        if receiver is not None and not receiver.paused:
            return self._flush(now)
        if self._buffered_bytes > self.options.max_queued_bytes:
            self._take_buffer()
            output = self.close(closing.SLOW_CONSUMER, now)
            if output is not None:
                output.drop_connection = True
            return output
        return None

    def close(self, close: CloseInfo, now: float) -> Output | None:
        """Close by the server or application (6.7); remembered for replay."""
        if self.state >= _CLOSING:
            return None
        self.state = SessionState.CLOSING
        self.close_info = close
        self.close_frame = frames.close_frame(close.code, close.reason)
        self.events.append(_CLOSED_EVENT)
        receiver = self.receiver
        if receiver is None:
            return None
        pending = self._take_buffer()
        pending.append(self.close_frame)
        if not receiver.wire.streaming:
            # One frame per poll: queued messages first; the close frame is
            # remembered and goes to the next poll.
            if len(pending) == 1:
                self.events.append(_CLOSE_WRITTEN)
            return self._emit(pending[0], now)
        self.events.append(_CLOSE_WRITTEN)
        wrap = receiver.wire.wrap
        output = Output([wrap(frame) for frame in pending], end=True)
        self.detach(now)
        return output

    # -- time -----------------------------------------------------------------

    def handle_timer(self, now: float) -> Output | None:
        """Act on the deadline: heartbeat if a receiver is attached, else expire.

        A receiver that can carry pings (a WebSocket) gets one with each
        heartbeat; if nothing comes back within ``ping_timeout`` the peer is
        gone: the session ends with :data:`~sockjs.protocol.closing.PEER_TIMEOUT`
        and the output says to drop the connection.
        """
        if self.deadline is None or now < self.deadline:
            return None
        receiver = self.receiver
        if receiver is not None:
            if receiver.pong_due is not None and now >= receiver.pong_due:
                self.receiver = None
                self._end(closing.PEER_TIMEOUT)
                return Output(end=True, drop_connection=True)
            beat_due = now + self.options.heartbeat_delay
            timeout = self.options.ping_timeout
            ping = receiver.wire.pings and timeout is not None
            if ping:
                receiver.beat_due = beat_due
                if receiver.pong_due is None:
                    assert timeout is not None
                    receiver.pong_due = now + timeout
            due = receiver.pong_due
            self._set_deadline(beat_due if due is None or due > beat_due else due)
            self.events.append(_HEARTBEAT)
            output = self._emit(frames.HEARTBEAT, now)
            output.ping = ping
            return output
        if self.state == _OPEN:
            self.events.append(_EXPIRED)
        self._end(closing.EXPIRED)
        return None

    def forget(self, close: CloseInfo) -> None:
        """End the session now (the service stops): CLOSED, nothing queued, no deadline."""
        self.receiver = None
        self._end(close)

    # -- internals ------------------------------------------------------------

    def _end(self, close: CloseInfo) -> None:
        if self.state == _CLOSED:
            return
        if self.state != _CLOSING:
            self.close_info = close
            self.events.append(_CLOSED_EVENT)
        self.state = SessionState.CLOSED
        self.receiver = None
        self._buffer = []
        self._buffered_bytes = 0
        self._set_deadline(None)
        self.events.append(_ENDED)

    def _set_deadline(self, deadline: float | None) -> None:
        self.deadline = deadline
        if self._scheduler is not None:
            self._scheduler.schedule(self)

    def _take_buffer(self) -> list[str]:
        if not self._buffer:
            return []
        encoded = self._buffer
        self._buffer = []
        self._buffered_bytes = 0
        return [frames.messages_frame(encoded)]

    def _replay_close(self, receiver: Receiver, now: float) -> Output:
        # PROTOCOL.md 6.3 step 4: queued messages, then the remembered close
        # frame; each replay re-arms the disconnect timeout. A session that
        # was already forgotten has no frame left: report the interruption.
        pending = self._take_buffer()
        if self.close_frame is not None:
            pending.append(self.close_frame)
        else:
            close = closing.INTERRUPTED
            pending.append(frames.close_frame(close.code, close.reason))
        if self.state != _CLOSED:
            self._set_deadline(now + self.options.disconnect_delay)
        wrap = receiver.wire.wrap
        if not receiver.wire.streaming:
            if len(pending) == 1:
                self.events.append(_CLOSE_WRITTEN)
            return Output([wrap(pending[0])], end=True)
        self.events.append(_CLOSE_WRITTEN)
        return Output([wrap(frame) for frame in pending], end=True)

    def _flush(self, now: float) -> Output:
        encoded = self._buffer
        self._buffer = []
        self._buffered_bytes = 0
        return self._emit(frames.messages_frame(encoded), now)

    def _emit(self, frame: str, now: float) -> Output:
        receiver = self.receiver
        assert receiver is not None
        return self._emit_chunk(receiver, receiver.wire.wrap(frame), now)

    def _emit_chunk(self, receiver: Receiver, chunk: bytes, now: float) -> Output:
        wire = receiver.wire
        if not wire.streaming:
            self.detach(now)
            return Output([chunk], end=True)
        if wire.limited:
            receiver.sent += len(chunk)
            if receiver.sent >= self.options.response_limit:
                self.detach(now)
                return Output([chunk], end=True)
        return Output([chunk])
