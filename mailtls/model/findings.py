"""Step 5 of the data flow: what a finding is, and how bad.

``Severity`` lives here, below the rules, so the model depends on nothing above it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs

from ..protocols import Protocol


@enum.unique
class Severity(str, enum.Enum):
    """How bad a finding is. Ordered: ``Severity.INFO < Severity.LOW < ... < Severity.CRITICAL``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    # Severity is a str, so without these a comparison with a plain string would fall
    # back to alphabetical order ("high" < "medium"). A severity name compares by rank;
    # any other string cannot be compared.
    def __lt__(self, other: object) -> bool:
        return self.rank < _rank_of(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank_of(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank_of(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank_of(other)


def _rank_of(other: object) -> int:
    if isinstance(other, Severity):
        return other.rank
    if isinstance(other, str):
        try:
            return Severity(other.lower()).rank
        except ValueError:
            pass
    raise TypeError(f"cannot compare a Severity with {other!r}: use one of {[s.value for s in Severity]}")


_RANK = {severity: rank for rank, severity in enumerate(Severity)}


@attrs.frozen
class Finding:
    """One rule's observation about one port (or host), with everything needed to act on it."""

    rule_id: str
    title: str
    severity: Severity
    #: The finding group, e.g. "Email without SSL/TLS Found".
    group: str
    #: The host's IP address.
    host: str
    #: The port the finding is about; None for a finding about the whole host.
    port: int | None
    protocol: Protocol | None
    #: What was observed on this port, in one sentence.
    summary: str
    #: What to weigh before acting.
    context: str = ""
    #: What to do.
    remediation: str = ""
    evidence: tuple[str, ...] = ()
    cwe: int | None = None
    references: tuple[str, ...] = ()
    #: The DNS name the scan was asked for, if any.
    hostname: str | None = None
    #: The mail domain the finding belongs to, when it came from ``assess_domain``.
    domain: str | None = None

    @property
    def location(self) -> str:
        where = self.hostname or self.host
        if ":" in where:
            where = f"[{where}]"
        return f"{where}:{self.port}" if self.port is not None else where

    def _repr_html_(self) -> str:
        """One finding as the HTML report shows it (for notebooks)."""
        from ..output.html import finding_fragment  # looked up only when a notebook asks

        return finding_fragment(self)


@attrs.frozen
class Column:
    """One column of a finding, as every tabular output shows it (CSV, Markdown, HTML, the
    DataFrame, the terminal table): declared once, in ``FINDING_COLUMNS``."""

    #: The CSV header, DataFrame column and HTML data key.
    name: str
    #: The heading a person reads.
    title: str
    #: The value: a str, an int, None, or a tuple of str (shown joined with "; ").
    value: Callable[[Finding], object]
    #: Shown in the compact views (terminal table, Markdown, notebook); every column is in
    #: the full ones (CSV, DataFrame, the HTML report's detail).
    brief: bool = True

    def text(self, finding: Finding) -> str:
        value = self.value(finding)
        if value is None:
            return ""
        if isinstance(value, tuple):
            return "; ".join(str(v) for v in value)
        return str(value)


#: The columns of a finding, in order. A field added to ``Finding`` is added here and
#: appears in every tabular output.
FINDING_COLUMNS: tuple[Column, ...] = (
    Column("severity", "Severity", lambda f: f.severity.value),
    Column("rule_id", "Rule", lambda f: f.rule_id),
    Column("host", "Host", lambda f: f.host),
    Column("hostname", "Host name", lambda f: f.hostname, brief=False),
    Column("domain", "Mail domain", lambda f: f.domain, brief=False),
    Column("port", "Port", lambda f: f.port),
    Column("protocol", "Protocol", lambda f: f.protocol.value if f.protocol else None, brief=False),
    Column("title", "Finding", lambda f: f.title),
    Column("summary", "Observed", lambda f: f.summary),
    Column("evidence", "Evidence", lambda f: f.evidence, brief=False),
    Column("context", "Context", lambda f: f.context, brief=False),
    Column("remediation", "Fix", lambda f: f.remediation),
    Column("cwe", "CWE", lambda f: f.cwe, brief=False),
    Column("references", "References", lambda f: f.references, brief=False),
    Column("group", "Group", lambda f: f.group, brief=False),
)
