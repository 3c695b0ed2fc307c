"""The command line's exit policy: the code a pipeline can rely on, from what a report holds."""

from __future__ import annotations

import sys

from ..model.diff import Diff
from ..model.report import Outcome, Report

#: Exit codes, as ``--help`` and the docs list them.
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_NOT_ASSESSED, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_CODES = {
    EXIT_OK: "no finding at --fail-on (or no --fail-on), and every target assessed",
    EXIT_FINDINGS: "a finding at or above --fail-on (for diff: a new or changed one); wins over 3",
    EXIT_USAGE: "usage or input error: a bad option, target, port list or file, or nmap missing",
    EXIT_NOT_ASSESSED: "some targets could not be assessed: outcome "
    + ", ".join(sorted(o.value for o in Outcome if not o.answered))
    + " (a host that is down or has no mail port open was answered for: not counted)",
    EXIT_INTERNAL: "internal error (a bug in mailtls: please report it)",
}


def report_exit(report: Report, fail_on: str | None, fmt: str) -> int:
    """1 for a finding at ``fail_on``, else 3 if a target was not answered for, else 0; the
    targets not answered for are named on stderr unless the table (``fmt``) shows them."""
    failed = [t for t in report.targets if not t.outcome.answered]
    if failed and fmt != "table":  # the table shows them; other formats are for machines
        names = ", ".join(f"{t.target} ({t.outcome.value})" for t in failed[:10])
        more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
        print(f"mailtls: {len(failed)} target(s) could not be assessed: {names}{more}", file=sys.stderr)
    if fail_on and report.at_least(fail_on):
        return EXIT_FINDINGS
    return EXIT_NOT_ASSESSED if failed else EXIT_OK


def diff_exit(changes: Diff, fail_on: str | None) -> int:
    return EXIT_FINDINGS if fail_on and changes.at_least(fail_on) else EXIT_OK
