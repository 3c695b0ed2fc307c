"""mailtls: find mail services that expose email without TLS, and explain what to do about each.

    >>> import mailtls
    >>> report = mailtls.assess("127.0.0.11")        # nmap -sV + TLS and capability scripts
    >>> for finding in report.findings:               # worst first
    ...     print(finding.severity.value, finding.rule_id, finding.location, finding.summary)

The data flow, one module per step: target (``_target``) → nmap run (``_nmap``) →
XML → records (``_xml``, ``_records``) → rules (``_registry``, ``rules/``) →
findings (``_engine``) → report (``_report``, ``_json``).
"""

from ._assess import assess, assess_xml
from ._errors import (
    MailTlsError,
    NmapNotFoundError,
    PortsError,
    RuleError,
    ScannerError,
    SerializationError,
    TargetError,
    XmlError,
)
from ._json import from_json, make_converter, to_json
from ._records import (
    Capabilities,
    Certificate,
    Cipher,
    HostRecord,
    NameAttribute,
    PortRecord,
    PortState,
    Problem,
    Protocol,
    ScanRecord,
    ScriptOutput,
    Service,
    Stage,
    TlsMode,
    TlsProfile,
    TlsVersion,
)
from ._registry import Observation, Registry, Rule, RuleSpec, Severity, rule
from ._report import Finding, Report
from ._sarif import to_sarif
from ._xml import read_scan

__version__ = "0.1.0"

__all__ = [
    "Capabilities",
    "Certificate",
    "Cipher",
    "Finding",
    "HostRecord",
    "MailTlsError",
    "NameAttribute",
    "NmapNotFoundError",
    "Observation",
    "PortRecord",
    "PortState",
    "PortsError",
    "Problem",
    "Protocol",
    "Registry",
    "Report",
    "Rule",
    "RuleError",
    "RuleSpec",
    "ScanRecord",
    "ScannerError",
    "ScriptOutput",
    "SerializationError",
    "Service",
    "Severity",
    "Stage",
    "TargetError",
    "TlsMode",
    "TlsProfile",
    "TlsVersion",
    "XmlError",
    "assess",
    "assess_xml",
    "from_json",
    "make_converter",
    "read_scan",
    "rule",
    "to_json",
    "to_sarif",
]
