"""The example rule plugin (tests/plugin_dist) in a live scan of the lab."""

from __future__ import annotations

import pytest

import lab
from tests.helpers import run_with_path


@pytest.mark.lab
def test_plugin_rule_appears_in_live_assess(example_plugin, running_lab):
    address = lab.HOSTS["plain"].address
    out = run_with_path(
        example_plugin,
        "import json, mailtls\n"
        f"r = mailtls.assess({address!r}, ports=[110])\n"
        "print(json.dumps({'ex': [f.port for f in r.findings if f.rule_id == 'EX001']}))",
    )
    assert out["ex"] == [110]
