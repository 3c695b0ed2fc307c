"""The facts every step shares, declared once: mail protocols, their ports, and nmap's scripts.

Everything else imports these names; no other module writes a port number or a
script name down for itself.
"""

from __future__ import annotations

import enum
from types import MappingProxyType


class Protocol(str, enum.Enum):
    """The mail protocol a port speaks, from service detection or, failing that, the port number."""

    POP3 = "pop3"
    IMAP = "imap"
    SMTP = "smtp"
    OTHER = "other"


#: The protocols mailtls judges.
MAIL_PROTOCOLS = frozenset({Protocol.SMTP, Protocol.POP3, Protocol.IMAP})

#: Plaintext ports, upgraded with STARTTLS (STLS for POP3) when the server offers it.
PLAINTEXT_PORTS = MappingProxyType(
    {
        Protocol.SMTP: (25, 587),
        Protocol.POP3: (110,),
        Protocol.IMAP: (143,),
    }
)
#: Implicit-TLS ports (RFC 8314): TLS from the first byte.
IMPLICIT_TLS_PORT = MappingProxyType({Protocol.SMTP: 465, Protocol.POP3: 995, Protocol.IMAP: 993})
#: Mail submission (RFC 6409), where users' own clients log in to send mail.
SUBMISSION_PORT = 587

#: The ports each protocol is expected on.
STANDARD_PORTS = MappingProxyType(
    {protocol: frozenset((*ports, IMPLICIT_TLS_PORT[protocol])) for protocol, ports in PLAINTEXT_PORTS.items()}
)
#: Port number -> protocol, for ports that service detection did not identify.
PORT_PROTOCOL = MappingProxyType(
    {port: protocol for protocol, ports in STANDARD_PORTS.items() for port in sorted(ports)}
)
#: What ``assess`` scans when the caller names no ports.
DEFAULT_PORTS: tuple[int, ...] = tuple(sorted(PORT_PROTOCOL))

#: nmap service names -> protocol (with and without ``-sV``, nmap uses both spellings).
SERVICE_PROTOCOL = MappingProxyType(
    {
        "smtp": Protocol.SMTP,
        "smtps": Protocol.SMTP,
        "submission": Protocol.SMTP,
        "submissions": Protocol.SMTP,
        "pop3": Protocol.POP3,
        "pop3s": Protocol.POP3,
        "pop3pw": Protocol.POP3,
        "imap": Protocol.IMAP,
        "imaps": Protocol.IMAP,
        "imap3": Protocol.IMAP,
    }
)
# nselib/sslcert.lua: nmap speaks STARTTLS first when the service name or the port
# number is one of these (and the service is not tunnelled); otherwise it opens TLS directly.
NMAP_STARTTLS_SERVICES = frozenset({"smtp", "imap", "pop3", "lmtp"})
NMAP_STARTTLS_PORTS = frozenset(port for ports in PLAINTEXT_PORTS.values() for port in ports)

#: TLS grading and the certificate, through STARTTLS where the protocol has it.
TLS_SCRIPTS: tuple[str, ...] = ("ssl-enum-ciphers", "ssl-cert")
#: What each mail protocol advertises: the script, and the protocol its answer proves.
CAPABILITY_SCRIPTS = MappingProxyType(
    {
        # First: where both ran, the reader prefers its exact EHLO lines (see EHLO_SCRIPT).
        "mailtls-ehlo": Protocol.SMTP,
        "smtp-commands": Protocol.SMTP,
        "imap-capabilities": Protocol.IMAP,
        "pop3-capabilities": Protocol.POP3,
    }
)
#: mailtls's STARTTLS command-injection test (CVE-2011-0411 and its cousins): STARTTLS and a
#: protocol no-op in one packet, then whether the no-op is answered inside TLS. It runs on
#: plaintext SMTP/IMAP/POP3 ports that offer STARTTLS and sends nothing that changes state.
INJECTION_SCRIPT = "mailtls-starttls-injection"
#: What nmap runs on every port.
SCRIPTS: tuple[str, ...] = (*TLS_SCRIPTS, *CAPABILITY_SCRIPTS, INJECTION_SCRIPT)
#: mailtls's own EHLO script: the reply line by line, where ``smtp-commands`` joins the lines
#: with ", " so that greeting text ("250-mx.example Hello, STARTTLS") reads like a keyword.
#: ``smtp-commands`` still runs, for the HELP text and for XML from tools without this script.
EHLO_SCRIPT = "mailtls-ehlo"
#: Scripts that ship inside mailtls (``mailtls/nse/NAME.nse``), passed to nmap by path.
PACKAGED_SCRIPTS: frozenset[str] = frozenset({EHLO_SCRIPT, INJECTION_SCRIPT})
#: Where a mail domain's MX hosts receive mail from other servers (``assess_domain`` scans it).
MX_PORT = 25
#: Sends test mail transactions to see whether the server relays: opt-in only.
OPEN_RELAY_SCRIPT = "smtp-open-relay"
