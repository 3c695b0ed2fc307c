"""The public entry points: the whole data flow, target → nmap run → XML → records → rules → findings → report."""

from __future__ import annotations

from typing import Iterable

from .model.report import Report
from .nmapxml.reader import XmlSource, read_scan
from .rules.engine import evaluate
from .rules.registry import Registry
from .scan.plan import DEFAULT_TIMEOUT, scan_target
from .scan.targets import parse_ports, parse_target


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
    scan = scan_target(checked, port_list, timeout if timeout is not None else DEFAULT_TIMEOUT, open_relay)
    return evaluate(scan, rules, target=target, strict=strict)


def assess_xml(source: XmlSource, *, registry: Registry | None = None, strict: bool = False) -> Report:
    """Report on nmap XML you already have: bytes, a str of XML, a path, or a binary file.

    For the full set of findings the scan should have run the scripts that
    ``assess`` runs (``ssl-enum-ciphers``, ``ssl-cert``, ``smtp-commands``,
    ``imap-capabilities``, ``pop3-capabilities``) with ``-sV``.
    """
    rules = registry if registry is not None else Registry.default()
    return evaluate(read_scan(source), rules, strict=strict)
