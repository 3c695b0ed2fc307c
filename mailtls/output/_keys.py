"""What the pipeline formats (DefectDojo, OCSF, SARIF) share: one stable name for each thing
they track across scans, the open ports that could not be judged, and when each was scanned.

A finding's key is its rule, host and port: ``MT101@127.0.0.11:110``, ``MT305@localhost:993``,
``MT501@example.org`` (no port: a finding about the whole host or domain). The host is the
name the scan was asked for when there was one, else the address; names are compared in
lower case. Nothing else goes in: not the time, not the order, not what was observed, so
the same port failing the same rule has the same key in every scan, and a store that
deduplicates on it (DefectDojo's ``unique_id_from_tool``, OCSF's ``finding_info.uid``,
SARIF's ``partialFingerprints``) sees one finding, however often it is imported.

An inconclusive port (open, but its exchange could not be read, so no rule ran on it) is
keyed ``inconclusive@127.0.0.11:143``.
"""

from __future__ import annotations

import datetime as dt

import attrs

from ..model.findings import Finding
from ..model.records import Stage
from ..model.report import Report
from ..protocols import Protocol

#: The "rule" part of an inconclusive port's key.
INCONCLUSIVE = "inconclusive"


def host_name(host: str, hostname: str | None) -> str:
    """The host as pipelines name it: the DNS name scanned, if any, else the address."""
    return hostname.rstrip(".").lower() if hostname else host


def where(host: str, hostname: str | None, port: int | None) -> str:
    """``host:port`` (``[v6]:port``), or the host alone when there is no port."""
    name = host_name(host, hostname)
    if port is None:
        return name
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


def key(rule_id: str, host: str, hostname: str | None, port: int | None) -> str:
    """The stable key of one rule on one host and port."""
    return f"{rule_id}@{where(host, hostname, port)}"


def finding_key(finding: Finding) -> str:
    """The stable key of a finding: rule, host (name or address) and port, nothing else."""
    return key(finding.rule_id, finding.host, finding.hostname, finding.port)


def scheme(protocol: Protocol | None) -> str:
    """The protocol as a URI scheme: ``smtp``, ``imap``, ``pop3``; ``tcp`` when not a mail protocol."""
    return protocol.value if protocol is not None and protocol is not Protocol.OTHER else "tcp"


@attrs.frozen
class Unassessed:
    """An open port that could not be judged: its exchange failed (a 421 greeting, a reset,
    no answer), so no rule was run on it and nothing is known about its TLS."""

    host: str
    hostname: str | None
    port: int
    #: Why, in words (``PortRecord.inconclusive``).
    reason: str
    protocol: Protocol = Protocol.OTHER
    scanned_at: dt.datetime | None = None

    @property
    def key(self) -> str:
        return key(INCONCLUSIVE, self.host, self.hostname, self.port)

    @property
    def location(self) -> str:
        return where(self.host, self.hostname, self.port)


def unassessed_ports(report: Report) -> list[Unassessed]:
    """Every inconclusive open port of the report, target by target, in port order.

    Read off each target's host record; a target without one (a report put together by
    hand) is read off its problems of stage ``exchange`` instead."""
    found: list[Unassessed] = []
    for target in report.targets:
        if target.host is not None:
            host = target.host
            found.extend(
                Unassessed(
                    host=host.address,
                    hostname=port.hostname or host.hostname,
                    port=port.number,
                    reason=port.inconclusive,
                    protocol=port.protocol,
                    scanned_at=port.scanned_at,
                )
                for port in sorted(host.open_ports, key=lambda p: p.number)
                if port.inconclusive
            )
        else:
            found.extend(
                Unassessed(host=p.address or target.target, hostname=None, port=p.port, reason=p.message)
                for p in target.problems
                if p.stage is Stage.EXCHANGE and p.port is not None
            )
    return found


def scan_times(report: Report) -> dict[tuple[str, int | None], dt.datetime]:
    """When nmap scanned each (address, port) of the report, and each address as a whole
    (port ``None``: its earliest port), as far as the XML said."""
    times: dict[tuple[str, int | None], dt.datetime] = {}
    for host in report.hosts:
        for port in host.ports:
            if port.scanned_at is not None:
                times[(host.address, port.number)] = port.scanned_at
                first = times.get((host.address, None))
                if first is None or port.scanned_at < first:
                    times[(host.address, None)] = port.scanned_at
    return times


def report_time(report: Report) -> dt.datetime | None:
    """When the report's first nmap run started, if known."""
    starts = [run.started for run in report.runs if run.started is not None]
    return min(starts) if starts else None
