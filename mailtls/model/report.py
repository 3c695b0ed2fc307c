"""Step 6 of the data flow: the report that holds a scan's records, findings and problems."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from .._errors import MailTlsError
from .findings import Finding, Severity
from .records import HostRecord, Problem, ScanRecord

if TYPE_CHECKING:
    import pandas


def _sorted_findings(findings: tuple[Finding, ...] | list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (-f.severity.rank, f.host, f.port or 0, f.rule_id)))


@attrs.frozen
class Report:
    """What ``assess`` and ``assess_xml`` return: the scan, its findings (worst first) and its errors."""

    scan: ScanRecord
    findings: tuple[Finding, ...] = attrs.field(default=(), converter=_sorted_findings)
    #: Everything that failed while the rest went on: hosts that did not answer,
    #: rules that raised, plugins that did not load, XML that stopped early.
    errors: tuple[Problem, ...] = ()
    #: The target as the caller gave it, for ``assess``; None for ``assess_xml``.
    target: str | None = None

    @property
    def hosts(self) -> tuple[HostRecord, ...]:
        return self.scan.hosts

    @property
    def complete(self) -> bool:
        """The scan finished and nothing failed."""
        return self.scan.complete and not self.errors

    def at_least(self, severity: Severity | str) -> tuple[Finding, ...]:
        """The findings of this severity or worse."""
        floor = Severity(severity)
        return tuple(f for f in self.findings if f.severity >= floor)

    def by_rule(self, rule_id: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.rule_id == rule_id)

    def to_dataframe(self) -> "pandas.DataFrame":
        """The findings as a pandas DataFrame, one row per finding, worst first (for notebooks).

        Needs the optional extra: ``pip install 'mailtls[pandas]'``. Severity is an ordered
        categorical, so ``df.sort_values("severity")`` and ``df[df.severity >= "medium"]`` work.
        """
        try:
            import pandas
        except ImportError:
            raise MailTlsError("Report.to_dataframe needs pandas: pip install 'mailtls[pandas]'") from None
        columns = [a.name for a in attrs.fields(Finding)]
        rows = [attrs.asdict(f, recurse=False) for f in self.findings]
        frame = pandas.DataFrame(rows, columns=columns)
        order = [s.value for s in Severity]
        frame["severity"] = pandas.Categorical([f.severity.value for f in self.findings], categories=order, ordered=True)
        frame["protocol"] = [f.protocol.value if f.protocol else None for f in self.findings]
        return frame
