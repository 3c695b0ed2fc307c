"""``mailtls`` on the command line: assess hosts (or read nmap XML) and print the findings."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from rich.console import Console
from rich.table import Table

from .._api import assess_many, assess_xml
from .._errors import MailTlsError
from ..model.findings import Severity
from ..model.report import Report
from ..output.json import to_json
from ..output.sarif import to_sarif

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailtls", description="Find mail services that expose email without TLS, and say what to do."
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="IP address or DNS name (one host each)")
    parser.add_argument("--xml", action="append", default=[], metavar="FILE", help="read nmap XML instead of scanning")
    parser.add_argument("-p", "--ports", help="comma-separated ports (default 25,110,143,465,587,993,995)")
    parser.add_argument("--timeout", type=float, help="seconds nmap may spend on each host (default 600)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the report(s) as JSON")
    output.add_argument("--sarif", action="store_true", help="print the report(s) as SARIF 2.1.0")
    parser.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        help="exit 1 if any finding is at least this severe (for pipelines)",
    )
    return parser


def _ports(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"mailtls: --ports takes comma-separated numbers, got {text!r}") from None


def print_report(report: Report, console: Console) -> None:
    title = ", ".join(t.target for t in report.targets) or "(no host)"
    table = Table(title=f"mailtls: {title}", show_lines=False, expand=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("where", no_wrap=True)
    table.add_column("finding")
    for finding in report.findings:
        table.add_row(
            f"[{_STYLE[finding.severity]}]{finding.severity.value}[/]",
            finding.rule_id,
            finding.location,
            f"[bold]{finding.title}[/]\n{finding.summary}\n[dim]Fix: {finding.remediation}[/]",
        )
    if report.findings:
        console.print(table)
    else:
        console.print(f"mailtls: {title}: no findings")
    for problem in report.errors:
        where = f" {problem.address}:{problem.port}" if problem.port else (f" {problem.address}" if problem.address else "")
        console.print(f"[red]error[/] ({problem.stage.value}){where}: {problem.message}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.targets and not args.xml:
        _parser().error("give at least one TARGET or --xml FILE")
    console = Console()
    reports: list[Report] = []
    try:
        reports += [assess_xml(path) for path in args.xml]
        if args.targets:
            reports.append(assess_many(args.targets, ports=_ports(args.ports), timeout=args.timeout))
    except MailTlsError as exc:
        print(f"mailtls: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for report in reports:
            print(to_json(report))
    elif args.sarif:
        for report in reports:
            print(to_sarif(report))
    else:
        for report in reports:
            print_report(report, console)
    if args.fail_on:
        floor = Severity(args.fail_on)
        return 1 if any(r.at_least(floor) for r in reports) else 0
    return 0
