"""``assess_domain``: a mail domain's MX hosts, MTA-STS, TLS-RPT and DANE, in one Report.

    domain -> its mail hosts and their TLSA records (domain/facts.py, through DNS)
           -> nmap on port 25 of each MX address (addresses only, so nmap never resolves
              a name itself) -> each MX host judged once, under its MX name
           -> MTA-STS and TLS-RPT -> the domain rules over a DomainRecord -> one Report

Every DNS question goes to the caller's resolver (a dnspython ``Resolver``); the only
other connections are nmap's to the MX addresses and the HTTPS fetch of the MTA-STS
policy from the address the resolver gave for ``mta-sts.<domain>``.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import attrs
import dns.resolver

from ..domain import DomainOptions, Lookups
from ..domain.facts import check_domain, mail_hosts, named, with_scan
from ..domain.mtasts import assess_mta_sts
from ..domain.tlsrpt import assess_tls_rpt
from ..model.domain import DomainRecord, MxHost
from ..model.records import Problem, Stage
from ..model.report import Outcome, Report, TargetResult
from ..protocols import MX_PORT
from ..rules.engine import judge_domain
from ..rules.registry import Registry
from ..scan.plan import Scanned
from ..scan.targets import parse_targets
from .live import judge, scan


def assess_domain(
    domain: str,
    *,
    resolver: dns.resolver.Resolver | None = None,
    registry: Registry | None = None,
    executor: concurrent.futures.Executor | None = None,
    options: DomainOptions | None = None,
    **fields: Any,
) -> Report:
    """Assess a mail domain's transport security: its MX hosts on port 25, MTA-STS,
    TLS-RPT and DANE.

    ``resolver`` (a ``dns.resolver.Resolver``; default: the system's) answers every DNS
    question; for DANE it must validate DNSSEC (its AD bit is read). The keywords are
    ``DomainOptions``'s fields (``ca_file``, the trust store for the MTA-STS policy server
    and the MX certificates, default certifi's bundle; ``policy_timeout``) and
    ``ScanOptions``'s for the scan of the MX hosts (``timeout``, ``concurrency``,
    ``strict``...). ``registry`` and ``executor`` are ``assess_many``'s.

    The report holds one target for the domain (its findings and ``domain`` record)
    and one per MX host (named by the MX name, port 25 only), each judged once. Every
    finding names the domain (``Finding.domain``). A lookup or fetch that failed on the
    way is a problem in the report with its reason, and whatever depended on it is not judged.
    """
    name = check_domain(domain)
    settings = DomainOptions.of(options, fields)
    rules = registry if registry is not None else Registry.default()
    strict = settings.scan.strict
    lookups = Lookups(resolver)
    problems: list[Problem] = []

    def problem(message: str) -> None:
        problems.append(Problem(stage=Stage.EXCHANGE, message=f"{name}: {message}"))

    found = mail_hosts(name, lookups)
    if found.inconclusive:
        problem(found.inconclusive)
    for host in found.mx:
        if host.inconclusive:
            problem(f"MX {host.name}: {host.inconclusive}")
        if host.dane.inconclusive:
            problem(f"MX {host.name}: {host.dane.inconclusive}")

    # nmap gets addresses only: a name would be resolved by the system's resolver.
    addresses = sorted({h.scanned for h in found.mx if h.scanned})
    stream = scan(parse_targets(addresses), settings.scan, executor) if addresses else None
    by_address = {s.target.value: s for s in stream} if stream is not None else {}
    mx_results: list[TargetResult] = []
    mx_hosts: list[MxHost] = []
    for host in found.mx:
        scanned = by_address.get(host.scanned) if host.scanned else None
        if scanned is None:
            mx_hosts.append(host)
            continue
        result, host = _judge_mx(name, host, scanned, rules, settings)
        mx_results.append(result)
        mx_hosts.append(host)

    record = DomainRecord(
        domain=name, mx=tuple(mx_hosts), null_mx=found.null_mx, inconclusive=found.inconclusive
    )
    if found.outcome is Outcome.ASSESSED and not found.null_mx:
        record = attrs.evolve(
            record,
            mta_sts=assess_mta_sts(name, lookups, ca_file=settings.ca_file, timeout=settings.policy_timeout),
            tls_rpt=assess_tls_rpt(name, lookups),
        )
        for part in (record.mta_sts.inconclusive, record.tls_rpt.inconclusive):
            if part:
                problem(part)
    findings, rule_problems = judge_domain(record, rules, strict=strict)
    domain_target = TargetResult(
        target=name,
        outcome=found.outcome,
        reason=found.inconclusive,
        findings=findings,
        problems=(*problems, *rule_problems),
        domain=record,
    )
    return Report(
        targets=(domain_target, *mx_results),
        runs=tuple(stream.runs) if stream is not None else (),
        problems=(*(stream.problems if stream is not None else ()), *rules.problems),
    )


def _judge_mx(
    domain: str, mx: MxHost, scanned: Scanned, rules: Registry, settings: DomainOptions
) -> tuple[TargetResult, MxHost]:
    """The MX host's port 25 through the rules, once, as if scanned by its name; and the MX
    host with what that port showed."""
    if scanned.host is not None:
        scanned = attrs.evolve(scanned, host=named(scanned.host, mx.name))
    result = judge(scanned, rules, strict=settings.scan.strict, name=mx.name, domain=domain)
    if result.host is None:
        return result, attrs.evolve(mx, inconclusive=result.reason or result.outcome.value)
    why = f"port {MX_PORT} could not be assessed ({result.outcome.value})"
    return result, with_scan(mx, result.host.port(MX_PORT), why, settings)
