"""Optional parts built on the Cyclone adapter, outside it.

:mod:`sockjs.cyclone` serves SockJS and imports none of these; each is
built on its public API and brings what only some applications need:

* :mod:`sockjs.addons.testing`: the in-memory test harness (also at
  ``sockjs.cyclone.testing``);
* :mod:`sockjs.addons.metrics`: Prometheus exposition (``metrics`` extra;
  also at ``sockjs.cyclone.metrics``);
* :mod:`sockjs.addons.redisbroker` and :mod:`sockjs.addons.streamsbroker`:
  channels shared by many processes through Redis (``redis`` extra; also at
  ``sockjs.cyclone.redisbroker`` and ``sockjs.cyclone.streamsbroker``).
"""
