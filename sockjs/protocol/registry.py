"""Session table and deadline heap of one service (PROTOCOL.md 6.1, 6.10).

HTTP sessions are found by id; WebSocket sessions are only tracked for their
deadlines (their ids are ignored, 6.1). Deadlines live in one heap so the
adapter needs a single timer, armed at :meth:`SessionRegistry.next_deadline`.
Sessions are counted for admission (:class:`~sockjs.protocol.admission.Admission`)
from creation until they end; an ended session leaves the table by itself.
Heap entries are invalidated lazily: an entry whose deadline no longer
matches its session's is skipped when it reaches the top.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator

from sockjs.protocol.admission import Admission
from sockjs.protocol.options import Options
from sockjs.protocol.session import Session, SessionState

_Entry = tuple[float, int, Session]
_CLOSED = SessionState.CLOSED  # a global: cheaper than the enum attribute


class SessionRegistry:
    """All live sessions of one service and their deadlines."""

    def __init__(self, options: Options) -> None:
        self.options = options
        #: Who may open or join a session now; counts every live session.
        self.admission = Admission(options)
        self._by_id: dict[str, Session] = {}
        self._live: set[Session] = set()
        self._heap: list[_Entry] = []
        self._order = itertools.count()
        # next_deadline() answer, valid until a deadline changes: adapters
        # ask after every call into a session, deadlines change far less often.
        self._next: float | None = None
        self._next_known = True

    # -- table ----------------------------------------------------------------

    def get(self, session_id: str) -> Session | None:
        """The live HTTP session with this id, if any."""
        return self._by_id.get(session_id)

    def create(self, session_id: str, now: float, ip: str = "") -> Session:
        """Create, register and count a new HTTP session (6.3 step 1)."""
        session = Session(session_id, self.options, now, scheduler=self, ip=ip)
        self._by_id[session_id] = session
        self._live.add(session)
        self.admission.count(session, ip)
        return session

    def create_anonymous(self, now: float, ip: str = "") -> Session:
        """Create and count a WebSocket session: deadlines only, no id in the table (6.1)."""
        session = Session(None, self.options, now, scheduler=self, ip=ip)
        self._live.add(session)
        self.admission.count(session, ip)
        return session

    def discard(self, session: Session) -> None:
        """Forget a session (done by itself once the session ended)."""
        self._live.discard(session)
        self.admission.release(session)
        if session.session_id is not None and self._by_id.get(session.session_id) is session:
            del self._by_id[session.session_id]

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._live))

    @property
    def http_session_count(self) -> int:
        """Number of sessions reachable by id."""
        return len(self._by_id)

    # -- deadlines --------------------------------------------------------------

    def schedule(self, session: Session) -> None:
        """Record ``session.deadline`` (called by the session itself)."""
        self._next_known = False
        if session.deadline is None:
            # Only an ended session has no deadline: it leaves the table.
            self.discard(session)
            return
        heapq.heappush(self._heap, (session.deadline, next(self._order), session))
        # Lazy invalidation leaves stale entries behind; rebuild when they
        # clearly outnumber the live ones so memory stays proportional.
        if len(self._heap) > 4 * len(self._live) + 1024:
            self._compact()

    def next_deadline(self) -> float | None:
        """The earliest pending deadline, or ``None`` when nothing is scheduled."""
        if self._next_known:
            return self._next
        heap = self._heap
        while heap and not _valid(heap[0]):
            heapq.heappop(heap)
        self._next = heap[0][0] if heap else None
        self._next_known = True
        return self._next

    def due(self, now: float) -> list[Session]:
        """Pop and return the sessions whose deadline is ``<= now``."""
        heap = self._heap
        self._next_known = False
        result: list[Session] = []
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            if _valid(entry):
                result.append(entry[2])
        return result

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if _valid(entry)]
        heapq.heapify(self._heap)


def _valid(entry: _Entry) -> bool:
    deadline, _, session = entry
    return session.deadline == deadline and session.state != _CLOSED
