"""SMTP behaviour that invites abuse ("SMTP abuse")."""

from __future__ import annotations

from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import Capabilities, Facet, PortRecord
from ...protocols import OPEN_RELAY_SCRIPT, Protocol
from ..declare import Observation, rule
from ._common import GREENBONE

GROUP = "SMTP abuse"


@rule("MT401", "SMTP open relay", Severity.CRITICAL, protocols=(Protocol.SMTP,), cwe=441,
      references=("Nessus 10262", f"{GREENBONE}100073", f"{GREENBONE}11852"))
def open_relay(port: PortRecord) -> Iterator[Observation]:
    """nmap's ``smtp-open-relay`` script got the server to accept mail for a domain it does not serve,
    from a sender it does not know.

    Context:
        An open relay forwards mail from anyone to anyone. Spammers find such servers within hours;
        the result is abuse of your bandwidth, your address on block lists, and your own mail no
        longer delivered. This check sends test mail transactions (nmap's smtp-open-relay), so
        mailtls runs it only when asked.

    Fix:
        Relay only for your own networks and authenticated users (Postfix:
        smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
        reject_unauth_destination) and keep mynetworks to addresses you control.
    """
    script = port.script(OPEN_RELAY_SCRIPT)
    if script is not None and script.output.startswith("Server is an open relay"):
        lines = [line.strip() for line in script.output.splitlines()]
        yield Observation(summary=f"SMTP on port {port.number}: {lines[0]}", evidence=tuple(lines[1:6]))


@rule("MT402", "SMTP VRFY or EXPN enabled", Severity.LOW, protocols=(Protocol.SMTP,), needs=[Facet.CAPABILITIES],
      cwe=204, references=("Nessus 10249", f"{GREENBONE}100072"))
def vrfy_expn(port: PortRecord, capabilities: Capabilities) -> Iterator[Observation]:
    """The SMTP server advertises VRFY or EXPN, in its EHLO reply or its HELP text.

    Context:
        VRFY and EXPN tell whoever asks whether a mailbox exists or what a list expands to, which
        helps build lists of valid addresses for spam, phishing and password guessing.

    Fix:
        Disable both commands (Postfix: disable_vrfy_command = yes; EXPN is not implemented by
        Postfix).
    """
    words = set(capabilities.keywords) | set(capabilities.raw.upper().replace(",", " ").split())
    enabled = [command for command in ("VRFY", "EXPN") if command in words]
    if enabled:
        yield Observation(
            summary=f"SMTP on port {port.number} advertises {' and '.join(enabled)}",
            evidence=(capabilities.raw.splitlines()[0],),
        )
