"""Publish/subscribe: the seam that broadcast channels go through.

A :class:`Broker` moves messages between the publishers and subscribers of
named channels (:class:`InProcessBroker` by default, one per router; a
Redis one can take its place). A :class:`Hub`, one per router, is the
broker's only local subscriber per channel: it fans a message out to the
local sessions and encodes it once for all of them. docs/broadcast.rst
shows how applications use it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from sockjs.cyclone import logevents
from sockjs.cyclone._types import SessionLike
from sockjs.protocol import multiplex

__all__ = ["Broker", "Hub", "InProcessBroker", "Subscription", "hub_for"]


class Subscription:
    """A broker's receipt for one :meth:`Broker.subscribe` call.

    Pass it to :meth:`Broker.unsubscribe`. ``active`` turns false once
    unsubscribed; brokers check it before every delivery, so a callback is
    never called after its subscription ended, even for a message that was
    already on its way.
    """

    __slots__ = ("active", "callback", "channel")

    def __init__(self, channel: str, callback: Callable[[Any], None]) -> None:
        self.channel = channel
        self.callback = callback
        self.active = True

    def __repr__(self) -> str:
        state = "active" if self.active else "ended"
        return f"<Subscription {self.channel!r} {state}>"


class Broker(Protocol):
    """Moves messages from publishers to the subscribers of a channel.

    Contract for implementations (in-process, Redis, ...):

    * :meth:`publish` returns a Deferred that fires (with ``None``) once the
      broker has accepted the message; it fails only if the broker could not
      take it (for instance a value JSON cannot encode, or a lost
      connection), never because a subscriber failed.
    * Messages published through one broker object reach each subscriber in
      the order they were published.
    * Callbacks run in the reactor thread, one message at a time and never
      re-entrantly: a publish made from inside a callback is delivered after
      that callback (and the rest of the current delivery) has finished.
    * An exception raised by a callback is logged and does not keep the
      message from the other subscribers.
    * After :meth:`unsubscribe` returns, the callback is not called again.
    """

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Send ``message`` to every subscriber of ``channel``."""

    def subscribe(self, channel: str, callback: Callable[[Any], None]) -> Subscription:
        """Call ``callback(message)`` for every message later published on ``channel``."""

    def unsubscribe(self, subscription: Subscription) -> None:
        """End ``subscription`` (idempotent)."""


class InProcessBroker:
    """The default :class:`Broker`, for subscribers in this process.

    Channels are shared by everything that holds the same broker object.
    Delivery is synchronous when nothing else is being delivered, so a
    publish from outside any callback has reached every subscriber when it
    returns (and its Deferred has already fired). A publish made while a
    delivery is running is queued and delivered, in order, right after it.
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscription]] = {}
        self._queue: deque[tuple[str, Any, Deferred[None]]] = deque()
        self._delivering = False

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Deliver ``message`` to the subscribers of ``channel`` (queued if re-entrant)."""
        done: Deferred[None] = Deferred()
        self._queue.append((channel, message, done))
        if not self._delivering:
            self._drain()
        return done

    def subscribe(self, channel: str, callback: Callable[[Any], None]) -> Subscription:
        """Add a subscriber; it receives messages published from now on."""
        subscription = Subscription(channel, callback)
        self._subscribers.setdefault(channel, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscriber (no effect if already removed)."""
        subscription.active = False
        subscribers = self._subscribers.get(subscription.channel)
        if subscribers is None or subscription not in subscribers:
            return
        subscribers.remove(subscription)
        if not subscribers:
            del self._subscribers[subscription.channel]

    def subscriber_count(self, channel: str) -> int:
        """Subscriptions currently active on ``channel`` (for tests and stats)."""
        return len(self._subscribers.get(channel, ()))

    def _drain(self) -> None:
        self._delivering = True
        try:
            while self._queue:
                channel, message, done = self._queue.popleft()
                # A snapshot: subscribing during a delivery does not receive
                # the message being delivered; unsubscribing stops it at once.
                for subscription in list(self._subscribers.get(channel, ())):
                    if subscription.active:
                        _call(subscription, message)
                done.callback(None)
        finally:
            self._delivering = False


def _call(subscription: Subscription, message: Any) -> None:
    try:
        subscription.callback(message)
    except Exception:
        logevents.app_exception(None, "subscriber", channel=subscription.channel)


class _Topic:
    """Local subscribers of one broker channel."""

    __slots__ = ("by_prefix", "plain", "subscription")

    def __init__(self) -> None:
        self.subscription: Subscription | None = None
        #: Sessions subscribed themselves (an ordered set: delivery follows subscription order).
        self.plain: dict[SessionLike, None] = {}
        #: Multiplex channels: topic -> {parent session: the channel's session}.
        self.by_prefix: dict[str, dict[SessionLike, SessionLike]] = {}

    def empty(self) -> bool:
        return not self.plain and not self.by_prefix


_Key = tuple[str, str | None]


class Hub:
    """One router's local fan-out between its broker and its sessions.

    The hub subscribes to the broker once per channel that has at least one
    local subscriber and unsubscribes when the last one leaves. A message is
    encoded once per channel for the plain subscribers and once per
    multiplex topic for channel subscribers. A session's subscriptions end
    when it closes (the service calls :meth:`drop`). ``broadcast`` sends one
    message to many sessions, encoded once (the service's).
    """

    def __init__(
        self, broadcast: Callable[[Iterable[SessionLike], Any], None], broker: Broker
    ) -> None:
        self._broadcast = broadcast
        self.broker = broker
        self._topics: dict[str, _Topic] = {}
        self._by_root: dict[SessionLike, set[_Key]] = {}

    # -- application side ---------------------------------------------------------

    def publish(self, channel: str, message: Any) -> Deferred[None]:
        """Publish through the broker (every subscribed session, on every process)."""
        return self.broker.publish(_channel_name(channel), message)

    def subscribe(self, session: SessionLike, channel: str) -> None:
        """Subscribe ``session`` (a session or a multiplex channel) to ``channel``.

        Subscribing twice is the same as once; a closed session is ignored.
        """
        channel = _channel_name(channel)
        root, channel_session = _resolve(session)
        if root.is_closed or (channel_session is not None and channel_session.is_closed):
            return
        topic = self._topics.get(channel)
        if topic is None:
            topic = _Topic()
            self._topics[channel] = topic
            try:
                topic.subscription = self.broker.subscribe(
                    channel, lambda message: self._deliver(channel, message)
                )
            except Exception:
                del self._topics[channel]
                raise
        if channel_session is None:
            topic.plain[root] = None
            key: _Key = (channel, None)
        else:
            # A reopened channel replaces the closed one it has the topic of.
            prefix = channel_session.topic or ""
            topic.by_prefix.setdefault(prefix, {})[root] = channel_session
            key = (channel, prefix)
        self._by_root.setdefault(root, set()).add(key)

    def unsubscribe(self, session: SessionLike, channel: str) -> None:
        """End ``session``'s subscription to ``channel`` (no effect if none)."""
        root, channel_session = _resolve(session)
        prefix = channel_session.topic if channel_session is not None else None
        self._remove(root, _channel_name(channel), prefix, channel_session)

    def channels_of(self, session: SessionLike) -> set[str]:
        """The channels ``session`` (a session or a multiplex channel) is subscribed to."""
        root, channel_session = _resolve(session)
        prefix = channel_session.topic if channel_session is not None else None
        found = set()
        for channel, key_prefix in self._by_root.get(root, ()):
            if key_prefix != prefix:
                continue
            if key_prefix is not None:
                members = self._topics[channel].by_prefix.get(key_prefix, {})
                if members.get(root) is not channel_session:
                    continue  # held by an earlier channel on the same topic
            found.add(channel)
        return found

    def subscriber_count(self, channel: str) -> int:
        """Local sessions and multiplex channels subscribed to ``channel``."""
        topic = self._topics.get(_channel_name(channel))
        if topic is None:
            return 0
        return len(topic.plain) + sum(len(members) for members in topic.by_prefix.values())

    # -- service side -------------------------------------------------------------

    def drop(self, session: SessionLike) -> None:
        """A session (or a multiplex channel) ended: end all its subscriptions."""
        root, channel_session = _resolve(session)
        if channel_session is not None:
            for channel in self.channels_of(session):
                self._remove(root, channel, channel_session.topic, channel_session)
            return
        for channel, prefix in list(self._by_root.get(root, ())):
            self._remove(root, channel, prefix, None)

    def _deliver(self, channel: str, message: Any) -> None:
        topic = self._topics.get(channel)
        if topic is None:
            return
        if topic.plain:
            self._broadcast(list(topic.plain), message)
        if not topic.by_prefix:
            return
        payload = multiplex.payload_text(message)
        for prefix, members in list(topic.by_prefix.items()):
            parents = []
            for root, channel_session in list(members.items()):
                if channel_session.is_closed:
                    # The channel ended (uns or close) since it subscribed.
                    self._remove(root, channel, prefix, channel_session)
                else:
                    parents.append(root)
            if parents:
                self._broadcast(parents, multiplex.message(prefix, payload))

    def _remove(
        self,
        root: SessionLike,
        channel: str,
        prefix: str | None,
        channel_session: SessionLike | None,
    ) -> None:
        topic = self._topics.get(channel)
        if topic is None:
            return
        if prefix is None:
            if topic.plain.pop(root, _MISSING) is _MISSING:
                return
        else:
            members = topic.by_prefix.get(prefix)
            if members is None or root not in members:
                return
            if channel_session is not None and members[root] is not channel_session:
                return  # a newer channel on the same topic holds this slot
            del members[root]
            if not members:
                del topic.by_prefix[prefix]
        keys = self._by_root.get(root)
        if keys is not None:
            keys.discard((channel, prefix))
            if not keys:
                del self._by_root[root]
        if topic.empty():
            del self._topics[channel]
            if topic.subscription is not None:
                self.broker.unsubscribe(topic.subscription)


_MISSING = object()


def _channel_name(channel: str) -> str:
    if not isinstance(channel, str):
        raise TypeError(f"channel names are strings, got {channel!r}")
    return channel


def _resolve(session: SessionLike) -> tuple[SessionLike, SessionLike | None]:
    """The session that carries ``session`` on the wire, and the channel if it is one."""
    if session.topic is None:
        return session, None
    return session.carrier, session


def hub_for(session: SessionLike) -> Hub:
    """The :class:`Hub` of the router that serves ``session``."""
    hub = getattr(session, "pubsub", None)  # anything may be passed in: check it
    if not isinstance(hub, Hub):
        raise TypeError(f"{type(session).__name__} does not support publish/subscribe")
    return hub
