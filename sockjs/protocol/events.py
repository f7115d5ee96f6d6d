"""What a session tells the adapter after each call (PROTOCOL.md section 6).

Lifecycle changes are not left for the adapter to infer from state: every
:class:`~sockjs.protocol.session.Session` method that causes one appends a
:class:`SessionEvent` to ``session.events``, in the order they happened.
The adapter writes the call's output first, then takes the events
(:meth:`~sockjs.protocol.session.Session.take_events`) and acts on them.
Messages are not events: they travel in the call's return value.
"""

from __future__ import annotations

from enum import IntEnum


class SessionEvent(IntEnum):
    """One lifecycle change of a session."""

    #: The open frame is in the output: the application's session starts.
    OPENED = 0
    #: A heartbeat frame is in the output.
    HEARTBEAT = 1
    #: The session's close frame is in the output (a replay included).
    CLOSE_WRITTEN = 2
    #: The session stopped taking messages; ``session.close_info`` says why.
    #: Emitted once, before :attr:`ENDED` when both happen in one call.
    CLOSED = 3
    #: The disconnect timeout ended a session the application saw open
    #: (emitted with :attr:`CLOSED`, whose ``close_info`` is ``EXPIRED``).
    EXPIRED = 4
    #: The session is gone for good (state CLOSED): forget it.
    ENDED = 5
