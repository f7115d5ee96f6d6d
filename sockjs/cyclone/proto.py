"""JSON helpers under the old project's names (``sockjs.cyclone.proto``)."""

from sockjs.protocol.encoding import json_decode, json_encode

__all__ = ["json_decode", "json_encode"]
