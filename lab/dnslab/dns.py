"""Zone files for the domain lab, signed with dnspython, and the configs of the
authoritative server (Knot, serving the pre-signed files as they are) and the
validating resolver (Unbound, with the parent zone's DS as its only trust anchor).

Nothing here can reach the internet's DNS: Unbound's root is stubbed to the lab's own
authoritative server (which refuses every name outside the lab), so a query for any
other name fails inside 127.53.0.0/16.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .zones import AUTHORITATIVE, NOWHERE, PARENT, POLICY_SERVER, RESOLVER, TTL, ZONES, MailZone

_SOA = f"@ {TTL} IN SOA ns.{PARENT}. hostmaster.{PARENT}. 1 3600 600 86400 {TTL}"


def spki_sha256(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _child_text(zone: MailZone, certs: dict[str, x509.Certificate]) -> str:
    lines = [_SOA, f"@ {TTL} IN NS ns.{PARENT}."]
    if zone.null_mx:
        lines.append(f"@ {TTL} IN MX 0 .")
    for mx in zone.mx:
        name = zone.mx_name(mx)
        owner = "@" if mx.label == "@" else mx.label
        if mx.label != "@":
            lines.append(f"@ {TTL} IN MX {mx.preference} {name}.")
        lines.append(f"{owner} {TTL} IN A {mx.address}")
        if mx.tlsa:
            digest = spki_sha256(certs[name]) if mx.tlsa == "match" else hashlib.sha256(b"another key").hexdigest()
            tlsa_owner = "_25._tcp" if mx.label == "@" else f"_25._tcp.{mx.label}"
            lines.append(f"{tlsa_owner} {TTL} IN TLSA 3 1 1 {digest}")
    if zone.policy:
        lines.append(f'_mta-sts {TTL} IN TXT "v=STSv1; id=20261130T000000;"')
        where = NOWHERE if zone.policy.serve == "nowhere" else POLICY_SERVER
        lines.append(f"mta-sts {TTL} IN A {where}")
    if zone.tls_rpt:
        lines.append(f'_smtp._tls {TTL} IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@{zone.name}"')
    return "\n".join(lines) + "\n"


def _sign(text: str, origin: str) -> tuple[str, dns.rdata.Rdata]:
    """The zone signed with a fresh ECDSA P-256 key (one key as KSK and ZSK), and its DNSKEY."""
    zone = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)
    key = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(key.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=257)
    now = dt.datetime.now(dt.timezone.utc)
    dns.dnssec.sign_zone(
        zone,
        keys=[(key, dnskey)],
        dnskey_ttl=TTL,
        inception=now - dt.timedelta(hours=1),
        expiration=now + dt.timedelta(days=30),
    )
    return zone.to_text(relativize=False), dnskey


def write_zones(directory: Path, certs: dict[str, x509.Certificate]) -> str:
    """Write every zone file (children first, then the parent with their DS records) and
    return the parent's DS record: the resolver's trust anchor."""
    directory.mkdir(parents=True, exist_ok=True)
    parent = [_SOA, f"@ {TTL} IN NS ns", f"ns {TTL} IN A {AUTHORITATIVE}"]
    for zone in ZONES:
        text = _child_text(zone, certs)
        parent.append(f"{zone.label} {TTL} IN NS ns.{PARENT}.")
        if zone.signed:
            text, dnskey = _sign(text, zone.name + ".")
            ds = dns.dnssec.make_ds(zone.name + ".", dnskey, "SHA256")
            parent.append(f"{zone.label} {TTL} IN DS {ds.to_text()}")
        (directory / f"{zone.name}.zone").write_text(text)
    signed, dnskey = _sign("\n".join(parent) + "\n", PARENT + ".")
    (directory / f"{PARENT}.zone").write_text(signed)
    return f"{PARENT}. IN DS {dns.dnssec.make_ds(PARENT + '.', dnskey, 'SHA256').to_text()}"


def knot_conf(root: Path) -> str:
    zones = "\n".join(f"  - domain: {name}\n    file: {name}.zone" for name in [PARENT, *(z.name for z in ZONES)])
    return f"""\
# mailtls domain lab: authoritative for {PARENT} and its children, pre-signed files served as they are.
server:
    listen: {AUTHORITATIVE}@53
    rundir: {root}/knot
    pidfile: {root}/knot/knot.pid
log:
  - target: {root}/knot/knot.log
    any: info
database:
    storage: {root}/knot/db
control:
    listen: {root}/knot/knot.sock
template:
  - id: default
    storage: {root}/zones
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
{zones}
"""


def unbound_conf(root: Path, trust_anchor: str) -> str:
    return f"""\
# mailtls domain lab: a validating resolver whose only trust anchor is the lab's parent zone.
server:
    interface: {RESOLVER}
    port: 53
    do-ip6: no
    do-tcp: yes
    username: ""
    chroot: ""
    directory: "{root}/unbound"
    pidfile: "{root}/unbound/unbound.pid"
    logfile: "{root}/unbound/unbound.log"
    use-syslog: no
    verbosity: 1
    val-log-level: 2
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    # Its upstream is on loopback, which Unbound refuses to query by default.
    do-not-query-localhost: no
    # "test." is one of Unbound's built-in empty zones (RFC 6761): let it through.
    local-zone: "test." nodefault
    qname-minimisation: no
    cache-max-ttl: 5
    cache-max-negative-ttl: 5
    trust-anchor: "{trust_anchor}"
    module-config: "validator iterator"
stub-zone:
    name: "{PARENT}."
    stub-addr: {AUTHORITATIVE}
# The root too, so that no query for any other name ever leaves loopback: the lab's
# authoritative server refuses it and the lookup fails here.
stub-zone:
    name: "."
    stub-addr: {AUTHORITATIVE}
remote-control:
    control-enable: no
"""
