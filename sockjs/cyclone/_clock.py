"""Structural types for the parts of a Twisted reactor we use.

Twisted's zope interfaces are not understood by mypy; these protocols are,
and both the real reactor and ``twisted.internet.task.Clock`` satisfy them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class DelayedCall(Protocol):
    """What ``callLater`` returns."""

    def active(self) -> bool:
        """Whether the call is still pending."""

    def cancel(self) -> None:
        """Cancel the pending call."""


class Clock(Protocol):
    """Time source and scheduler (``IReactorTime``)."""

    def seconds(self) -> float:
        """Current time in seconds."""

    def callLater(  # noqa: N802 - Twisted API
        self, delay: float, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> DelayedCall:
        """Schedule ``callable`` after ``delay`` seconds."""


def cancel(timer: DelayedCall | None) -> None:
    """Cancel ``timer`` if it is still pending (``None``: nothing to cancel)."""
    if timer is not None and timer.active():
        timer.cancel()
