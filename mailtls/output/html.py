"""A report as one self-contained HTML file people want to open, and the same pieces for notebooks.

The file fetches nothing: the style and the small filtering script (``assets/``, shipped
in the package) are inline, the chart is inline SVG, and every text from a scan is escaped
(a hostile server's banner is data, never markup). It shows the severity summary as a
chart, a host x rule matrix, and each finding with its evidence, context and fix (the
columns of ``FINDING_COLUMNS``), with filters by severity and host that work in the
browser without a network.

``report_fragment``, ``finding_fragment`` and ``diff_fragment`` are what ``Report``,
``Finding`` and ``Diff`` show in a notebook: the same markup without the script.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from importlib import resources

from .._errors import SerializationError
from ..model import views
from ..model.diff import Diff
from ..model.findings import FINDING_COLUMNS, Finding, Severity
from ..model.report import Report
from ._common import CHANGES, by_host, diff_line, diff_rows, severity_counts, summary_line

_COLOUR = {
    Severity.CRITICAL: "#7b1fa2",
    Severity.HIGH: "#c62828",
    Severity.MEDIUM: "#ef6c00",
    Severity.LOW: "#1565c0",
    Severity.INFO: "#607d8b",
}
#: A finding's line shows the compact columns; its details show the others.
_DETAIL = tuple(c for c in FINDING_COLUMNS if not c.brief)

_ASSETS = resources.files(__package__).joinpath("assets")
#: The style (every rule scoped under .mailtls, so that in a notebook it styles nothing else)
#: and the severities' colours, which the chart is drawn with too.
_CSS = _ASSETS.joinpath("report.css").read_text(encoding="utf-8") + "".join(
    f".mailtls .sev-{s.value}{{background:{c}}}\n"
    f".mailtls td.cell-{s.value}{{background:{c};color:#fff;text-align:center}}\n"
    f".mailtls details.finding[data-severity={s.value}]{{border-left-color:{c}}}\n"
    for s, c in _COLOUR.items()
)
#: The filters by severity and host, run in the browser (the notebook views have none).
_SCRIPT = _ASSETS.joinpath("report.js").read_text(encoding="utf-8")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _badge(severity: Severity) -> str:
    return f'<span class="sev sev-{severity.value}">{severity.value}</span>'


def chart(findings: Iterable[Finding]) -> str:
    """An inline SVG bar chart of the findings by severity."""
    counts = severity_counts(findings)
    top = max(counts.values()) or 1
    bar_height, gap, label, width = 22, 6, 70, 360
    rows = []
    for i, (severity, count) in enumerate(counts.items()):
        y = i * (bar_height + gap)
        length = round(width * count / top)
        rows.append(
            f'<text x="{label - 6}" y="{y + 16}" text-anchor="end" font-size="13">{severity.value}</text>'
            f'<rect x="{label}" y="{y}" width="{max(length, 1)}" height="{bar_height}" fill="{_COLOUR[severity]}">'
            f"<title>{count} {severity.value}</title></rect>"
            f'<text x="{label + max(length, 1) + 6}" y="{y + 16}" font-size="13">{count}</text>'
        )
    height = len(counts) * (bar_height + gap)
    return (
        f'<svg class="chart" role="img" aria-label="findings by severity" xmlns="http://www.w3.org/2000/svg" '
        f'width="{label + width + 50}" height="{height}" viewBox="0 0 {label + width + 50} {height}">'
        + "".join(rows)
        + "</svg>"
    )


def matrix(report: Report) -> str:
    """A host x rule table: each cell is the rule's severity on that host and on how many ports."""
    rules = sorted({f.rule_id for f in report.findings})
    if not rules:
        return '<p class="muted">No findings, so no matrix.</p>'
    titles = {f.rule_id: f.title for f in report.findings}
    head = "".join(f'<th class="rule" title="{_e(titles[r])}">{_e(r)}</th>' for r in rules)
    rows = []
    for result, findings in by_host(report):
        address = result.host.address if result.host else result.target
        cells = []
        for rule_id in rules:
            hits = [f for f in findings if f.rule_id == rule_id]
            if not hits:
                cells.append("<td></td>")
                continue
            worst = max(f.severity for f in hits)
            where = ", ".join(str(f.port) for f in hits if f.port is not None) or "host"
            cells.append(
                f'<td class="cell-{worst.value}" title="{_e(rule_id)} {worst.value} on {_e(where)}">{len(hits)}</td>'
            )
        rows.append(f'<tr data-host="{_e(address)}"><th>{_e(result.target)}</th>{"".join(cells)}</tr>')
    return f'<table class="matrix"><tr><th>host</th>{head}</tr>{"".join(rows)}</table>'


def _finding(finding: Finding, *, open_: bool = False, change: str = "", before: Finding | None = None) -> str:
    marker = f'<span class="change">{_e(change)}</span>' if change else ""
    details = [
        f"<dt>Observed</dt><dd>{_e(finding.summary)}</dd>",
    ]
    if before is not None:
        details.append(f"<dt>Before</dt><dd>{_badge(before.severity)} {_e(before.summary)}</dd>")
    for column in _DETAIL:
        value = column.value(finding)
        if value in (None, "", ()):
            continue
        if column.name == "evidence":
            items = "".join(f"<li>{_e(line)}</li>" for line in finding.evidence)
            details.append(f'<dt>{_e(column.title)}</dt><dd><ul class="evidence">{items}</ul></dd>')
        elif column.name == "cwe":
            details.append(f"<dt>{_e(column.title)}</dt><dd>CWE-{_e(value)}</dd>")
        else:
            details.append(f"<dt>{_e(column.title)}</dt><dd>{_e(column.text(finding))}</dd>")
    details.append(f"<dt>Fix</dt><dd>{_e(finding.remediation)}</dd>")
    return (
        f'<details class="finding" data-severity="{finding.severity.value}" data-host="{_e(finding.host)}" '
        f'data-rule="{_e(finding.rule_id)}"{" open" if open_ else ""}>'
        f"<summary>{marker}{_badge(finding.severity)} <b>{_e(finding.rule_id)}</b> "
        f'<span class="where">{_e(finding.location)}</span> <b>{_e(finding.title)}</b> — '
        f"{_e(finding.summary)}</summary>"
        f"<dl>{''.join(details)}</dl></details>"
    )


def _filters(severities: Iterable[Severity], hosts: Iterable[tuple[str, str]]) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" data-severity="{s.value}" checked> {_badge(s)}</label>' for s in severities
    )
    options = "".join(f'<option value="{_e(value)}">{_e(label)}</option>' for value, label in hosts)
    return (
        f'<div class="filters">{boxes}<label>host <select name="host"><option value="">all hosts</option>'
        f'{options}</select></label> <span class="muted"><span id="shown">0</span> findings shown</span></div>'
    )


def _host_options(report: Report) -> list[tuple[str, str]]:
    return [
        (r.host.address, r.target if r.target == r.host.address else f"{r.target} ({r.host.address})")
        for r in report.targets
        if r.host is not None and r.findings
    ]


def _problems(report: Report) -> str:
    failed = [t for t in report.targets if not t.outcome.answered]
    if not failed and not report.all_problems:
        return ""
    items = [f"<li><b>{_e(t.target)}</b>: {_e(t.outcome.value)}: {_e(t.reason)}</li>" for t in failed]
    items += [
        f"<li>{_e(p.stage.value)}{' ' + _e(p.address) if p.address else ''}"
        f"{':' + _e(p.port) if p.port else ''}: {_e(p.message)}</li>"
        for p in report.all_problems
    ]
    return f'<section id="problems"><h2>Not assessed, and errors</h2><ul>{"".join(items)}</ul></section>'


def _hosts(report: Report, *, open_: bool) -> str:
    sections = []
    for result, findings in by_host(report):
        address = result.host.address if result.host else result.target
        name = result.target if result.target == address else f"{result.target} ({address})"
        reason = f": {result.reason}" if result.reason else ""
        body = "".join(_finding(f, open_=open_) for f in findings) or (
            f'<p class="muted">No findings ({_e(result.outcome.value)}{_e(reason)}).</p>'
        )
        sections.append(
            f'<section class="host" data-host="{_e(address)}"><h2>{_e(name)} '
            f'<span class="muted">{len(findings)} findings</span></h2>{body}</section>'
        )
    return "".join(sections)


def _document(title: str, body: str) -> str:
    # The Content-Security-Policy makes "no network" a property of the file, not a promise:
    # the browser refuses any fetch, and runs only the one inline script.
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f'<body><div class="mailtls">{body}</div><script>{_SCRIPT}</script></body></html>\n'
    )


def to_html(report: Report | Diff) -> str:
    """One self-contained HTML document (a str): open it in any browser, offline."""
    if isinstance(report, Diff):
        return _document("mailtls diff", _diff_body(report, filters=True))
    if not isinstance(report, Report):
        raise SerializationError(f"to_html takes a mailtls.Report or Diff, got {type(report).__name__}")
    severities = [s for s, n in severity_counts(report.findings).items() if n]
    runs = "".join(
        f"<li>{_e(r.args)}{f' ({r.started:%Y-%m-%d %H:%M} UTC)' if r.started else ''}</li>" for r in report.runs
    )
    body = (
        "<header><h1>mailtls report</h1>"
        f'<p class="summary">{_e(summary_line(report))}</p>'
        f'<details class="muted"><summary>{len(report.runs)} nmap run(s)</summary><ul>{runs}</ul></details></header>'
        f'<section id="chart">{chart(report.findings)}</section>'
        + _filters(severities, _host_options(report))
        + f'<section id="matrix"><h2>Hosts &times; rules</h2>{matrix(report)}</section>'
        + f'<section id="findings">{_hosts(report, open_=False)}</section>'
        + _problems(report)
    )
    return _document("mailtls report", body)


def _diff_body(diff: Diff, *, filters: bool) -> str:
    rows = diff_rows(diff)
    parts = ["<header><h1>mailtls diff</h1>", f'<p class="summary">{_e(diff_line(diff))}</p></header>']
    parts.append(
        f'<section id="chart">{chart(r.finding for r in rows if r.change in ("new", "changed"))}'
        '<p class="muted">new and changed findings by severity</p></section>'
    )
    if filters:
        severities = sorted({r.finding.severity for r in rows}, reverse=True)
        hosts = sorted({r.finding.host for r in rows})
        parts.append(_filters(severities, [(h, h) for h in hosts]))
    for change in CHANGES:
        selected = [r for r in rows if r.change == change]
        if selected:
            entries = "".join(_finding(r.finding, change=change, before=r.before) for r in selected)
            parts.append(
                f'<section class="change-{change}"><h2>{change.capitalize()} ({len(selected)})</h2>{entries}</section>'
            )
    return "".join(parts)


def _fragment(body: str) -> str:
    return f'<div class="mailtls"><style>{_CSS}</style>{body}</div>'


def report_fragment(report: Report) -> str:
    """What a ``Report`` shows in a notebook: summary, chart, matrix and a findings table."""
    brief = [c for c in FINDING_COLUMNS if c.brief]
    head = "".join(f"<th>{_e(c.title)}</th>" for c in brief)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{_badge(f.severity)}</td>" if c.name == "severity" else f"<td>{_e(c.text(f))}</td>" for c in brief
        )
        + "</tr>"
        for f in report.findings
    )
    table = f"<table><tr>{head}</tr>{rows}</table>" if report.findings else ""
    return _fragment(
        f'<p class="summary">{_e(summary_line(report))}</p>{chart(report.findings)}'
        f"<h2>Hosts &times; rules</h2>{matrix(report)}<h2>Findings</h2>{table}{_problems(report)}"
    )


def finding_fragment(finding: Finding) -> str:
    """What a ``Finding`` shows in a notebook: the finding, opened."""
    return _fragment(_finding(finding, open_=True))


def diff_fragment(diff: Diff) -> str:
    """What a ``Diff`` shows in a notebook."""
    return _fragment(_diff_body(diff, filters=False))


# What a Report, a Finding and a Diff show in a notebook (their _repr_html_, model/views.py).
views.html.register(Report, report_fragment)
views.html.register(Finding, finding_fragment)
views.html.register(Diff, diff_fragment)
