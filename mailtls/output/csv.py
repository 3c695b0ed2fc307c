"""Findings as CSV: one row per finding, the columns of ``FINDING_COLUMNS`` in their order.

The header never changes without a new column being declared there, so a spreadsheet or
a SIEM import keyed on column names keeps working. A diff has two more columns in front:
``change`` (new, changed, resolved, unverified) and, for a changed finding, what its
severity and summary were (``was_severity``, ``was_summary``).
"""

from __future__ import annotations

import csv
import io

from .._errors import SerializationError
from ..model.diff import Diff
from ..model.findings import FINDING_COLUMNS
from ..model.report import Report
from ._common import diff_rows

#: The header of a report's CSV.
HEADER = tuple(column.name for column in FINDING_COLUMNS)
#: The header of a diff's CSV.
DIFF_HEADER = ("change", "was_severity", "was_summary", *HEADER)


def to_csv(report: Report | Diff) -> str:
    """A report's findings (or a diff's rows) as CSV text, with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if isinstance(report, Report):
        writer.writerow(HEADER)
        for finding in report.findings:
            writer.writerow([column.text(finding) for column in FINDING_COLUMNS])
    elif isinstance(report, Diff):
        writer.writerow(DIFF_HEADER)
        for row in diff_rows(report):
            before = row.before
            writer.writerow(
                [
                    row.change,
                    before.severity.value if before else "",
                    before.summary if before else "",
                    *(column.text(row.finding) for column in FINDING_COLUMNS),
                ]
            )
    else:
        raise SerializationError(f"to_csv takes a mailtls.Report or Diff, got {type(report).__name__}")
    return out.getvalue()
