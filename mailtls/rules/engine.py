"""Step 5 of the data flow: run every rule over the records and assemble the findings.

A rule only says what it saw (``Observation``); the engine builds each ``Finding`` from
the rule's declaration and the record, so no field is left for later. Whether a rule is
called at all is decided here, once: a port rule only on the open, conclusive TCP ports
of the protocols it declared, and only where every record it needs is there
(``_arguments``). A rule that raises becomes a ``Problem`` in the report and the other
rules go on, unless ``strict`` asks for the exception (useful while writing a rule).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable

from ..model.domain import DomainRecord
from ..model.findings import Finding
from ..model.records import HostRecord, PortRecord, Problem, ScanRecord, Stage
from ..model.report import Report, TargetResult, outcome_of
from ..protocols import MX_PORT, Protocol
from .declare import Observation, Rule
from .registry import Registry


def assess_host(
    host: HostRecord,
    registry: Registry,
    *,
    problems: Iterable[Problem] = (),
    target: str | None = None,
    requested: str | None = None,
    domain: str | None = None,
    strict: bool = False,
) -> TargetResult:
    """Run the rules over one host and return it as a target with its outcome.

    Host rules see the whole host; a port rule is called only for the ports ``_arguments``
    lets it see. ``domain`` names the mail domain the host serves, on every finding."""
    findings: list[Finding] = []
    found: list[Problem] = list(problems)
    assessable = [p for p in host.assessable_ports if p.transport == "tcp"]  # mail is served over TCP

    def add(item: Rule, observation: Observation, port: int | None, protocol: Protocol | None) -> None:
        findings.append(
            _finding(
                item,
                registry,
                observation,
                address=host.address,
                hostname=host.hostname,
                port=port,
                protocol=protocol,
                domain=domain,
            )
        )

    for item in registry.host_rules:
        for observation in _observe(item, host, found, strict, address=host.address):
            about = host.port(observation.port) if observation.port is not None else None
            add(item, observation, observation.port, about.protocol if about is not None else None)
    for port in assessable:
        for item in registry.port_rules(port.protocol):
            arguments = _arguments(item, port)
            if arguments is None:
                continue
            for observation in _observe(item, port, found, strict, arguments, address=host.address, port=port.number):
                add(item, observation, port.number, port.protocol)
    # A host rule's observation about a port nothing could be concluded about is not a finding.
    numbers = {p.number for p in assessable}  # once: hosts may hold 65,535 ports
    outcome, why = outcome_of(host)
    return TargetResult(
        target=target or host.hostname or host.address,
        outcome=outcome,
        reason=why,
        host=host,
        findings=tuple(f for f in findings if f.port is None or f.port in numbers),
        problems=tuple(found),
        requested=requested,
    )


def _arguments(item: Rule, port: PortRecord) -> dict[str, object] | None:
    """What the rule is called with beside the port (the records it takes by name), or None
    when the port lacks a record the rule needs: the one place a rule is skipped for what
    nmap did not learn."""
    arguments: dict[str, object] = {}
    for facet in item.spec.needs:
        record = facet.of(port)
        if record is None:
            return None
        if facet in item.passes:
            arguments[facet.value] = record
    return arguments


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


def judge_domain(
    record: DomainRecord, registry: Registry, *, strict: bool = False
) -> tuple[tuple[Finding, ...], tuple[Problem, ...]]:
    """Run the domain rules (those that receive a ``DomainRecord``) over one mail domain.

    A finding about one MX host (``Observation.mx``) is placed on that host's port 25;
    the others on the domain itself. Every finding names the domain."""
    findings: list[Finding] = []
    problems: list[Problem] = []
    for item in registry.domain_rules:
        for observation in _observe(item, record, problems, strict, where=f" on {record.domain}"):
            mx = record.mx_host(observation.mx) if observation.mx else None
            finding = _finding(
                item,
                registry,
                observation,
                address=(mx.scanned or mx.name) if mx else record.domain,
                hostname=mx.name if mx else None,
                port=MX_PORT if mx else observation.port,
                protocol=Protocol.SMTP if mx else None,
                domain=record.domain,
            )
            findings.append(finding)
    return tuple(findings), tuple(problems)


def _observe(
    item: Rule,
    record: object,
    problems: list[Problem],
    strict: bool,
    arguments: dict[str, object] | None = None,
    *,
    where: str = "",
    address: str | None = None,
    port: int | None = None,
) -> list[Observation]:
    """What one rule observed; a rule that raises (or yields something else) is a problem, not a crash."""
    try:
        observations = list(item.function(record, **(arguments or {})) or ())
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
                address=address,
                port=port,
            )
        )
        return []
    return observations


def _finding(
    item: Rule,
    registry: Registry,
    observation: Observation,
    *,
    address: str,
    hostname: str | None,
    port: int | None,
    protocol: Protocol | None,
    domain: str | None,
) -> Finding:
    return Finding(
        rule=item.texts,
        severity=registry.severity_of(item.id),
        host=address,
        hostname=hostname,
        port=port,
        protocol=protocol,
        summary=observation.summary,
        evidence=observation.evidence,
        domain=domain,
    )
