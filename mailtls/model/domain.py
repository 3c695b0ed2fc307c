"""What a mail domain publishes about its transport security: MX, MTA-STS, TLS-RPT, DANE.

``DomainRecord`` is to a domain what ``HostRecord`` is to a host: the facts a
domain rule receives, gathered by ``mailtls.domain`` from DNS, the MTA-STS policy
server and the scan of each MX host. A part that could not be learned (a DNS time-out,
a policy server that does not answer) has its ``inconclusive`` reason set, and no rule
judges it: not seen is not absent.
"""

from __future__ import annotations

import enum

import attrs

from .records import Certificate


class Trust(str, enum.Enum):
    """How an MX certificate's issuer checked out against the trust store."""

    #: Issued and signed by a trusted CA, or itself one.
    TRUSTED = "trusted"
    #: Self-signed, or its signature does not verify.
    UNTRUSTED = "untrusted"
    #: Issued by a CA that is not in the store, probably through an intermediate nmap does not show.
    UNKNOWN = "unknown"


class StsMode(str, enum.Enum):
    """An MTA-STS policy's mode (RFC 8461 section 5)."""

    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"


@attrs.frozen
class TlsaRecord:
    """One TLSA record (RFC 6698): usage, selector, matching type, association data (hex)."""

    usage: int
    selector: int
    matching_type: int
    data: str

    def __str__(self) -> str:
        return f"{self.usage} {self.selector} {self.matching_type} {self.data}"


@attrs.frozen
class Dane:
    """The TLSA records at ``_25._tcp.<mx>`` and whether the resolver validated them."""

    records: tuple[TlsaRecord, ...] = ()
    #: The answer carried the AD bit from the caller's (validating) resolver.
    validated: bool = False
    #: Why the TLSA records could not be looked up; empty when the answer was read.
    inconclusive: str = ""


@attrs.frozen
class MxHost:
    """One mail exchanger of the domain, with what its port 25 showed."""

    name: str
    preference: int = 0
    addresses: tuple[str, ...] = ()
    #: No MX record: the domain's own address records (RFC 5321 section 5.1).
    implicit: bool = False
    #: The address scanned (the first one), and what nmap's ``ssl-cert`` saw on port 25.
    scanned: str | None = None
    certificate: Certificate | None = None
    #: How the certificate's issuer checked out against the trust store; None without a certificate.
    trust: Trust | None = None
    dane: Dane = Dane()
    #: Why this MX could not be assessed (its name did not resolve, the scan failed...).
    inconclusive: str = ""


@attrs.frozen
class StsPolicy:
    """An MTA-STS policy (RFC 8461 section 3.2) as fetched and parsed."""

    version: str = ""
    #: None when the policy names no mode, or one RFC 8461 does not know (see ``text``).
    mode: StsMode | None = None
    #: The mx patterns, e.g. ("mail.example.org", "*.example.net").
    mx: tuple[str, ...] = ()
    max_age: int | None = None
    #: The policy text as served (bounded in size).
    text: str = ""


@attrs.frozen
class MtaSts:
    """The ``_mta-sts`` TXT record and the policy it announces."""

    #: The one ``v=STSv1`` TXT record, None when there is none.
    record: str | None = None
    #: Its ``id`` field.
    id: str = ""
    policy: StsPolicy | None = None
    #: Why the domain's MTA-STS cannot be used, as a sender would see it (a policy that is
    #: invalid, a redirect, a certificate that does not verify, an HTTP error...).
    error: str = ""
    #: Why nothing can be said (DNS or the network failed on our side); empty when read.
    inconclusive: str = ""

    @property
    def usable(self) -> bool:
        return self.policy is not None and not self.error and not self.inconclusive


@attrs.frozen
class TlsRpt:
    """The ``_smtp._tls`` TXT record (RFC 8460) and its report destinations."""

    record: str | None = None
    #: The ``rua`` URIs (mailto: or https:).
    rua: tuple[str, ...] = ()
    #: What is wrong with the record, if anything.
    error: str = ""
    inconclusive: str = ""


@attrs.frozen
class DomainRecord:
    """A mail domain: what a domain rule receives."""

    domain: str
    mx: tuple[MxHost, ...] = ()
    #: The domain publishes a null MX (RFC 7505): it accepts no mail.
    null_mx: bool = False
    mta_sts: MtaSts = MtaSts()
    tls_rpt: TlsRpt = TlsRpt()
    #: Why the domain's mail hosts could not be found (the MX lookup failed); empty when read.
    inconclusive: str = ""

    def mx_host(self, name: str) -> MxHost | None:
        return next((m for m in self.mx if m.name == name), None)
