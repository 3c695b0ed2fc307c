"""Small facts shared by several built-in rule modules."""

from __future__ import annotations

from ...model.records import PortRecord, TlsMode
from ...protocols import SUBMISSION_PORT

#: Prefix of Greenbone/OpenVAS test OIDs, for rule cross-references.
GREENBONE = "Greenbone 1.3.6.1.4.1.25623.1.0."

#: SASL mechanisms that carry the password itself (base64 is not encryption).
CLEARTEXT_MECHANISMS = frozenset({"PLAIN", "LOGIN"})


def is_submission(port: PortRecord) -> bool:
    """Mail submission (RFC 6409) on 587, where clients log in to send mail."""
    return port.number == SUBMISSION_PORT or port.service.name == "submission"


def capability_evidence(port: PortRecord) -> tuple[str, ...]:
    caps = port.capabilities
    evidence = [f"service: {port.service.name or 'unknown'} ({port.service.method or 'no detection'})"]
    if caps is None:
        evidence.append("the server's capabilities could not be read")
    else:
        where = "before TLS" if caps.before_tls else "inside TLS"
        evidence.append(f"{caps.script} ({where}): {caps.raw.splitlines()[0] if caps.raw else '(empty)'}")
    if port.tls_mode is not TlsMode.NONE and port.tls is not None:
        evidence.append(f"TLS ({port.tls_mode.value}): {', '.join(port.tls.version_names) or 'no versions'}")
    return tuple(evidence)
