"""mailtls: find mail services that expose email without TLS, and explain what to do about each.

    >>> import mailtls
    >>> report = mailtls.assess("127.0.0.11")        # nmap -sV + TLS and capability scripts
    >>> for finding in report.findings:               # worst first
    ...     print(finding.severity.value, finding.rule_id, finding.location, finding.summary)

The data flow, one folder per step: target and nmap run (``scan/``) → XML → records
(``nmapxml/`` into ``model/``) → rules (``rules/``) → findings and report
(``rules/engine.py`` into ``model/``) → outputs (``output/``, ``cli/``). Ports, protocols
and nmap's scripts are declared once, in ``protocols.py``.
"""

from ._api import Assessment, assess, assess_domain, assess_many, assess_xml, iter_assess, iter_assess_xml
from ._errors import (
    MailTlsError,
    NmapNotFoundError,
    OptionError,
    PortsError,
    RegistryError,
    ScannerError,
    SerializationError,
    TargetError,
    XmlError,
)
from ._version import __version__ as __version__
from .domain import DomainOptions
from .model.diff import Change, Diff, diff
from .model.findings import FINDING_COLUMNS, Column, Finding, RuleTexts, Severity
from .model.records import (
    Capabilities,
    Certificate,
    Cipher,
    Facet,
    HostRecord,
    NameAttribute,
    PortRecord,
    PortState,
    Problem,
    RunRecord,
    ScanRecord,
    ScriptOutput,
    Service,
    Stage,
    TlsMode,
    TlsProfile,
    TlsVersion,
)
from .model.report import Outcome, Report, TargetResult
from .nmapxml.reader import read_scan
from .output import render, to_csv, to_dataframe, to_defectdojo, to_html, to_jsonl, to_markdown, to_ocsf, write_jsonl
from .output.json import from_json, make_converter, to_json
from .output.sarif import to_sarif
from .protocols import Protocol
from .rules.declare import Observation, Rule, RuleSpec, rule
from .rules.registry import Registry
from .scan.options import ScanOptions

__all__ = [
    "FINDING_COLUMNS",
    "Assessment",
    "Capabilities",
    "Certificate",
    "Change",
    "Cipher",
    "Column",
    "Diff",
    "DomainOptions",
    "Facet",
    "Finding",
    "HostRecord",
    "MailTlsError",
    "NameAttribute",
    "NmapNotFoundError",
    "Observation",
    "OptionError",
    "Outcome",
    "PortRecord",
    "PortState",
    "PortsError",
    "Problem",
    "Protocol",
    "Registry",
    "RegistryError",
    "Report",
    "Rule",
    "RuleSpec",
    "RuleTexts",
    "RunRecord",
    "ScanOptions",
    "ScanRecord",
    "ScannerError",
    "ScriptOutput",
    "SerializationError",
    "Service",
    "Severity",
    "Stage",
    "TargetError",
    "TargetResult",
    "TlsMode",
    "TlsProfile",
    "TlsVersion",
    "XmlError",
    "assess",
    "assess_domain",
    "assess_many",
    "assess_xml",
    "diff",
    "from_json",
    "iter_assess",
    "iter_assess_xml",
    "make_converter",
    "read_scan",
    "render",
    "rule",
    "to_csv",
    "to_dataframe",
    "to_defectdojo",
    "to_html",
    "to_json",
    "to_jsonl",
    "to_markdown",
    "to_ocsf",
    "to_sarif",
    "write_jsonl",
]
