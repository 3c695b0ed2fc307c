"""The real servers the lab tests scan, started once per session (and once per machine at
a time): the loopback lab of Dovecot and Postfix (``lab``), and the domain lab of Knot,
Unbound, Postfix MX hosts and an MTA-STS server (``lab.dnslab``).

Both need root and nmap, Dovecot, Postfix (and for the domain lab Knot and Unbound):
without them every test marked ``lab`` is skipped, saying what is missing."""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import lab
import mailtls
from lab import dnslab
from tests.helpers import machine_lock

_TIMINGS: dict[str, float] = {}


def _missing() -> str:
    """Why the lab cannot run here, or "" when it can."""
    if os.geteuid() != 0:
        return "the lab runs Dovecot and Postfix instances and needs root"
    absent = [tool for tool in ("nmap", "dovecot", "postfix") if not shutil.which(tool)]
    if absent:
        return f"not installed: {', '.join(absent)} (scripts/install-system.sh installs them)"
    return ""


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    if not reason:
        return
    for item in items:
        if item.get_closest_marker("lab") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def running_lab():
    with machine_lock("/tmp/mailtls-lab.lock"), lab.start() as running:
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


@pytest.fixture(scope="module")
def domain_lab():
    # Its own lock: the main lab's is held by running_lab in this same process.
    with machine_lock("/tmp/mailtls-dnslab.lock"), dnslab.start() as running:
        yield running


def pytest_terminal_summary(terminalreporter):
    if _TIMINGS:
        timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in _TIMINGS.items())
        terminalreporter.write_line(f"mailtls.assess per lab host (4 side by side): {timings}")
