"""The other real servers' hosts: each configuration, what it must do, and what it calls for.

Every host is one loopback address in 127.0.2.0/24 and one configuration of one real
server from Debian 12. Beside each configuration stands what that configuration makes the
server do, port by port (:class:`Expect`), written from the configuration and checked by
hand with independent tools (``openssl s_client``, swaks, Python sockets); the tests in
``tests/lab/test_other_servers_by_hand.py`` repeat those checks against the running servers every run,
without mailtls. ``Expect.rules`` is then what mailtls should report on that port (ids from
docs/rules.md), each with its reason; ``Expect.tolerated`` are rules that are defensible
either way and must not be counted as wrong.

Measured here (Debian 12, 2026-12), and re-checked by the tests:

- OpenSMTPD 6.8.0p2 with OpenSSL 3 aborts every handshake, STARTTLS (25, 587) and implicit
  (465) alike: ``openssl s_client -starttls smtp -tls1_2 -msg`` receives ServerHello and
  Certificate, then "Alert ... fatal internal_error" (smtpd logs "io-error: error:0A080006:SSL
  routines::EVP lib"); TLS 1.3 the same after EncryptedExtensions and Certificate; with RSA key
  exchange (``-cipher AES128-SHA``) it gets as far as ServerHelloDone and answers the client's
  Finished with "fatal decrypt_error". The server never sends Finished, so no client gets TLS.
- GNU Mailutils imap4d 3.15 answers ``a CAPABILITY`` with two write() calls (``strace -f -e
  trace=write`` on the daemon): one for "* CAPABILITY ...\r\n", one for "a OK CAPABILITY
  Completed\r\n".
- Over their limits: Exim sends "421 Too many concurrent SMTP connections; please try again
  later" (20 at once, all clients together); Courier closes the connection at once, nothing
  said (20 per address for IMAP, 4 for POP3); Cyrus leaves it waiting unanswered and greets it
  once a child exits (100 IMAP, 50 POP3); Mailutils leaves it waiting and then closes it
  unanswered when a child exits (20 per daemon, both its hosts together); Postfix's anvil
  sends "421 4.7.0 ... Error: too many connections from 127.0.0.1"; Dovecot with its login
  processes full greets the new connection and sends "* BYE Connection queue full" (POP3:
  "-ERR ...") to those still waiting to log in. OpenSMTPD and Sendmail (Debian's
  ConnectionRateThrottle=15 per second) served 64 and 40 at once without refusing any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .. import hosts as main_hosts
from ..hosts import Dovecot, LabHost, Smtpd

#: What a handshake completes with, by openssl s_client's option name.
TLS10, TLS11, TLS12, TLS13 = "tls1", "tls1_1", "tls1_2", "tls1_3"
ALL_TLS = (TLS10, TLS11, TLS12, TLS13)
MODERN_TLS = (TLS12, TLS13)


@dataclass(frozen=True)
class Expect:
    """What one port of a host does, as its configuration says and the hand checks showed."""

    port: int
    #: "smtp", "imap" or "pop3" (also for implicit TLS: the protocol inside).
    protocol: str
    #: "plain" (no TLS offered), "starttls" or "implicit" (TLS from the first byte).
    mode: str
    #: The versions a full handshake completes with (openssl -tls1 ... -tls1_3); () when
    #: TLS is offered but no handshake completes (``handshake`` then says how it ends).
    tls: tuple[str, ...] = ()
    #: How a handshake goes: "completes", or "aborted after ServerHello and Certificate".
    handshake: str = "completes"
    #: certs profile of the certificate served ("good", "weak", "signed", ...).
    cert: str | None = None
    #: Words (EHLO keywords, CAPABILITY atoms, CAPA lines) present / absent before TLS.
    before: tuple[str, ...] = ()
    not_before: tuple[str, ...] = ()
    #: Words present once TLS is up (STARTTLS or implicit TLS).
    after: tuple[str, ...] = ()
    #: A login before TLS with a user that cannot exist: "taken" (credentials asked for and
    #: rejected), "refused" (turned away before any credential), "none" (nothing to log in with).
    login: str = "taken"
    #: The server's words on that login (a substring of the reply that decides).
    login_reply: str = ""
    #: Submission ports: the reply code class to ``MAIL FROM:<>`` before STARTTLS ("2" or "5").
    mail_from: str | None = None
    #: SMTP: VRFY or EXPN advertised in EHLO; the reply code to ``VRFY postmaster``.
    vrfy_expn: bool = False
    vrfy_reply: str = ""
    #: STARTTLS: a command sent in plaintext right behind STARTTLS is answered inside TLS.
    injectable: bool = False
    #: A substring of the greeting (what product/version it names).
    banner: str = ""
    #: mailtls rule id -> why this configuration calls for it.
    rules: Mapping[str, str] = field(default_factory=dict)
    #: Rules that may or may not be reported without being wrong, with why.
    tolerated: Mapping[str, str] = field(default_factory=dict)

    @property
    def service(self) -> str:
        """lab.status's name: smtp/imap/pop3, with an "s" for implicit TLS."""
        return self.protocol + ("s" if self.mode == "implicit" else "")


@dataclass(frozen=True)
class Limit:
    """One connection limit of the server, as its package ships it, and what exceeding it does."""

    port: int
    #: The setting and where its value comes from.
    setting: str
    #: Connections from one client served at once before the limit bites.
    connections: int
    #: What one connection more gets: "421" (a 421 greeting, then close); "close" (closed
    #: at once, nothing said); "wait" (accepted by the kernel, greeted once a slot frees);
    #: "wait-close" (silent, then closed unanswered once a slot frees); "evict" (greeted,
    #: while the connections still waiting to log in get "* BYE Connection queue full");
    #: "none" (``connections`` were served and no limit was met).
    over: str
    #: What the server says over the limit (a substring), when it says anything.
    reply: str = ""


@dataclass(frozen=True)
class OtherHost:
    name: str
    address: str
    #: Product and version as Debian 12 ships them; the Debian package(s).
    server: str
    packages: str
    #: The chroot family it runs in (scripts/install-lab-servers.sh), or "host" for the
    #: machine's own Postfix/Dovecot (then ``lab_host`` is its main-lab declaration).
    family: str
    description: str
    ports: tuple[Expect, ...]
    limits: tuple[Limit, ...] = ()
    lab_host: LabHost | None = field(default=None, repr=False)

    def port(self, number: int) -> Expect:
        return next(p for p in self.ports if p.port == number)

    @property
    def services(self) -> dict[int, str]:
        return {p.port: p.service for p in self.ports}


SELF_SIGNED = "the certificate is the lab's self-signed one (certs profile 'good')"
LEGACY = "TLS 1.0 and 1.1 complete a handshake"
GNUTLS_LEGACY = LEGACY + " (GnuTLS's default priority NORMAL, which Debian 12 leaves them in)"

_SUBMISSION_PLAIN = "587 answers in plaintext and advertises no STARTTLS"
_SMTP_PLAIN = "port 25 answers in plaintext and advertises no STARTTLS"
_IMAP_PLAIN = "IMAP without STARTTLS"
_POP3_PLAIN = "POP3 without STLS"
_IMAP_LOGIN = "no LOGINDISABLED, and LOGIN is taken before TLS (the unknown user is rejected, not refused)"
_POP3_USER = "USER (and PLAIN/LOGIN) offered before TLS, and USER/PASS is taken"
_BESIDE_993 = "143 is open beside 993"
_BESIDE_995 = "110 is open beside 995"


def _plain_imap(banner: str, before: tuple[str, ...], reply: str) -> Expect:
    return Expect(
        143,
        "imap",
        "plain",
        before=before,
        not_before=("STARTTLS", "LOGINDISABLED"),
        login="taken",
        login_reply=reply,
        banner=banner,
        rules={"MT102": _IMAP_PLAIN, "MT112": _IMAP_LOGIN},
    )


def _plain_pop3(banner: str, reply: str) -> Expect:
    return Expect(
        110,
        "pop3",
        "plain",
        before=("USER",),
        not_before=("STLS",),
        login="taken",
        login_reply=reply,
        banner=banner,
        rules={"MT101": _POP3_PLAIN, "MT111": _POP3_USER},
    )


# -- the main lab's servers under tight limits (run from the host's own packages) ---------

_ANVIL = main_hosts._host(
    "postfix-anvil",
    "127.0.2.70",
    "Postfix with anvil counting 127/8: at most 3 connections at once per client.",
    None,
    *(
        Smtpd(
            port,
            main_hosts.STRONG,
            level,
            vrfy=False,
            options=(
                ("smtpd_client_connection_count_limit", "3"),
                # Empty: by default $mynetworks (127/8 included) is exempt from anvil.
                ("smtpd_client_event_limit_exceptions", ""),
            ),
        )
        for port, level in ((25, "may"), (587, "encrypt"))
    ),
)
_LIMITED = main_hosts._host(
    "dovecot-limited",
    "127.0.2.71",
    "Dovecot, login only after TLS, with 2 imap-login and 2 pop3-login processes (one client each).",
    Dovecot(
        ssl="required",
        tls=main_hosts.STRONG,
        plaintext_auth=False,
        imaps=993,
        pop3s=995,
        login_process_limit=2,
        login_client_limit=1,
    ),
)
#: The Postfix and Dovecot hosts, as the main lab's machinery runs them (lab.start(hosts=...)).
LAB_HOSTS: Mapping[str, LabHost] = MappingProxyType({h.name: h for h in (_ANVIL, _LIMITED)})


_HOSTS = [
    OtherHost(
        "exim-plain",
        "127.0.2.10",
        "Exim 4.96",
        "exim4-daemon-light",
        "exim",
        "Exim with no TLS at all, SMTP AUTH PLAIN/LOGIN offered in the clear, VRFY and EXPN allowed.",
        tuple(
            Expect(
                port,
                "smtp",
                "plain",
                before=("AUTH PLAIN LOGIN", "VRFY", "EXPN"),
                not_before=("STARTTLS",),
                login="taken",
                login_reply="535 Incorrect authentication data",
                mail_from="2" if port == 587 else None,
                vrfy_expn=True,
                vrfy_reply="550",  # answered: the address is looked up (and unroutable here)
                banner="ESMTP Exim 4.96",
                rules={
                    ("MT103" if port == 25 else "MT104"): _SMTP_PLAIN if port == 25 else _SUBMISSION_PLAIN,
                    "MT113": "AUTH PLAIN LOGIN advertised before (without) TLS",
                    "MT402": "acl_smtp_vrfy/acl_smtp_expn accept: VRFY and EXPN in EHLO",
                },
            )
            for port in (25, 587)
        ),
        (Limit(25, "smtp_accept_max = 20 (Exim's default, all clients together)", 20, "421", "421 Too many"),),
    ),
    OtherHost(
        "exim-tls",
        "127.0.2.11",
        "Exim 4.96",
        "exim4-daemon-light",
        "exim",
        "Exim with STARTTLS on 25/587 and implicit TLS on 465, GnuTLS defaults (TLS 1.0-1.3), a self-signed "
        "certificate, AUTH only after TLS, no VRFY/EXPN.",
        tuple(
            Expect(
                port,
                "smtp",
                "implicit" if port == 465 else "starttls",
                tls=ALL_TLS,
                cert="good",
                before=() if port == 465 else ("STARTTLS",),
                not_before=() if port == 465 else ("AUTH", "VRFY", "EXPN"),
                after=("AUTH PLAIN LOGIN",),
                login="refused" if port != 465 else "none",
                login_reply="503 AUTH command used when not advertised" if port != 465 else "",
                mail_from="2" if port == 587 else None,
                vrfy_reply="252",  # "Administrative prohibition": no acl_smtp_vrfy
                banner="ESMTP Exim 4.96",
                rules={"MT201": GNUTLS_LEGACY, "MT302": SELF_SIGNED},
            )
            for port in (25, 465, 587)
        ),
        (Limit(25, "smtp_accept_max = 20 (Exim's default, all clients together)", 20, "421", "421 Too many"),),
    ),
    OtherHost(
        "courier-plain",
        "127.0.2.20",
        "Courier-IMAP 5.0.13, Courier POP3 1.0.16",
        "courier-imap, courier-pop",
        "exim",
        "Courier IMAP and POP3 with STARTTLS/STLS off (IMAPDSTARTTLS=NO, POP3_STARTTLS=NO), login in the clear.",
        (
            _plain_imap("Courier-IMAP ready", ("IMAP4rev1",), "NO Login failed."),
            _plain_pop3("+OK Hello there.", "-ERR Login failed."),
        ),
        (
            Limit(143, "MAXPERIP=20 (/etc/courier/imapd as packaged)", 20, "close"),
            Limit(110, "MAXPERIP=4 (/etc/courier/pop3d as packaged)", 4, "close"),
        ),
    ),
    OtherHost(
        "courier-tls",
        "127.0.2.21",
        "Courier-IMAP 5.0.13, Courier POP3 1.0.16",
        "courier-imap, courier-pop",
        "exim",
        "Courier with STARTTLS/STLS required before login (IMAP_TLS_REQUIRED=1, POP3_TLS_REQUIRED=1) and "
        "implicit TLS on 993/995, GnuTLS defaults, a self-signed certificate.",
        (
            Expect(
                143,
                "imap",
                "starttls",
                tls=ALL_TLS,
                cert="good",
                before=("STARTTLS", "LOGINDISABLED"),
                after=("AUTH=PLAIN",),
                login="refused",
                login_reply="NO STARTTLS required",
                banner="Courier-IMAP ready",
                rules={"MT121": _BESIDE_993, "MT201": GNUTLS_LEGACY, "MT302": SELF_SIGNED},
            ),
            Expect(
                110,
                "pop3",
                "starttls",
                tls=ALL_TLS,
                cert="good",
                # Courier advertises USER before TLS and then refuses it: not a login taken.
                before=("STLS", "USER"),
                login="refused",
                login_reply="-ERR TLS required to log in.",
                banner="+OK Hello there.",
                # Courier POP3 1.0.16 keeps what follows STLS in the same packet (CVE-2021-38084).
                injectable=True,
                rules={
                    "MT106": "CAPA sent in plaintext behind STLS is answered inside TLS (checked by hand)",
                    "MT121": _BESIDE_995,
                    "MT201": GNUTLS_LEGACY,
                    "MT302": SELF_SIGNED,
                },
                tolerated={"MT111": "CAPA lists USER before TLS, although USER is then refused"},
            ),
            Expect(
                993,
                "imap",
                "implicit",
                tls=ALL_TLS,
                cert="good",
                after=("AUTH=PLAIN",),
                login="none",
                banner="Courier-IMAP ready",
                rules={"MT201": GNUTLS_LEGACY, "MT302": SELF_SIGNED},
            ),
            Expect(
                995,
                "pop3",
                "implicit",
                tls=ALL_TLS,
                cert="good",
                after=("USER",),
                login="none",
                banner="+OK Hello there.",
                rules={"MT201": GNUTLS_LEGACY, "MT302": SELF_SIGNED},
            ),
        ),
        (
            Limit(143, "MAXPERIP=20 (/etc/courier/imapd as packaged)", 20, "close"),
            Limit(110, "MAXPERIP=4 (/etc/courier/pop3d as packaged)", 4, "close"),
        ),
    ),
    OtherHost(
        "cyrus-plain",
        "127.0.2.30",
        "Cyrus IMAP 3.6.1",
        "cyrus-imapd, cyrus-pop3d",
        "opensmtpd",
        "Cyrus IMAP and POP3 without TLS, allowplaintext: yes (Debian's imapd.conf).",
        (
            _plain_imap("Cyrus IMAP 3.6.1", ("AUTH=PLAIN", "AUTH=LOGIN"), "NO Login failed"),
            _plain_pop3("Cyrus POP3 3.6.1", "-ERR [AUTH] Invalid login"),
        ),
        (
            Limit(143, "maxchild=100 (Debian's cyrus.conf, imap)", 100, "wait"),
            Limit(110, "maxchild=50 (Debian's cyrus.conf, pop3)", 50, "wait"),
        ),
    ),
    OtherHost(
        "cyrus-tls",
        "127.0.2.31",
        "Cyrus IMAP 3.6.1",
        "cyrus-imapd, cyrus-pop3d",
        "opensmtpd",
        "Cyrus with STARTTLS/STLS and implicit TLS on 993/995, allowplaintext: no, OpenSSL defaults "
        "(TLS 1.2-1.3), a certificate issued by the lab CA.",
        (
            Expect(
                143,
                "imap",
                "starttls",
                tls=MODERN_TLS,
                cert="signed",
                before=("STARTTLS", "LOGINDISABLED"),
                not_before=("AUTH=PLAIN", "AUTH=LOGIN"),
                after=("AUTH=PLAIN",),
                login="refused",
                login_reply="NO Login only available under a layer",
                banner="Cyrus IMAP 3.6.1",
                rules={"MT121": _BESIDE_993},
            ),
            Expect(
                110,
                "pop3",
                "starttls",
                tls=MODERN_TLS,
                cert="signed",
                before=("STLS",),
                not_before=("USER", "PLAIN", "LOGIN"),
                after=("USER",),
                login="refused",
                login_reply="-ERR [AUTH] USER command only available under a layer",
                banner="Cyrus POP3 3.6.1",
                rules={"MT121": _BESIDE_995},
            ),
            Expect(993, "imap", "implicit", tls=MODERN_TLS, cert="signed", after=("AUTH=PLAIN",), login="none"),
            Expect(995, "pop3", "implicit", tls=MODERN_TLS, cert="signed", after=("USER",), login="none"),
        ),
        (
            Limit(143, "maxchild=100 (Debian's cyrus.conf, imap)", 100, "wait"),
            Limit(110, "maxchild=50 (Debian's cyrus.conf, pop3)", 50, "wait"),
        ),
    ),
    OtherHost(
        "opensmtpd-plain",
        "127.0.2.40",
        "OpenSMTPD 6.8.0p2",
        "opensmtpd",
        "opensmtpd",
        "OpenSMTPD listeners on 25 and 587 without TLS (OpenSMTPD then offers no AUTH at all).",
        tuple(
            Expect(
                port,
                "smtp",
                "plain",
                not_before=("STARTTLS", "AUTH"),
                login="none",
                mail_from="2" if port == 587 else None,
                vrfy_reply="500",  # OpenSMTPD has no VRFY
                banner="ESMTP OpenSMTPD",
                rules={("MT103" if port == 25 else "MT104"): _SMTP_PLAIN if port == 25 else _SUBMISSION_PLAIN},
            )
            for port in (25, 587)
        ),
        (Limit(25, "no per-client limit (OpenSMTPD has none by default)", 64, "none"),),
    ),
    OtherHost(
        "opensmtpd-tls",
        "127.0.2.41",
        "OpenSMTPD 6.8.0p2",
        "opensmtpd",
        "opensmtpd",
        "OpenSMTPD with STARTTLS on 25, STARTTLS required on 587 and implicit TLS on 465; with Debian 12's "
        "OpenSSL 3 every handshake is aborted after the server's ServerHello and Certificate.",
        tuple(
            Expect(
                port,
                "smtp",
                "implicit" if port == 465 else "starttls",
                tls=(),
                handshake="aborted after ServerHello and Certificate",
                cert="good",
                before=() if port == 465 else ("STARTTLS",),
                not_before=() if port == 465 else ("AUTH",),
                login="refused" if port == 587 else "none",
                login_reply="503 5.5.1 Invalid command: Command not supported" if port == 587 else "",
                mail_from="5" if port == 587 else None,
                banner="ESMTP OpenSMTPD" if port != 465 else "",
                rules=({"MT105": "STARTTLS is advertised but no handshake ever completes"} if port != 465 else {}),
                tolerated={
                    "MT302": "the self-signed certificate is sent before the abort, but no session uses it",
                    **({"MT120": "465 exists but cannot give TLS either"} if port == 587 else {}),
                },
            )
            for port in (25, 465, 587)
        ),
    ),
    OtherHost(
        "sendmail-plain",
        "127.0.2.50",
        "Sendmail 8.17.1.9",
        "sendmail-bin",
        "sendmail",
        "Sendmail with Debian's sendmail.mc limits and privacy flags, no TLS, no AUTH (no SASL set up); the "
        "submission daemon requires AUTH (M=Ea), which it cannot offer.",
        tuple(
            Expect(
                port,
                "smtp",
                "plain",
                before=("EXPN",),
                not_before=("STARTTLS", "AUTH"),
                login="none",
                mail_from="5" if port == 587 else None,
                vrfy_expn=True,
                vrfy_reply="550",  # answered: "User unknown"
                banner="ESMTP Sendmail 8.17.1.9",
                rules={
                    ("MT103" if port == 25 else "MT104"): _SMTP_PLAIN if port == 25 else _SUBMISSION_PLAIN,
                    "MT402": "Debian's privacy flags allow EXPN (advertised in EHLO) and VRFY",
                },
            )
            for port in (25, 587)
        ),
        (Limit(25, "ConnectionRateThrottle=15/s, MaxDaemonChildren=0 (Debian)", 40, "none"),),
    ),
    OtherHost(
        "sendmail-tls",
        "127.0.2.51",
        "Sendmail 8.17.1.9",
        "sendmail-bin",
        "sendmail",
        "Sendmail with STARTTLS on 25/587 and implicit TLS on 465 (M=s), OpenSSL defaults (TLS 1.2-1.3), a "
        "certificate issued by the lab CA, PrivacyOptions=goaway (no VRFY/EXPN), no AUTH.",
        tuple(
            Expect(
                port,
                "smtp",
                "implicit" if port == 465 else "starttls",
                tls=MODERN_TLS,
                cert="signed",
                before=() if port == 465 else ("STARTTLS",),
                not_before=() if port == 465 else ("AUTH", "EXPN", "VRFY"),
                login="none",
                mail_from="5" if port == 587 else None,
                vrfy_reply="252",  # "Cannot VRFY user" (and EXPN: 502): PrivacyOptions=goaway
                banner="ESMTP Sendmail 8.17.1.9",
                rules={},
                tolerated={"MT402": "Sendmail's fixed HELP text still lists VRFY and EXPN, though both are refused"},
            )
            for port in (25, 465, 587)
        ),
        (Limit(25, "ConnectionRateThrottle=15/s, MaxDaemonChildren=0 (Debian)", 40, "none"),),
    ),
    OtherHost(
        "mailutils-plain",
        "127.0.2.60",
        "GNU Mailutils 3.15 imap4d/pop3d",
        "mailutils-imap4d, mailutils-pop3d",
        "sendmail",
        "GNU imap4d and pop3d with tls-mode no: IMAP and POP3 in the clear, login in the clear.",
        (
            _plain_imap("* OK IMAP4rev1", ("AUTH=PLAIN", "AUTH=LOGIN"), "NO LOGIN User name or passwd rejected"),
            _plain_pop3("+OK", "-ERR"),
        ),
        (
            Limit(143, "max-children 20 (imap4d's default, both hosts together)", 20, "wait-close"),
            Limit(110, "max-children 20 (pop3d's default, both hosts together)", 20, "wait-close"),
        ),
    ),
    OtherHost(
        "mailutils-tls",
        "127.0.2.61",
        "GNU Mailutils 3.15 imap4d/pop3d",
        "mailutils-imap4d, mailutils-pop3d",
        "sendmail",
        "GNU imap4d and pop3d with tls-mode required on 143/110 and connection on 993/995, GnuTLS defaults, "
        "the lab's weak certificate (RSA-1024, SHA-1, expired, self-signed).",
        (),  # filled in below: the four ports share their TLS facts
        (
            Limit(143, "max-children 20 (imap4d's default, both hosts together)", 20, "wait-close"),
            Limit(110, "max-children 20 (pop3d's default, both hosts together)", 20, "wait-close"),
        ),
    ),
]

_WEAK_CERT = {
    "MT202": "nmap grades every suite F: the certificate is RSA-1024 and signed with SHA-1 (checked by hand)",
    "MT301": "the certificate expired in 2020",
    "MT302": "the certificate is self-signed",
    "MT303": "the certificate's key is RSA-1024",
    "MT304": "the certificate is signed with SHA-1",
}
_MAILUTILS_TLS = (
    Expect(
        143,
        "imap",
        "starttls",
        tls=ALL_TLS,
        cert="weak",
        # imap4d refuses LOGIN before TLS but does not say LOGINDISABLED (it says XTLSREQUIRED).
        before=("STARTTLS", "XTLSREQUIRED"),
        not_before=("LOGINDISABLED", "AUTH="),
        after=("AUTH=PLAIN",),
        login="refused",
        login_reply="NO LOGIN Command disabled",
        banner="* OK IMAP4rev1",
        rules={"MT121": _BESIDE_993, "MT201": GNUTLS_LEGACY, **_WEAK_CERT},
        tolerated={"MT112": "LOGINDISABLED is missing, although LOGIN is refused before TLS"},
    ),
    Expect(
        110,
        "pop3",
        "starttls",
        tls=ALL_TLS,
        cert="weak",
        before=("STLS",),
        not_before=("USER",),
        after=("USER",),
        login="refused",
        login_reply="-ERR",
        banner="+OK",
        rules={"MT121": _BESIDE_995, "MT201": GNUTLS_LEGACY, **_WEAK_CERT},
    ),
    Expect(
        993,
        "imap",
        "implicit",
        tls=ALL_TLS,
        cert="weak",
        after=("AUTH=PLAIN",),
        login="none",
        rules={"MT201": GNUTLS_LEGACY, **_WEAK_CERT},
    ),
    Expect(
        995,
        "pop3",
        "implicit",
        tls=ALL_TLS,
        cert="weak",
        after=("USER",),
        login="none",
        rules={"MT201": GNUTLS_LEGACY, **_WEAK_CERT},
    ),
)
_HOSTS[-1] = OtherHost(**{**_HOSTS[-1].__dict__, "ports": _MAILUTILS_TLS})

_PD_TLS = {"MT302": SELF_SIGNED}
_HOSTS += [
    OtherHost(
        "postfix-anvil",
        _ANVIL.address,
        "Postfix 3.7 (the host's)",
        "postfix",
        "host",
        _ANVIL.description,
        (
            Expect(
                25,
                "smtp",
                "starttls",
                tls=MODERN_TLS,
                cert="good",
                before=("STARTTLS",),
                not_before=("AUTH", "VRFY"),
                login="none",
                vrfy_reply="502",  # disable_vrfy_command = yes
                banner="ESMTP Postfix",
                rules=_PD_TLS,
            ),
            Expect(
                587,
                "smtp",
                "starttls",
                tls=MODERN_TLS,
                cert="good",
                before=("STARTTLS",),
                not_before=("AUTH", "VRFY"),
                login="none",
                mail_from="5",
                banner="ESMTP Postfix",
                rules={**_PD_TLS, "MT120": "submission only through STARTTLS: no 465 on this host"},
            ),
        ),
        (Limit(25, "smtpd_client_connection_count_limit = 3, exceptions emptied", 3, "421", "too many connections"),),
        lab_host=_ANVIL,
    ),
    OtherHost(
        "dovecot-limited",
        _LIMITED.address,
        "Dovecot 2.3.19 (the host's)",
        "dovecot-imapd, dovecot-pop3d",
        "host",
        _LIMITED.description,
        (
            Expect(
                143,
                "imap",
                "starttls",
                tls=MODERN_TLS,
                cert="good",
                before=("STARTTLS", "LOGINDISABLED"),
                after=("AUTH=PLAIN",),
                login="refused",
                login_reply="NO [PRIVACYREQUIRED] Plaintext authentication disallowed",
                banner="Dovecot",
                rules={"MT121": _BESIDE_993, **_PD_TLS},
            ),
            Expect(
                110,
                "pop3",
                "starttls",
                tls=MODERN_TLS,
                cert="good",
                before=("STLS",),
                not_before=("USER",),
                after=("USER",),
                login="refused",
                login_reply="-ERR [AUTH] Plaintext authentication disallowed",
                banner="Dovecot",
                rules={"MT121": _BESIDE_995, **_PD_TLS},
            ),
            Expect(993, "imap", "implicit", tls=MODERN_TLS, cert="good", login="none", rules=_PD_TLS),
            Expect(995, "pop3", "implicit", tls=MODERN_TLS, cert="good", login="none", rules=_PD_TLS),
        ),
        (
            Limit(143, "service imap-login process_limit = 2, client_limit = 1", 2, "evict", "Connection queue full"),
            Limit(110, "service pop3-login process_limit = 2, client_limit = 1", 2, "evict", "Connection queue full"),
        ),
        lab_host=_LIMITED,
    ),
]

#: name -> OtherHost, in address order (read-only).
HOSTS: Mapping[str, OtherHost] = MappingProxyType({h.name: h for h in sorted(_HOSTS, key=lambda h: h.address)})
