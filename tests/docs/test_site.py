"""The documentation site builds with ``mkdocs build --strict`` (a broken link, a missing
page or an API name that no longer exists fails it), and its examples are real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mailtls
from mailtls.output.json import SCHEMA_VERSION
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_every_page_is_built(site):
    for page in ("index.html", "cli", "api", "formats", "rules", "writing-rules", "scale", "performance", "example"):
        assert (site / page).exists(), page


def test_examples_are_made_from_a_recorded_scan(site):
    page = (site / "formats" / "index.html").read_text()
    report = mailtls.assess_xml(ROOT / "tests" / "data" / "lab-plain.xml")
    assert "severity,rule_id,host,hostname" in page  # the CSV header, from FINDING_COLUMNS
    assert "10 findings (3 high, 5 medium, 2 low)" in page  # the terminal table
    assert f"&quot;schema&quot;: {SCHEMA_VERSION}" in page or f'"schema": {SCHEMA_VERSION}' in page
    assert report.findings[0].summary in page
    html = (site / "examples" / "lab-report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "127.0.0.18" in html


def test_cli_page_shows_the_real_help_and_exit_codes(site):
    page = (site / "cli" / "index.html").read_text()
    assert "exit codes:" in page and "--fail-on" in page and "-iL FILE" in page


def test_api_reference_and_performance_figures(site):
    api = (site / "api" / "index.html").read_text()
    for name in ("assess_many", "iter_assess", "to_jsonl", "FINDING_COLUMNS", "Diff"):
        assert name in api
    performance = (site / "performance" / "index.html").read_text()
    assert "bench_parse.py" in performance and "hosts/s" in performance  # RESULTS.md, included
    assert "mailtls.assess_many" in (site / "example" / "index.html").read_text()
