"""The lab's hosts: one loopback address per mail-server configuration.

Each host is one Dovecot instance (POP3/IMAP) and/or some listeners of the lab's single
Postfix instance (SMTP). What a host serves is derived from its server settings, so
``LabHost.ports`` cannot drift away from what is really started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Tls:
    """A TLS set-up shared by Dovecot and Postfix: which certificate, protocols, ciphers."""

    #: A certs.PROFILES name; or "missing": files that do not exist (Postfix then disables
    #: TLS but still offers STARTTLS; Dovecot would refuse to start); or "mismatch": the
    #: good certificate with another key (Dovecot starts, and fails each STARTTLS).
    cert: str
    min_protocol: str = "TLSv1.2"
    #: OpenSSL cipher list for TLS <= 1.2 (TLS 1.3 suites stay OpenSSL's defaults);
    #: None keeps the server's own default list (the broken host's).
    ciphers: str | None = None


#: A valid certificate and OpenSSL's HIGH suites. Not the servers' stock lists: Postfix's
#: stock list offers anonymous suites with opportunistic TLS, which nmap grades F, and
#: this host's only defect should be login before TLS.
GOOD = Tls("good", ciphers="HIGH:!aNULL:!MD5")
#: TLS 1.2+ with forward-secret AEAD suites only: what nmap grades A.
STRONG = Tls("good", ciphers="ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL")
#: OpenSSL 3.0 allows TLS 1.0/1.1 and a 1024-bit key only at security level 0, so the
#: weak host has to ask for it in the cipher list; "ALL" then brings RSA key exchange and
#: CBC-SHA1 suites too (OpenSSL 3.0 has no 3DES/RC4 left, even at level 0).
#: (!aNULL: anonymous suites would be one more defect, and nmap then caps every grade at F.)
WEAK = Tls("weak", min_protocol="TLSv1", ciphers="ALL:!aNULL:@SECLEVEL=0")
#: The weak set plus anonymous (aNULL) suites: the weak host's port 25 only, for MT203.
WEAK_ANON = Tls("weak", min_protocol="TLSv1", ciphers="ALL:@SECLEVEL=0")
#: Strong TLS with the certificate that expires in 10 days and is not for "localhost".
EXPIRING = Tls("expiring", ciphers="ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL")


@dataclass(frozen=True)
class Dovecot:
    """One Dovecot instance. ``ssl``: Dovecot's ssl setting (no / yes / required).

    ``plaintext_auth`` is the inverse of Dovecot's ``disable_plaintext_auth``: True lets
    USER/PASS, LOGIN and AUTH PLAIN work before STARTTLS. Port 0 means "not served".
    """

    ssl: str = "no"
    tls: Tls | None = None
    plaintext_auth: bool = True
    imap: int = 143
    pop3: int = 110
    imaps: int = 0
    pop3s: int = 0
    #: ``process_limit`` / ``client_limit`` of the imap-login and pop3-login services;
    #: 0 keeps Dovecot's defaults (100 login processes, one client each).
    login_process_limit: int = 0
    login_client_limit: int = 0

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(p for p in (self.imap, self.pop3, self.imaps, self.pop3s) if p)


@dataclass(frozen=True)
class Smtpd:
    """One Postfix smtpd listener (a master.cf line with ``-o`` overrides).

    ``level`` is smtpd_tls_security_level ("" = no TLS, "may" = STARTTLS offered,
    "encrypt" = STARTTLS required); ``wrapper`` is implicit TLS (smtps, port 465).
    ``sasl`` offers AUTH through the same host's Dovecot auth socket; ``auth_only``
    is smtpd_tls_auth_only (AUTH only after STARTTLS).
    """

    port: int
    tls: Tls | None = None
    level: str = ""
    wrapper: bool = False
    sasl: bool = False
    auth_only: bool = False
    vrfy: bool = True
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    #: Every TCP port the host serves, in ascending order.
    ports: tuple[int, ...]
    #: One sentence: what the host is configured as.
    description: str
    dovecot: Dovecot | None = field(default=None, repr=False)
    smtpd: tuple[Smtpd, ...] = field(default=(), repr=False)
    #: The host name to scan it by, when the test is about names (resolved from /etc/hosts).
    scan_as: str | None = None
    #: Scan it with mailtls's opt-in open-relay test (``assess(..., open_relay=True)``).
    relay_test: bool = False

    @property
    def target(self) -> str:
        """What to pass to ``mailtls.assess``: the host name if it has one, else the address."""
        return self.scan_as or self.address

    @property
    def services(self) -> dict[int, str]:
        """port -> "smtp", "imap", "pop3", or "smtps", "imaps", "pop3s" for implicit TLS."""
        out = {s.port: "smtps" if s.wrapper else "smtp" for s in self.smtpd}
        d = self.dovecot
        if d:
            names = {d.imap: "imap", d.pop3: "pop3", d.imaps: "imaps", d.pop3s: "pop3s"}
            out.update((port, name) for port, name in names.items() if port)
        return dict(sorted(out.items()))


def _host(
    name: str,
    address: str,
    description: str,
    dovecot: Dovecot | None = None,
    *smtpd: Smtpd,
    scan_as: str | None = None,
    relay_test: bool = False,
) -> LabHost:
    ports = sorted((dovecot.ports if dovecot else ()) + tuple(s.port for s in smtpd))
    assert len(ports) == len(set(ports)), f"{name}: a port is served twice"
    return LabHost(name, address, tuple(ports), description, dovecot, smtpd, scan_as, relay_test)


def _hardened_smtp(tls: Tls, *, smtps: bool) -> tuple[Smtpd, ...]:
    listeners = (
        Smtpd(25, tls, "may", sasl=True, auth_only=True, vrfy=False),
        Smtpd(587, tls, "encrypt", sasl=True, auth_only=True, vrfy=False),
    )
    if smtps:
        listeners += (Smtpd(465, tls, "encrypt", wrapper=True, sasl=True, auth_only=True, vrfy=False),)
    return listeners


_HOSTS = [
    _host(
        "plain",
        "127.0.0.11",
        "No TLS anywhere: POP3, IMAP, SMTP and submission (587) in the clear, with password login and SMTP AUTH "
        "offered in the clear.",
        Dovecot(ssl="no"),
        Smtpd(25, sasl=True),
        Smtpd(587, sasl=True),
    ),
    _host(
        "starttls",
        "127.0.0.12",
        "STARTTLS/STLS offered with a valid certificate, but password login still accepted before TLS.",
        Dovecot(ssl="yes", tls=GOOD),
        Smtpd(25, GOOD, "may", sasl=True),
    ),
    _host(
        "hardened",
        "127.0.0.13",
        "TLS 1.2+ with strong ciphers, login only after STARTTLS, implicit TLS on 465/993/995, VRFY disabled.",
        Dovecot(ssl="required", tls=STRONG, plaintext_auth=False, imaps=993, pop3s=995),
        *_hardened_smtp(STRONG, smtps=True),
    ),
    _host(
        "required",
        "127.0.0.14",
        "Like hardened but STARTTLS-only: no implicit-TLS ports, login only after STARTTLS.",
        Dovecot(ssl="required", tls=STRONG, plaintext_auth=False),
        *_hardened_smtp(STRONG, smtps=False),
    ),
    _host(
        "weak",
        "127.0.0.15",
        "TLS 1.0/1.1 accepted, with an expired self-signed RSA-1024 SHA-1 certificate, on STARTTLS and implicit "
        "TLS; port 25 also accepts anonymous suites.",
        # Login only after TLS: the weak host's defects are its TLS ones.
        Dovecot(ssl="yes", tls=WEAK, plaintext_auth=False, imaps=993, pop3s=995),
        Smtpd(25, WEAK_ANON, "may", sasl=True, auth_only=True),
        Smtpd(465, WEAK, "encrypt", wrapper=True, sasl=True, auth_only=True),
    ),
    _host(
        "relay",
        "127.0.0.16",
        "An open SMTP relay (any client may send to any domain; the lab discards all mail).",
        None,
        Smtpd(
            25,
            # The classic mistake: every client counts as "my network". (Postfix refuses to
            # start an smtpd whose restrictions lack reject_unauth_destination or similar,
            # so "permit" alone is not possible.)
            options=(
                ("mynetworks", "0.0.0.0/0"),
                ("smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination"),
                ("smtpd_recipient_restrictions", "permit_mynetworks, reject_unauth_destination"),
    ),
        ),
        relay_test=True,
    ),
    _host(
        "odd",
        "127.0.0.17",
        "The plain host on non-standard ports: SMTP on 2525, POP3 on 1110, IMAP on 1143, all in the clear.",
        Dovecot(ssl="no", imap=1143, pop3=1110),
        Smtpd(2525, sasl=True),
    ),
    _host(
        "broken",
        "127.0.0.18",
        "STARTTLS/STLS advertised but every TLS handshake fails (Postfix: missing certificate files; "
        "Dovecot: certificate and key do not match).",
        # Login only after TLS (so the sole defect is the TLS failure), and no SMTP AUTH.
        Dovecot(ssl="yes", tls=Tls("mismatch"), plaintext_auth=False),
        Smtpd(25, Tls("missing"), "may"),
    ),
    _host(
        "named",
        # 127.0.0.1 because the tests need a host *name* that resolves without DNS:
        # "localhost", from /etc/hosts. Scanned as "localhost", 465's certificate names it
        # and 993's does not (and expires in 10 days).
        "127.0.0.1",
        "Scanned as 'localhost': IMAPS 993 with a certificate for other names that expires in 10 days; "
        "submissions 465 with a certificate that names localhost.",
        Dovecot(ssl="required", tls=EXPIRING, plaintext_auth=False, imap=0, pop3=0, imaps=993),
        Smtpd(465, STRONG, "encrypt", wrapper=True, sasl=True, auth_only=True, vrfy=False),
        scan_as="localhost",
    ),
]

#: name -> LabHost, in address order (read-only).
HOSTS: Mapping[str, LabHost] = MappingProxyType({h.name: h for h in _HOSTS})
