"""The terminal view: a one-line severity summary, then the findings grouped by host, a
finding repeated across a host's ports shown once with its ports listed, then each rule's
fix once (not once per host: fifty hosts must not make fifty copies of the same advice)."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..model.diff import Diff
from ..model.findings import FINDING_COLUMNS, Finding, Severity
from ..model.report import Report
from ._common import CHANGES, by_host, diff_line, diff_rows, merge_ports, severity_counts, summary_line

STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
#: The compact columns, less what the host heading says, the merged ports column shows,
#: and the fix (printed once per rule, after the hosts).
_COLUMNS = tuple(c for c in FINDING_COLUMNS if c.brief and c.name not in {"host", "port", "remediation"})


def _severities(findings: list[Finding]) -> Text:
    text = Text()
    for severity, count in severity_counts(findings).items():
        if count:
            text.append(f" {count} {severity.value} ", style=STYLE[severity])
            text.append(" ")
    return text


def _cell(finding: Finding, name: str, value: str) -> Text | str:
    if name == "severity":
        return Text(value, style=STYLE[finding.severity])
    if name == "remediation":
        return Text(value, style="dim")
    return value


def _table(rows: list[tuple[str, Finding]], first: str = "ports") -> Table:
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    table.add_column(first, no_wrap=True)
    for column in _COLUMNS:
        narrow = column.name in {"severity", "rule_id"}
        ratio = None if narrow else 3 if column.name == "summary" else 2
        table.add_column(column.title.lower(), no_wrap=narrow, ratio=ratio)
    for where, finding in rows:
        table.add_row(where, *(_cell(finding, c.name, c.text(finding)) for c in _COLUMNS))
    return table


def print_report(report: Report, console: Console) -> None:
    """The report on a terminal (or plain text when the console is not one)."""
    console.print(Text(summary_line(report), style="bold"))
    for result, findings in by_host(report):
        name = result.target
        if result.host is not None and result.host.address != result.target:
            name += f" ({result.host.address})"
        heading = Text(name, style="bold")
        if findings:
            heading.append("  ")
            heading.append_text(_severities(findings))
        else:
            reason = f": {result.reason}" if result.reason else ""
            style = "red" if not result.outcome.answered else "dim"
            heading.append(f"  no findings ({result.outcome.value}{reason})", style=style)
        console.print()
        console.print(heading)
        if findings:
            console.print(_table([(m.ports_text, m.finding) for m in merge_ports(findings)]))
    _fixes(report.findings, console)
    for problem in report.all_problems:
        where = f" {problem.address}" if problem.address else ""
        where += f":{problem.port}" if problem.port else ""
        console.print(Text.assemble(("error", "red"), f" ({problem.stage.value}){where}: {problem.message}"))


def _fixes(findings: tuple[Finding, ...] | list[Finding], console: Console) -> None:
    fixes: dict[str, Finding] = {}
    for finding in findings:
        fixes.setdefault(finding.rule_id, finding)
    if not fixes:
        return
    console.print()
    console.print(Text("How to fix (mailtls explain RULE for the whole text)", style="bold"))
    for rule_id, finding in fixes.items():
        console.print(
            Text.assemble((f"{rule_id} ", STYLE[finding.severity]), (finding.title, "bold"), f": {finding.remediation}")
        )


def print_diff(diff: Diff, console: Console) -> None:
    console.print(Text(diff_line(diff), style="bold"))
    rows = diff_rows(diff)
    for change in CHANGES:
        selected = [r for r in rows if r.change == change]
        if not selected:
            continue
        console.print()
        console.print(Text(f"{change} ({len(selected)})", style="bold"))
        console.print(_table([(r.finding.location, r.finding) for r in selected], first="where"))
        for r in selected:
            if r.before is not None:
                console.print(
                    Text.assemble(
                        f"  {r.finding.location} {r.finding.rule_id} was ",
                        (r.before.severity.value, STYLE[r.before.severity]),
                        f": {r.before.summary}",
                    )
                )
