"""Fixtures shared by every level: the rule plugins, installed once per session, and fake
nmap programs (tests/hostile/shims/) put first on PATH.

The lab's own fixtures (the real servers) are in tests/lab/conftest.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.helpers import TESTS, install_distribution

SHIMS = TESTS / "hostile" / "shims"


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory) -> Path:
    """tests/plugin_dist (the example of docs/writing-rules.md), really installed with pip."""
    return install_distribution(TESTS / "plugin_dist", tmp_path_factory.mktemp("plugin"))


@pytest.fixture(scope="session")
def hostile_plugin(tmp_path_factory) -> Path:
    """tests/hostile/plugin_dist: a plugin that imports a built-in rule and reuses its id."""
    return install_distribution(TESTS / "hostile" / "plugin_dist", tmp_path_factory.mktemp("hostile-plugin"))


@pytest.fixture
def fake_nmap(tmp_path, monkeypatch):
    """``fake_nmap("hang_forking")`` makes ``nmap`` on PATH that shim; returns its log path."""

    def install(shim: str) -> Path:
        assert (SHIMS / f"{shim}.py").is_file(), shim
        bindir = tmp_path / "bin"
        bindir.mkdir(exist_ok=True)
        wrapper = bindir / "nmap"
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {SHIMS / shim}.py "$@"\n')
        wrapper.chmod(0o755)
        log = tmp_path / "shim.log"
        monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("MAILTLS_SHIM_LOG", str(log))
        return log

    return install
