"""STARTTLS command injection: plaintext commands that survive the switch to TLS."""

from __future__ import annotations

from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import PortRecord
from ...protocols import INJECTION_SCRIPT, MAIL_PROTOCOLS
from ..declare import Observation, rule

GROUP = "STARTTLS command injection"


@rule("MT106", "STARTTLS command injection", Severity.HIGH, protocols=MAIL_PROTOCOLS, cwe=74,
      references=("CVE-2011-0411", "CVE-2021-33515", "CVE-2021-38371", "Nessus 52611", "Nessus 52610",
                  "https://www.postfix.org/CVE-2011-0411.html", "https://nostarttls.secvuln.info/"))
def starttls_command_injection(port: PortRecord) -> Iterator[Observation]:
    """The server keeps commands sent in plaintext together with STARTTLS (STLS for POP3) and runs them
    once TLS is up: mailtls's NSE script sent STARTTLS and a no-op in one packet, completed the TLS
    handshake, and the no-op was answered inside TLS.

    Context:
        Whoever sits on the network path can add commands behind the client's STARTTLS. The server
        then runs them as if the client had sent them inside the encrypted session: on SMTP, for
        example, an injected command can redirect where a message goes or capture the client's
        credentials in a message to the attacker (Postfix's CVE-2011-0411 advisory shows how). The
        test sends only protocol no-ops (SMTP NOOP, IMAP NOOP, POP3 CAPA), so a finding here means
        the flaw is present, not that anything was changed.

    Fix:
        Update the mail server: fixed servers discard everything received in plaintext after the
        STARTTLS command (Postfix >= 2.8.4 and the 2.7.3/2.6.9/2.5.12 updates; Dovecot >= 2.3.14.1
        for its submission service; Exim >= 4.94.2). If no fix exists, move clients to implicit TLS
        (465, 993, 995) where there is no plaintext phase to inject into.
    """
    script = port.script(INJECTION_SCRIPT)
    if script is not None and script.output.startswith("VULNERABLE:"):
        yield Observation(
            summary=f"{port.protocol.value.upper()} on port {port.number} runs commands injected "
            "in plaintext behind STARTTLS",
            evidence=(f"{INJECTION_SCRIPT}: {script.output.splitlines()[0]}",),
        )
