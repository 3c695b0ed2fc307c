"""The certificate a mail port presents, from nmap's ``ssl-cert`` ("Certificate problems").

Dates are judged against the time of the scan (``PortRecord.scanned_at``), so a
recorded scan gives the same findings whenever it is read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import Certificate, Facet, PortRecord
from ..declare import Observation, rule
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


@rule("MT301", "Certificate expired or not yet valid", Severity.MEDIUM, needs=[Facet.CERTIFICATE], cwe=298,
      references=("Nessus 15901", "Nessus 42980", f"{GREENBONE}103955", f"{GREENBONE}103956"), context=_CONTEXT)
def certificate_out_of_date(port: PortRecord, certificate: Certificate) -> Iterator[Observation]:
    """At the time of the scan, the certificate's validity period had ended (or not yet begun).

    Fix:
        Install a current certificate and automate its renewal (e.g. ACME), then reload the server.
    """
    now, start, end = _when(port), certificate.not_before, certificate.not_after
    if end is not None and end < now:
        yield Observation(
            summary=f"certificate on port {port.number} expired on {end:%Y-%m-%d}",
            evidence=(f"notAfter {end.isoformat()}", f"scanned {now.isoformat()}"),
        )
    elif start is not None and start > now:
        yield Observation(
            summary=f"certificate on port {port.number} is not valid before {start:%Y-%m-%d}",
            evidence=(f"notBefore {start.isoformat()}", f"scanned {now.isoformat()}"),
        )


@rule("MT302", "Self-signed certificate", Severity.MEDIUM, needs=[Facet.CERTIFICATE], cwe=295,
      references=("Nessus 57582", "Nessus 51192"), context=_CONTEXT)
def self_signed(port: PortRecord, certificate: Certificate) -> Iterator[Observation]:
    """The certificate's issuer is its own subject: no authority vouches for it, so a client cannot
    tell it from one an attacker made.

    Fix:
        Use a certificate issued by a public CA (or, for internal-only clients, by your own CA that
        they trust).
    """
    if certificate.self_issued:
        yield Observation(
            summary=f"certificate on port {port.number} is self-signed ({certificate.common_name or 'no CN'})",
            evidence=(f"subject = issuer = {'/'.join(f'{a.key}={a.value}' for a in certificate.subject)}",),
        )


@rule("MT303", "Weak certificate key", Severity.MEDIUM, needs=[Facet.CERTIFICATE], cwe=326,
      references=("Nessus 69551", f"{GREENBONE}150710"), context=_CONTEXT)
def weak_certificate_key(port: PortRecord, certificate: Certificate) -> Iterator[Observation]:
    """The certificate's public key is too short: RSA or DSA below 2048 bits, or EC below 224.

    Fix:
        Issue a new certificate with an RSA key of at least 2048 bits or an ECDSA P-256 (or larger)
        key.
    """
    bits, kind = certificate.key_bits, certificate.key_type
    floor = MIN_EC_BITS if kind.lower() in ("ec", "ecdsa") else MIN_RSA_BITS
    if bits is not None and kind.lower() in ("rsa", "dsa", "ec", "ecdsa") and bits < floor:
        yield Observation(
            summary=f"certificate on port {port.number} has a {bits}-bit {kind.upper()} key",
            evidence=(f"minimum: {floor} bits",),
        )


_WEAK_HASH = re.compile(r"md2|md4|md5|sha1(?!\d)|sha-1", re.IGNORECASE)


@rule("MT304", "Certificate signed with a weak hash", Severity.MEDIUM, needs=[Facet.CERTIFICATE], cwe=327,
      references=("Nessus 35291", f"{GREENBONE}105880"), context=_CONTEXT)
def weak_signature(port: PortRecord, certificate: Certificate) -> Iterator[Observation]:
    """The certificate is signed with MD5 or SHA-1, for which practical collisions exist, so a forged
    certificate with the same signature can be made.

    Fix:
        Reissue the certificate signed with SHA-256 or stronger.
    """
    if _WEAK_HASH.search(certificate.signature_algorithm):
        yield Observation(
            summary=f"certificate on port {port.number} is signed with {certificate.signature_algorithm}",
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


@rule("MT305", "Certificate does not match the host name", Severity.MEDIUM, needs=[Facet.CERTIFICATE], cwe=297,
      references=("Nessus 45411", "Nessus 45410"),
      context=_CONTEXT + " Checked only when the scan was given a host name, not an address.")
def hostname_mismatch(port: PortRecord, certificate: Certificate) -> Iterator[Observation]:
    """The scan was asked for a host name, and the certificate on this port is for other names: a
    client that checks (as it should) will refuse the connection or warn.

    Fix:
        Issue a certificate whose Subject Alternative Names include the name clients use to reach
        this server.
    """
    if not port.hostname:
        return
    names = names_of(certificate)
    if not any(matches(name, port.hostname) for name in names):
        yield Observation(
            summary=f"certificate on port {port.number} is not for {port.hostname}",
            evidence=(f"certificate names: {', '.join(names) or '(none)'}",),
        )


@rule("MT306", "Certificate expires within 30 days", Severity.LOW, needs=[Facet.CERTIFICATE], cwe=298,
      references=("Nessus 42981", f"{GREENBONE}103957"))
def expires_soon(port: PortRecord, certificate: Certificate) -> Iterator[Observation]:
    """At the time of the scan, the certificate was valid but had fewer than 30 days left.

    Context:
        Nothing is broken yet; this is the warning before MT301.

    Fix:
        Renew the certificate now, and automate renewal so it does not come this close again.
    """
    now, end = _when(port), certificate.not_after
    if end is not None and now <= end < now + EXPIRY_WARNING:
        yield Observation(
            summary=f"certificate on port {port.number} expires on {end:%Y-%m-%d}",
            evidence=(f"{(end - now).days} days left at the time of the scan",),
        )
