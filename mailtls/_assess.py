"""The whole data flow in two calls: target → nmap run → XML → records → rules → findings → report."""

from __future__ import annotations

from typing import Iterable

import attrs

from ._engine import evaluate
from ._nmap import run_nmap
from ._records import Problem, Stage
from ._registry import Registry
from ._report import Report
from ._target import parse_ports, parse_target
from ._xml import XmlSource, read_scan

#: Seconds nmap may spend on one host when the caller does not say.
DEFAULT_TIMEOUT = 600.0


def assess(
    target: str,
    *,
    ports: Iterable[int] | None = None,
    timeout: float | None = None,
    registry: Registry | None = None,
    strict: bool = False,
) -> Report:
    """Scan one host with nmap and report its mail services' exposure.

    ``target`` is one IPv4/IPv6 address or DNS name; anything else raises
    ``TargetError`` before nmap starts. ``ports`` defaults to 25, 110, 143, 465,
    587, 993, 995. ``timeout`` (seconds, default 600) bounds nmap's time on the
    host; a host that runs over is reported in ``Report.errors`` with whatever
    was found before. ``registry`` defaults to ``Registry.default()``.
    """
    checked = parse_target(target)
    port_list = parse_ports(ports)
    rules = registry if registry is not None else Registry.default()
    run = run_nmap(checked, port_list, timeout=timeout if timeout is not None else DEFAULT_TIMEOUT)
    scan = read_scan(run.xml)
    if not scan.hosts:
        nothing = Problem(
            stage=Stage.SCAN,
            message="nmap returned no host: the name did not resolve or the host did not answer",
            address=checked.value,
            detail=run.stderr,
        )
        scan = attrs.evolve(scan, problems=(*scan.problems, nothing))
    return evaluate(scan, rules, target=target, strict=strict)


def assess_xml(source: XmlSource, *, registry: Registry | None = None, strict: bool = False) -> Report:
    """Report on nmap XML you already have: bytes, a str of XML, a path, or a binary file.

    For the full set of findings the scan should have run the scripts that
    ``assess`` runs (``ssl-enum-ciphers``, ``ssl-cert``, ``smtp-commands``,
    ``imap-capabilities``, ``pop3-capabilities``) with ``-sV``.
    """
    rules = registry if registry is not None else Registry.default()
    return evaluate(read_scan(source), rules, strict=strict)
