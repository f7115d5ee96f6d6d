"""The Redis Streams broker; it lives in :mod:`sockjs.addons.streamsbroker`."""

from sockjs.addons.streamsbroker import COUNTERS, Loss, LossKind, StreamsBroker

__all__ = ["COUNTERS", "Loss", "LossKind", "StreamsBroker"]
