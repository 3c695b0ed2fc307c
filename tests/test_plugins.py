"""Third-party rules: a separate distribution declares a rule through the ``mailtls.rules``
entry-point group, and its findings appear in reports.

The distribution (tests/plugin_dist) is really installed, with pip, into a scratch
directory; each check runs in a fresh interpreter that has that directory on its path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lab

from .helpers import recorded

PLUGIN = Path(__file__).resolve().parent / "plugin_dist"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("plugin")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(PLUGIN)],
        check=True,
    )
    return target


def run_with_plugin(plugin_path: Path, code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_plugin_rule_appears_in_assess_xml(plugin_path):
    out = run_with_plugin(
        plugin_path,
        "import json, mailtls\n"
        f"r = mailtls.assess_xml({str(recorded('plain'))!r})\n"
        "print(json.dumps({'ids': sorted({f.rule_id for f in r.findings}), "
        "'ex': sorted(f.port for f in r.findings if f.rule_id == 'EX001'), "
        "'registry': 'EX001' in mailtls.Registry.default(), 'errors': len(r.errors)}))",
    )
    assert out["registry"] and out["errors"] == 0
    assert "EX001" in out["ids"] and "MT101" in out["ids"]
    assert out["ex"] == list(lab.HOSTS["plain"].ports)


@pytest.mark.lab
def test_plugin_rule_appears_in_live_assess(plugin_path, running_lab):
    address = lab.HOSTS["plain"].address
    out = run_with_plugin(
        plugin_path,
        "import json, mailtls\n"
        f"r = mailtls.assess({address!r}, ports=[110])\n"
        "print(json.dumps({'ex': [f.port for f in r.findings if f.rule_id == 'EX001']}))",
    )
    assert out["ex"] == [110]


def test_plugin_is_not_loaded_without_install():
    import mailtls

    assert "EX001" not in mailtls.Registry.default()


def test_broken_plugin_is_recorded_not_fatal(tmp_path):
    # Given an installed distribution whose entry point names a module that does not import
    dist = tmp_path / "broken_rules-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-rules\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mailtls.rules]\nbroken = no_such_module_here\n")
    out = run_with_plugin(
        tmp_path,
        "import json, mailtls\n"
        f"r = mailtls.assess_xml({str(recorded('plain'))!r})\n"
        "print(json.dumps({'n': len(r.findings), 'errors': [e.message for e in r.errors]}))",
    )
    # Then the built-in rules still run and the report says which plugin failed
    assert out["n"] > 0
    assert len(out["errors"]) == 1 and "broken" in out["errors"][0]
