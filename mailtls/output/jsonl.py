"""JSON Lines for pipelines and very large runs: one finding per line, written as each
target's results arrive (``write_jsonl`` takes ``iter_assess``'s results as they come).

Each finding line is self-contained: ``{"type": "finding", "target": ..., "outcome": ...,
<every column of FINDING_COLUMNS>}``. A target that could not be assessed (failed, timed out,
inconclusive, unresolved) gets a ``{"type": "target", ...}`` line instead of silence, so
that a pipeline can tell "no findings" from "not looked at". A diff gives one line per
changed finding with ``"change"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from .._errors import SerializationError
from ..model.diff import Diff
from ..model.findings import FINDING_COLUMNS, Finding
from ..model.report import Report, TargetResult
from ._common import diff_rows
from .json import make_converter

_converter = make_converter()


def _finding(finding: Finding) -> dict[str, Any]:
    # Every column, empty ones included: a line stands alone.
    return {column.name: _plain(column.value(finding)) for column in FINDING_COLUMNS}


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def result_lines(result: TargetResult) -> list[dict[str, Any]]:
    """The lines for one target: its findings, or a line saying why it was not assessed."""
    lines = [
        {"type": "finding", "target": result.target, "outcome": result.outcome.value, **_finding(f)}
        for f in result.findings
    ]
    if not result.outcome.answered:
        lines.append(
            {
                "type": "target",
                "target": result.target,
                "outcome": result.outcome.value,
                "reason": result.reason,
                "problems": [_converter.unstructure(p) for p in result.problems],
            }
        )
    return lines


def write_jsonl(results: Iterable[TargetResult], stream: IO[str]) -> int:
    """Write each result's lines as it arrives (flushing after each target); return the
    number of findings written."""
    count = 0
    for result in results:
        for line in result_lines(result):
            stream.write(json.dumps(line) + "\n")
            count += line["type"] == "finding"
        stream.flush()
    return count


def to_jsonl(report: Report | Diff) -> str:
    """A whole report (or diff) as JSON Lines text."""
    if isinstance(report, Report):
        lines = [line for result in report.targets for line in result_lines(result)]
    elif isinstance(report, Diff):
        lines = []
        for row in diff_rows(report):
            line = {"type": "change", "change": row.change, **_finding(row.finding)}
            if row.before is not None:
                line["was"] = {"severity": row.before.severity.value, "summary": row.before.summary}
            lines.append(line)
    else:
        raise SerializationError(f"to_jsonl takes a mailtls.Report or Diff, got {type(report).__name__}")
    return "".join(json.dumps(line) + "\n" for line in lines)
