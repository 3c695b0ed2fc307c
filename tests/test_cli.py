"""The ``mailtls`` command: exit codes a pipeline can rely on."""

import json

import mailtls
from mailtls._cli import main

from .helpers import recorded


def test_fail_on_severity(capsys):
    assert main(["--xml", str(recorded("plain")), "--fail-on", "high"]) == 1
    assert main(["--xml", str(recorded("hardened")), "--fail-on", "high"]) == 0
    assert "MT101" in capsys.readouterr().out


def test_json_output_reads_back(capsys):
    assert main(["--xml", str(recorded("plain")), "--json"]) == 0
    report = mailtls.from_json(capsys.readouterr().out)
    assert report.by_rule("MT101") and json.loads(mailtls.to_json(report))["schema"] == 1


def test_bad_target_exits_2_without_scanning(capsys, tmp_path):
    assert main([f"127.0.0.1 -oN {tmp_path / 'x'}"]) == 2
    assert "invalid target" in capsys.readouterr().err and not (tmp_path / "x").exists()
