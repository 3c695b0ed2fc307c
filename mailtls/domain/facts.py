"""What a mail domain's DNS says about its mail hosts, and what their scans add.

    domain -> MX (or implicit MX, or null MX) -> each MX's addresses and TLSA records
           -> (the scan of each MX address on port 25, by the API layer)
           -> each MX's certificate, and whether its issuer is trusted

Every DNS question goes to the caller's resolver (a dnspython ``Resolver``, see
``_dns.py``); nothing here scans or judges: ``mailtls.assess_domain`` (``_api/domains.py``)
composes these facts with the scan and the rules.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

from .._errors import TargetError
from ..model.domain import Dane, MxHost, TlsaRecord
from ..model.records import HostRecord, PortRecord
from ..model.report import Outcome
from ._dns import Inconclusive, Lookups
from ._trust import trust_of
from .options import DomainOptions

_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9-_]{0,61}[A-Za-z0-9])?$")


def check_domain(domain: object) -> str:
    """The domain name as it is looked up, or ``TargetError`` saying why it is none."""
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


@attrs.frozen
class MailHosts:
    """Where a domain's mail goes, as DNS says: its MX hosts with their addresses and TLSA
    records, or a null MX, or why the domain's mail hosts could not be found."""

    mx: tuple[MxHost, ...] = ()
    #: The domain publishes a null MX (RFC 7505): it accepts no mail.
    null_mx: bool = False
    outcome: Outcome = Outcome.ASSESSED
    #: Why the mail hosts could not be found (set with any outcome but ASSESSED).
    inconclusive: str = ""


def mail_hosts(name: str, lookups: Lookups) -> MailHosts:
    """The domain's mail hosts (RFC 5321 5.1 and RFC 7505), each with its DANE records."""
    try:
        answer = lookups.query(name, "MX")
    except Inconclusive as exc:
        return MailHosts(outcome=Outcome.INCONCLUSIVE, inconclusive=f"the MX lookup failed: {exc}")
    if answer.nxdomain:
        return MailHosts(outcome=Outcome.UNRESOLVED, inconclusive=f"{name} does not exist (NXDOMAIN)")
    records = sorted(answer.records, key=lambda r: (r.preference, r.exchange.to_text()))
    exchanges = [r for r in records if r.exchange.to_text() != "."]
    if records and not exchanges:
        return MailHosts(null_mx=True)  # null MX: accepts no mail
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
        except Inconclusive as exc:
            resolved.append(attrs.evolve(host, inconclusive=f"its address lookup failed: {exc}"))
            continue
        if not addresses:
            if host.implicit:
                why = f"{name} has no MX record and no address: no mail host"
                return MailHosts(outcome=Outcome.NO_MAIL_PORT, inconclusive=why)
            why = "does not exist" if not exists else "has no address record"
            resolved.append(attrs.evolve(host, inconclusive=f"the MX name {why}"))
            continue
        resolved.append(attrs.evolve(host, addresses=addresses, scanned=addresses[0]))
    return MailHosts(mx=tuple(_with_dane(host, lookups) for host in resolved))


def _with_dane(host: MxHost, lookups: Lookups) -> MxHost:
    if host.inconclusive:
        return host
    try:
        answer = lookups.query(f"_25._tcp.{host.name}", "TLSA")
    except Inconclusive as exc:
        return attrs.evolve(host, dane=Dane(inconclusive=f"the TLSA lookup failed: {exc}"))
    records = tuple(TlsaRecord(r.usage, r.selector, r.mtype, r.cert.hex()) for r in answer.records)
    return attrs.evolve(host, dane=Dane(records=records, validated=answer.authenticated))


def named(host: HostRecord, name: str) -> HostRecord:
    """The scan of an MX address, as if asked for by the MX name (for the name checks)."""
    ports = tuple(attrs.evolve(p, hostname=name) for p in host.ports)
    return attrs.evolve(host, hostname=name, ports=ports)


def with_scan(mx: MxHost, port: PortRecord | None, why: str, options: DomainOptions) -> MxHost:
    """The MX host with what its port 25 showed (its certificate, checked against the trust
    store), or, where the port could not be assessed, why (``why``)."""
    if port is None or not port.assessable:
        return attrs.evolve(mx, inconclusive=port.inconclusive if port is not None and port.inconclusive else why)
    cert = port.certificate
    return attrs.evolve(mx, certificate=cert, trust=trust_of(cert.pem, options.ca_file) if cert else None)
