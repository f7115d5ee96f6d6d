"""Client address behind trusted proxies."""

import pytest

from sockjs.protocol.clientip import client_ip, normalize_ip, parse_networks
from sockjs.protocol.options import Options, SettingsError

TRUSTED = parse_networks(["10.0.0.0/8", "127.0.0.1"])


def test_normalize_mapped_ipv6() -> None:
    assert normalize_ip("::ffff:1.2.3.4") == "1.2.3.4"
    assert normalize_ip("::1") == "::1"


def test_untrusted_peer_headers_are_ignored() -> None:
    """A spoofed X-Forwarded-For from an untrusted peer is ignored."""
    headers = {"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "7.7.7.7"}
    assert client_ip("203.0.113.9", headers, TRUSTED) == "203.0.113.9"
    assert client_ip("10.1.1.1", headers, ()) == "10.1.1.1"
    assert client_ip("not-an-ip", headers, TRUSTED) == "not-an-ip"


def test_forwarded_for_from_trusted_proxy() -> None:
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.2.2.2"}
    # Right to left, skipping trusted hops: the client is 198.51.100.7 (the
    # left-most entry could have been written by the client itself).
    assert client_ip("10.1.1.1", headers, TRUSTED) == "198.51.100.7"
    assert client_ip("::ffff:127.0.0.1", {"X-Forwarded-For": "10.3.3.3"}, TRUSTED) == "10.3.3.3"
    assert client_ip("10.1.1.1", {"X-Forwarded-For": " , "}, TRUSTED) == "10.1.1.1"
    assert client_ip("10.1.1.1", {"X-Forwarded-For": "garbage"}, TRUSTED) == "10.1.1.1"


def test_real_ip_from_trusted_proxy() -> None:
    assert client_ip("127.0.0.1", {"X-Real-IP": " 198.51.100.8 "}, TRUSTED) == "198.51.100.8"
    assert client_ip("127.0.0.1", {"X-Real-IP": "junk"}, TRUSTED) == "127.0.0.1"
    assert client_ip("127.0.0.1", {}, TRUSTED) == "127.0.0.1"


def test_trusted_proxies_setting() -> None:
    assert Options.from_settings({"trusted_proxies": ["10.0.0.0/8"]}).trusted_proxies == (
        "10.0.0.0/8",
    )
    with pytest.raises(SettingsError, match="trusted_proxies"):
        Options.from_settings({"trusted_proxies": ["nope"]})
    with pytest.raises(SettingsError, match="trusted_proxies"):
        Options.from_settings({"trusted_proxies": "10.0.0.1"})
    with pytest.raises(SettingsError, match="trusted_proxies"):
        Options.from_settings({"trusted_proxies": [1]})
