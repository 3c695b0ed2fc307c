"""Which fleet host is what, and what mailtls must find there: pure data, no I/O.

Host ``i`` is ``127.100.{i // 250}.{i % 250 + 1}``; its ``Kind`` comes from its index
(``kind_of``), and its expected findings from what the rules say (``_EXPECTED``).
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

DEFAULT_HOSTS = 1024
#: 250 hosts per /24 (.1 to .250) in 127.100.0.0/16.
HOSTS_PER_BLOCK = 250
MAX_HOSTS = 256 * HOSTS_PER_BLOCK
NETWORK = ipaddress.ip_network("127.100.0.0/16")

SMTP, POP3, IMAP = 25, 110, 143
#: The ports a fleet host may listen on (the implicit-TLS ones and 587 stay closed on every host).
MAIL_PORTS = (SMTP, POP3, IMAP)
#: Seconds a "slow" host waits before each greeting: well inside nmap's script timeouts
#: (comm.lua: 6 s + the connect timeout; the capability scripts allow 10 s).
SLOW_GREETING = 2.0


class FleetError(RuntimeError):
    """The fleet could not be started; the message ends with the server's log tail."""




class Kind(str, enum.Enum):
    """How one fleet host behaves. The expected findings of each are in ``_EXPECTED``."""

    #: SMTP without STARTTLS, POP3 without STLS (USER offered), IMAP without STARTTLS or LOGINDISABLED.
    PLAINTEXT = "plaintext"
    #: SMTP, POP3 and IMAP each upgrade to TLS; no login is offered before TLS.
    STARTTLS = "starttls"
    #: Nothing listens on the address: the kernel resets every connection.
    CLOSED = "closed"
    #: Only SMTP on 25, plaintext.
    SMTP_ONLY = "smtp_only"
    #: Like plaintext, but every greeting comes SLOW_GREETING seconds late.
    SLOW = "slow"
    #: Accepts connections on 25, 110 and 143 and never sends a byte.
    SILENT = "silent"


# The mix, by host index: a pattern of 16, except that one host in 64 is slow and one in
# 1,024 silent. Per 1,024 hosts: 448 starttls, 367 plaintext, 128 closed, 64 smtp_only,
# 16 slow, 1 silent. Hosts 0-15 hold every kind but silent (15 is slow); host 255 is the
# first silent one, so any fleet of 256 hosts or more has all six.
#
# Slow and silent hosts are rare because of what they cost nmap 7.93 (measured on this
# fleet, 2 CPUs). ssl-cert fetches every certificate under one global mutex (sslcert.lua,
# getCertificate: nmap.mutex("sslcert-cache-mutex")), trying STARTTLS, then TLS, then a
# raw ClientHello on each port, and nmap runs scripts one host group (146 hosts here) at a
# time. On a silent host each try waits out its timeout, and no other host's ssl-cert runs
# meanwhile: the group holding the silent host took 374 s instead of about 50. One slow
# host added about 15 s to a scan of 143 healthy hosts that took 6 s. A scan of all 1,024
# hosts took 670 s, about half of it the silent host and a third the slow ones.
_PATTERN = (
    Kind.PLAINTEXT, Kind.STARTTLS, Kind.PLAINTEXT, Kind.STARTTLS,
    Kind.CLOSED, Kind.STARTTLS, Kind.PLAINTEXT, Kind.STARTTLS,
    Kind.SMTP_ONLY, Kind.STARTTLS, Kind.PLAINTEXT, Kind.STARTTLS,
    Kind.CLOSED, Kind.STARTTLS, Kind.PLAINTEXT, Kind.PLAINTEXT,
)  # fmt: skip
_SLOW_EVERY, _SLOW_SLOT = 64, 15
_SILENT_EVERY, _SILENT_SLOT = 1024, 255

_PORTS = {
    Kind.PLAINTEXT: MAIL_PORTS,
    Kind.STARTTLS: MAIL_PORTS,
    Kind.CLOSED: (),
    Kind.SMTP_ONLY: (SMTP,),
    Kind.SLOW: MAIL_PORTS,
    Kind.SILENT: MAIL_PORTS,
}

_PLAINTEXT_FINDINGS = frozenset(
    {
        # MT103: SMTP on 25 (not submission) with no TLS and no STARTTLS in EHLO.
        ("MT103", SMTP),
        # MT101: POP3 with no TLS and no STLS. MT111: USER is in CAPA before any TLS.
        ("MT101", POP3),
        ("MT111", POP3),
        # MT102: IMAP with no TLS and no STARTTLS. MT112: no LOGINDISABLED before TLS.
        ("MT102", IMAP),
        ("MT112", IMAP),
        # Not MT113: EHLO offers no AUTH. Not MT402: neither EHLO nor HELP names VRFY or EXPN.
        # Not MT105/MT120/MT121: no STARTTLS offered and no implicit-TLS port open.
        # Not MT403: standard ports, and the scan has no -sV (the rule needs a probed service).
        # No TLS, so no MT2xx and no MT3xx.
    }
)

#: (rule id, port) pairs mailtls must report for a host of each kind, from the rules
#: in mailtls/rules/builtin (read, not copied from a scan's output).
_EXPECTED: dict[Kind, frozenset[tuple[str, int]]] = {
    Kind.PLAINTEXT: _PLAINTEXT_FINDINGS,
    Kind.STARTTLS: frozenset(
        {
            # MT302 on every port: nmap reads the certificate through STARTTLS (tls_mode
            # STARTTLS) and its subject equals its issuer.
            ("MT302", SMTP),
            ("MT302", POP3),
            ("MT302", IMAP),
            # MT120 (host rule, finding carries the port): POP3 and IMAP are client-facing and
            # reach TLS only through STARTTLS, with no 995/993 open. Port 25 is exempt
            # (server-to-server mail has only STARTTLS).
            ("MT120", POP3),
            ("MT120", IMAP),
            # Not MT101-MT104: TLS works on every port. Not MT105: the handshake succeeds.
            # Not MT111/MT112/MT113: before TLS, CAPA has no USER or SASL, IMAP says
            # LOGINDISABLED, EHLO has no AUTH (all three appear only inside TLS).
            # Not MT201-MT204: TLS 1.2 and 1.3 only, ECDHE with AEAD suites and an RSA-2048
            # certificate, which nmap grades A; the key exchange is X25519 (253 bits).
            # Not MT301/MT306: valid from yesterday for a year. Not MT303/MT304: RSA 2048, SHA-256.
            # Not MT305: it checks names only when the scan was given a host name; the fleet
            # is scanned by address (nmap -n), so there is no name to compare.
        }
    ),
    # Nothing open, nothing to report.
    Kind.CLOSED: frozenset(),
    # Port 25 as on a plaintext host; 110 and 143 are closed.
    Kind.SMTP_ONLY: frozenset({("MT103", SMTP)}),
    # A 2 s greeting is inside every timeout nmap's scripts use, so nmap sees a plaintext host.
    Kind.SLOW: _PLAINTEXT_FINDINGS,
    # Left empty on purpose: nmap learns nothing about these ports, and what mailtls
    # reports for them (an "inconclusive" state) is decided elsewhere. The tests skip them.
    Kind.SILENT: frozenset(),
}


@dataclass(frozen=True)
class FleetHost:
    """One simulated host: where it is, how it behaves, and what mailtls must find there."""

    index: int
    address: str
    kind: Kind
    #: The ports that accept connections (every other port is closed).
    ports: tuple[int, ...]
    #: (rule id, port) pairs mailtls should report for this host.
    expected: frozenset[tuple[str, int]]


def address_of(index: int) -> str:
    """Host ``index``'s address: 127.100.{index // 250}.{index % 250 + 1}."""
    if not 0 <= index < MAX_HOSTS:
        raise ValueError(f"host index must be in 0..{MAX_HOSTS - 1}, got {index}")
    return f"127.100.{index // HOSTS_PER_BLOCK}.{index % HOSTS_PER_BLOCK + 1}"


def kind_of(index: int) -> Kind:
    """Host ``index``'s behaviour: ``_PATTERN[index % 16]``, except that one host in 64 is
    slow and one in 1,024 silent."""
    if index % _SILENT_EVERY == _SILENT_SLOT:
        return Kind.SILENT
    if index % _SLOW_EVERY == _SLOW_SLOT:
        return Kind.SLOW
    return _PATTERN[index % len(_PATTERN)]


def hosts(n: int = DEFAULT_HOSTS) -> list[FleetHost]:
    """The first ``n`` fleet hosts. Pure: the same list for the same ``n``, no I/O."""
    if not 1 <= n <= MAX_HOSTS:
        raise ValueError(f"a fleet has 1 to {MAX_HOSTS} hosts, got {n}")
    return [_host(i) for i in range(n)]


def _host(index: int) -> FleetHost:
    kind = kind_of(index)
    return FleetHost(index=index, address=address_of(index), kind=kind, ports=_PORTS[kind], expected=_EXPECTED[kind])


