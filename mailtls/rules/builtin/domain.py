"""A mail domain's transport security: MTA-STS, DANE and TLS-RPT (MT5xx).

These rules receive a ``DomainRecord`` (``mailtls.assess_domain``). A part of the
record that could not be read (``inconclusive``) is never judged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ...model.domain import DomainRecord, MxHost, StsMode, TlsaRecord, Trust
from ...model.findings import Severity
from ..declare import Observation, rule
from .certificates import matches, names_of

GROUP = "Mail domain transport security"

RFC8461 = "RFC 8461 (SMTP MTA Strict Transport Security)"
RFC7672 = "RFC 7672 (SMTP security via opportunistic DANE TLS)"
RFC8460 = "RFC 8460 (SMTP TLS Reporting)"


def _receives_mail(domain: DomainRecord) -> bool:
    return not domain.inconclusive and not domain.null_mx and bool(domain.mx)


def _judged(domain: DomainRecord) -> Iterator[MxHost]:
    """The MX hosts whose DNS and scan were read."""
    return (mx for mx in domain.mx if not mx.inconclusive)


def _policy_applies(domain: DomainRecord) -> bool:
    sts = domain.mta_sts
    return _receives_mail(domain) and sts.usable and sts.policy is not None and sts.policy.mode is not StsMode.NONE


@rule("MT501", "No MTA-STS and no DANE: STARTTLS to the MX hosts can be stripped", Severity.MEDIUM, cwe=757,
      references=(RFC8461, RFC7672, "Internet.nl mail test: DANE existence, MTA-STS"))
def no_mta_sts_no_dane(domain: DomainRecord) -> Iterator[Observation]:
    """The domain receives mail but publishes neither a usable MTA-STS policy nor DNSSEC-validated TLSA
    records for its MX hosts, so TLS to them is opportunistic only.

    Context:
        Servers that send mail to this domain use STARTTLS if the MX host offers it, but nothing
        tells them they must: an attacker on the path who removes STARTTLS from the EHLO reply (or
        presents any certificate) gets the mail in plaintext, and the sending server carries on.
        MTA-STS (a policy over HTTPS) and DANE (TLSA records under DNSSEC) are the two ways a domain
        tells senders to insist on authenticated TLS. Large mail providers honour one or both.

    Fix:
        Publish an MTA-STS policy (an _mta-sts TXT record and
        https://mta-sts.<domain>/.well-known/mta-sts.txt listing every MX, first in mode testing,
        then enforce), and, if the zone is signed with DNSSEC, TLSA records at _25._tcp.<mx> (3 1 1,
        the digest of each MX's public key). Add TLS-RPT to hear about failures before switching to
        enforce.
    """
    if not _receives_mail(domain) or domain.mta_sts.inconclusive or domain.mta_sts.usable:
        return
    if any(mx.dane.records and mx.dane.validated for mx in domain.mx):
        return
    if any(mx.dane.inconclusive for mx in domain.mx):
        return  # DANE may be there: not seen is not absent
    evidence = [f"_mta-sts: {domain.mta_sts.record or 'no record'}"]
    if domain.mta_sts.error:
        evidence.append(f"MTA-STS unusable: {domain.mta_sts.error}")
    for mx in domain.mx:
        state = "none" if not mx.dane.records else "not validated by DNSSEC"
        evidence.append(f"TLSA _25._tcp.{mx.name}: {state}")
    yield Observation(
        summary=f"{domain.domain} has no usable MTA-STS policy and no validated DANE TLSA records",
        evidence=evidence,
    )


@rule("MT502", "MTA-STS policy in testing or none mode", Severity.LOW, cwe=757, references=(RFC8461 + " section 5",))
def mta_sts_not_enforced(domain: DomainRecord) -> Iterator[Observation]:
    """The domain's MTA-STS policy is valid but does not ask senders to enforce it.

    Context:
        In mode testing, senders that honour MTA-STS still deliver when TLS to the MX fails or the
        certificate is wrong; they only report it (through TLS-RPT). That is the right first step,
        but it protects nothing against an active attacker. Mode none withdraws the policy.

    Fix:
        Once TLS-RPT reports show no failures for a few weeks, change the policy to 'mode: enforce'
        and give the _mta-sts TXT record a new id so senders fetch it again.
    """
    sts = domain.mta_sts
    if not (_receives_mail(domain) and sts.usable and sts.policy is not None):
        return
    mode = sts.policy.mode
    if mode is StsMode.TESTING or mode is StsMode.NONE:
        yield Observation(
            summary=f"the MTA-STS policy of {domain.domain} is in mode {mode.value}, not enforce",
            evidence=(f"policy: {' | '.join(sts.policy.text.strip().splitlines())}",),
        )


@rule("MT503", "MTA-STS announced but the policy is invalid or cannot be fetched", Severity.MEDIUM, cwe=757,
      references=(RFC8461 + " sections 3.1-3.3",))
def mta_sts_unusable(domain: DomainRecord) -> Iterator[Observation]:
    """The domain publishes an ``_mta-sts`` TXT record, but its record or policy is not usable by a
    sending server as RFC 8461 describes.

    Context:
        The domain says it has an MTA-STS policy, but a sending server cannot use it: a redirect, an
        HTTP error, a certificate that does not verify for mta-sts.<domain>, or a policy that breaks
        RFC 8461's syntax all make senders treat the domain as having no policy at all. Failures
        mailtls could not tell apart from its own network trouble (time-outs, refused connections)
        are reported as inconclusive instead.

    Fix:
        Serve the policy at exactly https://mta-sts.<domain>/.well-known/mta-sts.txt, as text/plain,
        with HTTP 200 and no redirect, under a certificate valid for mta-sts.<domain>; check it has
        version, mode, max_age and one mx line per MX.
    """
    sts = domain.mta_sts
    if _receives_mail(domain) and sts.record is not None and sts.error:
        yield Observation(
            summary=f"the MTA-STS policy of {domain.domain} cannot be used: {sts.error}",
            evidence=(f"_mta-sts TXT: {sts.record}",),
        )


@rule("MT504", "MX host not covered by the MTA-STS policy", Severity.MEDIUM, cwe=693,
      references=(RFC8461 + " section 4.1",))
def mx_not_in_policy(domain: DomainRecord) -> Iterator[Observation]:
    """An MX host's name matches none of the mx patterns of the domain's MTA-STS policy.

    Context:
        A sender that applies the policy delivers only to MX hosts matching one of its mx patterns.
        Under enforce, mail routed to this MX is refused by those senders (it queues, then bounces);
        under testing it is reported as a failure. Often the policy was not updated when an MX was
        added.

    Fix:
        Add an mx line for this host (or a *.<parent> pattern that covers it), and change the policy
        id.
    """
    if not _policy_applies(domain):
        return
    patterns = domain.mta_sts.policy.mx  # type: ignore[union-attr]
    for mx in domain.mx:
        if not any(matches(p.lower(), mx.name) for p in patterns):
            yield Observation(
                summary=f"MX {mx.name} matches no mx pattern of the MTA-STS policy",
                evidence=(f"policy mx: {', '.join(patterns)}",),
                mx=mx.name,
            )


@rule("MT505", "MX certificate not valid for its name under MTA-STS", Severity.MEDIUM, cwe=297,
      references=(RFC8461 + " section 4.2", "Nessus 45411"))
def mx_certificate_invalid(domain: DomainRecord) -> Iterator[Observation]:
    """The domain has an MTA-STS policy (testing or enforce), and an MX host's port 25 shows a
    certificate that is not for the MX name, or not from a trusted CA, or no TLS at all.

    Context:
        MTA-STS asks senders to check the MX certificate like a browser does: issued by a trusted CA
        and valid for the MX host name. A self-signed certificate, or one for other names, is fine
        for opportunistic STARTTLS but fails under the policy. The issuer is checked one step deep
        (nmap shows only the server's own certificate): a certificate from an intermediate CA that
        is not in the trust store is not flagged.

    Fix:
        Install a certificate from a public CA (e.g. ACME) whose Subject Alternative Names include
        the MX host name, with its intermediate chain, and reload the MTA.
    """
    if not _policy_applies(domain):
        return
    for mx in _judged(domain):
        cert = mx.certificate
        if cert is None:
            yield Observation(summary=f"MX {mx.name} shows no TLS certificate on port 25", mx=mx.name)
            continue
        names = names_of(cert)
        problems = []
        if not any(matches(n, mx.name) for n in names):
            problems.append(f"not for {mx.name} (names: {', '.join(names) or 'none'})")
        if mx.trust is Trust.UNTRUSTED:
            problems.append("not issued by a trusted CA (self-signed, or its signature does not verify)")
        if problems:
            issuer = ", ".join(f"{a.key}={a.value}" for a in cert.issuer)
            trust = mx.trust.value if mx.trust is not None else "not done"
            yield Observation(
                summary=f"the certificate of MX {mx.name} is {' and '.join(problems)}",
                evidence=(f"issuer: {issuer or '?'}", f"trust store check: {trust}"),
                mx=mx.name,
            )


@rule("MT506", "TLSA records not validated by DNSSEC", Severity.LOW, cwe=345,
      references=(RFC7672 + " section 2.2", "RFC 6698"))
def tlsa_not_validated(domain: DomainRecord) -> Iterator[Observation]:
    """TLSA records exist for an MX host, but the validating resolver did not mark them authenticated
    (no AD bit).

    Context:
        DANE only works when the TLSA records are authenticated by DNSSEC: sending servers ignore
        TLSA records from an unsigned (or insecurely delegated) zone, so these records protect
        nothing. The check relies on the AD bit of the caller's resolver, which must validate DNSSEC
        (a non-validating resolver makes every zone look unsigned).

    Fix:
        Sign the zone that holds _25._tcp.<mx> with DNSSEC and publish its DS record in the parent
        zone; or remove the TLSA records and rely on MTA-STS.
    """
    for mx in _judged(domain):
        if mx.dane.records and not mx.dane.validated and not mx.dane.inconclusive:
            yield Observation(
                summary=f"TLSA records for MX {mx.name} are not DNSSEC-validated",
                evidence=tuple(f"_25._tcp.{mx.name} TLSA {r}" for r in mx.dane.records),
                mx=mx.name,
            )


def _digest(record: TlsaRecord, cert: x509.Certificate) -> str | None:
    if record.selector == 0:
        data = cert.public_bytes(serialization.Encoding.DER)
    elif record.selector == 1:
        data = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        return None
    if record.matching_type == 0:
        return data.hex()
    if record.matching_type == 1:
        return hashlib.sha256(data).hexdigest()
    if record.matching_type == 2:
        return hashlib.sha512(data).hexdigest()
    return None


#: RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP; DANE-TA(2) and DANE-EE(3) count.
_USABLE = frozenset({2, 3})


@rule("MT507", "No TLSA record matches the MX certificate", Severity.HIGH, cwe=693,
      references=(RFC7672 + " sections 2.2, 3.1", "RFC 7671 (DANE operational guidance)"))
def tlsa_mismatch(domain: DomainRecord) -> Iterator[Observation]:
    """An MX host has DNSSEC-validated TLSA records, and none that RFC 7672 lets a sender use matches
    the certificate (or its public key) that nmap saw on port 25.

    Context:
        The TLSA records are DNSSEC-validated, so DANE-aware senders (Postfix and Exim with DANE,
        several large providers) will insist that the certificate match one of them. None of the
        DANE-EE records matches the certificate port 25 shows: those senders defer mail to this MX
        until it does, and eventually bounce it. The usual cause is a certificate renewed with a new
        key without publishing its TLSA record first. DANE-TA records cannot be checked from the
        server certificate alone and are not flagged.

    Fix:
        Publish a TLSA record for the key now in use (3 1 1 <sha256 of the SubjectPublicKeyInfo>)
        beside the old one, wait two TTLs, then remove the stale record; in future publish the next
        key's record before rolling over.
    """
    for mx in _judged(domain):
        dane = mx.dane
        if not dane.records or not dane.validated or dane.inconclusive:
            continue
        listed = tuple(f"_25._tcp.{mx.name} TLSA {r}" for r in dane.records)
        usable = [r for r in dane.records if r.usage in _USABLE]
        if not usable:
            yield Observation(
                summary=f"MX {mx.name} has only TLSA records that SMTP cannot use (PKIX-TA/PKIX-EE)",
                evidence=listed,
                mx=mx.name,
            )
            continue
        if mx.certificate is None or not mx.certificate.pem:
            if mx.certificate is None:
                yield Observation(
                    summary=f"MX {mx.name} has TLSA records but shows no certificate on port 25",
                    evidence=listed,
                    mx=mx.name,
                )
            continue  # a certificate without its PEM (recorded XML): nothing to compare
        cert = x509.load_pem_x509_certificate(mx.certificate.pem.encode())
        if any(r.usage == 3 and _digest(r, cert) == r.data.lower() for r in usable):
            continue
        if any(r.usage == 2 for r in usable):
            continue  # DANE-TA: needs the chain, which nmap does not show
        spki = _digest(TlsaRecord(3, 1, 1, ""), cert)
        yield Observation(
            summary=f"no TLSA record of MX {mx.name} matches the certificate it serves",
            evidence=(*listed, f"served key (3 1 1): {spki}"),
            mx=mx.name,
        )


@rule("MT508", "No usable TLS-RPT record", Severity.LOW, cwe=778, references=(RFC8460,))
def no_tls_rpt(domain: DomainRecord) -> Iterator[Observation]:
    """The domain receives mail but has no ``_smtp._tls`` TXT record, or one without a valid ``rua``
    destination.

    Context:
        Without TLS reporting the domain does not learn when senders fail to reach its MX hosts over
        TLS: a broken certificate, a stale TLSA record or an attacker stripping STARTTLS goes
        unnoticed. TLS-RPT costs one TXT record.

    Fix:
        Publish a TXT record at _smtp._tls.<domain>: "v=TLSRPTv1; rua=mailto:tls-reports@<domain>"
        (or an https: endpoint), and have someone read the daily reports.
    """
    rpt = domain.tls_rpt
    if not _receives_mail(domain) or rpt.inconclusive or (rpt.record and not rpt.error):
        return
    yield Observation(
        summary=f"{domain.domain} has no usable TLS-RPT record"
        + (f": {rpt.error}" if rpt.error else " (no v=TLSRPTv1 TXT at _smtp._tls)"),
        evidence=(f"_smtp._tls TXT: {rpt.record or 'none'}",),
    )


@rule("MT509", "Domain accepts no mail (null MX)", Severity.INFO,
      references=("RFC 7505 (A \"Null MX\" No Service Resource Record)",))
def null_mx(domain: DomainRecord) -> Iterator[Observation]:
    """The domain's only MX record is the null MX (``0 .``, RFC 7505).

    Context:
        The domain publishes a null MX: it declares that it receives no mail, so senders bounce mail
        to it at once. There is no mail transport to secure; check it is meant.

    Fix:
        Nothing, if the domain is not meant to receive mail.
    """
    if domain.null_mx and not domain.inconclusive:
        yield Observation(summary=f"{domain.domain} publishes a null MX: it accepts no mail", evidence=("MX 0 .",))
