"""Sans-I/O SockJS 0.3.3 core: no sockets, reactors or clocks in here.

Time enters as ``now`` arguments; randomness (``/info`` entropy) is passed in.
"""
