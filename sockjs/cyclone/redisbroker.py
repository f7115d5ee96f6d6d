"""The Redis pub/sub broker, at its 2.0 path; it lives in :mod:`sockjs.addons.redisbroker`."""

from sockjs.addons.redisbroker import COUNTERS, Connector, RedisAddress, RedisBroker

__all__ = ["COUNTERS", "Connector", "RedisAddress", "RedisBroker"]
