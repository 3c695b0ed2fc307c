"""``mailtls scan``, ``import`` and ``diff``: what each does once its arguments are parsed.

Scans go through ``iter_assess`` with the ``ScanOptions`` built from the arguments (and a
progress bar when standard error is a terminal); ``--domain`` through ``assess_domain``.
Each report is written in the format asked for, and the exit code is ``_exit.py``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import dns.resolver
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .._api import assess_domain, iter_assess, iter_assess_xml
from .._errors import MailTlsError, SerializationError
from ..domain import DomainOptions
from ..model.diff import Diff, diff
from ..model.records import Problem, RunRecord
from ..model.report import Report, TargetResult
from ..output import render
from ..output.json import from_json
from ..output.jsonl import write_jsonl
from ..output.table import print_diff, print_report
from ..rules.registry import Registry
from ..scan.options import ScanOptions
from ..scan.targets import parse_targets
from ._exit import diff_exit, report_exit
from ._parser import Usage, parse_ports, read_target_list

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


def run_scan(targets: Sequence[str], options: ScanOptions, sink: Sink | None) -> Report:
    """Scan through ``iter_assess``, with a progress bar; ``sink`` sees each result as it comes."""
    total = len(parse_targets(targets))  # also refuses a bad target before nmap starts
    assessment = iter_assess(targets, options=options)
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


@contextlib.contextmanager
def _destination(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise Usage(f"-o {path}: {exc}") from None
    with handle:
        yield handle


def _emit(obj: Report | Diff, fmt: str, stream: IO[str]) -> None:
    if fmt == "table":
        console = Console(file=stream) if stream is not sys.stdout else Console()
        if isinstance(obj, Report):
            print_report(obj, console)
        else:
            print_diff(obj, console)
        return
    text = render(obj, fmt)
    stream.write(text if text.endswith("\n") or not text else text + "\n")


def _write(fmt: str, output: str | None, run: Callable[[Sink | None], Report]) -> Report:
    """``run`` the command and write its report: JSON Lines as results arrive, the rest at the end."""
    with _destination(output) as stream:
        if fmt == "jsonl":
            return run(lambda results: write_jsonl(results, stream))
        done = run(None)
        _emit(done, fmt, stream)
        return done


def _resolver(text: str | None) -> dns.resolver.Resolver | None:
    """A dnspython resolver that asks only ADDR[:PORT] (``[v6addr]:port`` for IPv6)."""
    if text is None:
        return None
    address, _, port = text.rpartition(":") if text.count(":") == 1 or text.startswith("[") else (text, "", "")
    address = (address or text).strip("[]")
    try:
        ipaddress.ip_address(address)
        number = int(port) if port else 53
        if not 1 <= number <= 65535:
            raise ValueError(number)
    except ValueError:
        raise Usage(
            f"--resolver takes an IP address and an optional port (127.0.0.53, [::1]:5353), not {text!r}"
        ) from None
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [address]
    resolver.port = number
    return resolver


def _made(report: Report) -> Callable[[Sink | None], Report]:
    """A report made before anything is written (the domains'), for ``_write``."""

    def run(sink: Sink | None) -> Report:
        if sink is not None:
            sink(report.targets)
        return report

    return run


def _merged(reports: list[Report]) -> Report:
    return Report(
        targets=tuple(t for r in reports for t in r.targets),
        runs=tuple(run for r in reports for run in r.runs),
        problems=tuple(p for r in reports for p in r.problems),
    )


def scan(args: argparse.Namespace) -> int:
    targets = list(args.targets)
    if args.input_list:
        targets += read_target_list(args.input_list)
    if not targets and not args.domain:
        raise Usage("give at least one TARGET, -iL FILE or --domain DOMAIN")
    if (args.resolver or args.ca_file) and not args.domain:
        raise Usage("--resolver and --ca-file go with --domain")
    options = ScanOptions(
        ports=parse_ports(args.ports), timeout=args.timeout, open_relay=args.open_relay, concurrency=args.concurrency
    )
    if args.domain:
        resolver = _resolver(args.resolver)
        domain_options = DomainOptions(ca_file=args.ca_file, scan=options)
        reports = [assess_domain(d, resolver=resolver, options=domain_options) for d in args.domain]
        if targets:
            reports.append(run_scan(targets, options, None))
        report = _merged(reports)
        _write(args.format, args.output, _made(report))
        return report_exit(report, args.fail_on, args.format)
    report = _write(args.format, args.output, lambda sink: run_scan(targets, options, sink))
    return report_exit(report, args.fail_on, args.format)


def import_(args: argparse.Namespace) -> int:
    report = _write(args.format, args.output, lambda sink: run_import(args.files, sink))
    return report_exit(report, args.fail_on, args.format)


def diff_(args: argparse.Namespace) -> int:
    changes = diff(load_report(args.old), load_report(args.new))
    with _destination(args.output) as stream:
        _emit(changes, args.format, stream)
    return diff_exit(changes, args.fail_on)
