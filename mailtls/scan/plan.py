"""The two-pass plan: how one target is scanned.

A target is scanned in two passes, because nmap's service detection (``-sV``) costs
about six seconds per port even on a server that announces itself at once (the
NULL probe waits out its full 6 s after a soft match; more on implicit-TLS ports):

1. the TLS and capability scripts without ``-sV``: nmap runs them by port number
   on the standard mail ports, and a capability script that answers proves the
   protocol spoken there;
2. ``-sV`` with the same scripts, only on the open ports the first pass could
   not confirm as mail (non-standard ports, or something else on a mail port).

The findings are the same as one ``-sV`` pass over every port; the tests check
that against recorded single-pass scans of the lab.
"""

from __future__ import annotations

import time

import attrs

from ..model.records import HostRecord, Problem, ScanRecord, Stage
from ..nmapxml.reader import read_scan
from .runner import NmapRun, run_nmap
from .targets import Target

#: Seconds nmap may spend on one host when the caller does not say.
DEFAULT_TIMEOUT = 600.0


def _read(run: NmapRun) -> ScanRecord:
    """The run's XML as records, with anything nmap complained about on stderr kept as a problem."""
    scan = read_scan(run.xml)
    if not run.stderr.strip():
        return scan
    complaint = Problem(
        stage=Stage.SCAN,
        message=f"nmap said: {run.stderr.strip().splitlines()[0]}",
        detail=run.stderr,
    )
    return attrs.evolve(scan, problems=(*scan.problems, complaint))


def scan_target(target: Target, ports: tuple[int, ...], timeout: float, open_relay: bool) -> ScanRecord:
    deadline = time.monotonic() + timeout
    scan = _read(run_nmap(target, ports, timeout=timeout, service_detection=False, open_relay=open_relay))
    if not scan.hosts:
        nothing = Problem(
            stage=Stage.SCAN,
            message="nmap returned no host: the name did not resolve or the host did not answer",
            address=target.value,
        )
        return attrs.evolve(scan, problems=(*scan.problems, nothing))
    unconfirmed = tuple(p.number for h in scan.hosts for p in h.open_ports if p.capabilities is None)
    remaining = deadline - time.monotonic()
    if not unconfirmed or any(h.timed_out for h in scan.hosts):
        return scan
    if remaining < 1:
        late = Problem(
            stage=Stage.HOST,
            address=target.value,
            message=f"host timeout reached before service detection on port(s) {unconfirmed}",
        )
        return attrs.evolve(scan, problems=(*scan.problems, late))
    second = _read(
        run_nmap(target, unconfirmed, timeout=remaining, service_detection=True, open_relay=open_relay)
    )
    return _merge(scan, second)


def _merge(first: ScanRecord, second: ScanRecord) -> ScanRecord:
    """The first pass's scan, with each port the second pass scanned replaced by its record."""
    detailed = {(h.address, p.number, p.transport): p for h in second.hosts for p in h.ports}
    timed_out = {h.address for h in second.hosts if h.timed_out}
    hosts: list[HostRecord] = []
    for host in first.hosts:
        ports = tuple(detailed.get((host.address, p.number, p.transport), p) for p in host.ports)
        hosts.append(attrs.evolve(host, ports=ports, timed_out=host.address in timed_out))
    return attrs.evolve(
        first,
        hosts=tuple(hosts),
        args=f"{first.args} ; {second.args}",
        complete=first.complete and second.complete,
        exit_status=second.exit_status if second.exit_status != "success" else first.exit_status,
        exit_message=second.exit_message or first.exit_message,
        problems=(*first.problems, *second.problems),
    )
