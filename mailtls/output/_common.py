"""What several outputs share: findings grouped by host with repeats merged, severity
counts, and a diff laid out as rows."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import attrs

from ..model.diff import Diff
from ..model.findings import Finding, Severity
from ..model.report import Report, TargetResult

#: The order of a diff's sections, and what each is called.
CHANGES = ("new", "changed", "resolved", "unverified")


class Merged(NamedTuple):
    """Findings of one host that say the same thing about several ports, shown once."""

    first: Finding
    ports: tuple[int, ...]

    @property
    def finding(self) -> Finding:
        """The first finding, its summary naming every port when there are several."""
        if len(self.ports) < 2 or self.first.port is None:
            return self.first
        ports = ", ".join(str(p) for p in self.ports)
        summary = re.sub(rf"\bports? (?<!\d){self.first.port}(?!\d)", f"ports {ports}", self.first.summary)
        if summary == self.first.summary:
            summary = re.sub(rf"(?<!\d){self.first.port}(?!\d)", ports, self.first.summary)
        return attrs.evolve(self.first, summary=summary)

    @property
    def ports_text(self) -> str:
        return ", ".join(str(p) for p in self.ports) if self.ports else "host"


def _pattern(finding: Finding) -> tuple[str, str]:
    summary = finding.summary
    if finding.port is not None:
        summary = re.sub(rf"(?<!\d){finding.port}(?!\d)", "{port}", summary)
    return finding.rule_id, summary


def merge_ports(findings: Iterable[Finding]) -> list[Merged]:
    """Findings that differ only by port (same rule, same summary but for the port number:
    one certificate on three ports) become one entry listing the ports, in first-seen order."""
    groups: dict[tuple[str, str, Severity], list[Finding]] = {}
    for finding in findings:
        rule_id, summary = _pattern(finding)
        groups.setdefault((rule_id, summary, finding.severity), []).append(finding)
    return [Merged(group[0], tuple(sorted({f.port for f in group if f.port is not None}))) for group in groups.values()]


def by_host(report: Report) -> Iterator[tuple[TargetResult, list[Finding]]]:
    """Each target with its findings worst first, targets with the worst findings first."""

    def order(result: TargetResult) -> tuple[int, int, str]:
        worst = max((f.severity.rank for f in result.findings), default=-1)
        return (-worst, -len(result.findings), result.target)

    for result in sorted(report.targets, key=order):
        yield result, sorted(result.findings, key=lambda f: (-f.severity.rank, f.port or 0, f.rule_id))


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    """Finding count by severity, worst first, every severity present (0 included)."""
    counts = Counter(f.severity for f in findings)
    return {severity: counts.get(severity, 0) for severity in sorted(Severity, reverse=True)}


def summary_line(report: Report) -> str:
    """One line: findings by severity, and the targets' outcomes."""
    counts = severity_counts(report.findings)
    found = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "no findings"
    outcomes = Counter(t.outcome for t in report.targets)
    targets = ", ".join(f"{n} {o.value}" for o, n in outcomes.items())
    noun = "target" if len(report.targets) == 1 else "targets"
    return f"{len(report.findings)} findings ({found}) on {len(report.targets)} {noun} ({targets or 'none'})"


class DiffRow(NamedTuple):
    change: str
    finding: Finding
    #: For a changed finding: what it was.
    before: Finding | None = None


def diff_rows(diff: Diff) -> list[DiffRow]:
    rows = [DiffRow("new", f) for f in diff.new]
    rows += [DiffRow("changed", c.new, c.old) for c in diff.changed]
    rows += [DiffRow("resolved", f) for f in diff.resolved]
    rows += [DiffRow("unverified", f) for f in diff.unverified]
    return rows


def diff_line(diff: Diff) -> str:
    parts = [f"{len(getattr(diff, name))} {name}" for name in CHANGES]
    line = ", ".join(parts) + f", {diff.unchanged} unchanged"
    if diff.only_in_old:
        line += f"; not assessed this time: {', '.join(diff.only_in_old)}"
    if diff.only_in_new:
        line += f"; assessed only this time: {', '.join(diff.only_in_new)}"
    return line
