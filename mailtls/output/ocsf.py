"""Step 6 of the data flow, for SIEMs and security lakes: a report as OCSF 1.8.0 events.

Every event is a **Compliance Finding** (class 2003, category 2 "Findings"): a mailtls rule
is a check of how a mail service is configured against a policy ("mail and passwords cross
the network only under TLS"), and OCSF's compliance status says exactly what mailtls knows
of each port and rule: ``Fail`` (a finding), ``Warning`` ("did not yield a result due to
missing information": an inconclusive port) and, in a diff, ``Pass`` (a finding resolved).
One class for both keeps a port that could not be judged next to the failures in the same
table, instead of in none. Vulnerability Finding (2002) was the other candidate; it has no
state for "could not tell" and, in 1.8.0, no network endpoint to name the port by.

Each event names the host as ``device`` (address, and the DNS name scanned) and the port as
a network endpoint, ``evidences[].dst_endpoint`` (address, name, port, ``svc_name``: smtp,
imap, pop3), with what nmap saw in ``evidences[].data``. ``finding_info.uid`` is the stable
key of ``_keys`` (rule, host and port only); ``finding_info.analytic`` names the rule; the
fix is ``remediation``; the CWE is a ``compliance.compliance_references`` entry. ``time`` is
when nmap scanned the port (from the XML), so the same scan gives the same events.

``to_ocsf`` gives JSON Lines, one event per line (what log shippers and security lakes
take); ``ocsf_events`` gives the events as dicts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from typing import Any

from .._errors import SerializationError
from ..model.diff import Diff
from ..model.findings import Finding, Severity
from ..model.report import Report
from ._keys import Unassessed, finding_key, report_time, scan_times, scheme, unassessed_ports

#: The OCSF schema version the events follow (``metadata.version``).
OCSF_VERSION = "1.8.0"
CLASS_UID = 2003
CLASS_NAME = "Compliance Finding"
CATEGORY_UID = 2
CATEGORY_NAME = "Findings"

#: activity_id -> activity_name (the Finding activities).
CREATE, UPDATE, CLOSE = 1, 2, 3
_ACTIVITY = {CREATE: "Create", UPDATE: "Update", CLOSE: "Close"}

#: mailtls severity -> OCSF severity_id (0 Unknown .. 6 Fatal; mailtls uses 1 to 5).
SEVERITY_ID = {
    Severity.INFO: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}
_SEVERITY_NAME = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

#: compliance.status_id
PASS, WARNING, FAIL = 1, 2, 3
_COMPLIANCE_STATUS = {PASS: "Pass", WARNING: "Warning", FAIL: "Fail"}

#: Finding status_id
NEW, RESOLVED = 1, 4
_STATUS = {NEW: "New", RESOLVED: "Resolved"}

#: device.type_id 1: a server (what answers on a mail port).
_SERVER = 1


def _millis(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _names(host: str, hostname: str | None) -> dict[str, str]:
    """``ip`` and ``hostname`` of a device or endpoint (a domain finding's host is a name)."""
    names: dict[str, str] = {}
    if _is_ip(host):
        names["ip"] = host
        if hostname:
            names["hostname"] = hostname
    else:
        names["hostname"] = hostname or host
    return names


def _device(host: str, hostname: str | None) -> dict[str, Any]:
    return {"type_id": _SERVER, "type": "Server", **_names(host, hostname)}


def _endpoint(host: str, hostname: str | None, port: int | None, service: str) -> dict[str, Any]:
    endpoint: dict[str, Any] = {**_names(host, hostname), "svc_name": service}
    if port is not None:
        endpoint["port"] = port
    return endpoint


def _base(*, activity: int, severity_id: int, status: int, when: dt.datetime, product_version: str) -> dict[str, Any]:
    return {
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "activity_id": activity,
        "activity_name": _ACTIVITY[activity],
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": f"{CLASS_NAME}: {_ACTIVITY[activity]}",
        "severity_id": severity_id,
        "severity": _SEVERITY_NAME[severity_id],
        "status_id": status,
        "status": _STATUS[status],
        "time": _millis(when),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "mailtls", "vendor_name": "mailtls", "version": product_version},
        },
    }


def finding_event(
    finding: Finding,
    when: dt.datetime,
    *,
    activity: int = CREATE,
    compliance: int = FAIL,
    product_version: str | None = None,
) -> dict[str, Any]:
    """One finding as an OCSF Compliance Finding event (a dict)."""
    from .. import __version__

    status = RESOLVED if compliance == PASS else NEW
    event = _base(
        activity=activity,
        severity_id=SEVERITY_ID[finding.severity],
        status=status,
        when=when,
        product_version=product_version or __version__,
    )
    references = []
    if finding.cwe is not None:
        references.append(
            {
                "uid": f"CWE-{finding.cwe}",
                "title": f"CWE-{finding.cwe}",
                "src_url": f"https://cwe.mitre.org/data/definitions/{finding.cwe}.html",
            }
        )
    compliance_object: dict[str, Any] = {
        "control": finding.rule_id,
        "category": finding.group,
        "status_id": compliance,
        "status": _COMPLIANCE_STATUS[compliance],
    }
    if finding.context:
        compliance_object["desc"] = finding.context
    if references:
        compliance_object["compliance_references"] = references
    evidence: dict[str, Any] = {
        "dst_endpoint": _endpoint(finding.host, finding.hostname, finding.port, scheme(finding.protocol))
    }
    if finding.evidence:
        evidence["data"] = {"evidence": list(finding.evidence)}
    event.update(
        {
            "message": finding.summary,
            "finding_info": {
                "uid": finding_key(finding),
                "title": finding.title,
                "desc": finding.summary,
                "types": [finding.group],
                "analytic": {"uid": finding.rule_id, "name": finding.title, "type_id": 1, "type": "Rule"},
                "data_sources": ["nmap"],
            },
            "compliance": compliance_object,
            "device": _device(finding.host, finding.hostname),
            "evidences": [evidence],
        }
    )
    if finding.remediation:
        remediation: dict[str, Any] = {"desc": finding.remediation}
        if finding.references:
            remediation["references"] = list(finding.references)
        event["remediation"] = remediation
    if finding.domain:
        event["unmapped"] = {"mail_domain": finding.domain}
    return event


def unassessed_event(port: Unassessed, when: dt.datetime, *, product_version: str | None = None) -> dict[str, Any]:
    """An inconclusive port as a Compliance Finding whose status is Warning."""
    from .. import __version__

    event = _base(
        activity=CREATE,
        severity_id=SEVERITY_ID[Severity.INFO],
        status=NEW,
        when=port.scanned_at or when,
        product_version=product_version or __version__,
    )
    title = f"Inconclusive: {port.location} could not be assessed"
    event.update(
        {
            "message": f"{title}: {port.reason}",
            "finding_info": {
                "uid": port.key,
                "title": title,
                "desc": f"The port is open, but its exchange could not be read ({port.reason}); no rule was run "
                "on it, so nothing is known about its TLS.",
                "types": ["Inconclusive"],
                "data_sources": ["nmap"],
            },
            "compliance": {
                "status_id": WARNING,
                "status": _COMPLIANCE_STATUS[WARNING],
                "status_detail": port.reason,
                "desc": "No mailtls rule could be evaluated on this port.",
            },
            "device": _device(port.host, port.hostname),
            "evidences": [{"dst_endpoint": _endpoint(port.host, port.hostname, port.port, scheme(port.protocol))}],
        }
    )
    return event


def ocsf_events(report: Report | Diff, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The report's findings and inconclusive ports (or a diff's changes) as OCSF events.

    A report's events are timed by the scan (the XML's times); ``now`` (default: the
    current time) is used only where the scan said nothing, and for a diff. A diff gives
    activity Create for a new finding, Update for a changed one, Close (compliance Pass,
    status Resolved) for a resolved one, and Update with compliance Warning for one that
    was not verified (its host was not assessed this time)."""
    current = now or dt.datetime.now(dt.timezone.utc)
    if isinstance(report, Report):
        times = scan_times(report)
        started = report_time(report) or current
        events = [
            finding_event(f, times.get((f.host, f.port)) or times.get((f.host, None)) or started)
            for f in report.findings
        ]
        events += [unassessed_event(p, started) for p in unassessed_ports(report)]
        return events
    if isinstance(report, Diff):
        events = [finding_event(f, current) for f in report.new]
        events += [finding_event(c.new, current, activity=UPDATE) for c in report.changed]
        events += [finding_event(f, current, activity=CLOSE, compliance=PASS) for f in report.resolved]
        for f in report.unverified:
            event = finding_event(f, current, activity=UPDATE, compliance=WARNING)
            event["compliance"]["status_detail"] = "not verified: the host was not assessed this time"
            events.append(event)
        return events
    raise SerializationError(f"to_ocsf takes a mailtls.Report or Diff, got {type(report).__name__}")


def to_ocsf(report: Report | Diff) -> str:
    """The report (or a diff of two) as OCSF 1.8.0 Compliance Finding events, one JSON
    object a line (JSON Lines). See ``ocsf_events`` and docs/ocsf.md."""
    return "".join(json.dumps(event, ensure_ascii=False) + "\n" for event in ocsf_events(report))
