"""The domain lab's mail domains: what each publishes, and what mailtls must report for it.

Every domain is a zone of its own under the signed parent ``mailtls.test.`` (the trust
anchor Unbound is given), served by the lab's authoritative server on 127.53.0.1.
Signed child zones have a DS record in the parent; the unsigned one is an insecure
delegation (an NSEC proof that no DS exists), exactly as on the internet.

Addresses (all in 127.53.0.0/16): 127.53.0.1 authoritative DNS, 127.53.0.2 validating
resolver, 127.53.0.10 the MTA-STS policy server (443), 127.53.0.99 nothing at all,
127.53.N.M the MX hosts (Postfix on 25), 127.53.9.1 the injectable STARTTLS server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PARENT = "mailtls.test"
AUTHORITATIVE = "127.53.0.1"
RESOLVER = "127.53.0.2"
POLICY_SERVER = "127.53.0.10"
#: Nothing listens here: a policy host that refuses connections.
NOWHERE = "127.53.0.99"
INJECTABLE = "127.53.9.1"
TTL = 60


@dataclass(frozen=True)
class Mx:
    #: Label under the zone ("mx1"), or "@" for the zone's own name (implicit MX).
    label: str
    address: str
    #: "good": issued by the lab CA for this name; "wrongname": lab CA, other names.
    cert: str = "good"
    #: "match": a 3 1 1 TLSA record of the served key; "mismatch": a digest of another key.
    tlsa: str | None = None
    preference: int = 10


@dataclass(frozen=True)
class Policy:
    mode: str
    #: mx: lines of the policy, relative names get the zone appended.
    mx: tuple[str, ...]
    max_age: int = 86400
    #: "ok": served as RFC 8461 says; "redirect": a 302 elsewhere; "nowhere": the policy
    #: host's address answers nothing (connection refused: inconclusive, not a finding).
    serve: str = "ok"


@dataclass(frozen=True)
class MailZone:
    label: str
    description: str
    mx: tuple[Mx, ...] = ()
    signed: bool = True
    null_mx: bool = False
    policy: Policy | None = None
    tls_rpt: bool = False
    #: (rule id, subject): subject is the MX name for MX findings, else the domain.
    expected: frozenset[tuple[str, str]] = field(default=frozenset())
    #: Why some MT5xx rules could not judge the domain (a problem is expected).
    inconclusive: bool = False

    @property
    def name(self) -> str:
        return f"{self.label}.{PARENT}"

    def mx_name(self, mx: Mx) -> str:
        return self.name if mx.label == "@" else f"{mx.label}.{self.name}"


def _z(label: str, description: str, expected: list[tuple[str, str]] = (), **kwargs) -> MailZone:
    zone = MailZone(label, description, **kwargs)
    full = {(rule, subject.replace("{d}", zone.name)) for rule, subject in expected}
    return MailZone(label, description, expected=frozenset(full), **kwargs)


ZONES: tuple[MailZone, ...] = (
    _z(
        "enforce",
        "Signed; MTA-STS enforce covering its MX by a wildcard, TLS-RPT, a matching DANE-EE TLSA record.",
        mx=(Mx("mx1", "127.53.1.1", tlsa="match"),),
        policy=Policy("enforce", ("*.enforce.mailtls.test",)),
        tls_rpt=True,
    ),
    _z(
        "testing",
        "Signed; MTA-STS in testing mode whose mx pattern misses mx2, and mx2's certificate is not for its name.",
        mx=(Mx("mx1", "127.53.2.1"), Mx("mx2", "127.53.2.2", cert="wrongname", preference=20)),
        policy=Policy("testing", ("mx1.testing.mailtls.test",)),
        tls_rpt=True,
        expected=[("MT502", "{d}"), ("MT504", "mx2.{d}"), ("MT505", "mx2.{d}")],
    ),
    _z(
        "mismatch",
        "Signed; a TLSA record that matches no key the MX serves; TLS-RPT; no MTA-STS.",
        mx=(Mx("mx1", "127.53.3.1", tlsa="mismatch"),),
        tls_rpt=True,
        expected=[("MT507", "mx1.{d}")],
    ),
    _z(
        "unsigned",
        "Unsigned (insecure delegation) with a TLSA record that would match: DANE cannot be used.",
        mx=(Mx("mx1", "127.53.4.1", tlsa="match"),),
        signed=False,
        expected=[("MT501", "{d}"), ("MT506", "mx1.{d}"), ("MT508", "{d}")],
    ),
    _z(
        "nopolicy",
        "Signed; an MX and nothing else: no MTA-STS, no TLS-RPT, no TLSA.",
        mx=(Mx("mx1", "127.53.5.1"),),
        expected=[("MT501", "{d}"), ("MT508", "{d}")],
    ),
    _z(
        "nullmx",
        "Signed; a null MX (RFC 7505): the domain accepts no mail.",
        null_mx=True,
        expected=[("MT509", "{d}")],
    ),
    _z(
        "badpolicy",
        "Signed; an _mta-sts record, but the policy URL answers with a redirect (RFC 8461 forbids following it).",
        mx=(Mx("mx1", "127.53.6.1"),),
        policy=Policy("enforce", ("mx1.badpolicy.mailtls.test",), serve="redirect"),
        tls_rpt=True,
        expected=[("MT501", "{d}"), ("MT503", "{d}")],
    ),
    _z(
        "unreachable",
        "Signed; an _mta-sts record, but the policy host refuses connections: inconclusive, not a finding.",
        mx=(Mx("mx1", "127.53.7.1"),),
        policy=Policy("enforce", ("mx1.unreachable.mailtls.test",), serve="nowhere"),
        tls_rpt=True,
        inconclusive=True,
    ),
    _z(
        "nomx",
        "Signed; no MX record, so mail goes to the domain's own address (RFC 5321 implicit MX), with TLSA and TLS-RPT.",
        mx=(Mx("@", "127.53.8.1", tlsa="match"),),
        tls_rpt=True,
    ),
)


def zone_by_label(label: str) -> MailZone:
    return next(z for z in ZONES if z.label == label)


def mx_listeners() -> list[tuple[str, str, str]]:
    """(MX name, address, certificate kind) of every MX host the lab must serve."""
    return [(z.mx_name(m), m.address, m.cert) for z in ZONES for m in z.mx]


def policy_names() -> list[str]:
    return [f"mta-sts.{z.name}" for z in ZONES if z.policy]
