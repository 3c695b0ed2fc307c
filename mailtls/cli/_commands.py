"""What each command does, apart from parsing: scans with progress, imports, the catalogue."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .._api import iter_assess, iter_assess_xml
from .._errors import MailTlsError, SerializationError
from ..model.records import Problem, RunRecord
from ..model.report import Report, TargetResult
from ..output.json import from_json
from ..output.table import STYLE
from ..rules.registry import Registry
from ..scan.targets import parse_targets

#: Takes the results as they arrive (``--format jsonl``), or None to collect them.
Sink = Callable[[Iterable[TargetResult]], object]


@contextlib.contextmanager
def progress_bar(total: int) -> Iterator[Callable[[TargetResult], None]]:
    """A progress bar on standard error while targets are scanned, only if standard error
    is a terminal; yields the function to call with each result."""
    if not sys.stderr.isatty():
        yield lambda result: None
        return
    bar = Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("targets"),
        TextColumn("{task.fields[findings]} findings"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("scan", total=total, findings=0)
    found = 0

    def advance(result: TargetResult) -> None:
        nonlocal found
        found += len(result.findings)
        bar.update(task, advance=1, findings=found)

    with bar:
        yield advance


def _collect(
    results: Iterable[TargetResult], advance: Callable[[TargetResult], None], sink: Sink | None
) -> tuple[TargetResult, ...]:
    kept: list[TargetResult] = []

    def watched() -> Iterator[TargetResult]:
        for result in results:
            advance(result)
            kept.append(result)
            yield result

    if sink is None:
        for _ in watched():
            pass
    else:
        sink(watched())
    return tuple(kept)


def run_scan(targets: Sequence[str], options: dict[str, Any], sink: Sink | None) -> Report:
    """Scan through ``iter_assess``, with a progress bar; ``sink`` sees each result as it comes."""
    total = len(parse_targets(targets))  # also refuses a bad target before nmap starts
    assessment = iter_assess(targets, **options)
    with progress_bar(total) as advance:
        kept = _collect(assessment, advance, sink)
    return Report(targets=kept, runs=assessment.runs, problems=assessment.problems)


def run_import(files: Sequence[str], sink: Sink | None) -> Report:
    """Every file's hosts in one report, as ``assess_xml`` would judge each file."""
    targets: list[TargetResult] = []
    runs: list[RunRecord] = []
    problems: list[Problem] = []
    registry = Registry.default()

    def all_results() -> Iterator[TargetResult]:
        for name in files:
            source: Any = sys.stdin.buffer.read() if name == "-" else Path(name)
            if name != "-" and not Path(name).is_file():
                raise MailTlsError(f"{name}: no such file")
            assessment = iter_assess_xml(source, registry=registry)
            yield from assessment
            runs.extend(assessment.runs)
            problems.extend(p for p in assessment.problems if p not in problems)

    targets.extend(_collect(all_results(), lambda result: None, sink))
    return Report(targets=tuple(targets), runs=tuple(runs), problems=tuple(problems))


def load_report(path: str) -> Report:
    """A saved report: mailtls JSON, or nmap XML (assessed now)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MailTlsError(f"{path}: {exc.strerror or exc}") from None
    if data.lstrip()[:1] == b"<":
        return run_import([path], None)
    try:
        return from_json(data)
    except SerializationError as exc:
        raise SerializationError(f"{path}: {exc}") from None


#: What a rule is called for, by the record it receives.
APPLIES_TO = {"PortRecord": "port", "HostRecord": "host", "DomainRecord": "domain"}


def _catalogue() -> list[dict[str, Any]]:
    registry = Registry.default()
    return [
        {
            "id": item.id,
            "title": item.texts.title,
            "severity": registry.severity_of(item.id).value,
            "group": item.texts.group,
            "cwe": item.texts.cwe,
            "applies_to": APPLIES_TO[item.spec.applies_to.__name__],
            "references": list(item.texts.references),
            "description": item.texts.description,
            "context": item.texts.context,
            "remediation": item.texts.remediation,
        }
        for item in sorted(registry, key=lambda r: r.id)
    ]


def list_rules(fmt: str) -> None:
    rules = _catalogue()
    if fmt == "json":
        print(json.dumps(rules, indent=2))
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        columns = ["id", "severity", "title", "group", "cwe", "applies_to"]
        writer.writerow(columns)
        writer.writerows([[r[c] if r[c] is not None else "" for c in columns] for r in rules])
    elif fmt == "markdown":
        print("| id | severity | title | CWE |\n|---|---|---|---|")
        for r in rules:
            print(f"| {r['id']} | {r['severity']} | {r['title']} | {'CWE-' + str(r['cwe']) if r['cwe'] else ''} |")
    else:
        table = Table(title=f"mailtls rules ({len(rules)}): mailtls explain RULE for the whole text")
        for heading in ("id", "severity", "title", "group", "CWE"):
            table.add_column(heading)
        from ..model.findings import Severity

        for r in rules:
            severity = Severity(r["severity"])
            table.add_row(
                r["id"],
                Text(severity.value, style=STYLE[severity]),
                r["title"],
                r["group"],
                f"CWE-{r['cwe']}" if r["cwe"] else "",
            )
        Console().print(table)


def explain_rule(rule_id: str) -> None:
    registry = Registry.default()
    wanted = rule_id.strip().upper()
    if wanted not in registry:
        raise MailTlsError(f"no rule {rule_id!r}: `mailtls rules` lists them")
    item = registry[wanted]
    texts = item.texts
    severity = registry.severity_of(wanted)
    console = Console()
    title = Text.assemble((f"{texts.id} ", "bold"), (texts.title, "bold"), "  ", (severity.value, STYLE[severity]))
    console.print(title)
    receives = {"port": "each port", "host": "the whole host", "domain": "the mail domain"}
    facts = [
        f"group: {texts.group}" if texts.group else "",
        f"CWE-{texts.cwe}" if texts.cwe else "",
        "applies to: " + receives[APPLIES_TO[item.spec.applies_to.__name__]],
    ]
    console.print(" · ".join(f for f in facts if f), style="dim")
    for heading, text in (("", texts.description), ("Context", texts.context), ("Fix", texts.remediation)):
        if text:
            console.print()
            if heading:
                console.print(heading, style="bold")
            # Docstrings are wrapped at 90 columns: let the terminal wrap paragraphs instead.
            paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
            console.print("\n\n".join(paragraphs), highlight=False)
    if texts.references:
        console.print()
        console.print("Same check elsewhere: " + ", ".join(texts.references), highlight=False)
