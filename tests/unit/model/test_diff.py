"""``mailtls.diff``: new, resolved, changed and unverified findings between two reports, on
recorded lab scans (tests/lab/test_diff_of_a_reconfigured_server.py diffs two live scans)."""

from __future__ import annotations

import json

import attrs
import pytest

import mailtls
from tests.helpers import recorded

ADDRESS = "127.0.0.87"
PORTS = (110, 143)


def test_same_report_has_no_differences():
    report = mailtls.assess_xml(recorded("weak"))
    changes = mailtls.diff(report, report)
    assert changes.empty and changes.unchanged == len(report.findings)


def test_changed_severity_is_changed_not_new():
    old = mailtls.assess_xml(recorded("plain"))
    new = mailtls.assess_xml(recorded("plain"), registry=mailtls.Registry.default().with_severity({"MT103": "low"}))
    changes = mailtls.diff(old, new)
    assert not changes.new and not changes.resolved
    (change,) = changes.changed
    assert (change.old.severity, change.new.severity) == (mailtls.Severity.MEDIUM, mailtls.Severity.LOW)


def test_a_target_not_assessed_this_time_is_unverified_not_resolved():
    # Given: the old report assessed the plain host; the new one has it failed.
    old = mailtls.assess_xml(recorded("plain"))
    (result,) = old.targets
    failed = mailtls.TargetResult(target=result.target, outcome=mailtls.Outcome.FAILED, reason="nmap died")
    new = mailtls.Report(targets=(failed,))
    changes = mailtls.diff(old, new)
    assert not changes.resolved
    assert len(changes.unverified) == len(old.findings)
    assert changes.only_in_old == ("127.0.0.11",)
    # And a report without the target at all: the same.
    assert mailtls.diff(old, mailtls.Report()).unverified == changes.unverified


def test_an_inconclusive_port_does_not_resolve_its_finding():
    old = mailtls.assess_xml(recorded("plain"))
    (result,) = old.targets
    assert result.host is not None
    ports = tuple(attrs.evolve(p, inconclusive="421 try later") if p.number == 110 else p for p in result.host.ports)
    host = attrs.evolve(result.host, ports=ports)
    kept = tuple(f for f in result.findings if f.port != 110)
    new = mailtls.Report(targets=(attrs.evolve(result, host=host, findings=kept),))
    changes = mailtls.diff(old, new)
    assert {f.port for f in changes.unverified} == {110} and not changes.resolved


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "markdown", "html", "sarif"])
def test_a_diff_has_its_own_output_in_every_format(fmt):
    old = mailtls.assess_xml(recorded("plain"))
    new = mailtls.assess_xml(recorded("plain"), registry=mailtls.Registry.default().with_severity({"MT103": "low"}))
    text = mailtls.render(mailtls.diff(old, new), fmt)
    assert "MT103" in text
    if fmt == "sarif":
        (run,) = json.loads(text)["runs"]
        assert [r["baselineState"] for r in run["results"]] == ["updated"]
    if fmt == "csv":
        assert text.splitlines()[1].startswith("changed,medium,")
