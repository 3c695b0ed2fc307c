"""An example third-party rule module: every rule declared here is loaded."""

import mailtls

#: The group of every rule in this module.
GROUP = "Example rules"


@mailtls.rule("EX001", "Mail service identified", mailtls.Severity.INFO, needs=[mailtls.Facet.CAPABILITIES])
def mail_service_identified(port: mailtls.PortRecord, capabilities: mailtls.Capabilities):
    """Lists each port where a mail protocol answered nmap's capability probe.

    Context:
        An inventory, not a problem: every mail service that answered is one to keep patched.

    Fix:
        Nothing to fix; close the services nobody uses.
    """
    if port.protocol is not mailtls.Protocol.OTHER:
        yield mailtls.Observation(summary=f"{port.protocol.value} answered on port {port.number} ({capabilities.script})")
