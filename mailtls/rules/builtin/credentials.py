"""Logins a server accepts before TLS ("Cleartext credentials").

These look at what the server advertises *before* TLS on a plaintext or STARTTLS
port. On implicit-TLS ports (465, 993, 995) nmap's capability scripts talk inside
TLS, so the same keywords there are harmless and these rules stay silent.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import Capabilities, Facet, PortRecord
from ...protocols import Protocol
from ..declare import Observation, rule
from ._common import CLEARTEXT_MECHANISMS, GREENBONE, capability_evidence

GROUP = "Cleartext credentials"


def _cleartext_mechanisms(caps: Capabilities) -> list[str]:
    return [m for m in caps.auth_mechanisms if m in CLEARTEXT_MECHANISMS]


@rule("MT111", "POP3 offers a password login before TLS", Severity.MEDIUM, protocols=(Protocol.POP3,),
      needs=[Facet.CAPABILITIES], cwe=523, references=("Nessus 15855", f"{GREENBONE}15855"))
def pop3_cleartext_login(port: PortRecord, capabilities: Capabilities) -> Iterator[Observation]:
    """Before any TLS, the POP3 server advertises USER (plaintext USER/PASS) or a SASL mechanism that
    carries the password itself (PLAIN, LOGIN). A login made that way exposes the password to anyone
    who can see the traffic.

    Context:
        Even where STLS is offered, a client that does not insist on it (or an attacker who strips
        STLS from the server's reply) will send the password in the clear, and the server accepts
        it.

    Fix:
        Refuse USER/PASS and SASL PLAIN/LOGIN until STLS has been used (Dovecot:
        disable_plaintext_auth = yes), and move clients to POP3S on 995.
    """
    offered = ["USER"] if capabilities.user_login else []
    offered += [f"SASL {m}" for m in _cleartext_mechanisms(capabilities)]
    if capabilities.before_tls and offered:
        yield Observation(
            summary=f"POP3 on port {port.number} offers {', '.join(offered)} before TLS",
            evidence=capability_evidence(port),
        )


@rule("MT112", "IMAP allows LOGIN before TLS", Severity.MEDIUM, protocols=(Protocol.IMAP,),
      needs=[Facet.CAPABILITIES], cwe=523, references=("Nessus 15856", f"{GREENBONE}15856"))
def imap_cleartext_login(port: PortRecord, capabilities: Capabilities) -> Iterator[Observation]:
    """Before any TLS, the IMAP server does not advertise LOGINDISABLED, so it accepts the LOGIN
    command (user name and password in plain text) on an unencrypted connection.

    Context:
        An IMAP server that does not advertise LOGINDISABLED before TLS will take a user name and
        password on the unencrypted connection. Offering STARTTLS does not help a client that never
        asks for it, or one whose STARTTLS was stripped on the way.

    Fix:
        Make the server refuse LOGIN and plaintext AUTHENTICATE until STARTTLS has been used, so
        that it advertises LOGINDISABLED (Dovecot: disable_plaintext_auth = yes), and move clients
        to IMAPS on 993.
    """
    if not capabilities.before_tls or capabilities.login_disabled:
        return
    mechanisms = _cleartext_mechanisms(capabilities)
    extra = f" (and AUTH={', AUTH='.join(mechanisms)})" if mechanisms else ""
    yield Observation(
        summary=f"IMAP on port {port.number} accepts LOGIN before TLS{extra}",
        evidence=capability_evidence(port),
    )


@rule("MT113", "SMTP offers AUTH before STARTTLS", Severity.MEDIUM, protocols=(Protocol.SMTP,),
      needs=[Facet.CAPABILITIES], cwe=523, references=("Nessus 54582", f"{GREENBONE}108530"))
def smtp_auth_before_tls(port: PortRecord, capabilities: Capabilities) -> Iterator[Observation]:
    """Before any TLS, the SMTP server advertises AUTH: it is willing to take credentials on an
    unencrypted connection. With PLAIN or LOGIN the password itself crosses the network.

    Context:
        A mail client, script or device that authenticates here without first issuing STARTTLS sends
        its password in the clear, and the server has said it will accept that. Stolen SMTP
        credentials are a common way spammers send mail through a legitimate server.

    Fix:
        Advertise AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes). Better still, take
        logins only on 465 (implicit TLS) or 587 with TLS required, and none on port 25.
    """
    if not capabilities.before_tls or not capabilities.auth_mechanisms:
        return
    yield Observation(
        summary=f"SMTP on port {port.number} offers AUTH {' '.join(capabilities.auth_mechanisms)} before STARTTLS",
        evidence=capability_evidence(port),
    )
