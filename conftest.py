"""Project-wide test policy.

In CI (the environment variable CI is set) a skipped test is an error: tests
that need root, network namespaces, tshark or the shared real captures may
skip on a developer's machine, but CI must run them all. A skip whose reason
starts with "optional:" is allowed everywhere. Both a skipped test and a
module skipped at import (``pytest.skip(allow_module_level=True)``) count.
"""

import os

import pytest


def _fail_skip_in_ci(report) -> None:
    if not os.environ.get("CI") or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if "optional:" in reason:
        return
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, which must run every test: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())
