"""Settings: old project's names, seconds, defaults, and clear errors."""

import pytest

from sockjs.protocol.options import DEFAULT_SOCKJS_URL, Options, SettingsError, replace


def test_defaults_are_the_old_projects() -> None:
    options = Options()
    assert options.session_check_interval == 1
    assert options.disconnect_delay == 5
    assert options.heartbeat_delay == 25
    assert options.disabled_transports == frozenset()
    assert options.sockjs_url == DEFAULT_SOCKJS_URL
    assert "sockjs-client@1.6.1" in DEFAULT_SOCKJS_URL
    assert options.response_limit == 131072
    assert options.jsessionid is True
    assert options.immediate_flush is True
    assert options.disable_nagle is True
    assert options.verify_ip is True
    assert options.max_request_body == 1024 * 1024
    assert options.max_queued_bytes == 1024 * 1024
    assert options.max_message_size == 1024 * 1024
    assert options.allowed_origins is None
    assert options.websocket_enabled


def test_limit_defaults() -> None:
    """The 2.0 limits (docs/settings.rst): on by default except the per-IP one."""
    options = Options()
    assert options.max_messages_per_request == 1000
    assert options.max_sessions == 100_000
    assert options.max_sessions_per_ip is None
    assert options.check_origin_http is False


def test_limit_settings() -> None:
    options = Options.from_settings(
        {
            "max_messages_per_request": 5,
            "max_sessions": None,
            "max_sessions_per_ip": 3,
            "check_origin_http": True,
        }
    )
    assert options.max_messages_per_request == 5
    assert options.max_sessions is None
    assert options.max_sessions_per_ip == 3
    assert options.check_origin_http is True
    assert options["max_sessions_per_ip"] == 3


def test_from_settings_accepts_every_key() -> None:
    options = Options.from_settings(
        {
            "session_check_interval": 2,
            "disconnect_delay": 0.5,
            "heartbeat_delay": 1,
            "disabled_transports": ["websocket", "xhr"],
            "sockjs_url": "/static/sockjs.js",
            "response_limit": 4096,
            "jsessionid": False,
            "immediate_flush": False,
            "disable_nagle": False,
            "verify_ip": False,
            "max_request_body": 10,
            "max_queued_bytes": 20,
            "max_message_size": 30,
            "allowed_origins": ["http://a.example"],
        }
    )
    assert options.disconnect_delay == 0.5
    assert isinstance(options.heartbeat_delay, float)
    assert options.disabled_transports == {"websocket", "xhr"}
    assert not options.websocket_enabled
    assert options.allowed_origins == ("http://a.example",)
    assert Options.from_settings(None) == Options()
    assert Options.from_settings({"allowed_origins": None}).allowed_origins is None


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"heartbeat": 1}, "unknown setting 'heartbeat'"),
        ({"disconnect_delay": "5"}, "'disconnect_delay' must be a number"),
        ({"disconnect_delay": True}, "'disconnect_delay' must be a number"),
        ({"disconnect_delay": 0}, "'disconnect_delay' must be > 0"),
        ({"heartbeat_delay": -1}, "'heartbeat_delay' must be > 0"),
        ({"response_limit": 1.5}, "'response_limit' must be an integer"),
        ({"response_limit": False}, "'response_limit' must be an integer"),
        ({"response_limit": 0}, "'response_limit' must be >= 1"),
        ({"jsessionid": 1}, "'jsessionid' must be True, False or a callable"),
        ({"sockjs_url": 5}, "'sockjs_url' must be a string"),
        ({"sockjs_url": "ftp://x"}, "'sockjs_url' must start with"),
        ({"sockjs_url": '/a"b'}, "'sockjs_url' must start with"),
        ({"disabled_transports": "websocket"}, "'disabled_transports' must be a list"),
        ({"disabled_transports": 3}, "'disabled_transports' must be a list"),
        ({"disabled_transports": [1]}, "'disabled_transports' must be a list"),
        ({"disabled_transports": ["carrier_pigeon"]}, "unknown transports"),
        ({"allowed_origins": "http://a"}, "'allowed_origins' must be None or a list"),
        ({"allowed_origins": [3]}, "'allowed_origins' must be None or a list"),
        ({"max_messages_per_request": None}, "'max_messages_per_request' must be an integer"),
        ({"max_messages_per_request": 2.0}, "'max_messages_per_request' must be an integer"),
        ({"max_messages_per_request": 0}, "'max_messages_per_request' must be >= 1"),
        ({"max_sessions": True}, "'max_sessions' must be None or an integer"),
        ({"max_sessions": "10"}, "'max_sessions' must be None or an integer"),
        ({"max_sessions": 0}, "'max_sessions' must be >= 1"),
        ({"max_sessions_per_ip": -1}, "'max_sessions_per_ip' must be >= 1"),
        ({"check_origin_http": "yes"}, "'check_origin_http' must be True or False"),
        ({"ping_timeout": "10"}, "'ping_timeout' must be None or seconds"),
        ({"ping_timeout": 0}, "'ping_timeout' must be > 0"),
        ({"tcp_user_timeout": True}, "'tcp_user_timeout' must be None or seconds"),
        ({"tcp_keepalive": -1}, "'tcp_keepalive' must be > 0"),
        ({"message_timeout": None}, "'message_timeout' must be a number"),
        ({"max_message_fragments": 0}, "'max_message_fragments' must be >= 1"),
        ({"raw_binary": 1}, "'raw_binary' must be True or False"),
    ],
)
def test_bad_settings_name_the_key(settings: dict[str, object], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle.replace("(", r"\(")):
        Options.from_settings(settings)


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_replace_validates() -> None:
    options = replace(Options(), response_limit=10)
    assert options.response_limit == 10
    with pytest.raises(SettingsError):
        replace(options, response_limit=0)


def test_mapping_style_reads() -> None:
    """Old apps read router.settings['key'] as a dict."""
    options = Options(heartbeat_delay=7)
    assert options["heartbeat_delay"] == 7
    assert options.get("jsessionid") is True
    assert options.get("nope", 3) == 3
    with pytest.raises(KeyError):
        options["nope"]


def test_dead_peer_settings_may_be_switched_off() -> None:
    options = Options.from_settings(
        {"ping_timeout": None, "tcp_user_timeout": None, "tcp_keepalive": None}
    )
    assert (options.ping_timeout, options.tcp_user_timeout, options.tcp_keepalive) == (
        None,
        None,
        None,
    )
    assert Options.from_settings({"ping_timeout": 3}).ping_timeout == 3.0
