"""Mail services that can be reached without TLS at all ("Email without SSL/TLS Found")."""

from __future__ import annotations

from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import Capabilities, Facet, PortRecord, TlsMode
from ...protocols import MAIL_PROTOCOLS, Protocol
from ..declare import Observation, rule
from ._common import GREENBONE, capability_evidence, is_submission

GROUP = "Email without SSL/TLS Found"


def _without_tls(port: PortRecord) -> bool:
    """No TLS handshake worked on the port, and no upgrade is advertised."""
    return port.tls_mode is TlsMode.NONE and (port.capabilities is None or not port.capabilities.starttls)


@rule("MT101", "POP3 reachable without TLS", Severity.HIGH, protocols=(Protocol.POP3,), cwe=319,
      references=("Nessus 42087 (reports STLS support; this is its absence)", f"{GREENBONE}108552"))
def pop3_without_tls(port: PortRecord) -> Iterator[Observation]:
    """POP3 is served in plaintext and the server does not offer STLS, so there is no way for a client
    to protect the session: user names, passwords and every downloaded message can be read, and
    altered, by anyone on the network path.

    Context:
        POP3 downloads whole mailboxes, and on this port both the messages and the password that
        unlocks them cross the network as readable text. Ask whether anyone still collects mail over
        POP3 here: a forgotten legacy client is the usual reason this port stays open. If mail is
        already stored encrypted and passwords are unique to this account, the damage is smaller,
        but every login still hands the password to whoever can watch the path.

    Fix:
        Move POP3 clients to POP3S on port 995 (TLS from the first byte), then close port 110. If
        110 must stay for a while, offer STLS and refuse logins until it has been used (Dovecot:
        ssl = required; disable_plaintext_auth = yes).
    """
    if _without_tls(port):
        yield Observation(
            summary=f"POP3 on port {port.number} has no TLS and does not offer STLS",
            evidence=capability_evidence(port),
        )


@rule("MT102", "IMAP reachable without TLS", Severity.HIGH, protocols=(Protocol.IMAP,), cwe=319,
      references=("Nessus 42085 (reports STARTTLS support; this is its absence)", f"{GREENBONE}108551"))
def imap_without_tls(port: PortRecord) -> Iterator[Observation]:
    """IMAP is served in plaintext and the server does not offer STARTTLS: credentials and mail
    contents travel unencrypted, and nothing a client does can change that on this port.

    Context:
        IMAP keeps a live session on the mailbox: besides reading, a user can usually delete, move
        and flag mail, so a stolen IMAP password is worth as much as the access users are given.
        Check whether IMAP on this port is still used, what rights accounts have, and how sensitive
        the stored mail is.

    Fix:
        Point clients at IMAPS on port 993 and close port 143. If 143 must remain, offer STARTTLS
        and refuse LOGIN/AUTHENTICATE until TLS is active, so the server advertises LOGINDISABLED
        (Dovecot: ssl = required; disable_plaintext_auth = yes).
    """
    if _without_tls(port):
        yield Observation(
            summary=f"IMAP on port {port.number} has no TLS and does not offer STARTTLS",
            evidence=capability_evidence(port),
        )


@rule("MT103", "SMTP without STARTTLS", Severity.MEDIUM, protocols=(Protocol.SMTP,), cwe=319,
      references=("Nessus 42088 (reports STARTTLS support; this is its absence)", f"{GREENBONE}105091"))
def smtp_without_starttls(port: PortRecord) -> Iterator[Observation]:
    """An SMTP server (on port 25, or any SMTP port other than submission on 587) answers in plaintext
    and does not advertise STARTTLS, so mail handed to it is exposed in transit.

    Context:
        This is not the same risk as POP3 or IMAP in the clear. Port 25 is how the rest of the
        internet delivers mail to this domain, so it has to stay open on a mail exchanger; the
        problem is that without STARTTLS every message sent to it crosses the network readable, and
        sending servers that would encrypt cannot. If the host does not receive mail from the
        internet at all, ask why port 25 is reachable. An SMTP server that relays for strangers or
        accepts logins on this port is a further, separate risk.

    Fix:
        Keep port 25 open if the host receives internet mail, but offer STARTTLS with a valid
        certificate (Postfix: smtpd_tls_security_level = may, with smtpd_tls_cert_file and
        smtpd_tls_key_file). Accept AUTH only after STARTTLS (smtpd_tls_auth_only = yes), move
        client submission to 465 or 587, and make sure the server relays only for its own users.
    """
    if _without_tls(port) and not is_submission(port):
        yield Observation(
            summary=f"SMTP on port {port.number} has no TLS and does not advertise STARTTLS",
            evidence=capability_evidence(port),
        )


@rule("MT104", "Mail submission without STARTTLS", Severity.HIGH, protocols=(Protocol.SMTP,), cwe=319,
      references=("Nessus 42088 (reports STARTTLS support; this is its absence)", f"{GREENBONE}105091"))
def submission_without_starttls(port: PortRecord) -> Iterator[Observation]:
    """The mail submission port answers in plaintext and does not advertise STARTTLS: mail clients that
    send through it expose their credentials and messages.

    Context:
        Port 587 exists for a user's own mail client to hand over outgoing mail, which means logging
        in: without TLS, the login and every outgoing message are readable on the way.

    Fix:
        Offer STARTTLS on 587 and require it before anything else (Postfix, in master.cf for the
        submission service: -o smtpd_tls_security_level=encrypt), or move clients to implicit TLS on
        port 465 (RFC 8314).
    """
    if _without_tls(port) and is_submission(port):
        yield Observation(
            summary=f"mail submission on port {port.number} has no TLS and does not advertise STARTTLS",
            evidence=capability_evidence(port),
        )


@rule("MT105", "STARTTLS advertised but TLS cannot be set up", Severity.HIGH, protocols=MAIL_PROTOCOLS,
      needs=[Facet.CAPABILITIES], cwe=319)
def starttls_broken(port: PortRecord, capabilities: Capabilities) -> Iterator[Observation]:
    """The server advertises STARTTLS (or STLS), yet nmap could not complete a TLS handshake after it:
    no protocol version or certificate could be read through the upgrade.

    Context:
        The server promises an upgrade it cannot deliver: clients that require TLS fail, and clients
        that only try it fall back to plaintext, so in practice mail and passwords travel
        unencrypted. The usual causes are a missing or unreadable certificate or key, or TLS
        settings no client can meet.

    Fix:
        Fix the server's TLS configuration (certificate and key paths, permissions, protocol and
        cipher settings), then check the handshake: openssl s_client -starttls <protocol> -connect
        host:port.
    """
    if capabilities.before_tls and capabilities.starttls and port.tls_mode is TlsMode.NONE:
        yield Observation(
            summary=f"{port.protocol.value.upper()} on port {port.number} advertises STARTTLS "
            "but no TLS handshake succeeded",
            evidence=capability_evidence(port),
        )
