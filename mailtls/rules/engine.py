"""Step 5 of the data flow: run every rule over the records and assemble the findings.

A rule only says what it saw (``Observation``); the engine builds each ``Finding``
from the rule's declaration and the record, so no field is left for later. A rule
that raises becomes a ``Problem`` in the report and the other rules go on, unless
``strict`` asks for the exception (useful while writing a rule).
"""

from __future__ import annotations

import traceback
from typing import Iterable

from ..model.findings import Finding
from ..model.records import HostRecord, PortRecord, Problem, ScanRecord, Stage
from ..model.report import Report
from .registry import Observation, Registry, Rule


def evaluate(scan: ScanRecord, registry: Registry, *, target: str | None = None, strict: bool = False) -> Report:
    findings: list[Finding] = []
    problems: list[Problem] = [*scan.problems, *registry.problems]
    port_rules = [r for r in registry if r.spec.applies_to is PortRecord]
    host_rules = [r for r in registry if r.spec.applies_to is HostRecord]
    for host in scan.hosts:
        for item in host_rules:
            findings.extend(_run(item, registry, host, host, None, problems, strict))
        for port in host.open_ports:
            for item in port_rules:
                findings.extend(_run(item, registry, port, host, port, problems, strict))
    return Report(scan=scan, findings=tuple(findings), errors=tuple(problems), target=target)


def _run(
    item: Rule,
    registry: Registry,
    record: PortRecord | HostRecord,
    host: HostRecord,
    port: PortRecord | None,
    problems: list[Problem],
    strict: bool,
) -> Iterable[Finding]:
    try:
        observations = list(item.function(record) or ())
        for observation in observations:
            if not isinstance(observation, Observation):
                raise TypeError(f"rule yielded {type(observation).__name__}, not mailtls.Observation")
    except Exception as exc:
        if strict:
            raise
        problems.append(
            Problem(
                stage=Stage.RULE,
                message=f"rule {item.id} raised {type(exc).__name__}: {exc}",
                address=host.address,
                port=port.number if port else None,
                rule_id=item.id,
                detail=traceback.format_exc(),
            )
        )
        return ()
    return [_finding(item, registry, host, port, observation) for observation in observations]


def _finding(
    item: Rule, registry: Registry, host: HostRecord, port: PortRecord | None, observation: Observation
) -> Finding:
    number = port.number if port else observation.port
    about = port or (host.port(number) if number is not None else None)
    spec = item.spec
    return Finding(
        rule_id=spec.id,
        title=spec.title,
        severity=registry.severity_of(spec.id),
        group=spec.group,
        host=host.address,
        hostname=host.hostname,
        port=number,
        protocol=about.protocol if about else None,
        summary=observation.summary,
        evidence=observation.evidence,
        context=spec.context,
        remediation=spec.remediation,
        cwe=spec.cwe,
        references=spec.references,
    )
