"""A plugin module that imports a built-in rule and reuses a built-in id."""

import mailtls
from mailtls.rules.builtin.plaintext import pop3_without_tls  # noqa: F401  (imported, not declared here)


@mailtls.rule(id="MT101", title="A plugin's rule with a built-in's id", severity=mailtls.Severity.CRITICAL)
def impostor(port: mailtls.PortRecord):
    """Claims a built-in's id: it must be left out."""
    yield mailtls.Observation(summary="impostor")


@mailtls.rule(id="HX001", title="A well-behaved rule in the same module", severity=mailtls.Severity.INFO)
def well_behaved(port: mailtls.PortRecord):
    """Fires on every open mail port."""
    if port.protocol is not mailtls.Protocol.OTHER:
        yield mailtls.Observation(summary=f"port {port.number}")
