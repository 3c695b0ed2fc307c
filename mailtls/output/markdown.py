"""A report as Markdown, for tickets and pull requests: the summary line, then one table per
host with repeated findings merged (the compact columns of ``FINDING_COLUMNS``), then what
failed. A diff: one table per kind of change."""

from __future__ import annotations

from .._errors import SerializationError
from ..model.diff import Diff
from ..model.findings import FINDING_COLUMNS, Finding
from ..model.report import Report
from ._common import CHANGES, by_host, diff_line, diff_rows, merge_ports, summary_line

_HOST_KEYS = {"host", "hostname", "port"}
#: The compact columns, less those a per-host table already says (host) or merges (port).
_COLUMNS = tuple(c for c in FINDING_COLUMNS if c.brief and c.name not in _HOST_KEYS)


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _table(headings: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _values(finding: Finding) -> list[str]:
    return [column.text(finding) for column in _COLUMNS]


def to_markdown(report: Report | Diff) -> str:
    """Markdown text (GitHub-flavoured tables)."""
    if isinstance(report, Diff):
        return _diff(report)
    if not isinstance(report, Report):
        raise SerializationError(f"to_markdown takes a mailtls.Report or Diff, got {type(report).__name__}")
    lines = ["# mailtls report", "", f"**{summary_line(report)}**", ""]
    for result, findings in by_host(report):
        name = (
            result.target
            if result.host is None or result.target == result.host.address
            else (f"{result.target} ({result.host.address})")
        )
        lines += [f"## {name}", ""]
        if not findings:
            lines += [f"No findings ({result.outcome.value}{': ' + result.reason if result.reason else ''}).", ""]
            continue
        rows = [[m.ports_text, *_values(m.finding)] for m in merge_ports(findings)]
        lines += [*_table(["Ports", *(c.title for c in _COLUMNS)], rows), ""]
    failed = [t for t in report.targets if not t.outcome.answered]
    if failed or report.all_problems:
        lines += ["## Not assessed and errors", ""]
        lines += [f"- **{t.target}**: {t.outcome.value}: {_cell(t.reason)}" for t in failed]
        for problem in report.all_problems:
            where = f" {problem.address}" if problem.address else ""
            where += f":{problem.port}" if problem.port else ""
            lines.append(f"- {problem.stage.value}{where}: {_cell(problem.message)}")
        lines.append("")
    return "\n".join(lines)


def _diff(diff: Diff) -> str:
    lines = ["# mailtls diff", "", f"**{diff_line(diff)}**", ""]
    rows = diff_rows(diff)
    for change in CHANGES:
        selected = [r for r in rows if r.change == change]
        if not selected:
            continue
        lines += [f"## {change.capitalize()} ({len(selected)})", ""]
        table = [
            [
                r.finding.location,
                *_values(r.finding),
                f"was {r.before.severity.value}: {r.before.summary}" if r.before else "",
            ]
            for r in selected
        ]
        lines += [*_table(["Where", *(c.title for c in _COLUMNS), "Before"], table), ""]
    return "\n".join(lines)
