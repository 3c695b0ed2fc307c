"""Step 5 of the data flow: what a finding is, and how bad.

``Severity`` lives here, below the rules, so the model depends on nothing above it.
"""

from __future__ import annotations

import enum

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

    @property
    def location(self) -> str:
        where = self.hostname or self.host
        if ":" in where:
            where = f"[{where}]"
        return f"{where}:{self.port}" if self.port is not None else where
