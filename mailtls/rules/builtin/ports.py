"""How a host's mail ports relate to each other ("Mail port layout")."""

from __future__ import annotations

from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import HostRecord, PortRecord, TlsMode
from ...protocols import IMPLICIT_TLS_PORT, MAIL_PROTOCOLS, STANDARD_PORTS, Protocol
from ..declare import Observation, rule
from ._common import GREENBONE, is_submission

GROUP = "Mail port layout"


def _implicit(host: HostRecord) -> dict[Protocol, list[PortRecord]]:
    """The host's implicit-TLS ports by protocol, found once per host (not once per port:
    a host may list tens of thousands of ports)."""
    found: dict[Protocol, list[PortRecord]] = {}
    for port in host.assessable_ports:
        if port.tls_mode is TlsMode.IMPLICIT:
            found.setdefault(port.protocol, []).append(port)
    return found


def _client_facing(port: PortRecord) -> bool:
    """Ports mail *clients* use. Port 25 carries server-to-server mail, where STARTTLS is the only option."""
    return port.protocol in (Protocol.POP3, Protocol.IMAP) or (port.protocol is Protocol.SMTP and is_submission(port))


@rule("MT120", "STARTTLS is the only way to reach the service with TLS", Severity.INFO, cwe=757)
def starttls_only(host: HostRecord) -> Iterator[Observation]:
    """A client-facing mail service (POP3, IMAP or submission) offers TLS only through STARTTLS, and
    the host has no implicit-TLS port for the same protocol.

    Context:
        STARTTLS starts in plaintext, and a client that does not insist on the upgrade can be talked
        out of it by anyone on the path (STARTTLS stripping). RFC 8314 therefore prefers implicit
        TLS for mail clients. Port 25 is not concerned: server-to-server mail has only STARTTLS.

    Fix:
        Also offer implicit TLS (IMAPS 993, POP3S 995, submissions 465) and move clients to it.
    """
    implicit = _implicit(host)
    for port in host.assessable_ports:
        if port.tls_mode is TlsMode.STARTTLS and _client_facing(port) and not implicit.get(port.protocol):
            yield Observation(
                summary=f"{port.protocol.value.upper()} on port {port.number} has TLS only through STARTTLS; "
                f"no implicit-TLS port ({IMPLICIT_TLS_PORT[port.protocol]}) answers",
                port=port.number,
            )


@rule("MT121", "Plaintext port still open beside its TLS port", Severity.LOW, cwe=319)
def plaintext_beside_tls(host: HostRecord) -> Iterator[Observation]:
    """POP3 or IMAP is open on a plaintext or STARTTLS port while the same host serves the same
    protocol with implicit TLS (110 beside 995, 143 beside 993).

    Context:
        The host already serves this protocol over implicit TLS, so the plaintext port is only
        needed by clients that have not moved. Even with STARTTLS required there, every open port is
        more to maintain and one more place where a configuration slip exposes passwords.

    Fix:
        Move the remaining clients to the TLS port (995 for POP3, 993 for IMAP), then close the
        plaintext one.
    """
    implicit = _implicit(host)
    for port in host.assessable_ports:
        if port.protocol not in (Protocol.POP3, Protocol.IMAP) or port.tls_mode is TlsMode.IMPLICIT:
            continue
        siblings = implicit.get(port.protocol)
        if siblings:
            yield Observation(
                summary=f"{port.protocol.value.upper()} on port {port.number} is open although port "
                f"{siblings[0].number} serves it with TLS",
                port=port.number,
            )


@rule("MT403", "Mail service on a non-standard port", Severity.LOW, protocols=MAIL_PROTOCOLS,
      references=("Nessus 18391", f"{GREENBONE}18391"))
def nonstandard_port(port: PortRecord) -> Iterator[Observation]:
    """nmap's service detection found POP3, IMAP or SMTP on a port that protocol does not normally use.

    Context:
        A mail service away from its usual port is easy to forget in firewall rules, inventories and
        scans that only look at the usual ones; it often turns out to be a test instance or a
        workaround nobody remembers, configured less carefully.

    Fix:
        Confirm the service is meant to be reachable; close it or give it the same TLS settings as
        the standard ports.
    """
    expected = STANDARD_PORTS.get(port.protocol)
    if expected is not None and port.number not in expected and port.service.method == "probed":
        yield Observation(
            summary=f"{port.protocol.value.upper()} found on port {port.number}",
            evidence=(f"service detection: {port.service.name} {port.service.product}".strip(),),
        )
