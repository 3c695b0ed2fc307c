"""Step 5 of the data flow: what a finding is, how bad, and the texts of the rule behind it.

``Severity`` and ``RuleTexts`` live here, below the rules, so the model depends on nothing
above it.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar, overload

import attrs

from ..protocols import Protocol
from . import views

T = TypeVar("T")


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


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class RuleTexts:
    """A rule's prose, declared once with the rule (its docstring and declaration): the rule
    holds it, and every finding of the rule points at it, so a report carries each text once.

    ``remediation`` is the fix for every server. Fixes that depend on the server software a
    port was identified as (``Service.product``) belong beside it, here."""

    #: Stable and unique, e.g. "MT101": teams track and suppress findings by it.
    id: str
    title: str
    #: The finding group, e.g. "Email without SSL/TLS Found".
    group: str = ""
    #: What to weigh before acting.
    context: str = ""
    #: What to do.
    remediation: str = ""
    #: CWE number, e.g. 319 for cleartext transmission of sensitive information.
    cwe: int | None = None
    #: Equivalent checks in other tools, e.g. ("Nessus 15855",).
    references: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    #: What the rule finds and why it matters: its user documentation.
    description: str = ""


class _OfRule(Generic[T]):
    """An attribute of a finding that is its rule's: ``finding.title`` reads ``finding.rule.title``."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, finding: None, owner: type) -> _OfRule[T]: ...
    @overload
    def __get__(self, finding: Finding, owner: type) -> T: ...
    def __get__(self, finding: Finding | None, owner: type) -> T | _OfRule[T]:
        return self if finding is None else typing.cast(T, getattr(finding.rule, self.name))


@attrs.frozen
class Finding:
    """One rule's observation about one port (or host), with everything needed to act on it.

    The rule's texts are not copied: ``rule`` is the rule's own ``RuleTexts``, and
    ``title``, ``context``, ``remediation``, ``cwe``, ``references`` and ``group`` read it."""

    rule: RuleTexts
    severity: Severity
    #: The host's IP address.
    host: str
    #: The port the finding is about; None for a finding about the whole host.
    port: int | None
    protocol: Protocol | None
    #: What was observed on this port, in one sentence.
    summary: str
    evidence: tuple[str, ...] = ()
    #: The DNS name the scan was asked for, if any.
    hostname: str | None = None
    #: The mail domain the finding belongs to, when it came from ``assess_domain``.
    domain: str | None = None

    rule_id = _OfRule[str]("id")
    title = _OfRule[str]("title")
    group = _OfRule[str]("group")
    context = _OfRule[str]("context")
    remediation = _OfRule[str]("remediation")
    cwe = _OfRule[int | None]("cwe")
    references = _OfRule[tuple[str, ...]]("references")

    @property
    def location(self) -> str:
        where = self.hostname or self.host
        if ":" in where:
            where = f"[{where}]"
        return f"{where}:{self.port}" if self.port is not None else where

    def _repr_html_(self) -> str | None:
        """One finding as the HTML report shows it, in a notebook (see ``views``)."""
        return views.html(self)


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
