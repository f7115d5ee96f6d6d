"""Redis URLs, reconnection delays and log thinning, with plain values."""

from __future__ import annotations

import pytest

from sockjs.protocol.redisconf import Backoff, RedisAddress, worth_logging


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6380", RedisAddress("127.0.0.1", 6380)),
        ("redis://", RedisAddress()),
        ("redis://:s%40cret@h:1/0", RedisAddress("h", 1, None, "s@cret")),
        ("redis://me:pw@h:1/", RedisAddress("h", 1, "me", "pw")),
        ("redis://[::1]:7000", RedisAddress("::1", 7000)),
        ("rediss://h", RedisAddress("h", 6379, tls=True)),
        ("rediss://u:p@h:6380/3", RedisAddress("h", 6380, "u", "p", tls=True)),
    ],
)
def test_urls(url: str, expected: RedisAddress) -> None:
    assert RedisAddress.parse(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://h:1",
        "redis+tls://h",
        "redis://h:notaport",
        "redis://h:1/x",
        "redis://h?db=2",
        "redis://h#f",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ValueError, match="redis"):
        RedisAddress.parse(url)


def test_the_text_of_an_address_never_shows_the_password() -> None:
    assert str(RedisAddress.parse("redis://u:pw@h:1")) == "redis://h:1"
    assert str(RedisAddress.parse("rediss://:pw@[::1]:2")) == "rediss://[::1]:2"


def test_backoff() -> None:
    backoff = Backoff(0.25, 5.0, 2.0, 0.0, lambda: 0.5)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.25, 0.5, 1, 2, 4, 5, 5, 5]
    assert backoff.delay(10_000) == 5.0
    assert Backoff(1.0, 8.0, 2.0, 0.2, lambda: 0.0).delay(3) == pytest.approx(3.2)
    assert Backoff(1.0, 8.0, 2.0, 0.2, lambda: 1.0).delay(3) == pytest.approx(4.8)


@pytest.mark.parametrize(
    ("initial", "maximum", "factor", "jitter"),
    [(0, 1, 2, 0), (2, 1, 2, 0), (1, 2, 0.5, 0), (1, 2, 2, 1), (1, 2, 2, -0.1)],
)
def test_bad_backoff_settings(initial: float, maximum: float, factor: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial, maximum, factor, jitter, lambda: 0.0)


def test_worth_logging() -> None:
    assert [n for n in range(40) if worth_logging(n)] == [1, 2, 4, 8, 16, 32]
