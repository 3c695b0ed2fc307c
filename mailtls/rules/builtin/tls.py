"""The quality of the TLS a mail port offers, from nmap's ``ssl-enum-ciphers`` ("Weak TLS")."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import Facet, PortRecord, TlsProfile
from ..declare import Observation, rule
from ._common import GREENBONE

GROUP = "Weak TLS"

LEGACY_VERSIONS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")
WEAK_GRADES = ("C", "D", "E", "F")
MIN_DH_BITS = 2048
MIN_EC_BITS = 224

_CONTEXT = (
    "A mail client or server negotiates the best TLS both sides support, so a weak option only "
    "hurts when one side is old or an attacker can force a downgrade; but mail clients, "
    "appliances and other MTAs are often old, and opportunistic STARTTLS on port 25 is easy to "
    "downgrade. Keep weak options only while you know which peer needs them, and plan its end."
)


@rule("MT201", "Legacy SSL/TLS version accepted", Severity.MEDIUM, needs=[Facet.TLS], cwe=327,
      references=("Nessus 20007", "Nessus 104743", "Nessus 157288", f"{GREENBONE}111012", f"{GREENBONE}117274"),
      context=_CONTEXT)
def legacy_protocol(port: PortRecord, tls: TlsProfile) -> Iterator[Observation]:
    """The server completes handshakes with SSLv2, SSLv3, TLS 1.0 or TLS 1.1. All four are deprecated
    (RFC 6176, RFC 7568, RFC 8996) and have known attacks. nmap's letter grade does not mark these
    versions down, so this rule reads the protocol tables themselves.

    Fix:
        Accept TLS 1.2 and 1.3 only (Dovecot: ssl_min_protocol = TLSv1.2; Postfix:
        smtpd_tls_protocols = >=TLSv1.2 and smtpd_tls_mandatory_protocols = >=TLSv1.2).
    """
    legacy = [v.name for v in tls.versions if v.name in LEGACY_VERSIONS]
    if legacy:
        yield Observation(
            summary=f"port {port.number} accepts {', '.join(legacy)}",
            evidence=(f"versions offered: {', '.join(tls.version_names)}",),
        )


@rule("MT202", "Weak cipher suites (nmap grade C or worse)", Severity.MEDIUM, needs=[Facet.TLS], cwe=326,
      references=("Nessus 42873", "Nessus 26928", "Nessus 65821", f"{GREENBONE}103440", f"{GREENBONE}902816"),
      context=_CONTEXT)
def weak_cipher_grade(port: PortRecord, tls: TlsProfile) -> Iterator[Observation]:
    """nmap grades the weakest cipher suite the server accepts as C or worse: a 64-bit block cipher,
    RC4, a short key exchange or a broken certificate signature is on offer.

    Fix:
        Offer only AEAD suites with forward secrecy (ECDHE or DHE with AES-GCM or ChaCha20-Poly1305)
        and remove 3DES, RC4, CBC-SHA1 and plain-RSA key exchange where clients allow.
    """
    if tls.least_strength not in WEAK_GRADES:
        return
    weak = sorted({c.name for v in tls.versions for c in v.ciphers if c.strength in WEAK_GRADES})
    warnings = sorted({w for v in tls.versions for w in v.warnings})
    yield Observation(
        summary=f"port {port.number}: weakest accepted suite is graded {tls.least_strength}",
        evidence=tuple([*(f"suite: {n}" for n in weak[:10]), *(f"nmap: {w}" for w in warnings)]),
    )


_UNSAFE = re.compile(r"_anon_|_NULL_|WITH_NULL|EXPORT", re.IGNORECASE)


@rule("MT203", "Anonymous, NULL or export cipher suites accepted", Severity.HIGH, needs=[Facet.TLS], cwe=327,
      references=("Nessus 31705", "Nessus 66848", "Nessus 81606", "Nessus 83738", f"{GREENBONE}108147",
                  f"{GREENBONE}108022", f"{GREENBONE}805142", f"{GREENBONE}805188"))
def unsafe_suites(port: PortRecord, tls: TlsProfile) -> Iterator[Observation]:
    """The server accepts cipher suites without authentication (anon), without encryption (NULL) or
    with export-grade keys.

    Context:
        These suites are broken by design: anonymous ones authenticate nobody, so any
        man-in-the-middle is accepted; NULL ones encrypt nothing; export ones use keys short enough
        to break in hours. A client that ends up with one gets no real protection.

    Fix:
        Remove aNULL, eNULL and EXPORT suites from the server's cipher list (e.g. append
        :!aNULL:!eNULL:!EXPORT).
    """
    unsafe = sorted({f"{v.name} {c.name}" for v in tls.versions for c in v.ciphers if _UNSAFE.search(c.name)})
    if unsafe:
        yield Observation(
            summary=f"port {port.number} accepts {len(unsafe)} anonymous/NULL/export suite(s)",
            evidence=tuple(unsafe[:10]),
        )


# Named curves nmap prints, with their size in bits where the name does not say it plainly.
_CURVE_BITS = {"x25519": 253, "x448": 448}


@functools.lru_cache(maxsize=1024)
def kex_bits(kex_info: str) -> tuple[str, int] | None:
    """("dh", 1024) from "dh 1024", ("ec", 192) from "secp192r1" or "ecdh 192"; None for RSA or unknown."""
    text = kex_info.strip().lower()
    if not text or text.startswith("rsa"):
        return None
    parts = text.split()
    if len(parts) == 2 and parts[1].isdigit():
        kind = "dh" if parts[0] == "dh" else "ec"
        return kind, int(parts[1])
    if text in _CURVE_BITS:
        return "ec", _CURVE_BITS[text]
    digits = re.search(r"(\d{3})", text)
    return ("ec", int(digits.group(1))) if digits else None


@rule("MT204", "Weak key exchange", Severity.MEDIUM, needs=[Facet.TLS], cwe=326,
      references=("Nessus 83875", f"{GREENBONE}106223"), context=_CONTEXT)
def weak_key_exchange(port: PortRecord, tls: TlsProfile) -> Iterator[Observation]:
    """The server's ephemeral key exchange uses a Diffie-Hellman group below 2048 bits or an elliptic
    curve below 224 bits, within reach of a well-funded attacker (Logjam).

    Fix:
        Use Diffie-Hellman groups of at least 2048 bits (or drop DHE for ECDHE) and curves of at
        least 224 bits (X25519, P-256 or better).
    """
    weak = set()
    for version in tls.versions:
        for cipher in version.ciphers:
            parsed = kex_bits(cipher.kex_info)
            if parsed and parsed[1] < (MIN_DH_BITS if parsed[0] == "dh" else MIN_EC_BITS):
                weak.add(cipher.kex_info)
    if weak:
        yield Observation(
            summary=f"port {port.number} uses weak key exchange: {', '.join(sorted(weak))}",
            evidence=tuple(sorted(weak)),
        )
