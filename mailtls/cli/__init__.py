"""``mailtls`` on the command line, in nmap's manner: scan targets (or import nmap XML), print
the findings in the format asked for, exit with a code a pipeline can rely on.

    mailtls scan TARGET... [-iL FILE|-] [-p PORTS] [--format FORMAT] [-o FILE] [--fail-on SEVERITY]
    mailtls HOST                      # short for: mailtls scan HOST
    mailtls import FILE.xml...        # nmap XML from elsewhere, one report
    mailtls rules [--format]          # the catalogue
    mailtls explain MT101             # one rule's whole text
    mailtls diff OLD.json NEW.json    # what changed between two saved reports
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from rich.console import Console

from .._errors import MailTlsError, PortsError
from ..model.diff import Diff, diff
from ..model.findings import Severity
from ..model.report import Report
from ..output import FORMATS, render
from ..output._common import NOT_ASSESSED
from ..output.jsonl import write_jsonl
from ..output.table import print_diff, print_report
from ..protocols import DEFAULT_PORTS
from ._commands import explain_rule, list_rules, load_report, run_import, run_scan

__all__ = ["EXIT_CODES", "main", "print_report"]

#: Exit codes, as ``--help`` and the docs list them.
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_NOT_ASSESSED, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_CODES = {
    EXIT_OK: "no finding at --fail-on (or no --fail-on), and every target assessed",
    EXIT_FINDINGS: "a finding at or above --fail-on (for diff: a new or changed one); wins over 3",
    EXIT_USAGE: "usage or input error: a bad option, target, port list or file, or nmap missing",
    EXIT_NOT_ASSESSED: "some targets could not be assessed: outcome "
    + ", ".join(sorted(o.value for o in NOT_ASSESSED))
    + " (a host that is down or has no mail port open was answered for: not counted)",
    EXIT_INTERNAL: "internal error (a bug in mailtls: please report it)",
}
COMMANDS = ("scan", "import", "rules", "explain", "diff")
#: ``--format`` choices for reports and diffs: the terminal table, then every output format.
REPORT_FORMATS = ("table", *FORMATS)
SEVERITIES = [s.value for s in Severity]


class _Usage(Exception):
    """A usage or input error found by the CLI itself (exit 2)."""


def _epilog() -> str:
    codes = "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())
    return f"exit codes:\n{codes}"


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="mailtls",
        description="Find mail services that expose email without TLS, and say what to do.\n"
        "`mailtls HOST...` is short for `mailtls scan HOST...`.",
        epilog=_epilog(),
        formatter_class=formatter,
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"mailtls {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def output_options(command: argparse.ArgumentParser, *, fail_on: str) -> None:
        command.add_argument(
            "--format", "-f", choices=REPORT_FORMATS, default="table", help="output format (default: table)"
        )
        command.add_argument(
            "-o", "--output", metavar="FILE", help="write the output to FILE instead of standard output"
        )
        command.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY", help=fail_on)

    scan = commands.add_parser(
        "scan",
        help="scan targets with nmap",
        description="Scan hosts with nmap and report their mail services' exposure.",
        epilog=_epilog(),
        formatter_class=formatter,
    )
    scan.add_argument("targets", nargs="*", metavar="TARGET", help="IP address, DNS name or CIDR range (192.0.2.0/28)")
    scan.add_argument(
        "-iL",
        dest="input_list",
        metavar="FILE",
        help="read targets from FILE ('-': standard input), one a line, '#' comments",
    )
    scan.add_argument(
        "-p", "--ports", help=f"ports, e.g. 25,110,143 or 1-1024 (default {','.join(map(str, DEFAULT_PORTS))})"
    )
    scan.add_argument(
        "--open-relay", action="store_true", help="also test SMTP for an open relay (sends test mail transactions)"
    )
    scan.add_argument("--concurrency", type=int, metavar="N", help="nmap runs at once (default: CPUs, at most 8)")
    scan.add_argument("--timeout", type=float, metavar="S", help="seconds nmap may spend on each host (default 600)")
    scan.add_argument(
        "--domain",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="assess a mail domain: its MX hosts on port 25, MTA-STS, TLS-RPT and DANE (repeatable)",
    )
    scan.add_argument(
        "--resolver",
        metavar="ADDR[:PORT]",
        help="DNS resolver for --domain (DANE needs one that validates DNSSEC; default: the system's)",
    )
    scan.add_argument(
        "--ca-file", metavar="FILE", help="CA certificates (PEM) for --domain's MTA-STS policy and MX checks"
    )
    output_options(scan, fail_on="exit 1 if a finding is at least this severe: " + ", ".join(SEVERITIES))

    import_ = commands.add_parser(
        "import", help="assess nmap XML that other runs produced", epilog=_epilog(), formatter_class=formatter
    )
    import_.add_argument(
        "files", nargs="+", metavar="FILE.xml", help="nmap XML ('-': standard input); all go into one report"
    )
    output_options(import_, fail_on="exit 1 if a finding is at least this severe")

    rules = commands.add_parser("rules", help="list the rule catalogue")
    rules.add_argument("--format", "-f", choices=("table", "json", "markdown", "csv"), default="table")

    explain = commands.add_parser("explain", help="print one rule's whole text")
    explain.add_argument("rule_id", metavar="RULE", help="a rule id, e.g. MT101")

    compare = commands.add_parser(
        "diff",
        help="compare two saved reports",
        description="Compare two reports saved with --format json (or two nmap XML files): "
        "new, changed, resolved and unverified findings, and targets assessed in only one.",
        epilog=_epilog(),
        formatter_class=formatter,
    )
    compare.add_argument("old", metavar="OLD")
    compare.add_argument("new", metavar="NEW")
    output_options(compare, fail_on="exit 1 if a new or changed finding is at least this severe")
    return parser


def _arguments(argv: Sequence[str]) -> list[str]:
    """``mailtls HOST ...`` (no command) is ``mailtls scan HOST ...``."""
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return ["scan", *argv]
    return list(argv)


def parse_ports(text: str | None) -> list[int] | None:
    """nmap's port syntax, for TCP: ``25,110,143`` and ranges ``1-1024``."""
    if text is None:
        return None
    ports: list[int] = []
    for part in text.replace("T:", "").split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise PortsError(f"-p takes port numbers and ranges like 25,110,1000-1010, got {part!r}")
        first, last = int(low), int(high) if dash else int(low)
        if first > last or not 1 <= first <= 65535 or last > 65535:
            raise PortsError(f"port range {part!r} is not within 1-65535")
        ports.extend(range(first, last + 1))
    return ports


def read_target_list(source: str) -> list[str]:
    """Targets from a file (``-``: standard input): one a line, ``#`` starts a comment."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Usage(f"-iL {source}: {exc}") from None
    targets = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            targets.append(line)
    return targets


@contextlib.contextmanager
def _destination(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise _Usage(f"-o {path}: {exc}") from None
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


def _report_exit(report: Report, fail_on: str | None, fmt: str) -> int:
    failed = [t for t in report.targets if t.outcome in NOT_ASSESSED]
    if failed and fmt != "table":  # the table shows them; other formats are for machines
        names = ", ".join(f"{t.target} ({t.outcome.value})" for t in failed[:10])
        more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
        print(f"mailtls: {len(failed)} target(s) could not be assessed: {names}{more}", file=sys.stderr)
    if fail_on and report.at_least(fail_on):
        return EXIT_FINDINGS
    return EXIT_NOT_ASSESSED if failed else EXIT_OK


def _resolver(text: str | None) -> object:
    """A dnspython resolver that asks only ADDR[:PORT] (``[v6addr]:port`` for IPv6)."""
    if text is None:
        return None
    import dns.resolver

    address, _, port = text.rpartition(":") if text.count(":") == 1 or text.startswith("[") else (text, "", "")
    address = (address or text).strip("[]")
    try:
        import ipaddress

        ipaddress.ip_address(address)
        number = int(port) if port else 53
        if not 1 <= number <= 65535:
            raise ValueError(number)
    except ValueError:
        raise _Usage(
            f"--resolver takes an IP address and an optional port (127.0.0.53, [::1]:5353), not {text!r}"
        ) from None
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [address]
    resolver.port = number
    return resolver


def _domains(args: argparse.Namespace) -> list[Report]:
    from ..domain import assess_domain

    resolver = _resolver(args.resolver)
    return [
        assess_domain(
            domain,
            resolver=resolver,  # type: ignore[arg-type]
            ca_file=args.ca_file,
            timeout=args.timeout,
            concurrency=args.concurrency,
        )
        for domain in args.domain
    ]


def _merged(reports: list[Report]) -> Report:
    return Report(
        targets=tuple(t for r in reports for t in r.targets),
        runs=tuple(run for r in reports for run in r.runs),
        problems=tuple(p for r in reports for p in r.problems),
    )


def _scan(args: argparse.Namespace) -> int:
    targets = list(args.targets)
    if args.input_list:
        targets += read_target_list(args.input_list)
    if not targets and not args.domain:
        raise _Usage("give at least one TARGET, -iL FILE or --domain DOMAIN")
    if (args.resolver or args.ca_file) and not args.domain:
        raise _Usage("--resolver and --ca-file go with --domain")
    if args.domain:
        reports = _domains(args)
        if targets:
            reports.append(run_scan(targets, _scan_options(args), None))
        report = _merged(reports)
        with _destination(args.output) as stream:
            if args.format == "jsonl":
                write_jsonl(report.targets, stream)
            else:
                _emit(report, args.format, stream)
        return _report_exit(report, args.fail_on, args.format)
    options = _scan_options(args)
    with _destination(args.output) as stream:
        if args.format == "jsonl":
            report = run_scan(targets, options, lambda results: write_jsonl(results, stream))
        else:
            report = run_scan(targets, options, None)
            _emit(report, args.format, stream)
    return _report_exit(report, args.fail_on, args.format)


def _scan_options(args: argparse.Namespace) -> dict[str, object]:
    return dict(
        ports=parse_ports(args.ports),
        timeout=args.timeout,
        open_relay=args.open_relay,
        concurrency=args.concurrency,
    )


def _import(args: argparse.Namespace) -> int:
    with _destination(args.output) as stream:
        if args.format == "jsonl":
            report = run_import(args.files, lambda results: write_jsonl(results, stream))
        else:
            report = run_import(args.files, None)
            _emit(report, args.format, stream)
    return _report_exit(report, args.fail_on, args.format)


def _diff(args: argparse.Namespace) -> int:
    changes = diff(load_report(args.old), load_report(args.new))
    with _destination(args.output) as stream:
        _emit(changes, args.format, stream)
    return EXIT_FINDINGS if args.fail_on and changes.at_least(args.fail_on) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (never raises, never prints a traceback)."""
    parser = _parser()
    try:
        args = parser.parse_args(_arguments(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:  # --help, --version (0) or a usage error (2), already printed
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("mailtls: give a command or a target (mailtls --help)", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "scan":
            return _scan(args)
        if args.command == "import":
            return _import(args)
        if args.command == "rules":
            list_rules(args.format)
            return EXIT_OK
        if args.command == "explain":
            explain_rule(args.rule_id)
            return EXIT_OK
        return _diff(args)
    except (_Usage, MailTlsError) as exc:
        print(f"mailtls: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mailtls: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mailtls ... | head`: the reader has gone, nothing to say
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a bug: say so in one line, not a traceback
        print(f"mailtls: internal error, please report it: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
