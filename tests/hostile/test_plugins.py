"""Rule plugins that misbehave (tests/hostile/plugin_dist, installed with pip by the
``hostile_plugin`` fixture): a plugin that imports a built-in rule, and one that reuses a
built-in's id, cost their own rules, never the scan."""

from __future__ import annotations

from tests.helpers import recorded, run_with_path


def test_plugin_importing_a_builtin_and_reusing_an_id(hostile_plugin):
    code = (
        "import json, mailtls\n"
        f"r = mailtls.assess_xml({str(recorded('plain'))!r})\n"
        "reg = mailtls.Registry.default()\n"
        "print(json.dumps({'ids': [rule.id for rule in reg], "
        "'mt101': sorted({f.severity.value for f in r.by_rule('MT101')}), "
        "'hx': len(r.by_rule('HX001')), "
        "'errors': [[e.stage.value, e.rule_id, e.message] for e in r.all_problems]}))"
    )
    out = run_with_path(hostile_plugin, code)
    # The imported built-in is not registered twice, and the impostor MT101 is left out...
    assert out["ids"].count("MT101") == 1
    assert out["mt101"] == ["high"]  # the built-in's severity, not the impostor's "critical"
    # ...with a problem in the report naming the plugin and the id, while the scan goes on
    assert [e for e in out["errors"] if e[0] == "plugin" and e[1] == "MT101" and "hostile" in e[2]]
    assert out["hx"] > 0  # the plugin's well-behaved rule still runs
