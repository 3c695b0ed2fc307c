"""Fixtures shared by every level: the rule plugins, installed once per session.

The lab's own fixtures (the real servers) are in tests/lab/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import TESTS, install_distribution


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory) -> Path:
    """tests/plugin_dist (the example of docs/writing-rules.md), really installed with pip."""
    return install_distribution(TESTS / "plugin_dist", tmp_path_factory.mktemp("plugin"))


@pytest.fixture(scope="session")
def hostile_plugin(tmp_path_factory) -> Path:
    """tests/hostile/plugin_dist: a plugin that imports a built-in rule and reuses its id."""
    return install_distribution(TESTS / "hostile" / "plugin_dist", tmp_path_factory.mktemp("hostile-plugin"))
