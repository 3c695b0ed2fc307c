"""The ``mailtls`` command: subcommands, formats, and exit codes a pipeline can rely on, on
recorded lab scans (tests/lab/test_cli_on_lab.py runs `scan` against the live lab)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

import lab
import mailtls
from mailtls.cli import EXIT_CODES, main
from tests.helpers import recorded, run_cli

PLAIN, HARDENED = lab.HOSTS["plain"], lab.HOSTS["hardened"]


# -- without a server ------------------------------------------------------------------


def test_help_lists_the_commands_and_every_exit_code():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("scan", "import", "rules", "explain", "diff"):
        assert command in result.stdout
    for code in EXIT_CODES:
        assert f"\n  {code}  " in result.stdout
    assert "exit codes:" in run_cli("scan", "--help").stdout


def test_import_fail_on(capsys):
    assert main(["import", str(recorded("plain")), "--fail-on", "high"]) == 1
    assert main(["import", str(recorded("hardened")), "--fail-on", "critical"]) == 0
    assert "MT101" in capsys.readouterr().out


def test_import_merges_files_into_one_report_with_assess_xml_s_findings(capsys):
    files = [recorded(name) for name in ("plain", "weak", "named")]
    assert main(["import", *map(str, files), "--format", "json"]) == 0
    report = mailtls.from_json(capsys.readouterr().out)
    expected = [f for path in files for f in mailtls.assess_xml(path).findings]
    assert sorted(report.findings, key=repr) == sorted(expected, key=repr)
    assert len(report.targets) == 3 and len(report.runs) == 3


def test_import_from_standard_input():
    result = run_cli("import", "-", "--format", "csv", stdin=recorded("plain").read_text())
    assert result.returncode == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["rule_id"] for r in rows} == {f.rule_id for f in mailtls.assess_xml(recorded("plain")).findings}


def test_output_to_a_file(tmp_path, capsys):
    out = tmp_path / "report.md"
    assert main(["import", str(recorded("plain")), "--format", "markdown", "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert out.read_text().startswith("# mailtls report")


@pytest.mark.parametrize(
    "args, message",
    [
        (["127.0.0.1 -oN /tmp/mailtls-should-not-exist"], "invalid target"),
        (["scan", "--timeout", "nan", "127.0.0.1"], "timeout must be between"),
        (["scan", "--timeout", "inf", "127.0.0.1"], "timeout must be between"),
        (["scan", "--timeout", "ten", "127.0.0.1"], "invalid float value"),
        (["scan", "-p", "25,abc", "127.0.0.1"], "-p takes port numbers"),
        (["scan", "-p", "0-10", "127.0.0.1"], "not within 1-65535"),
        (["scan", "--concurrency", "0", "127.0.0.1"], "concurrency must be"),
        (["scan", "-iL", "/nonexistent/list"], "-iL /nonexistent/list"),
        (["scan"], "at least one TARGET"),
        (["import", "/nonexistent.xml"], "no such file"),
        (["import", str(Path(__file__))], "nmap XML"),
        (["diff", "/nonexistent.json", "x"], "/nonexistent.json"),
        (["explain", "MT999"], "no rule 'MT999'"),
        (["--format", "pdf", "127.0.0.1"], "invalid choice"),
        ([], "give a command or a target"),
    ],
)
def test_usage_and_input_errors_exit_2_without_a_traceback(args, message):
    result = run_cli(*args)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not Path("/tmp/mailtls-should-not-exist").exists()


def test_rules_and_explain(capsys):
    assert main(["rules", "--format", "json"]) == 0
    rules = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rules] == sorted(r.id for r in mailtls.Registry.default())
    assert main(["rules"]) == 0
    assert "MT403" in capsys.readouterr().out
    assert main(["explain", "mt101"]) == 0
    text = capsys.readouterr().out
    assert "POP3 reachable without TLS" in text and "Fix" in text and "Nessus" in text


def test_a_failing_nmap_exits_3_and_still_reports_every_target(tmp_path):
    # Given: an nmap that fails at once (a shim first on PATH).
    shim = tmp_path / "nmap"
    shim.write_text("#!/bin/sh\necho 'shim nmap: broken' >&2\nexit 1\n")
    shim.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}"}
    # When / Then: a report of both targets, both failed, exit 3.
    result = run_cli("scan", "-iL", "-", "--format", "json", env=env, stdin="# two hosts\n127.0.0.1\n127.0.0.2  # b\n")
    assert result.returncode == 3, result.stderr
    report = mailtls.from_json(result.stdout)
    assert [t.outcome for t in report.targets] == [mailtls.Outcome.FAILED] * 2
    assert "2 target(s) could not be assessed" in result.stderr and "Traceback" not in result.stderr
    # Findings at --fail-on would win over 3; here there are none.
    assert run_cli("scan", "127.0.0.1", "--fail-on", "info", env=env).returncode == 3


def test_diff_of_two_saved_reports(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(mailtls.to_json(mailtls.assess_xml(recorded("plain"))))
    registry = mailtls.Registry.default().with_severity({"MT103": "high"})
    new.write_text(mailtls.to_json(mailtls.assess_xml(recorded("plain"), registry=registry)))
    assert main(["diff", str(old), str(new), "--fail-on", "high"]) == 1
    assert "1 changed" in capsys.readouterr().out
    assert main(["diff", str(old), str(old), "--fail-on", "info"]) == 0
    capsys.readouterr()
    # nmap XML is read as a report too.
    assert main(["diff", str(recorded("plain")), str(old), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["diff"]["unchanged"] == len(
        mailtls.assess_xml(recorded("plain")).findings
    )
