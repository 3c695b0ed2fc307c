"""``assess_domain``: a mail domain's MX hosts, MTA-STS, TLS-RPT and DANE, in one Report.

    domain -> MX (or implicit MX, or null MX) -> each MX's addresses and TLSA records
           -> nmap on port 25 of each MX address (through assess_many: addresses only,
              so nmap never resolves a name itself) -> MTA-STS and TLS-RPT
           -> the domain rules over a DomainRecord -> one Report

Every DNS question goes to the caller's resolver (a dnspython ``Resolver``); the only
other connections are nmap's to the MX addresses and the HTTPS fetch of the MTA-STS
policy from the address the resolver gave for ``mta-sts.<domain>``.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import os
import re

import attrs
import dns.resolver

from .._errors import TargetError
from ..model.domain import Dane, DomainRecord, MxHost, TlsaRecord
from ..model.records import HostRecord, Problem, Stage
from ..model.report import Outcome, Report, TargetResult
from ..protocols import MX_PORT
from ..rules.engine import assess_host, judge_domain
from ..rules.registry import Registry
from ._dns import Lookups, Unanswered
from ._trust import trust_of
from .mtasts import assess_mta_sts
from .tlsrpt import assess_tls_rpt

_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9-_]{0,61}[A-Za-z0-9])?$")


def _check_domain(domain: str) -> str:
    if not isinstance(domain, str):
        raise TargetError(domain, f"a mail domain is a string, not {type(domain).__name__}")
    name = domain.strip().rstrip(".").lower()
    labels = name.split(".")
    if not name or len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise TargetError(domain, "not a mail domain name (two or more DNS labels: letters, digits, hyphens)")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name
    raise TargetError(domain, "an address, not a mail domain: use mailtls.assess for a host")


def assess_domain(
    domain: str,
    *,
    resolver: dns.resolver.Resolver | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    policy_timeout: float = 10.0,
    registry: Registry | None = None,
    concurrency: int | None = None,
    executor: concurrent.futures.Executor | None = None,
    strict: bool = False,
) -> Report:
    """Assess a mail domain's transport security: its MX hosts on port 25, MTA-STS,
    TLS-RPT and DANE.

    ``resolver`` (a ``dns.resolver.Resolver``; default: the system's) answers every DNS
    question; for DANE it must validate DNSSEC (its AD bit is read). ``ca_file`` (PEM)
    is the trust store for the MTA-STS policy server and the MX certificates (default:
    certifi's bundle). ``timeout`` bounds nmap's time per MX host, ``policy_timeout`` the
    policy fetch. The others are ``assess_many``'s.

    The report holds one target for the domain (its findings and ``domain`` record)
    and one per MX host (named by the MX name, port 25 only). Every finding names the
    domain (``Finding.domain``). A lookup or fetch that failed on the way is a problem
    in ``Report.errors`` with its reason, and whatever depended on it is not judged.
    """
    name = _check_domain(domain)
    rules = registry if registry is not None else Registry.default()
    lookups = Lookups(resolver)
    problems: list[Problem] = []

    def problem(message: str) -> None:
        problems.append(Problem(stage=Stage.EXCHANGE, message=f"{name}: {message}"))

    mx, null_mx, outcome, reason = _mail_hosts(name, lookups)
    if reason and outcome is not Outcome.ASSESSED:
        problem(reason)
    mx = tuple(_with_dane(host, lookups) for host in mx)
    for host in mx:
        if host.inconclusive:
            problem(f"MX {host.name}: {host.inconclusive}")
        if host.dane.inconclusive:
            problem(f"MX {host.name}: {host.dane.inconclusive}")

    # nmap gets addresses only: a name would be resolved by the system's resolver.
    scanned = sorted({h.scanned for h in mx if h.scanned})
    scan = None
    if scanned:
        from .._api import assess_many  # the API module imports this one

        scan = assess_many(
            scanned,
            ports=[MX_PORT],
            timeout=timeout,
            registry=rules,
            concurrency=concurrency,
            executor=executor,
            strict=strict,
        )
    by_address = {t.target: t for t in scan.targets} if scan else {}
    mx_results = []
    judged_mx = []
    for host in mx:
        result = by_address.get(host.scanned) if host.scanned else None
        if result is None:
            judged_mx.append(host)
            continue
        result, host = _judge_mx(name, host, result, rules, ca_file, strict)
        mx_results.append(result)
        judged_mx.append(host)

    record = DomainRecord(
        domain=name,
        mx=tuple(judged_mx),
        null_mx=null_mx,
        inconclusive=reason if outcome is not Outcome.ASSESSED else "",
    )
    if outcome is Outcome.ASSESSED and not null_mx:
        record = attrs.evolve(
            record,
            mta_sts=assess_mta_sts(name, lookups, ca_file=ca_file, timeout=policy_timeout),
            tls_rpt=assess_tls_rpt(name, lookups),
        )
        for part in (record.mta_sts.inconclusive, record.tls_rpt.inconclusive):
            if part:
                problem(part)
    findings, rule_problems = judge_domain(record, rules, strict=strict)
    domain_target = TargetResult(
        target=name,
        outcome=outcome,
        reason=reason if outcome is not Outcome.ASSESSED else "",
        findings=findings,
        problems=(*problems, *rule_problems),
        domain=record,
    )
    return Report(
        targets=(domain_target, *mx_results),
        runs=scan.runs if scan else (),
        problems=scan.problems if scan else tuple(rules.problems),
    )


def _mail_hosts(name: str, lookups: Lookups) -> tuple[tuple[MxHost, ...], bool, Outcome, str]:
    """(MX hosts, null MX, outcome, reason): RFC 5321 5.1 and RFC 7505."""
    try:
        answer = lookups.query(name, "MX")
    except Unanswered as exc:
        return (), False, Outcome.INCONCLUSIVE, f"the MX lookup failed: {exc}"
    if answer.nxdomain:
        return (), False, Outcome.UNRESOLVED, f"{name} does not exist (NXDOMAIN)"
    records = sorted(answer.records, key=lambda r: (r.preference, r.exchange.to_text()))
    exchanges = [r for r in records if r.exchange.to_text() != "."]
    if records and not exchanges:
        return (), True, Outcome.ASSESSED, ""  # null MX: accepts no mail
    hosts = []
    if not records:
        # No MX: the domain itself is the mail host, with preference 0 (RFC 5321 5.1).
        hosts.append(MxHost(name=name, implicit=True))
    else:
        hosts += [MxHost(name=r.exchange.to_text().rstrip(".").lower(), preference=r.preference) for r in exchanges]
    resolved = []
    for host in hosts:
        try:
            addresses, exists = lookups.addresses(host.name)
        except Unanswered as exc:
            resolved.append(attrs.evolve(host, inconclusive=f"its address lookup failed: {exc}"))
            continue
        if not addresses:
            if host.implicit:
                return (), False, Outcome.NO_MAIL_PORT, f"{name} has no MX record and no address: no mail host"
            why = "does not exist" if not exists else "has no address record"
            resolved.append(attrs.evolve(host, inconclusive=f"the MX name {why}"))
            continue
        resolved.append(attrs.evolve(host, addresses=addresses, scanned=addresses[0]))
    return tuple(resolved), False, Outcome.ASSESSED, ""


def _with_dane(host: MxHost, lookups: Lookups) -> MxHost:
    if host.inconclusive:
        return host
    try:
        answer = lookups.query(f"_25._tcp.{host.name}", "TLSA")
    except Unanswered as exc:
        return attrs.evolve(host, dane=Dane(inconclusive=f"the TLSA lookup failed: {exc}"))
    records = tuple(
        TlsaRecord(r.usage, r.selector, r.mtype, r.cert.hex()) for r in answer.records
    )
    return attrs.evolve(host, dane=Dane(records=records, validated=answer.authenticated))


def _named(host: HostRecord, name: str) -> HostRecord:
    """The scan of an MX address, as if asked for by the MX name (for the name checks)."""
    ports = tuple(attrs.evolve(p, hostname=name) for p in host.ports)
    return attrs.evolve(host, hostname=name, ports=ports)


def _judge_mx(
    domain: str, mx: MxHost, result: TargetResult, rules: Registry, ca_file: str | os.PathLike[str] | None, strict: bool
) -> tuple[TargetResult, MxHost]:
    if result.host is None:
        return (
            attrs.evolve(result, target=mx.name),
            attrs.evolve(mx, inconclusive=result.reason or result.outcome.value),
        )
    host = _named(result.host, mx.name)
    judged = assess_host(
        host, rules, problems=result.problems, target=mx.name, requested=result.requested, strict=strict
    )
    judged = attrs.evolve(judged, findings=tuple(attrs.evolve(f, domain=domain) for f in judged.findings))
    port = host.port(MX_PORT)
    if port is None or not port.assessable:
        why = (
            port.inconclusive
            if port is not None and port.inconclusive
            else f"port {MX_PORT} could not be assessed ({judged.outcome.value})"
        )
        return judged, attrs.evolve(mx, inconclusive=why)
    cert = port.certificate
    return judged, attrs.evolve(mx, certificate=cert, trust=trust_of(cert.pem, ca_file) if cert else "")
