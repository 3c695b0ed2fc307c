"""The command line's grammar: commands, options, nmap's port syntax and target lists."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .._errors import PortsError
from .._version import __version__
from ..model.findings import Severity
from ..output import FORMATS
from ..protocols import DEFAULT_PORTS
from ..scan.options import DEFAULT_TIMEOUT
from ._exit import EXIT_CODES

COMMANDS = ("scan", "import", "rules", "explain", "diff")
#: ``--format`` choices for reports and diffs: the terminal table, then every output format.
REPORT_FORMATS = ("table", *FORMATS)
SEVERITIES = [s.value for s in Severity]


class Usage(Exception):
    """A usage or input error found by the CLI itself (exit 2)."""


def _epilog() -> str:
    codes = "\n".join(f"  {code}  {text}" for code, text in EXIT_CODES.items())
    return f"exit codes:\n{codes}"


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="mailtls",
        description="Find mail services that expose email without TLS, and say what to do.\n"
        "`mailtls HOST...` is short for `mailtls scan HOST...`.",
        epilog=_epilog(),
        formatter_class=formatter,
    )
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
    scan.add_argument(
        "--timeout", type=float, metavar="S", help=f"seconds nmap may spend on each host (default {DEFAULT_TIMEOUT:g})"
    )
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



def arguments(argv: Sequence[str]) -> list[str]:
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
        raise Usage(f"-iL {source}: {exc}") from None
    targets = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            targets.append(line)
    return targets
