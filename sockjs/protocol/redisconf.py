"""Where Redis is and how often to try it again: the brokers' plain decisions.

:class:`RedisAddress` reads ``redis://`` and ``rediss://`` (TLS) URLs,
:class:`Backoff` spaces reconnection attempts, and :func:`worth_logging`
thins out repeated warnings. The Redis brokers of ``sockjs.cyclone`` use
them; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["Backoff", "RedisAddress", "worth_logging"]

_SCHEMES = {"redis": False, "rediss": True}


@dataclass(frozen=True)
class RedisAddress:
    """Where Redis is, from a ``redis[s]://[[user]:password@]host[:port][/db]`` URL.

    ``rediss://`` means TLS. A password is sent with ``AUTH`` (with the user
    name too, for a Redis 6 ACL user) before the connection is used. The
    database number is accepted and ignored: Redis pub/sub channels are
    shared by all databases of a server, and the brokers keep apart with
    their ``prefix``.
    """

    host: str = "127.0.0.1"
    port: int = 6379
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        """Read a ``redis://`` or ``rediss://`` URL; raise :class:`ValueError` for anything else."""
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES:
            raise ValueError(f"not a redis:// or rediss:// URL: {url!r}")
        try:
            port = parts.port
        except ValueError as error:
            raise ValueError(f"bad port in {url!r}") from error
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError(f"the path of a redis:// URL is a database number: {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"no query or fragment expected in {url!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port if port is not None else 6379,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            tls=_SCHEMES[parts.scheme],
        )

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{host}:{self.port}"  # never the password: this goes to logs


class Backoff:
    """Delays between reconnection attempts: exponential, capped, jittered.

    ``random`` returns a float in [0, 1) (the adapter passes its RNG in).
    """

    def __init__(
        self,
        initial: float,
        maximum: float,
        factor: float,
        jitter: float,
        random: Callable[[], float],
    ) -> None:
        if not 0 < initial <= maximum or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("need 0 < initial_delay <= max_delay, factor >= 1, 0 <= jitter < 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.random = random

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` (>= 1) failures in a row."""
        # The exponent is capped: after a long outage factor**n would overflow.
        base = min(self.maximum, self.initial * self.factor ** min(failures - 1, 64))
        spread = base * self.jitter
        return max(0.0, base - spread + 2 * spread * float(self.random()))


def worth_logging(count: int) -> bool:
    """Whether the ``count``-th occurrence of a repeated problem is logged: 1, 2, 4, 8...

    A long outage must not flood the log, and its start must not go unseen.
    """
    return count > 0 and count & (count - 1) == 0
