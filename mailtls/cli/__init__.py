"""``mailtls`` on the command line, in nmap's manner: scan targets (or import nmap XML), print
the findings in the format asked for, exit with a code a pipeline can rely on.

    mailtls scan TARGET... [-iL FILE|-] [-p PORTS] [--format FORMAT] [-o FILE] [--fail-on SEVERITY]
    mailtls HOST                      # short for: mailtls scan HOST
    mailtls import FILE.xml...        # nmap XML from elsewhere, one report
    mailtls rules [--format]          # the catalogue
    mailtls explain MT101             # one rule's whole text
    mailtls diff OLD.json NEW.json    # what changed between two saved reports

The grammar is ``_parser.py``; what scan, import and diff do, ``_run.py``; the catalogue,
``_rules.py``; the exit codes, ``_exit.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .._errors import MailTlsError
from ..output.table import print_report
from . import _run
from ._exit import EXIT_CODES, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from ._parser import Usage, arguments, build_parser
from ._rules import explain_rule, list_rules

__all__ = ["EXIT_CODES", "main", "print_report"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (never raises, never prints a traceback)."""
    parser = build_parser()
    try:
        args = parser.parse_args(arguments(sys.argv[1:] if argv is None else argv))
    except SystemExit as exit_:  # --help, --version (0) or a usage error (2), already printed
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("mailtls: give a command or a target (mailtls --help)", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "scan":
            return _run.scan(args)
        if args.command == "import":
            return _run.import_(args)
        if args.command == "rules":
            list_rules(args.format)
            return EXIT_OK
        if args.command == "explain":
            explain_rule(args.rule_id)
            return EXIT_OK
        return _run.diff_(args)
    except (Usage, MailTlsError) as exc:
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
