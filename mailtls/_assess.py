"""The whole data flow in two calls: target → nmap run → XML → records → rules → findings → report.

``assess`` scans in two passes, because nmap's service detection (``-sV``) costs
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
from typing import Iterable

import attrs

from ._engine import evaluate
from ._nmap import NmapRun, run_nmap
from ._records import HostRecord, Problem, ScanRecord, Stage
from ._registry import Registry
from ._report import Report
from ._target import Target, parse_ports, parse_target
from ._xml import XmlSource, read_scan

#: Seconds nmap may spend on one host when the caller does not say.
DEFAULT_TIMEOUT = 600.0


def assess(
    target: str,
    *,
    ports: Iterable[int] | None = None,
    timeout: float | None = None,
    registry: Registry | None = None,
    open_relay: bool = False,
    strict: bool = False,
) -> Report:
    """Scan one host with nmap and report its mail services' exposure.

    ``target`` is one IPv4/IPv6 address or DNS name; anything else raises
    ``TargetError`` before nmap starts. ``ports`` defaults to 25, 110, 143, 465,
    587, 993, 995. ``timeout`` (seconds, default 600) bounds nmap's time on the
    host; a host that runs over is reported in ``Report.errors`` with whatever
    was found before. ``registry`` defaults to ``Registry.default()``.

    ``open_relay=True`` also runs nmap's ``smtp-open-relay`` on SMTP ports (rule
    MT401). It sends test mail transactions to the server, so it is off unless
    asked for. ``strict=True`` raises a failing rule's exception instead of
    recording it in ``Report.errors``.
    """
    checked = parse_target(target)
    port_list = parse_ports(ports)
    rules = registry if registry is not None else Registry.default()
    scan = _scan(checked, port_list, timeout if timeout is not None else DEFAULT_TIMEOUT, open_relay)
    return evaluate(scan, rules, target=target, strict=strict)


def assess_xml(source: XmlSource, *, registry: Registry | None = None, strict: bool = False) -> Report:
    """Report on nmap XML you already have: bytes, a str of XML, a path, or a binary file.

    For the full set of findings the scan should have run the scripts that
    ``assess`` runs (``ssl-enum-ciphers``, ``ssl-cert``, ``smtp-commands``,
    ``imap-capabilities``, ``pop3-capabilities``) with ``-sV``.
    """
    rules = registry if registry is not None else Registry.default()
    return evaluate(read_scan(source), rules, strict=strict)


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


def _scan(target: Target, ports: tuple[int, ...], timeout: float, open_relay: bool) -> ScanRecord:
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
