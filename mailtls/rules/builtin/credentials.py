"""Logins a server accepts before TLS ("Cleartext credentials").

These look at what the server advertises *before* TLS on a plaintext or STARTTLS
port. On implicit-TLS ports (465, 993, 995) nmap's capability scripts talk inside
TLS, so the same keywords there are harmless and these rules stay silent.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import Capabilities, PortRecord
from ...protocols import Protocol
from ..registry import Observation, rule
from ._common import CLEARTEXT_MECHANISMS, GREENBONE, capability_evidence

GROUP = "Cleartext credentials"


def _before_tls(port: PortRecord, protocol: Protocol) -> Capabilities | None:
    caps = port.capabilities
    if port.protocol is not protocol or caps is None or not caps.before_tls:
        return None
    return caps


def _cleartext_mechanisms(caps: Capabilities) -> list[str]:
    return [m for m in caps.auth_mechanisms if m in CLEARTEXT_MECHANISMS]


@rule(
    id="MT111",
    protocols=(Protocol.POP3,),
    title="POP3 offers a password login before TLS",
    severity=Severity.MEDIUM,
    group=GROUP,
    cwe=523,
    references=("Nessus 15855", f"{GREENBONE}15855"),
    context=(
        "Even where STLS is offered, a client that does not insist on it (or an attacker who strips "
        "STLS from the server's reply) will send the password in the clear, and the server accepts it."
    ),
    remediation=(
        "Refuse USER/PASS and SASL PLAIN/LOGIN until STLS has been used (Dovecot: "
        "disable_plaintext_auth = yes), and move clients to POP3S on 995."
    ),
)
def pop3_cleartext_login(port: PortRecord) -> Iterator[Observation]:
    """Before any TLS, the POP3 server advertises USER (plaintext USER/PASS) or a SASL mechanism
    that carries the password itself (PLAIN, LOGIN). A login made that way exposes the password
    to anyone who can see the traffic."""
    caps = _before_tls(port, Protocol.POP3)
    if caps is None:
        return
    offered = (["USER"] if caps.user_login else []) + [f"SASL {m}" for m in _cleartext_mechanisms(caps)]
    if offered:
        yield Observation(
            summary=f"POP3 on port {port.number} offers {', '.join(offered)} before TLS",
            evidence=capability_evidence(port),
        )


@rule(
    id="MT112",
    protocols=(Protocol.IMAP,),
    title="IMAP allows LOGIN before TLS",
    severity=Severity.MEDIUM,
    group=GROUP,
    cwe=523,
    references=("Nessus 15856", f"{GREENBONE}15856"),
    context=(
        "An IMAP server that does not advertise LOGINDISABLED before TLS will take a user name and "
        "password on the unencrypted connection. Offering STARTTLS does not help a client that "
        "never asks for it, or one whose STARTTLS was stripped on the way."
    ),
    remediation=(
        "Make the server refuse LOGIN and plaintext AUTHENTICATE until STARTTLS has been used, so "
        "that it advertises LOGINDISABLED (Dovecot: disable_plaintext_auth = yes), and move clients "
        "to IMAPS on 993."
    ),
)
def imap_cleartext_login(port: PortRecord) -> Iterator[Observation]:
    """Before any TLS, the IMAP server does not advertise LOGINDISABLED, so it accepts the LOGIN
    command (user name and password in plain text) on an unencrypted connection."""
    caps = _before_tls(port, Protocol.IMAP)
    if caps is None or caps.login_disabled:
        return
    mechanisms = _cleartext_mechanisms(caps)
    extra = f" (and AUTH={', AUTH='.join(mechanisms)})" if mechanisms else ""
    yield Observation(
        summary=f"IMAP on port {port.number} accepts LOGIN before TLS{extra}",
        evidence=capability_evidence(port),
    )


@rule(
    id="MT113",
    protocols=(Protocol.SMTP,),
    title="SMTP offers AUTH before STARTTLS",
    severity=Severity.MEDIUM,
    group=GROUP,
    cwe=523,
    references=("Nessus 54582", f"{GREENBONE}108530"),
    context=(
        "A mail client, script or device that authenticates here without first issuing STARTTLS "
        "sends its password in the clear, and the server has said it will accept that. Stolen SMTP "
        "credentials are a common way spammers send mail through a legitimate server."
    ),
    remediation=(
        "Advertise AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes). Better still, "
        "take logins only on 465 (implicit TLS) or 587 with TLS required, and none on port 25."
    ),
)
def smtp_auth_before_tls(port: PortRecord) -> Iterator[Observation]:
    """Before any TLS, the SMTP server advertises AUTH: it is willing to take credentials on an
    unencrypted connection. With PLAIN or LOGIN the password itself crosses the network."""
    caps = _before_tls(port, Protocol.SMTP)
    if caps is None or not caps.auth_mechanisms:
        return
    yield Observation(
        summary=f"SMTP on port {port.number} offers AUTH {' '.join(caps.auth_mechanisms)} before STARTTLS",
        evidence=capability_evidence(port),
    )
