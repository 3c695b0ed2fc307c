"""Step 6 of the data flow, for DefectDojo: a report as one "Generic Findings Import" JSON file.

DefectDojo's generic JSON parser rejects the whole file when a finding has a key outside
its allowed list, and needs ``title``, ``severity`` (Info, Low, Medium, High, Critical) and
``description``; every key written here is one it allows (``tests/unit/output/test_defectdojo.py``
holds the list, read from DefectDojo's source). Each finding names its service as an
endpoint (host, port and protocol: ``smtp``, ``imap``, ``pop3``) and carries a
``unique_id_from_tool`` made of its rule, host and port only (see ``_keys``), so that
re-importing the next scan matches the same finding.

Where the parts go: the observation and the service in ``description``; the fix in
``mitigation``; the rule's context (what is at stake, what to weigh) in ``impact``; what
nmap saw, and the command that checks again, in ``steps_to_reproduce``; the CWE in
``cwe``; cross-references in ``references``; the rule id in ``vuln_id_from_tool``. The
evidence stays out of ``description`` on purpose: DefectDojo's default deduplication for
this parser hashes the title and the description, and evidence such as "9 days left"
changes from scan to scan while the finding does not.

An inconclusive port becomes an Info finding titled ``Inconclusive: HOST:PORT could not
be assessed`` with the reason, instead of silence: a file with nothing for that port would
read as "clean", and a re-import that closes the port's earlier findings would leave no
trace of why. A diff gives its new and changed findings as active ones and its resolved
findings with ``is_mitigated``; unverified ones (not looked at again) are left out.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .._errors import SerializationError
from ..model.diff import Diff
from ..model.findings import Finding, Severity
from ..model.report import Report
from ._common import summary_line
from ._keys import (
    INCONCLUSIVE,
    Unassessed,
    finding_key,
    host_name,
    report_time,
    scan_times,
    scheme,
    unassessed_ports,
    where,
)

#: The test type DefectDojo files a mailtls import under is "mailtls Scan (Generic Findings
#: Import)": name it in DD_DEDUPLICATION_ALGORITHM_PER_PARSER to deduplicate on
#: ``unique_id_from_tool`` (see docs/defectdojo.md).
TOOL = "mailtls"

#: mailtls severity -> DefectDojo's.
SEVERITY = {
    Severity.INFO: "Info",
    Severity.LOW: "Low",
    Severity.MEDIUM: "Medium",
    Severity.HIGH: "High",
    Severity.CRITICAL: "Critical",
}


def _endpoint(host: str, hostname: str | None, port: int | None, protocol: str) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"host": host_name(host, hostname), "protocol": protocol}
    if port is not None:
        endpoint["port"] = port
    return endpoint


def _date(when: dt.datetime | None) -> dict[str, str]:
    if when is None:
        return {}
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    return {"date": when.date().isoformat()}


def _check_again(host: str, hostname: str | None, port: int | None) -> str:
    target = host_name(host, hostname)
    return f"mailtls scan {target} -p {port}" if port is not None else f"mailtls scan {target}"


def finding_item(finding: Finding, when: dt.datetime | None = None) -> dict[str, Any]:
    """One mailtls finding as a DefectDojo generic finding (a dict of allowed keys only)."""
    service = f"{scheme(finding.protocol)}://{where(finding.host, finding.hostname, finding.port)}"
    description = f"{finding.summary}.\n\nService: {service}\nRule: {finding.rule_id} ({finding.group})"
    if finding.hostname:
        description += f"\nAddress: {finding.host}"
    if finding.domain:
        description += f"\nMail domain: {finding.domain}"
    steps = "Seen by nmap:\n" + "\n".join(f"- {line}" for line in finding.evidence) if finding.evidence else ""
    steps += ("\n\n" if steps else "") + f"Check again: `{_check_again(finding.host, finding.hostname, finding.port)}`"
    item: dict[str, Any] = {
        "title": f"{finding.rule_id} {finding.title}",
        "severity": SEVERITY[finding.severity],
        "description": description,
        "mitigation": finding.remediation,
        "impact": finding.context,
        "steps_to_reproduce": steps,
        "references": "\n".join(finding.references),
        "unique_id_from_tool": finding_key(finding),
        "vuln_id_from_tool": finding.rule_id,
        "endpoints": [_endpoint(finding.host, finding.hostname, finding.port, scheme(finding.protocol))],
        "dynamic_finding": True,
        "static_finding": False,
        "tags": [TOOL],
        **_date(when),
    }
    if finding.cwe is not None:
        item["cwe"] = finding.cwe
    return {k: v for k, v in item.items() if v != ""}


def unassessed_item(port: Unassessed) -> dict[str, Any]:
    """An inconclusive port as an Info finding that says so."""
    reason = port.reason.rstrip(".")
    return {
        "title": f"Inconclusive: {port.location} could not be assessed",
        "severity": "Info",
        "description": (
            f"Port {port.port} of {host_name(port.host, port.hostname)} is open, but its exchange could not be "
            f"read: {reason}. No rule was run on it, so nothing is known about its TLS: this is not a clean result."
        ),
        "mitigation": "Scan the port again (later, or from another network position); "
        "if it keeps failing, find out why the server refuses or drops the connection.",
        "steps_to_reproduce": f"Check again: `{_check_again(port.host, port.hostname, port.port)}`",
        "unique_id_from_tool": port.key,
        "vuln_id_from_tool": INCONCLUSIVE,
        "endpoints": [_endpoint(port.host, port.hostname, port.port, scheme(port.protocol))],
        "dynamic_finding": True,
        "static_finding": False,
        "tags": [TOOL, INCONCLUSIVE],
        **_date(port.scanned_at),
    }


def defectdojo_document(report: Report | Diff) -> dict[str, Any]:
    """The report (or diff) as DefectDojo's Generic Findings Import document (a dict)."""
    from .. import __version__

    if isinstance(report, Report):
        times = scan_times(report)
        started = report_time(report)
        findings = [
            finding_item(f, times.get((f.host, f.port)) or times.get((f.host, None)) or started)
            for f in report.findings
        ]
        findings += [unassessed_item(p) for p in unassessed_ports(report)]
        description = summary_line(report)
    elif isinstance(report, Diff):
        findings = [finding_item(f) for f in report.new]
        findings += [finding_item(c.new) for c in report.changed]
        findings += [{**finding_item(f), "active": False, "is_mitigated": True} for f in report.resolved]
        description = (
            f"mailtls diff: {len(report.new)} new, {len(report.changed)} changed, {len(report.resolved)} resolved"
        )
    else:
        raise SerializationError(f"to_defectdojo takes a mailtls.Report or Diff, got {type(report).__name__}")
    return {
        "name": TOOL,
        "type": TOOL,
        "version": __version__,
        "description": description,
        "dynamic_tool": True,
        "static_tool": False,
        "findings": findings,
    }


def to_defectdojo(report: Report | Diff, *, indent: int | None = 2) -> str:
    """The report (or a diff of two) as one DefectDojo "Generic Findings Import" JSON file.

    Import it as scan type "Generic Findings Import" (the file name must end in ``.json``).
    Inconclusive ports are Info findings titled "Inconclusive: ..."; see docs/defectdojo.md."""
    return json.dumps(defectdojo_document(report), indent=indent, ensure_ascii=False)
