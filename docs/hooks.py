"""MkDocs hooks: the output examples in docs/formats.md are made at build time from a
recorded lab scan, so they are real and cannot drift from the code.

In a page, ``<!-- example: FORMAT -->`` becomes that format's output for the plaintext
lab host (``tests/data/lab-plain.xml``); ``table`` is the terminal view. In docs/cli.md,
``<!-- help: COMMAND -->`` becomes ``mailtls COMMAND --help``. The full HTML
report of every recorded lab host is added to the site as ``examples/lab-report.html``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_EXAMPLE = re.compile(r"<!-- example: (\w+) -->")
#: Formats whose example is cut after this many lines (the rest is the same shape).
_LINES = {"json": 60, "sarif": 50, "jsonl": 3, "defectdojo": 45, "ocsf": 2}


def _report():
    import mailtls

    return mailtls.assess_xml(ROOT / "tests" / "data" / "lab-plain.xml")


def _example(fmt: str) -> str:
    import mailtls

    report = _report()
    if fmt == "table":
        from rich.console import Console

        from mailtls.output.table import print_report

        console = Console(file=io.StringIO(), width=88, color_system=None)
        print_report(report, console)
        text, language = console.file.getvalue(), "text"
    else:
        text = mailtls.render(report, fmt)
        language = {"jsonl": "json", "sarif": "json", "csv": "text", "defectdojo": "json", "ocsf": "json"}.get(fmt, fmt)
    lines = text.rstrip("\n").splitlines()
    cut = _LINES.get(fmt)
    if cut and len(lines) > cut:
        lines = [*lines[:cut], f"... ({len(lines) - cut} more lines)"]
    fence = "````" if fmt == "markdown" else "```"
    return f"{fence}{language}\n" + "\n".join(lines) + f"\n{fence}"


_HELP = re.compile(r"<!-- help: ?(\w*) -->")


def _help(command: str) -> str:
    """``mailtls [COMMAND] --help``, as the command prints it."""
    import contextlib

    from mailtls.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main([command, "--help"] if command else ["--help"])
    return "```text\n" + out.getvalue().rstrip() + "\n```"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    markdown = _HELP.sub(lambda match: _help(match.group(1)), markdown)
    return _EXAMPLE.sub(lambda match: _example(match.group(1)), markdown)


def on_files(files: Any, config: Any) -> Any:
    """Add the HTML report of every recorded lab host to the site, as examples/lab-report.html."""
    from mkdocs.structure.files import File

    import mailtls

    reports = [mailtls.assess_xml(path) for path in sorted((ROOT / "tests" / "data").glob("lab-*.xml"))]
    merged = mailtls.Report(
        targets=tuple(t for r in reports for t in r.targets), runs=tuple(run for r in reports for run in r.runs)
    )
    files.append(File.generated(config, "examples/lab-report.html", content=mailtls.to_html(merged)))
    return files
