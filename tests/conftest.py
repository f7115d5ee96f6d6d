"""Suite-wide settings."""

from hypothesis import settings

# A 2-core machine shared with other work makes per-example deadlines flaky;
# speed is measured by benchmarks, never by tests.
settings.register_profile("sockjs", deadline=None)
settings.load_profile("sockjs")
