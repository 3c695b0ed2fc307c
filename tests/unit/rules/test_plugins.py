"""Third-party rules: a separate distribution declares a rule through the ``mailtls.rules``
entry-point group, and its findings appear in reports.

The distribution (tests/plugin_dist) is really installed, with pip, into a scratch
directory (the ``example_plugin`` fixture); each check runs in a fresh interpreter that
has that directory on its path."""

from __future__ import annotations

import lab
from tests.helpers import recorded, run_with_path


def test_plugin_rule_appears_in_assess_xml(example_plugin):
    out = run_with_path(
        example_plugin,
        "import json, mailtls\n"
        f"r = mailtls.assess_xml({str(recorded('plain'))!r})\n"
        "print(json.dumps({'ids': sorted({f.rule_id for f in r.findings}), "
        "'ex': sorted(f.port for f in r.findings if f.rule_id == 'EX001'), "
        "'registry': 'EX001' in mailtls.Registry.default(), 'errors': len(r.all_problems)}))",
    )
    assert out["registry"] and out["errors"] == 0
    assert "EX001" in out["ids"] and "MT101" in out["ids"]
    assert out["ex"] == list(lab.HOSTS["plain"].ports)


def test_plugin_is_not_loaded_without_install():
    import mailtls

    assert "EX001" not in mailtls.Registry.default()


def test_broken_plugin_is_recorded_not_fatal(tmp_path):
    # Given an installed distribution whose entry point names a module that does not import
    dist = tmp_path / "broken_rules-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-rules\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mailtls.rules]\nbroken = no_such_module_here\n")
    out = run_with_path(
        tmp_path,
        "import json, mailtls\n"
        f"r = mailtls.assess_xml({str(recorded('plain'))!r})\n"
        "print(json.dumps({'n': len(r.findings), 'errors': [e.message for e in r.all_problems]}))",
    )
    # Then the built-in rules still run and the report says which plugin failed
    assert out["n"] > 0
    assert len(out["errors"]) == 1 and "broken" in out["errors"][0]
