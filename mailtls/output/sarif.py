"""Step 6 of the data flow, for security pipelines: a report as SARIF 2.1.0.

One run per report, however many targets: the rules of its findings are the tool's
``rules`` (their ``RuleTexts``: documentation, CWE and cross-references, read from the
findings themselves, so no registry is needed), each finding is a ``result`` whose
location is the service's URI (``imap://127.0.0.11:143``). ``security-severity`` is the
property GitHub code scanning and similar tools rank by.

Every open port that could not be judged (a 421 greeting, a refused connection, a facet
cut short) is a result too, of kind ``open`` (SARIF: the tool had too little information to
decide whether there is a problem) and level ``none``, with the reason, under the rule id
``inconclusive``: it shows apart from the failures instead of vanishing into "clean".
Findings are of kind ``fail``. Every result carries ``partialFingerprints["mailtls/v1"]``,
its stable key (rule, host and port: see ``_keys``).

A diff is one run too, its results marked with SARIF's ``baselineState``: ``new``,
``updated`` (changed) and ``absent`` (resolved). Unverified findings (their host was not
assessed this time) are not results: each is a warning notification of the run.
"""

from __future__ import annotations

import json

from .._errors import SerializationError
from .._version import __version__
from ..model.diff import Diff
from ..model.findings import Finding, RuleTexts, Severity
from ..model.report import Report
from ._keys import INCONCLUSIVE, Unassessed, finding_key, scheme, unassessed_ports

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _uri(finding: Finding) -> str:
    host = finding.hostname or finding.host
    if ":" in host:
        host = f"[{host}]"
    scheme = finding.protocol.value if finding.protocol and finding.protocol.value != "other" else "tcp"
    return f"{scheme}://{host}:{finding.port}" if finding.port is not None else f"{scheme}://{host}"


def _descriptor(texts: RuleTexts, severity: Severity) -> dict[str, object]:
    tags = ["security"] + ([f"external/cwe/cwe-{texts.cwe}"] if texts.cwe else [])
    return {
        "id": texts.id,
        "name": texts.title,
        "shortDescription": {"text": texts.title},
        "fullDescription": {"text": texts.description or texts.title},
        "help": {"text": " ".join(t for t in (texts.context, texts.remediation) if t) or texts.title},
        "defaultConfiguration": {"level": _LEVEL[severity]},
        "properties": {
            "tags": tags,
            "security-severity": _SECURITY_SEVERITY[severity],
            "group": texts.group,
            "references": list(texts.references),
        },
    }


_INCONCLUSIVE_RULE: dict[str, object] = {
    "id": INCONCLUSIVE,
    "name": "Port could not be assessed",
    "shortDescription": {"text": "Open mail port whose exchange could not be read"},
    "fullDescription": {
        "text": "The port is open, but its exchange failed (a 421 greeting, a reset, no answer), so no rule "
        "was run on it and nothing is known about its TLS. Not a clean result."
    },
    "help": {"text": "Scan the port again; if it keeps failing, find out why the server drops the connection."},
    "defaultConfiguration": {"level": "none"},
    "properties": {"tags": ["security", "inconclusive"]},
}


def _open_result(port: Unassessed, rule_index: int) -> dict[str, object]:
    """An inconclusive port: kind "open", level "none" (SARIF requires "none" for any kind but "fail")."""
    return {
        "ruleId": INCONCLUSIVE,
        "ruleIndex": rule_index,
        "kind": "open",
        "level": "none",
        "message": {"text": f"{port.location} could not be assessed: {port.reason}"},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": f"{scheme(port.protocol)}://{port.location}"}}}
        ],
        "properties": {"reason": port.reason},
        "partialFingerprints": {"mailtls/v1": port.key},
    }


def _findings(report: Report | Diff) -> tuple[Finding, ...]:
    if isinstance(report, Report):
        return report.findings
    return (*report.new, *(c.new for c in report.changed), *report.resolved, *report.unverified)


def to_sarif(report: Report | Diff, *, indent: int | None = 2) -> str:
    """The report (or a diff of two) as a SARIF 2.1.0 log (a JSON string)."""
    if not isinstance(report, (Report, Diff)):
        raise SerializationError(f"to_sarif takes a mailtls.Report or Diff, got {type(report).__name__}")
    rules: dict[str, Finding] = {}
    for finding in _findings(report):
        rules.setdefault(finding.rule_id, finding)
    descriptors = [_descriptor(f.rule, f.severity) for _, f in sorted(rules.items())]
    index = {d["id"]: i for i, d in enumerate(descriptors)}

    def result(finding: Finding, baseline: str | None = None) -> dict[str, object]:
        entry: dict[str, object] = {
            "ruleId": finding.rule_id,
            "kind": "fail",
            "level": _LEVEL[finding.severity],
            "message": {"text": f"{finding.summary}. {finding.remediation}".strip()},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(finding)}}}],
            "properties": {
                "severity": finding.severity.value,
                "security-severity": _SECURITY_SEVERITY[finding.severity],
                "evidence": list(finding.evidence),
            },
            "partialFingerprints": {"mailtls/v1": finding_key(finding)},
        }
        if finding.rule_id in index:
            entry["ruleIndex"] = index[finding.rule_id]
        if baseline is not None:
            entry["baselineState"] = baseline
        return entry

    if isinstance(report, Report):
        results = [result(f) for f in report.findings]
        unassessed = unassessed_ports(report)
        if unassessed:
            index[INCONCLUSIVE] = len(descriptors)
            descriptors.append(_INCONCLUSIVE_RULE)
        results += [_open_result(port, index[INCONCLUSIVE]) for port in unassessed]
        notifications = [
            {"level": "error", "message": {"text": f"{p.stage.value}: {p.message}"}} for p in report.all_problems
        ]
        invocation = {
            "executionSuccessful": report.complete,
            "commandLine": " ; ".join(run.args for run in report.runs),
            "toolExecutionNotifications": notifications,
        }
    else:
        results = [result(f, "new") for f in report.new]
        results += [result(c.new, "updated") for c in report.changed]
        results += [result(f, "absent") for f in report.resolved]
        notifications = [
            {
                "level": "warning",
                "message": {
                    "text": f"not verified (host not assessed this time): {f.rule_id} {f.location}: {f.summary}"
                },
            }
            for f in report.unverified
        ]
        invocation = {"executionSuccessful": True, "toolExecutionNotifications": notifications}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mailtls",
                        "version": __version__,
                        "rules": descriptors,
                    }
                },
                "invocations": [invocation],
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=indent)
