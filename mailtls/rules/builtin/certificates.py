"""The certificate a mail port presents, from nmap's ``ssl-cert`` ("Certificate problems").

Dates are judged against the time of the scan (``PortRecord.scanned_at``), so a
recorded scan gives the same findings whenever it is read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import Certificate, PortRecord
from ..registry import Observation, rule
from ._common import GREENBONE

GROUP = "Certificate problems"
EXPIRY_WARNING = dt.timedelta(days=30)
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224

_CONTEXT = (
    "Mail clients that check certificates will warn or refuse to connect, and users learn to "
    "click through warnings, which is exactly what a man-in-the-middle needs. Servers sending "
    "to port 25 mostly do not check certificates today, but those enforcing MTA-STS or DANE do."
)


def _when(port: PortRecord) -> dt.datetime:
    return port.scanned_at or dt.datetime.now(dt.timezone.utc)


@rule(
    id="MT301",
    title="Certificate expired or not yet valid",
    severity=Severity.MEDIUM,
    group=GROUP,
    cwe=298,
    references=("Nessus 15901", "Nessus 42980", f"{GREENBONE}103955", f"{GREENBONE}103956"),
    context=_CONTEXT,
    remediation="Install a current certificate and automate its renewal (e.g. ACME), then reload the server.",
)
def certificate_out_of_date(port: PortRecord) -> Iterator[Observation]:
    """At the time of the scan, the certificate's validity period had ended (or not yet begun)."""
    cert = port.certificate
    if cert is None:
        return
    now = _when(port)
    if cert.not_after is not None and cert.not_after < now:
        yield Observation(
            summary=f"certificate on port {port.number} expired on {cert.not_after:%Y-%m-%d}",
            evidence=(f"notAfter {cert.not_after.isoformat()}", f"scanned {now.isoformat()}"),
        )
    elif cert.not_before is not None and cert.not_before > now:
        yield Observation(
            summary=f"certificate on port {port.number} is not valid before {cert.not_before:%Y-%m-%d}",
            evidence=(f"notBefore {cert.not_before.isoformat()}", f"scanned {now.isoformat()}"),
        )


@rule(
    id="MT302",
    title="Self-signed certificate",
    severity=Severity.MEDIUM,
    group=GROUP,
    cwe=295,
    references=("Nessus 57582", "Nessus 51192"),
    context=_CONTEXT,
    remediation=(
        "Use a certificate issued by a public CA (or, for internal-only clients, by your own CA that they trust)."
    ),
)
def self_signed(port: PortRecord) -> Iterator[Observation]:
    """The certificate's issuer is its own subject: no authority vouches for it, so a client
    cannot tell it from one an attacker made."""
    cert = port.certificate
    if cert is not None and cert.self_issued:
        yield Observation(
            summary=f"certificate on port {port.number} is self-signed ({cert.common_name or 'no CN'})",
            evidence=(f"subject = issuer = {'/'.join(f'{a.key}={a.value}' for a in cert.subject)}",),
        )


@rule(
    id="MT303",
    title="Weak certificate key",
    severity=Severity.MEDIUM,
    group=GROUP,
    cwe=326,
    references=("Nessus 69551", f"{GREENBONE}150710"),
    context=_CONTEXT,
    remediation="Issue a new certificate with an RSA key of at least 2048 bits or an ECDSA P-256 (or larger) key.",
)
def weak_certificate_key(port: PortRecord) -> Iterator[Observation]:
    """The certificate's public key is too short: RSA or DSA below 2048 bits, or EC below 224."""
    cert = port.certificate
    if cert is None or cert.key_bits is None:
        return
    floor = MIN_EC_BITS if cert.key_type.lower() in ("ec", "ecdsa") else MIN_RSA_BITS
    if cert.key_type.lower() in ("rsa", "dsa", "ec", "ecdsa") and cert.key_bits < floor:
        yield Observation(
            summary=f"certificate on port {port.number} has a {cert.key_bits}-bit {cert.key_type.upper()} key",
            evidence=(f"minimum: {floor} bits",),
        )


_WEAK_HASH = re.compile(r"md2|md4|md5|sha1(?!\d)|sha-1", re.IGNORECASE)


@rule(
    id="MT304",
    title="Certificate signed with a weak hash",
    severity=Severity.MEDIUM,
    group=GROUP,
    cwe=327,
    references=("Nessus 35291", f"{GREENBONE}105880"),
    context=_CONTEXT,
    remediation="Reissue the certificate signed with SHA-256 or stronger.",
)
def weak_signature(port: PortRecord) -> Iterator[Observation]:
    """The certificate is signed with MD5 or SHA-1, for which practical collisions exist, so a
    forged certificate with the same signature can be made."""
    cert = port.certificate
    if cert is not None and _WEAK_HASH.search(cert.signature_algorithm):
        yield Observation(
            summary=f"certificate on port {port.number} is signed with {cert.signature_algorithm}",
        )


def names_of(cert: Certificate) -> list[str]:
    """The DNS names a certificate is for: its SAN DNS entries, or its CN when it has none (RFC 6125)."""
    dns = [name[4:].strip().lower() for name in cert.subject_alt_names if name.upper().startswith("DNS:")]
    if dns:
        return dns
    return [cert.common_name.lower()] if cert.common_name else []


def matches(pattern: str, hostname: str) -> bool:
    """RFC 6125 matching, with a wildcard allowed only as the whole left-most label."""
    pattern, hostname = pattern.rstrip("."), hostname.rstrip(".").lower()
    if pattern.startswith("*."):
        head, _, rest = hostname.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == hostname


@rule(
    id="MT305",
    title="Certificate does not match the host name",
    severity=Severity.MEDIUM,
    group=GROUP,
    cwe=297,
    references=("Nessus 45411", "Nessus 45410"),
    context=_CONTEXT + " Checked only when the scan was given a host name, not an address.",
    remediation=(
        "Issue a certificate whose Subject Alternative Names include the name clients use to reach this server."
    ),
)
def hostname_mismatch(port: PortRecord) -> Iterator[Observation]:
    """The scan was asked for a host name, and the certificate on this port is for other names:
    a client that checks (as it should) will refuse the connection or warn."""
    cert = port.certificate
    if cert is None or not port.hostname:
        return
    names = names_of(cert)
    if not any(matches(name, port.hostname) for name in names):
        yield Observation(
            summary=f"certificate on port {port.number} is not for {port.hostname}",
            evidence=(f"certificate names: {', '.join(names) or '(none)'}",),
        )


@rule(
    id="MT306",
    title="Certificate expires within 30 days",
    severity=Severity.LOW,
    group=GROUP,
    cwe=298,
    references=("Nessus 42981", f"{GREENBONE}103957"),
    context="Nothing is broken yet; this is the warning before MT301.",
    remediation="Renew the certificate now, and automate renewal so it does not come this close again.",
)
def expires_soon(port: PortRecord) -> Iterator[Observation]:
    """At the time of the scan, the certificate was valid but had fewer than 30 days left."""
    cert = port.certificate
    if cert is None or cert.not_after is None:
        return
    now = _when(port)
    if now <= cert.not_after < now + EXPIRY_WARNING:
        yield Observation(
            summary=f"certificate on port {port.number} expires on {cert.not_after:%Y-%m-%d}",
            evidence=(f"{(cert.not_after - now).days} days left at the time of the scan",),
        )
