"""An example third-party rule module: every rule declared here is loaded."""

import mailtls


@mailtls.rule(id="EX001", title="Mail service identified", severity=mailtls.Severity.INFO)
def mail_service_identified(port: mailtls.PortRecord):
    """Lists each port where a mail protocol answered nmap's capability probe."""
    if port.protocol is not mailtls.Protocol.OTHER and port.capabilities is not None:
        yield mailtls.Observation(summary=f"{port.protocol.value} answered on port {port.number}")
