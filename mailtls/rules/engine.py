"""Step 5 of the data flow: run every rule over the records and assemble the findings.

A rule only says what it saw (``Observation``); the engine builds each ``Finding``
from the rule's declaration and the record, so no field is left for later. A rule
that raises becomes a ``Problem`` in the report and the other rules go on, unless
``strict`` asks for the exception (useful while writing a rule).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable

from ..model.domain import DomainRecord
from ..model.findings import Finding
from ..model.records import HostRecord, PortRecord, Problem, ScanRecord, Stage
from ..model.report import Report, TargetResult, outcome_of
from ..protocols import MX_PORT, Protocol
from .registry import Observation, Registry, Rule


def assess_host(
    host: HostRecord,
    registry: Registry,
    *,
    problems: Iterable[Problem] = (),
    target: str | None = None,
    requested: str | None = None,
    strict: bool = False,
) -> TargetResult:
    """Run the rules over one host and return it as a target with its outcome.

    Host rules see the whole host; a port rule is called only for the open, conclusive
    ports of the protocols it declared (see ``RuleSpec.protocols``)."""
    findings: list[Finding] = []
    found: list[Problem] = list(problems)
    for item in registry.host_rules:
        findings.extend(_run(item, registry, host, host, None, found, strict))
    for port in host.assessable_ports:
        if port.transport != "tcp":
            continue  # mail is served over TCP: a UDP "port 25" is not SMTP
        for item in registry.port_rules(port.protocol):
            findings.extend(_run(item, registry, port, host, port, found, strict))
    # A host rule's observation about a port nothing could be concluded about is not a finding.
    assessable = {p.number for p in host.assessable_ports if p.transport == "tcp"}  # once: hosts may hold 65,535 ports
    findings = [f for f in findings if f.port is None or f.port in assessable]
    outcome, reason = outcome_of(host)
    return TargetResult(
        target=target or host.hostname or host.address,
        outcome=outcome,
        reason=reason,
        host=host,
        findings=tuple(findings),
        problems=tuple(found),
        requested=requested,
    )


def evaluate(scan: ScanRecord, registry: Registry, *, strict: bool = False) -> Report:
    """A report of every host in one scan; each problem goes with the host it names."""
    by_address: dict[str, list[Problem]] = {h.address: [] for h in scan.hosts}
    general: list[Problem] = []
    for problem in scan.problems:
        if problem.address is not None and problem.address in by_address:
            by_address[problem.address].append(problem)
        else:
            general.append(problem)
    targets = [assess_host(h, registry, problems=by_address[h.address], strict=strict) for h in scan.hosts]
    return Report(targets=tuple(targets), runs=(scan.run,), problems=(*general, *registry.problems))


def _run(
    item: Rule,
    registry: Registry,
    record: PortRecord | HostRecord,
    host: HostRecord,
    port: PortRecord | None,
    problems: list[Problem],
    strict: bool,
) -> Iterable[Finding]:
    number = port.number if port else None
    observations = _observe(item, record, problems, strict, "", address=host.address, port=number)
    return [_finding(item, registry, host, port, observation) for observation in observations]


def _observe(
    item: Rule, record: object, problems: list[Problem], strict: bool, where: str, **about: str | int | None
) -> list[Observation]:
    """What one rule observed; a rule that raises (or yields something else) is a problem, not a crash."""
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
                message=f"rule {item.id} raised {type(exc).__name__}{where}: {exc}",
                rule_id=item.id,
                detail=traceback.format_exc(),
                **about,  # type: ignore[arg-type]
            )
        )
        return []
    return observations


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


def judge_domain(
    record: DomainRecord, registry: Registry, *, strict: bool = False
) -> tuple[tuple[Finding, ...], tuple[Problem, ...]]:
    """Run the domain rules (``applies_to=DomainRecord``) over one mail domain.

    A finding about one MX host (``Observation.mx``) is placed on that host's port 25;
    the others on the domain itself. Every finding names the domain."""
    findings: list[Finding] = []
    problems: list[Problem] = []
    for item in registry.domain_rules:
        observations = _observe(item, record, problems, strict, f" on {record.domain}")
        findings.extend(_domain_finding(item, registry, record, o) for o in observations)
    return tuple(findings), tuple(problems)


def _domain_finding(item: Rule, registry: Registry, record: DomainRecord, observation: Observation) -> Finding:
    mx = record.mx_host(observation.mx) if observation.mx else None
    spec = item.spec
    return Finding(
        rule_id=spec.id,
        title=spec.title,
        severity=registry.severity_of(spec.id),
        group=spec.group,
        host=(mx.scanned or mx.name) if mx else record.domain,
        hostname=mx.name if mx else None,
        port=MX_PORT if mx else observation.port,
        protocol=Protocol.SMTP if mx else None,
        summary=observation.summary,
        evidence=observation.evidence,
        context=spec.context,
        remediation=spec.remediation,
        cwe=spec.cwe,
        references=spec.references,
        domain=record.domain,
    )
