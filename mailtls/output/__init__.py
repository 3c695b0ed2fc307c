"""Step 6 of the data flow: a report (or a diff of two) in the formats people and tools read.

Every format is a function of a ``Report`` or a ``Diff`` returning text, and ``render``
picks one by name (what ``mailtls --format`` does). ``write_jsonl`` instead writes results
as they arrive. The columns of the tabular formats come from ``FINDING_COLUMNS``.
"""

from __future__ import annotations

from collections.abc import Callable

from .._errors import OptionError
from ..model.diff import Diff
from ..model.report import Report
from .csv import to_csv
from .dataframe import to_dataframe
from .defectdojo import to_defectdojo
from .html import to_html
from .json import to_json
from .jsonl import to_jsonl, write_jsonl
from .markdown import to_markdown
from .ocsf import to_ocsf
from .sarif import to_sarif

Renderable = Report | Diff

#: ``--format`` name -> function. "table" (the terminal view) is the CLI's own.
FORMATS: dict[str, Callable[[Renderable], str]] = {
    "json": to_json,
    "jsonl": to_jsonl,
    "csv": to_csv,
    "markdown": to_markdown,
    "html": to_html,
    "sarif": to_sarif,
    "defectdojo": to_defectdojo,
    "ocsf": to_ocsf,
}


def render(report: Renderable, format: str) -> str:
    """The report or diff in one of ``FORMATS``."""
    try:
        function = FORMATS[format]
    except KeyError:
        raise OptionError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}") from None
    return function(report)


__all__ = [  # what mailtls re-exports, and FORMATS for the CLI
    "FORMATS", "render", "to_csv", "to_dataframe", "to_defectdojo", "to_html", "to_json", "to_jsonl", "to_markdown",
    "to_ocsf", "to_sarif",
    "write_jsonl",
]
