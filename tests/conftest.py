"""Shared fixtures: the loopback lab of real Dovecot and Postfix servers, and one
``mailtls.assess`` of each lab host, made once per test session."""

from __future__ import annotations

import fcntl
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import lab
import mailtls

_TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def running_lab():
    # One lab per machine at a time: a second test session waits here for the first
    # to finish instead of restarting the servers under it.
    with open("/tmp/mailtls-lab.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with lab.start() as running:
            yield running


@pytest.fixture(scope="session")
def lab_reports(running_lab) -> dict[str, mailtls.Report]:
    """name -> Report of a live ``assess`` of that lab host, all hosts scanned side by side."""

    def timed(host: lab.LabHost) -> mailtls.Report:
        started = time.monotonic()
        report = mailtls.assess(host.target, ports=host.ports, open_relay=host.relay_test)
        _TIMINGS[host.name] = time.monotonic() - started
        return report

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(lab.HOSTS, pool.map(timed, lab.HOSTS.values()), strict=True))


def pytest_terminal_summary(terminalreporter):
    if _TIMINGS:
        timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in _TIMINGS.items())
        terminalreporter.write_line(f"mailtls.assess per lab host (4 side by side): {timings}")
