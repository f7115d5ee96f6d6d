"""Fixtures for the Cyclone adapter unit tests (in-memory, fake clock).

Two autouse rules apply to every test here that builds a
:class:`helpers.Server`:

* Teardown ends all sessions the way a deployment would (clients go away,
  time passes until ``disconnect_delay`` expires them), then asserts that no
  session, connection or timer is left: ``router.stop()`` runs only after
  that check, so it cannot hide a leaked ``callLater``.
* A Twisted log failure (``log.failure``) that the test did not claim with
  ``logs.take_failures()`` fails the test: application errors must be
  expected, adapter errors must not happen.
"""

from __future__ import annotations

from collections.abc import Iterator

import helpers
import pytest


@pytest.fixture(autouse=True)
def logs() -> Iterator[helpers.LogCapture]:
    """Twisted log events of the test (see :class:`helpers.LogCapture`)."""
    capture = helpers.LogCapture()
    capture.start()
    try:
        yield capture
    finally:
        capture.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[pytest.TestReport]:
    """Remember each phase's report on the item (read by the teardown below)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _servers_end_clean(request: pytest.FixtureRequest, logs: helpers.LogCapture) -> Iterator[None]:
    """Drain every Server of the test, check it left nothing, then stop it."""
    helpers.LIVE_SERVERS.clear()
    yield
    servers = list(helpers.LIVE_SERVERS)
    helpers.LIVE_SERVERS.clear()
    call = getattr(request.node, "report_call", None)
    if call is None or not call.passed:
        # The test already failed (or is an expected failure): a leak report
        # on top would only repeat it. Still release every timer.
        for server in servers:
            server.router.stop()
        return
    problems: list[str] = []
    for server in servers:
        try:
            server.drain()
            server.assert_clean()
        except AssertionError as error:
            problems.append(f"{server.prefix}: {error}")
        finally:
            server.router.stop()
    unexpected = logs.unclaimed_failures() if servers else []
    if unexpected:
        problems.append(
            "unexpected logged failures:\n"
            + "\n".join(event["log_failure"].getTraceback() for event in unexpected)
        )
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def server() -> helpers.Server:
    """An ``/echo`` service with default settings."""
    return helpers.Server()
