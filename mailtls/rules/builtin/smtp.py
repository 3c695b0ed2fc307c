"""SMTP behaviour that invites abuse ("SMTP abuse")."""

from __future__ import annotations

from collections.abc import Iterator

from ...model.findings import Severity
from ...model.records import PortRecord
from ...protocols import OPEN_RELAY_SCRIPT, Protocol
from ..registry import Observation, rule
from ._common import GREENBONE

GROUP = "SMTP abuse"


@rule(
    id="MT401",
    protocols=(Protocol.SMTP,),
    title="SMTP open relay",
    severity=Severity.CRITICAL,
    group=GROUP,
    cwe=441,
    references=("Nessus 10262", f"{GREENBONE}100073", f"{GREENBONE}11852"),
    context=(
        "An open relay forwards mail from anyone to anyone. Spammers find such servers within "
        "hours; the result is abuse of your bandwidth, your address on block lists, and your "
        "own mail no longer delivered. This check sends test mail transactions (nmap's "
        "smtp-open-relay), so mailtls runs it only when asked."
    ),
    remediation=(
        "Relay only for your own networks and authenticated users (Postfix: smtpd_relay_restrictions "
        "= permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination) and keep "
        "mynetworks to addresses you control."
    ),
)
def open_relay(port: PortRecord) -> Iterator[Observation]:
    """nmap's ``smtp-open-relay`` script got the server to accept mail for a domain it does not
    serve, from a sender it does not know."""
    script = port.script(OPEN_RELAY_SCRIPT)
    if script is not None and script.output.startswith("Server is an open relay"):
        lines = [line.strip() for line in script.output.splitlines()]
        yield Observation(summary=f"SMTP on port {port.number}: {lines[0]}", evidence=tuple(lines[1:6]))


@rule(
    id="MT402",
    protocols=(Protocol.SMTP,),
    title="SMTP VRFY or EXPN enabled",
    severity=Severity.LOW,
    group=GROUP,
    cwe=204,
    references=("Nessus 10249", f"{GREENBONE}100072"),
    context=(
        "VRFY and EXPN tell whoever asks whether a mailbox exists or what a list expands to, "
        "which helps build lists of valid addresses for spam, phishing and password guessing."
    ),
    remediation="Disable both commands (Postfix: disable_vrfy_command = yes; EXPN is not implemented by Postfix).",
)
def vrfy_expn(port: PortRecord) -> Iterator[Observation]:
    """The SMTP server advertises VRFY or EXPN, in its EHLO reply or its HELP text."""
    caps = port.capabilities
    if port.protocol is not Protocol.SMTP or caps is None:
        return
    words = set(caps.keywords) | set(caps.raw.upper().replace(",", " ").split())
    enabled = [command for command in ("VRFY", "EXPN") if command in words]
    if enabled:
        yield Observation(
            summary=f"SMTP on port {port.number} advertises {' and '.join(enabled)}",
            evidence=(caps.raw.splitlines()[0],),
        )
